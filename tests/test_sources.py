"""Sources: image reading, dispatch, video files, image folders, and live streams with faults."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from livedigits import sources
from livedigits.errors import UserError
from livedigits.sinks import VideoSink
from livedigits.sources import (
    CameraSource,
    Frame,
    ImageFolderSource,
    ImageSource,
    StreamLost,
    StreamSource,
    VideoFileSource,
    _LiveSource,
    open_source,
    read_image,
    redact,
    to_bgr8,
)
from tests.streaming import MjpegServer, frame_number, level_frames

# ------------------------------------------------------------------------------ read_image


def _rgba_page(dtype=np.uint8) -> np.ndarray:
    """Black ink square on a fully transparent background whose colour is black."""
    top = np.iinfo(dtype).max
    img = np.zeros((20, 30, 4), dtype)
    img[5:15, 10:20] = (0, 0, 0, top)
    return img


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_transparent_background_reads_as_white_paper(tmp_path, dtype):
    path = tmp_path / "ink.png"
    assert cv2.imwrite(str(path), _rgba_page(dtype))
    img = read_image(path)
    assert img.dtype == np.uint8 and img.shape == (20, 30, 3)
    assert (img[0:5] == 255).all() and (img[:, :10] == 255).all()  # transparent -> white
    assert (img[5:15, 10:20] == 0).all()  # opaque ink stays black


def test_half_transparent_ink_blends_with_white():
    img = np.zeros((2, 2, 4), np.uint8)
    img[..., 3] = 128
    assert abs(int(to_bgr8(img)[0, 0, 0]) - 127) <= 1


def test_grey_plus_alpha_is_composited():
    img = np.zeros((4, 4, 2), np.uint8)  # grey 0, alpha 0 except one opaque pixel
    img[1, 1, 1] = 255
    out = to_bgr8(img)
    assert out.shape == (4, 4, 3)
    assert out[0, 0].tolist() == [255] * 3 and out[1, 1].tolist() == [0] * 3


def test_greyscale_becomes_bgr(tmp_path):
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    path = tmp_path / "grey.png"
    assert cv2.imwrite(str(path), grey)
    img = read_image(path)
    assert img.shape == (5, 25, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], grey)


def test_16bit_is_stretched_by_its_range(tmp_path):
    grey = np.tile(np.linspace(1000, 3000, 21).astype(np.uint16), (3, 1))
    path = tmp_path / "deep.png"
    assert cv2.imwrite(str(path), grey)
    img = read_image(path)
    assert img.dtype == np.uint8 and img.shape == (3, 21, 3)
    row = img[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and (np.diff(row) > 0).all()


@pytest.mark.parametrize(("values", "expected"), [
    ([0.0, 0.5, 1.0], [0, 128, 255]),  # already 0..1: scaled, not stretched
    ([0.2, 0.4, 0.6], [51, 102, 153]),
    ([-1.0, 0.0, 3.0], [0, 64, 255]),  # out of 0..1: stretched by range
    ([7.0, 7.0, 7.0], [255, 255, 255]),  # flat, out of range: no division by zero
    ([1.6e38, 1.6e38, 1.6e38], [255, 255, 255]),  # flat and huge: value - 1 == value
    ([-3e38, 0.0, 3e38], [0, 128, 255]),  # a range wider than float32 holds
    ([-1.7e308, 0.0, 1.7e308], [0, 128, 255]),  # ... and than float64 (as float64)
])
def test_float_images(values, expected):
    img = np.array([values], np.float64 if max(map(abs, values)) > 3.4e38 else np.float32)
    assert to_bgr8(img)[0, :, 1].tolist() == expected


def test_float_tiff_reads(tmp_path):
    path = tmp_path / "f.tiff"
    assert cv2.imwrite(str(path), np.full((4, 6), 0.5, np.float32))
    img = read_image(path)
    assert img.shape == (4, 6, 3) and img.dtype == np.uint8 and int(img[0, 0, 0]) == 128


def test_non_ascii_path(tmp_path):
    path = tmp_path / "página_ünï.png"
    ok, buf = cv2.imencode(".png", np.full((3, 3, 3), 77, np.uint8))
    buf.tofile(path)
    assert read_image(path)[0, 0].tolist() == [77, 77, 77]


@pytest.mark.parametrize(("name", "content", "words"), [
    ("text.png", b"this is not an image\n", "is a text file, not an image"),
    ("empty.png", b"", "empty file"),
    ("half.jpg", None, "cannot decode"),  # a JPEG cut to its first bytes
    ("missing.png", "missing", "does not exist"),
    ("adir.png", "dir", "is a folder"),
])
def test_read_image_errors_are_one_line_user_errors(tmp_path, name, content, words):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is None:
        ok, buf = cv2.imencode(".jpg", np.zeros((50, 50, 3), np.uint8))
        path.write_bytes(buf.tobytes()[:20])
    elif content != "missing":
        path.write_bytes(content)
    with pytest.raises(UserError, match=words) as e:
        read_image(path)
    assert "\n" not in str(e.value) and name in str(e.value)


# ----------------------------------------------------------------------------- dispatch


class _Recorded:
    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


@pytest.fixture
def files(tmp_path) -> Path:
    img = np.full((8, 8, 3), 200, np.uint8)
    assert cv2.imwrite(str(tmp_path / "a.png"), img)
    assert cv2.imwrite(str(tmp_path / "b.JPG"), img)
    with VideoSink(tmp_path / "clip.avi", 10, (8, 8)) as sink:
        sink.write(img)
    (tmp_path / "folder").mkdir()
    assert cv2.imwrite(str(tmp_path / "folder" / "x.png"), img)
    return tmp_path


@pytest.mark.parametrize(("spec", "kind"), [
    ("0", "CameraSource"),
    ("12", "CameraSource"),
    ("rtsp://cam.local/live", "StreamSource"),
    ("http://192.168.1.7:8080/video.mjpg", "StreamSource"),
    ("HTTPS://example.org/stream", "StreamSource"),
    ("{tmp}/folder", "ImageFolderSource"),
    ("{tmp}/a.png", "ImageSource"),
    ("{tmp}/b.JPG", "ImageSource"),
    ("{tmp}/clip.avi", "VideoFileSource"),
])
def test_open_source_dispatch(files, monkeypatch, spec, kind):
    monkeypatch.setattr(sources, "CameraSource", type("CameraSource", (_Recorded,), {}))
    monkeypatch.setattr(sources, "StreamSource", type("StreamSource", (_Recorded,), {}))
    src = open_source(spec.format(tmp=files), camera_size=(640, 480), retries=3)
    try:
        assert type(src).__name__ == kind
        if kind == "CameraSource":
            assert src.args == (int(spec),) and src.kwargs["size"] == (640, 480)
        if kind == "StreamSource":
            assert src.kwargs["retries"] == 3
    finally:
        if hasattr(src, "close"):
            src.close()


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: p / "nope.mp4", "no such file"),
    (lambda p: p / "nope.png", "no such file"),
    (lambda p: _write(p / "empty.mp4", b""), "empty file"),
    (lambda p: _write(p / "text.avi", b"hello, not a video\n" * 50), "a text file, not a video"),
    (lambda p: _write(p / "README.md", b"# notes\n" * 50), "is a text file, not a video"),
    (lambda p: _write(p / "noise.mp4", np.random.default_rng(0).bytes(5000)), "cannot"),
    (lambda p: _write(p / "bad.png", b"GIF89a\x01\x00 not really"), "cannot decode"),
    (lambda p: (p / "emptydir").mkdir() or p / "emptydir", "no images"),
    (lambda p: "   ", "no source"),
])
def test_open_source_user_errors(tmp_path, make, words):
    spec = make(tmp_path)
    with pytest.raises(UserError, match=words) as e:
        open_source(str(spec))
    assert "\n" not in str(e.value)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_camera_that_does_not_open_fails_fast():
    t = time.monotonic()
    with pytest.raises(UserError, match="camera 99") as e:
        open_source("99", retries=5)
    assert time.monotonic() - t < 5.0
    assert not isinstance(e.value, StreamLost) and "another index" in str(e.value)


def test_redact_hides_passwords():
    assert redact("rtsp://admin:hunter2@10.0.0.5:554/s") == "rtsp://admin:***@10.0.0.5:554/s"
    assert redact("http://phone:8080/video") == "http://phone:8080/video"


# ---------------------------------------------------------------------------- video files


def _numbered(i: int, size=(64, 48)) -> np.ndarray:
    """A frame whose grey level and bar position both say `i`."""
    w, h = size
    img = np.full((h, w, 3), 20 + 9 * i, np.uint8)
    img[:, (3 * i) % (w - 4):(3 * i) % (w - 4) + 4] = 255
    return img


@pytest.fixture
def clip(tmp_path) -> tuple[Path, list[np.ndarray]]:
    frames = [_numbered(i) for i in range(20)]
    path = tmp_path / "clip.avi"
    with VideoSink(path, 12.0, (64, 48)) as sink:
        for f in frames:
            sink.write(f)
    return path, frames


def test_video_file_reads_every_frame_in_order(clip):
    path, frames = clip
    with open_source(str(path)) as src:
        assert isinstance(src, VideoFileSource) and not src.live
        assert src.fps == pytest.approx(12.0) and src.size == (64, 48)
        got = list(src)
    assert [f.index for f in got] == list(range(len(frames)))
    assert [f.time for f in got] == pytest.approx([i / 12.0 for i in range(len(frames))])
    for f, ref in zip(got, frames, strict=True):
        assert f.image.dtype == np.uint8 and f.image.shape == (48, 64, 3)
        assert np.abs(f.image.astype(int) - ref).mean() < 6


def test_video_decodes_ahead_on_its_own_thread(clip):
    path, frames = clip
    src = VideoFileSource(path, queue_size=4)
    it = iter(src)
    first = next(it)
    deadline = time.monotonic() + 5
    while src.buffered < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    # While the caller held frame 0, the decoder filled the queue, and no further: bounded.
    assert first.index == 0 and src.buffered == 4 and src.running
    assert any(t.name.startswith("livedigits decode") for t in threading.enumerate())
    assert sum(1 for _ in it) == len(frames) - 1
    src.close()


def test_video_close_mid_way_joins_and_releases(clip):
    path, _ = clip
    src = VideoFileSource(path, queue_size=2)
    for f in src:
        if f.index == 2:
            break
    src.close()
    src.close()  # idempotent
    assert not src.running and src.released


def test_video_closed_before_reading_releases(clip):
    src = VideoFileSource(clip[0])
    src.close()
    assert src.released and list(src) == []


def test_truncated_video_ends_cleanly(clip, tmp_path):
    path, frames = clip
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with open_source(str(cut)) as src:
        got = list(src)
    assert 0 < len(got) < len(frames)
    for f in got:  # what does come out is the real frames
        assert np.abs(f.image.astype(int) - frames[f.index]).mean() < 6


def test_truncated_mp4_without_index_is_a_user_error(tmp_path):
    path = tmp_path / "clip.mp4"
    with VideoSink(path, 10, (32, 32)) as sink:
        for i in range(10):
            sink.write(_numbered(i, (32, 32)))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[:-200])  # the index (moov) is at the end
    with pytest.raises(UserError, match="cut.mp4"):
        open_source(str(cut))


# ---------------------------------------------------------------------------- image folders


def test_image_folder_skips_and_records_unreadable_files(tmp_path):
    for name, level in (("page10.png", 100), ("page2.png", 20), ("page1.jpg", 10)):
        assert cv2.imwrite(str(tmp_path / name), np.full((10, 12), level, np.uint8))
    (tmp_path / "page3.png").write_text("not an image")
    (tmp_path / "labels.csv").write_text("file,digits\n")  # not an image: ignored
    (tmp_path / "sub.png").mkdir()  # a folder: ignored
    seen: list[str] = []
    with ImageFolderSource(tmp_path, on_error=seen.append) as src:
        got = list(src)
    assert [f.name for f in got] == ["page1.jpg", "page2.png", "page10.png"]  # natural order
    assert [f.index for f in got] == [0, 1, 2]
    assert [int(f.image[0, 0, 0]) for f in got] == [10, 20, 100]
    assert len(src.errors) == 1 and "page3.png" in src.errors[0] and seen == src.errors
    assert src.size == (12, 10)


def test_single_image_is_one_frame(tmp_path):
    path = tmp_path / "one.png"
    assert cv2.imwrite(str(path), np.full((7, 9, 3), 50, np.uint8))
    with open_source(str(path)) as src:
        assert isinstance(src, ImageSource) and src.size == (9, 7)
        got = list(src)
    assert len(got) == 1 and got[0].name == "one.png" and got[0].image.shape == (7, 9, 3)


# ------------------------------------------------------------------ live: a scripted capture


def _take(src, n: int, pause: float = 0.0) -> list[Frame]:
    got = []
    for f in src:
        got.append(f)
        if len(got) == n:
            break
        time.sleep(pause)
    return got


class FakeCapture:
    """Stands in for cv2.VideoCapture: frame k has level k, at `fps`; `script` injects faults."""

    def __init__(self, counter: list[int], fps: float = 200.0, fail_after: int | None = None,
                 bad_at: tuple[int, ...] = (), resize_after: int | None = None) -> None:
        self.counter, self.period = counter, 1.0 / fps
        self.fail_after, self.bad_at, self.resize_after = fail_after, bad_at, resize_after
        self.reads = 0
        self.released = False

    def read(self):
        time.sleep(self.period)
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            return False, None
        if self.reads in self.bad_at:
            return False, None
        self.counter[0] += 1
        h, w = (24, 32) if self.resize_after and self.reads > self.resize_after else (12, 16)
        return True, np.full((h, w, 3), self.counter[0] % 256, np.uint8)

    def release(self) -> None:
        self.released = True


class ScriptedSource(_LiveSource):
    """A live source whose n-th open returns `plan[n]` (a FakeCapture or None), then None."""

    what = "stream fake://"
    advice = "check the fake"

    def __init__(self, plan: list, **kwargs) -> None:
        self.plan, self.opened = list(plan), []
        super().__init__(**{"backoff_s": 0.01, "backoff_max_s": 0.05, **kwargs})

    def _open(self):
        cap = self.plan.pop(0) if self.plan else None
        if cap is not None:
            self.opened.append(cap)
        return cap


def test_live_yields_only_new_frames_and_the_newest_one():
    counter = [0]
    src = ScriptedSource([FakeCapture(counter, fps=200)])
    it = iter(src)
    levels = [int(next(it).image[0, 0, 0])]
    for _ in range(5):
        time.sleep(0.1)  # a slow consumer: device frames go by meanwhile
        asked = counter[0]
        levels.append(int(next(it).image[0, 0, 0]))
        assert asked - levels[-2] >= 3  # frames did go by (else the check below proves nothing)
        # The newest frame when asked (at worst the one being published then), not the next
        # in a queue: frames in between were dropped.
        assert levels[-1] >= asked - 1, (asked, levels)
    src.close()
    assert src.grabbed > len(levels)
    assert not src.running and src.opened[0].released


def test_live_never_repeats_a_frame_when_the_consumer_is_fast():
    counter = [0]
    src = ScriptedSource([FakeCapture(counter, fps=50)])
    frames = []
    for f in src:
        frames.append(f)
        if len(frames) == 8:
            break
    src.close()
    levels = [int(f.image[0, 0, 0]) for f in frames]
    assert levels == sorted(set(levels))
    assert [f.index for f in frames] == list(range(8))
    assert all(b.time > a.time for a, b in zip(frames, frames[1:], strict=False))


def test_live_reconnects_after_a_drop():
    counter = [0]
    src = ScriptedSource([FakeCapture(counter, fail_after=5), None, FakeCapture(counter)])
    n = len(_take(src, 12))
    src.close()
    assert n == 12 and src.reconnects == 1 and len(src.opened) == 2
    assert src.opened[0].released


def test_live_raises_stream_lost_after_retries():
    counter = [0]
    src = ScriptedSource([FakeCapture(counter, fail_after=3)], retries=2)
    t = time.monotonic()
    with pytest.raises(StreamLost, match="dropped and did not come back after 2 retries"):
        for _ in src:
            pass
    assert time.monotonic() - t < 3.0
    src.close()
    assert not src.running


def test_live_skips_a_corrupt_frame_without_reconnecting():
    counter = [0]
    src = ScriptedSource([FakeCapture(counter, fps=100, bad_at=(4,))])
    assert len(_take(src, 8)) == 8
    src.close()
    assert src.reconnects == 0 and src.opened[0].reads >= 8


def test_live_keeps_working_when_the_resolution_changes():
    counter = [0]
    src = ScriptedSource([FakeCapture(counter, fps=100, resize_after=3)])
    shapes = []
    for f in src:
        shapes.append(f.image.shape)
        if len(shapes) == 8:
            break
        time.sleep(0.01)
    src.close()
    assert shapes[0] == (12, 16, 3) and shapes[-1] == (24, 32, 3) and src.size == (16, 12)


def test_live_that_never_opens_is_a_user_error_not_a_hang():
    t = time.monotonic()
    with pytest.raises(UserError, match="could not open stream fake:// after 3 tries"):
        ScriptedSource([], retries=2)
    assert time.monotonic() - t < 2.0


def test_live_hung_device_is_detected(monkeypatch):
    """A read that never returns (a driver bug) must not hang the caller."""

    class Hung(FakeCapture):
        def read(self):
            if self.reads >= 2:
                gate.wait(10)
            return super().read()

    gate = threading.Event()
    src = ScriptedSource([Hung([0])], timeout_s=0.2)
    monkeypatch.setattr(type(src), "_hang_s", property(lambda self: 0.5))
    t = time.monotonic()
    with pytest.raises(StreamLost, match="stopped answering"):
        for _ in src:
            pass
    assert time.monotonic() - t < 3.0
    gate.set()
    src.close()


def test_live_close_is_idempotent_and_ends_iteration():
    src = ScriptedSource([FakeCapture([0])])
    it = iter(src)
    assert isinstance(next(it), Frame)
    src.close()
    src.close()
    assert len(list(it)) <= 1  # at most the last unseen frame, then it stops
    assert not src.running


# --------------------------------------------------------------- live: a real MJPEG stream


FRAMES = level_frames()


def test_mjpeg_stream_is_read_through_the_url():
    with MjpegServer(FRAMES, fps=30) as server, open_source(server.url) as src:
        assert isinstance(src, StreamSource) and src.live and src.size == (64, 48)
        got = _take(src, 5)
    numbers = [frame_number(f.image) for f in got]
    assert numbers == sorted(set(numbers)) and numbers[-1] < 20
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in got)


def test_mjpeg_slow_consumer_gets_the_newest_frame():
    with MjpegServer(FRAMES, fps=30) as server, open_source(server.url) as src:
        got = _take(src, 4, pause=0.25)
    numbers = [frame_number(f.image) for f in got]
    gaps = np.diff(numbers) % len(FRAMES)
    assert (gaps >= 3).all(), numbers  # ~7 frames pass in 0.25 s; none is queued up


def test_mjpeg_dropped_connection_reconnects():
    with MjpegServer(FRAMES, fps=30, drop_after=5) as server:
        with StreamSource(server.url, backoff_s=0.05) as src:
            got = _take(src, 12)
        assert len(got) == 12 and src.reconnects == 1 and server.connections == 2


def test_mjpeg_stream_that_does_not_come_back_raises_stream_lost():
    with MjpegServer(FRAMES, fps=30, drop_after=5, come_back=False) as server:
        src = StreamSource(server.url, retries=2, backoff_s=0.05)
        t = time.monotonic()
        with pytest.raises(StreamLost, match=r"stream http://127\.0\.0\.1:\d+/video\.mjpg dropped "
                                             r"and did not come back after 2 retries; check"):
            for _ in src:
                pass
        assert time.monotonic() - t < 5.0
        src.close()


def test_mjpeg_unreachable_url_fails_in_bounded_time():
    with MjpegServer(FRAMES, refuse=True) as server:
        t = time.monotonic()
        with pytest.raises(UserError, match="could not open stream"):
            open_source(server.url, retries=2, timeout_s=1.0)
        assert time.monotonic() - t < 5.0


def test_mjpeg_server_that_accepts_but_never_answers_times_out():
    with MjpegServer(FRAMES, stall_after=0, stall_s=10) as server:
        t = time.monotonic()
        with pytest.raises(UserError, match="could not open stream"):
            StreamSource(server.url, retries=0, timeout_s=0.5)
        assert time.monotonic() - t < 4.0


def test_mjpeg_mid_stream_stall_reconnects():
    with MjpegServer(FRAMES, fps=30, stall_after=3, stall_s=3) as server:
        with StreamSource(server.url, timeout_s=0.5, backoff_s=0.05) as src:
            got = _take(src, 8)
        assert len(got) == 8 and src.reconnects >= 1


def test_mjpeg_corrupt_frame_is_skipped():
    with MjpegServer(FRAMES, fps=30, corrupt_at=3) as server:
        with StreamSource(server.url) as src:
            got = _take(src, 8)
        numbers = [frame_number(f.image) for f in got]
        assert len(got) == 8 and src.reconnects == 0 and 3 not in numbers


def test_mjpeg_resolution_change_keeps_working():
    with MjpegServer(FRAMES, fps=30, resize_after=3, resize_to=(32, 24)) as server:
        with StreamSource(server.url) as src:
            got = _take(src, 8)
        assert len(got) == 8 and src.reconnects == 0
        assert all(f.image.ndim == 3 and f.image.shape[2] == 3 for f in got)


def test_mjpeg_server_stops_itself():
    server = MjpegServer(FRAMES, fps=30, max_s=0.3).start()
    time.sleep(0.8)
    cap = cv2.VideoCapture(server.url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 500])
    assert not cap.isOpened()
    cap.release()
    server.stop()


def test_camera_source_reports_its_name():
    with pytest.raises(UserError) as e:
        CameraSource(98)
    assert str(e.value).startswith("could not open camera 98")
