"""Sinks: the output video plays even after an interrupt, JSON lines are whole and flushed."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from livedigits.errors import UserError
from livedigits.sinks import JsonlSink, VideoSink, write_image
from tests.conftest import read_video


@pytest.mark.parametrize("ext", [".mp4", ".avi", ".MP4", ".mov"])
def test_video_sink_round_trip_resizes_and_converts(tmp_path, ext):
    path = tmp_path / f"out{ext}"
    levels = [30, 90, 150, 210]
    with VideoSink(path, 15.0, (64, 48)) as sink:
        sink.write(np.full((48, 64, 3), levels[0], np.uint8))
        sink.write(np.full((100, 80, 3), levels[1], np.uint8))  # another size: resized
        sink.write(np.full((48, 64), levels[2], np.uint8))  # grey: converted
        sink.write(np.full((48, 64, 4), levels[3], np.uint8))  # BGRA: converted
        assert sink.frames == 4
    frames, fps = read_video(path)
    assert len(frames) == 4 and fps == pytest.approx(15.0)
    for img, level in zip(frames, levels, strict=True):
        assert img.shape == (48, 64, 3) and abs(float(img.mean()) - level) < 8


def test_video_sink_is_playable_after_ctrl_c(tmp_path):
    path = tmp_path / "interrupted.mp4"
    with pytest.raises(KeyboardInterrupt), VideoSink(path, 10, (32, 32)) as sink:
        for i in range(7):
            sink.write(np.full((32, 32, 3), 30 * i, np.uint8))
        raise KeyboardInterrupt
    frames, _ = read_video(path)
    assert len(frames) == 7


def test_video_sink_close_is_idempotent_and_write_after_close_fails(tmp_path):
    sink = VideoSink(tmp_path / "a.avi", 10, (16, 16))
    sink.write(np.zeros((16, 16, 3), np.uint8))
    sink.close()
    sink.close()
    with pytest.raises(RuntimeError, match="closed"):
        sink.write(np.zeros((16, 16, 3), np.uint8))
    assert len(read_video(tmp_path / "a.avi")[0]) == 1


@pytest.mark.parametrize(("name", "words"), [
    ("missing/out.mp4", "does not exist"),
    ("out.gif", "unsupported extension"),
    ("out", "unsupported extension"),
    ("adir.mp4", "is a folder"),
])
def test_video_sink_user_errors(tmp_path, name, words):
    (tmp_path / "adir.mp4").mkdir()
    with pytest.raises(UserError, match=words) as e:
        VideoSink(tmp_path / name, 30, (64, 48))
    assert "\n" not in str(e.value)


def test_jsonl_lines_are_complete_and_flushed_after_each_write(tmp_path):
    path = tmp_path / "out.jsonl"
    records = [{"frame": 0, "digits": "42"},
               {"frame": np.int64(1), "conf": np.float32(0.5), "box": np.array([1, 2, 3, 4])},
               {"frame": 2, "text": "ünï"}]
    with JsonlSink(path) as sink:
        for i, rec in enumerate(records):
            sink.write(rec)
            text = path.read_text(encoding="utf-8")  # another reader sees it at once
            assert text.endswith("\n") and text.count("\n") == i + 1
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[1] == {"frame": 1, "conf": 0.5, "box": [1, 2, 3, 4]}
    assert lines[2]["text"] == "ünï" and sink.lines == 3


def test_jsonl_unserialisable_record_leaves_no_partial_line(tmp_path):
    path = tmp_path / "out.jsonl"
    with JsonlSink(path) as sink:
        sink.write({"ok": 1})
        with pytest.raises(TypeError):
            sink.write({"ok": 2, "bad": object()})
        sink.write({"ok": 3})
    assert path.read_text().splitlines() == ['{"ok": 1}', '{"ok": 3}']


def test_jsonl_dash_writes_to_stdout(capfd):
    with JsonlSink("-") as sink:
        sink.write({"frame": 7})
        assert capfd.readouterr().out == '{"frame": 7}\n'  # flushed before close
    sink.close()


def test_jsonl_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        JsonlSink(tmp_path / "nope" / "out.jsonl")
    with pytest.raises(UserError, match="is a folder"):
        JsonlSink(tmp_path)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tiff", ".webp"])
def test_write_image_round_trip(tmp_path, ext):
    path = tmp_path / f"ünï{ext}"
    write_image(path, np.full((10, 12, 3), 128, np.uint8))
    img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (10, 12, 3) and abs(float(img.mean()) - 128) < 3


@pytest.mark.parametrize(("name", "image", "words"), [
    ("out.gif", np.zeros((4, 4, 3), np.uint8), "unsupported extension"),
    ("noext", np.zeros((4, 4, 3), np.uint8), "unsupported extension"),
    ("missing/out.png", np.zeros((4, 4, 3), np.uint8), "does not exist"),
    ("empty.png", np.zeros((0, 0, 3), np.uint8), "cannot encode"),
])
def test_write_image_user_errors(tmp_path, name, image, words):
    with pytest.raises(UserError, match=words):
        write_image(tmp_path / name, image)
    assert not (tmp_path / name).exists()


def _fourcc(path) -> str:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    cap.release()
    return code.to_bytes(4, "little").decode("ascii", "replace").lower()


def test_mp4_is_h264_where_pyav_is_installed(tmp_path):
    pytest.importorskip("av")
    path = tmp_path / "out.mp4"
    frames = [np.full((120, 160, 3), v, np.uint8) for v in (0, 80, 160, 240)]
    with VideoSink(path, 12.5, (160, 120)) as sink:
        for f in frames:
            sink.write(f)
    assert sink.codec == "h264" and sink.note == ""
    assert _fourcc(path) in ("avc1", "h264")
    back, fps = read_video(path)
    assert len(back) == 4 and fps == pytest.approx(12.5)
    assert [int(b.mean()) for b in back] == pytest.approx([0, 80, 160, 240], abs=3)
    assert sink.describe() == f"{path} (4 frames, H.264)"


def test_odd_sizes_and_no_pyav_fall_back_to_mp4v_with_a_note(tmp_path, monkeypatch):
    with VideoSink(tmp_path / "odd.mp4", 10, (161, 121)) as sink:
        sink.write(np.zeros((121, 161, 3), np.uint8))
    assert sink.codec == "mp4v" and "even width and height" in sink.note
    assert len(read_video(tmp_path / "odd.mp4")[0]) == 1
    monkeypatch.setitem(__import__("sys").modules, "av", None)  # import av fails
    with VideoSink(tmp_path / "noav.mp4", 10, (160, 120)) as sink:
        sink.write(np.zeros((120, 160, 3), np.uint8))
    assert sink.codec == "mp4v" and "pip install av" in sink.note
    assert _fourcc(tmp_path / "noav.mp4") in ("mp4v", "fmp4")  # MPEG-4 Part 2
