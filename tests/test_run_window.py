"""The run loop with a window, without a display: a fake window records what was shown and
for how long (paced videos, stills and last frames held, keys acting on the run)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from livedigits.run import RunOptions, run
from livedigits.sinks import VideoSink
from livedigits.window import FakeWindow
from tests.conftest import FakeClassifier, page
from tests.helpers import read_jsonl


def write_video(path, frames: int = 5, fps: float = 10.0):
    img = cv2.cvtColor(page(digits=(("4", 200, 240), ("7", 270, 240)), scale=4),
                       cv2.COLOR_GRAY2BGR)
    with VideoSink(path, fps, (640, 480)) as sink:
        for _ in range(frames):
            sink.write(img)
    return path


@pytest.fixture()
def video(tmp_path):
    return write_video(tmp_path / "clip.avi")


@pytest.fixture()
def image(tmp_path):
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), page(digits=(("4", 200, 240), ("7", 270, 240)), scale=4))
    return path


def test_a_video_plays_at_its_fps_and_holds_its_last_frame(video):
    win = FakeWindow(keys=[None] * 60 + ["q"])
    stats = run(RunOptions(source=str(video)), FakeClassifier(), window=win)
    assert stats.frames == 5
    assert len(win.shown) == 6  # five frames, then the last one again with its note
    assert win.held_ms[:4] == pytest.approx([100] * 4, abs=30)  # 10 fps
    assert sum(win.held_ms[4:]) >= 40 * 50  # held until q
    assert not np.array_equal(win.shown[-1], win.shown[-2])  # "end of video: q ..." on it


def test_exit_at_end_closes_with_the_last_frame(video):
    win = FakeWindow()
    run(RunOptions(source=str(video), exit_at_end=True), FakeClassifier(), window=win)
    assert len(win.shown) == 5 and sum(win.held_ms) < 1000


def test_quit_in_the_middle_does_not_hold(video, tmp_path):
    js = tmp_path / "out.jsonl"
    win = FakeWindow(keys=[None, "q"])
    stats = run(RunOptions(source=str(video), json_path=str(js)), FakeClassifier(), window=win)
    assert stats.frames < 5 and len(win.shown) == stats.frames == len(read_jsonl(js))


def test_a_still_image_stays_up_until_q(image):
    win = FakeWindow(keys=[None] * 30 + [27])
    stats = run(RunOptions(source=str(image)), FakeClassifier(), window=win)
    assert stats.frames == 1 and len(win.shown) == 2
    assert sum(win.held_ms) >= 30 * 50
    assert win.waits == 31 and not win.keys  # held until Esc and not a moment longer


def test_minus_lowers_the_min_confidence_of_the_next_frames(video, tmp_path):
    js = tmp_path / "out.jsonl"
    win = FakeWindow(keys=["-", "-", "-"] + [None] * 20 + ["q"])
    run(RunOptions(source=str(video), json_path=str(js), min_confidence=0.6),
        FakeClassifier(confidence=0.5), window=win)
    recs = read_jsonl(js)
    assert recs[0]["detections"] == []  # read at 0.6: nothing passes
    assert any(r["detections"] for r in recs[1:])  # at 0.45 after the key presses


def test_snapshots_go_to_the_save_dir(image, tmp_path):
    shots = tmp_path / "shots"
    win = FakeWindow(keys=["s", "q"])
    run(RunOptions(source=str(image), save_dir=shots), FakeClassifier(), window=win)
    (png,) = shots.glob("*.png")
    assert cv2.imread(str(png)).shape[:2] == (480, 640)


def test_headless_and_benchmark_open_no_window_and_so_never_wait(video, monkeypatch):
    import livedigits.run as run_mod

    monkeypatch.setattr(run_mod, "open_window", lambda *a: pytest.fail("a window was opened"))
    monkeypatch.setattr(run_mod, "has_display", lambda: True)
    for opts in (RunOptions(source=str(video), display=False),
                 RunOptions(source=str(video), benchmark=True)):
        assert run(opts, FakeClassifier()).frames == 5


def test_the_console_does_not_print_every_flip(tmp_path, capsys):
    video = write_video(tmp_path / "flip.avi", frames=20)
    calls = []

    def flipping(crop):  # the model changes its mind every frame about one digit
        calls.append(1)
        return 7 if (len(calls) // 2) % 2 else 1

    run(RunOptions(source=str(video), display=False), FakeClassifier(fn=flipping))
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[")]
    assert len(lines) <= 1  # not 20: at most the last reading, at the end

    run(RunOptions(source=str(video), display=False), FakeClassifier(digit=4))
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[")]
    assert len(lines) == 1 and lines[0].endswith("] 44")  # a steady reading, once


def test_where_each_output_went(tmp_path, capsys):
    video = write_video(tmp_path / "clip.avi", frames=6)
    out, js = tmp_path / "read.mp4", tmp_path / "read.jsonl"
    run(RunOptions(source=str(video), display=False, output=out, json_path=str(js)),
        FakeClassifier())
    err = capsys.readouterr().err.splitlines()
    assert f"wrote {js} (6 JSON lines)" in err
    assert any(ln.startswith(f"wrote {out} (6 frames, ") for ln in err)


def test_a_video_end_closes_on_any_key_an_image_only_on_q(video, image):
    win = FakeWindow(keys=[None] * 10 + ["x", None, None])
    run(RunOptions(source=str(video)), FakeClassifier(), window=win)
    assert win.keys == [None, None]  # closed on x
    win = FakeWindow(keys=[None, "x", None, "c", "q", None])
    run(RunOptions(source=str(image)), FakeClassifier(), window=win)
    assert win.keys == [None]  # x did not close it, q did
    assert win.shown[-1].shape[0] > 480  # c showed the crops on the held image


def folder_of_pages(tmp_path, bad: bool = False):
    folder = tmp_path / "pages"
    folder.mkdir()
    for name in ("a.png", "c.png"):
        cv2.imwrite(str(folder / name), page(digits=(("4", 200, 240),), scale=4))
    if bad:
        (folder / "b.png").write_bytes(b"not an image")
    return folder


def test_each_image_of_a_folder_waits_for_a_key(tmp_path):
    win = FakeWindow(keys=[None] * 10 + ["n"] + [None] * 10 + ["x"])
    stats = run(RunOptions(source=str(folder_of_pages(tmp_path))), FakeClassifier(),
                window=win)
    assert stats.frames == 2 and len(win.shown) == 2
    assert win.held_ms == pytest.approx([11 * 50, 11 * 50])  # each until its key
    assert not win.keys  # and the last key closed the window


def test_q_quits_a_folder_and_a_skipped_file_is_still_reported_after_the_images(tmp_path):
    from livedigits.errors import UserError

    win = FakeWindow(keys=[None] * 5 + [" "] + [None] * 5 + ["q"])
    with pytest.raises(UserError, match="1 of 3 files could not be read"):
        run(RunOptions(source=str(folder_of_pages(tmp_path, bad=True))), FakeClassifier(),
            window=win)
    assert len(win.shown) == 2 and sum(win.held_ms) >= 10 * 50  # both images were seen
