"""The window's behaviour without a display: a fake window records what was shown and for how
long; the viewer paces, pauses, steps, holds, saves and records."""

from __future__ import annotations

import os

import numpy as np
import pytest

from livedigits.window import FakeWindow, Viewer, ViewState, fit_to_screen, quiet_qt
from tests.conftest import read_video


def frame_renderer(color: int = 128):
    """A render function drawing a flat frame; counts its calls."""
    calls = []

    def render(state: ViewState) -> np.ndarray:
        calls.append((state.show_crops, state.min_confidence))
        h = 140 if state.show_crops else 120
        return np.full((h, 160, 3), color, np.uint8)

    render.calls = calls
    return render


def test_a_file_plays_at_its_own_fps():
    win = FakeWindow()
    viewer = Viewer(win, fps=10.0, echo=lambda m: None)
    for _ in range(5):
        assert viewer.show(frame_renderer())
    assert len(win.shown) == 5
    assert win.held_ms == pytest.approx([100] * 5, abs=2)


def test_live_and_headless_pace_go_as_fast_as_they_can():
    win = FakeWindow()
    viewer = Viewer(win, fps=None, echo=lambda m: None)
    for _ in range(5):
        assert viewer.show(frame_renderer())
    assert max(win.held_ms) <= 1


def test_q_esc_and_a_closed_window_stop():
    for keys, close in ((["q"], None), ([27], None), ([], 1)):
        win = FakeWindow(keys=keys, close_after=close)
        assert Viewer(win, fps=30.0, echo=lambda m: None).show(frame_renderer()) is False


def test_pause_waits_until_a_step_or_resume():
    win = FakeWindow(keys=[" ", None, None, None, "."])
    viewer = Viewer(win, fps=25.0, echo=lambda m: None)
    assert viewer.show(frame_renderer())  # returns on the step
    assert viewer.state.paused
    assert win.held_ms[-1] >= 4 * 50  # it stayed up while paused
    win.keys = [None, " "]
    assert viewer.show(frame_renderer())
    assert not viewer.state.paused


def test_still_and_last_frame_stay_up_until_q():
    win = FakeWindow(keys=[None] * 30 + ["x", "q"])
    viewer = Viewer(win, echo=lambda m: None)
    viewer.hold(frame_renderer(), "end of video: q or Esc closes")
    assert len(win.shown) == 1 and win.held_ms[0] >= 30 * 50
    assert win.open  # it returned on q, not because the window was gone
    # the note is drawn on the held frame
    assert not np.array_equal(win.shown[0], frame_renderer()(ViewState()))


def test_hold_ends_when_the_window_is_closed():
    win = FakeWindow(close_after=7)
    Viewer(win, echo=lambda m: None).hold(frame_renderer(), "end")
    assert win.waits == 7


def test_keys_change_the_view_and_redraw():
    render = frame_renderer()
    win = FakeWindow(keys=["+", "+", "-", "c", "h", "q"])
    viewer = Viewer(win, state=ViewState(min_confidence=0.6), echo=lambda m: None)
    viewer.hold(render, "end")
    assert viewer.state.min_confidence == pytest.approx(0.65)
    assert viewer.state.show_crops and viewer.state.show_help
    assert len(win.shown) == 6  # the first frame, then one redraw per key
    assert win.shown[-1].shape[0] == 140  # drawn with the crops view
    assert not np.array_equal(win.shown[-1][:120], win.shown[-2][:120])  # the help panel


@pytest.mark.parametrize("start, keys, end", [
    (0.2, "-" * 30, 0.0),
    (0.0, "-", 0.0),  # stays at 0, no jump up to a floor
    (1.0, "+", 1.0),
    (0.97, "+", 1.0),
    (0.9, "+" * 30, 1.0),
])
def test_min_confidence_stays_in_0_to_1_without_jumping(start, keys, end):
    win = FakeWindow(keys=[*keys, "q"])
    viewer = Viewer(win, state=ViewState(min_confidence=start), echo=lambda m: None)
    viewer.hold(frame_renderer(), "end")
    assert viewer.state.min_confidence == pytest.approx(end)


def test_snapshot_goes_to_the_save_dir(tmp_path):
    said = []
    win = FakeWindow(keys=["s", "q"])
    viewer = Viewer(win, save_dir=tmp_path / "shots", echo=said.append)
    viewer.hold(frame_renderer(), "end")
    (path,) = viewer.saved
    assert path.parent == tmp_path / "shots" and path.suffix == ".png" and path.is_file()
    assert said == [f"saved snapshot {path}"]


def test_r_records_the_frames_shown_until_r_again(tmp_path):
    said = []
    win = FakeWindow(keys=["r"])
    viewer = Viewer(win, fps=20.0, save_dir=tmp_path, echo=said.append)
    for _ in range(6):
        viewer.show(frame_renderer())
    win.keys = ["r"]
    viewer.show(frame_renderer())
    viewer.show(frame_renderer())  # not recorded any more
    viewer.close()
    (path,) = viewer.saved
    frames, fps = read_video(path)
    assert len(frames) == 6 and fps == pytest.approx(20.0)
    assert said[0] == f"recording to {path} (r stops)"
    assert said[-1] == f"wrote {path} (6 frames)"


def test_window_fits_the_screen_keeping_the_aspect():
    assert fit_to_screen((640, 480), (1920, 1080)) == (640, 480)  # never enlarged
    w, h = fit_to_screen((3840, 2160), (1920, 1080))
    assert w <= 0.9 * 1920 and h <= 0.9 * 1080 and abs(w / h - 16 / 9) < 0.01


def test_qt_gets_a_font_dir_that_exists(monkeypatch, tmp_path):
    monkeypatch.setenv("QT_QPA_FONTDIR", str(tmp_path / "not-there"))
    quiet_qt()
    assert os.path.isdir(os.environ.get("QT_QPA_FONTDIR", "/")) or (
        "default.warning=false" in os.environ.get("QT_LOGGING_RULES", ""))
    monkeypatch.setenv("QT_QPA_FONTDIR", str(tmp_path))
    quiet_qt()
    assert os.environ["QT_QPA_FONTDIR"] == str(tmp_path)  # a real one is kept
