"""The console: a number printed once it is stable, result lines above the progress bar."""

from __future__ import annotations

import io

import pytest

from livedigits.console import Debounce, Progress


def test_a_flipping_reading_is_printed_once_it_holds():
    # what a 6-second clip read frame by frame: one number misread now and then
    frames = (["-"] * 2 + ["7631", "76 1", "7631", "7651", "7631", "7631", "7631", "76 1",
                           "7631", "7631", "7651", "7631", "7631", "7631"] + ["7631 42"] * 4)
    d = Debounce(frames=3)
    printed = [t for t in (d.update(f) for f in frames) if t is not None]
    assert printed == ["7631", "7631 42"]


def test_every_reading_that_holds_is_printed_in_order():
    d = Debounce(frames=2)
    printed = [t for t in (d.update(f) for f in ["1", "1", "2", "2", "1", "1", "1"]) if t]
    assert printed == ["1", "2", "1"]  # back to an earlier reading is a change too


def test_one_frame_debounce_prints_each_change():
    d = Debounce(frames=1)
    assert [d.update(t) for t in ["a", "a", "b"]] == ["a", None, "b"]


def screen(text: str) -> list[str]:
    """What a terminal shows after `text`: \\r returns to the line's start, ESC[2K clears it."""
    lines, col = [""], 0
    i = 0
    while i < len(text):
        if text.startswith("\x1b[2K", i):
            lines[-1], i = "", i + 4
            continue
        ch = text[i]
        if ch == "\n":
            lines.append("")
            col = 0
        elif ch == "\r":
            col = 0
        else:
            cur = lines[-1]
            lines[-1] = cur[:col] + ch + cur[col + 1:]
            col += 1
        i += 1
    return lines


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_result_lines_go_above_the_bar_never_glued():
    out, clock = io.StringIO(), Clock()
    p = Progress(4, "reading images", stream=out, clock=clock, tty=True)
    for name in ("a.png: 12", "b.png: 7", "c.png: -", "d.png: 2021"):
        clock.t += 2
        p.line(name)
        p.update()
    p.finish()
    lines = screen(out.getvalue())
    assert lines[:4] == ["a.png: 12", "b.png: 7", "c.png: -", "d.png: 2021"]
    assert lines[4].startswith("reading images  [") and "4/4" in lines[4]
    assert lines[5] == ""


def test_eta_counts_from_the_first_item_not_the_model_load():
    clock = Clock()
    p = Progress(11, "x", stream=io.StringIO(), clock=clock, tty=True)
    clock.t += 30  # loading the model
    p.update()
    assert p.eta() is None
    for _ in range(4):
        clock.t += 0.5
        p.update()
    assert p.eta() == pytest.approx(0.5 * 6)


def test_no_bar_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(2, "reading images", stream=out, tty=False)
    p.line("a.png: 1")
    p.update()
    p.finish()
    assert out.getvalue() == "a.png: 1\n"
