"""Reliability (issue #7): hostile frames and detections, broken files, broken streams, signals.

The stages must take whatever the world gives them without raising; the `run` command must end
every failure with one clear line, never a traceback or a hang, and keep its outputs whole
whenever and however it stops. Live and signal runs use a subprocess with a hard timeout.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livedigits.detect import detect
from livedigits.detections import Detections
from livedigits.numbers import line_angles, read_numbers, reading_order
from livedigits.pipeline import Pipeline
from livedigits.preprocess import make_crops, to_mnist
from livedigits.sinks import VideoSink
from livedigits.track import Tracker
from tests.conftest import ROOT, FakeClassifier, read_video
from tests.helpers import error_lines, invoke_run, one_error_line, read_jsonl
from tests.streaming import MjpegServer

HYPO = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
SAMPLE = ROOT / "samples" / "plain_480p.mp4"

# ------------------------------------------------------------------------ hostile frames

SHAPES = [(1, 1), (1, 9), (9, 1), (8, 8), (13, 9), (2, 700), (700, 3), (24, 10_000),
          (60, 80), (240, 320)]
KINDS = ["black", "white", "noise", "digits", "stripes", "extreme"]
DTYPES = [np.uint8, np.uint16, np.float32, np.float64]


def hostile_image(shape: tuple[int, int], channels: int | None, dtype, kind: str,
                  seed: int) -> np.ndarray:
    """A frame nobody should send: odd size, depth, channels and content (never NaN)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    if kind == "black":
        level = np.zeros(shape)
    elif kind == "white":
        level = np.ones(shape)
    elif kind == "noise":
        level = rng.random(shape)
    elif kind == "stripes":
        level = (np.indices(shape).sum(axis=0) // max(1, min(h, w) // 4) % 2).astype(float)
    else:  # digits, or "extreme": digits on values far outside any normal range
        page = np.full(shape, 220, np.uint8)
        scale = max(0.3, min(h, w) / 60)
        for k, text in enumerate("4719"):
            org = (int(w * (0.1 + 0.2 * k)), int(h * 0.7))
            cv2.putText(page, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 20,
                        max(1, int(scale * 2)))
        level = page / 255.0
    if kind == "extreme":
        big = {np.uint8: 255, np.uint16: 65535}.get(dtype, 1e30)
        lo = 0 if dtype in (np.uint8, np.uint16) else -big
        image = np.where(level > 0.5, big, lo) if dtype != np.float32 else level * 3e38 - 1e38
    elif dtype == np.uint8:
        image = level * 255
    elif dtype == np.uint16:
        image = level * 65535
    elif dtype == np.float64:
        image = level * 1000.0 - 200.0  # a float frame that is not in [0, 1]
    else:
        image = level
    image = np.asarray(image).astype(dtype)
    if channels is not None:
        image = np.repeat(image[:, :, None], channels, axis=2)
        if channels == 4:
            image[:, :, 3] = rng.integers(0, 2, shape) * np.array(image.max()).astype(dtype)
    return image


def frames_st():
    return st.builds(hostile_image, st.sampled_from(SHAPES), st.sampled_from([None, 1, 3, 4]),
                     st.sampled_from(DTYPES), st.sampled_from(KINDS), st.integers(0, 2**16))


def check_blobs(blobs, shape: tuple[int, ...]) -> None:
    """Boxes lie inside the frame and are not empty; one binary mask per box, of its size."""
    h, w = shape[:2]
    xyxy = blobs.detections.xyxy
    masks = blobs.detections.data["mask"]
    assert len(masks) == len(xyxy)
    assert ((xyxy[:, 0] >= 0) & (xyxy[:, 1] >= 0)).all()
    assert ((xyxy[:, 2] <= w) & (xyxy[:, 3] <= h)).all()
    assert ((xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])).all()
    for (x0, y0, x1, y1), mask in zip(xyxy, masks, strict=True):
        assert mask.dtype == np.uint8 and mask.shape == (y1 - y0, x1 - x0)
        assert set(np.unique(mask).tolist()) <= {0, 255} and mask.any()


@HYPO
@given(frames_st())
def test_detect_takes_any_frame(image):
    check_blobs(detect(image), image.shape)


@pytest.mark.parametrize("image", [
    np.zeros((0, 0), np.uint8),
    np.zeros((0, 50, 3), np.uint8),
    np.zeros((5, 5, 2), np.uint8),  # grey + alpha
    np.full((40, 40), 7, np.int32),
    np.full((40, 40, 3), True),
    np.zeros((2, 3, 4, 5), np.uint8),
], ids=["empty", "no-rows", "2-channels", "int32", "bool", "4-d"])
def test_detect_takes_frames_that_are_not_images(image):
    check_blobs(detect(image), image.shape)


def masks_st():
    """Ink masks of any size, including 1x1, 1xN, empty and solid; binary or not."""
    def make(h: int, w: int, kind: str, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        if kind == "empty":
            return np.zeros((h, w), np.uint8)
        if kind == "solid":
            return np.full((h, w), 255, np.uint8)
        if kind == "grey":
            return rng.integers(0, 256, (h, w)).astype(np.uint8)
        return (rng.random((h, w)) < 0.3).astype(np.uint8) * 255
    sides = st.sampled_from([0, 1, 2, 3, 27, 28, 29, 100, 4_000])
    return st.builds(make, sides, sides, st.sampled_from(["empty", "solid", "grey", "sparse"]),
                     st.integers(0, 2**16))


@HYPO
@given(masks_st())
def test_to_mnist_takes_any_mask(mask):
    out = to_mnist(mask)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    if not mask.any():
        assert not out.any()
    if mask.size and (mask == 255).all():
        assert out.any()  # solid ink stays ink, even 1x4000


@HYPO
@given(st.lists(masks_st(), max_size=6),
       st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=6, max_size=6))
def test_make_crops_takes_any_masks_and_angles(masks, angles):
    crops = make_crops(masks, np.array(angles[: len(masks)]))
    assert crops.shape == (len(masks), 28, 28) and crops.dtype == np.uint8


# ------------------------------------------------------------------- hostile detections

COORD = st.one_of(st.integers(-50, 400), st.sampled_from([-2**31, 2**31 - 1, 0, 1]))


@st.composite
def detections_st(draw, max_size: int = 25) -> Detections:
    """Any boxes: degenerate, inverted, duplicated, overlapping or at int32's limits."""
    n = draw(st.integers(0, max_size))
    boxes = []
    for _ in range(n):
        if boxes and draw(st.booleans()):
            boxes.append(list(draw(st.sampled_from(boxes))))  # an exact duplicate
        else:
            boxes.append([draw(COORD) for _ in range(4)])
    digits = draw(st.lists(st.integers(-1, 10), min_size=n, max_size=n))
    confs = draw(st.lists(st.floats(-1.0, 2.0, allow_nan=False), min_size=n, max_size=n))
    return Detections(np.array(boxes, np.int64).reshape(-1, 4), digit=digits, confidence=confs)


@HYPO
@given(detections_st())
def test_number_grouping_takes_any_detections(det):
    n = len(det)
    order = reading_order(det)
    assert sorted(order.tolist()) == list(range(n))  # every row once
    angles = line_angles(det)
    assert angles.shape == (n,) and np.isfinite(angles).all() and (np.abs(angles) <= 90).all()
    numbers = read_numbers(det)
    members = [i for num in numbers for i in num.members]
    digit_rows = np.flatnonzero((det.digit >= 0) & (det.digit <= 9)).tolist()
    assert sorted(members) == digit_rows  # every 0-9 row in exactly one number
    for num in numbers:
        assert num.text == "".join(str(det.digit[i]) for i in num.members)


@HYPO
@given(st.lists(detections_st(max_size=12), min_size=1, max_size=15))
def test_tracker_takes_any_detections(frames):
    tracker = Tracker(max_age=3, min_hits=2)
    seen: set[int] = set()
    for det in frames:
        seen |= set(det.digit.tolist())
        out = tracker.update(det)
        assert len(out) <= len(det)
        assert len(set(out.track_id.tolist())) == len(out)  # one row per track
        assert ((out.confidence >= 0) & (out.confidence <= 1)).all()
        assert set(out.digit.tolist()) <= seen  # a vote over labels that were read
        assert len(tracker) <= 3 * max(len(d) for d in frames)
        assert all(t.misses < tracker.max_age for t in tracker.tracks)
    for _ in range(tracker.max_age):  # nothing in view: every track dies
        tracker.update(Detections.empty())
    assert len(tracker) == 0


@settings(HYPO, max_examples=25)
@given(st.lists(st.tuples(st.sampled_from([(1, 1), (12, 5000), (480, 640), (120, 160),
                                           (37, 23), (360, 200)]),
                          st.sampled_from([None, 3, 4]), st.sampled_from(DTYPES),
                          st.sampled_from(["digits", "noise", "white"]), st.integers(0, 99)),
                min_size=2, max_size=6))
def test_pipeline_takes_frames_that_change_size_mid_stream(specs):
    pipeline = Pipeline(FakeClassifier(digit=4))
    for index, (shape, channels, dtype, kind, seed) in enumerate(specs):
        image = hostile_image(shape, channels, dtype, kind, seed)
        result = pipeline.process(image, index, index / 30)
        h, w = shape
        xyxy = result.detections.xyxy
        assert ((xyxy[:, :2] >= 0) & (xyxy[:, 2:] <= [w, h])).all(), (shape, xyxy)
        assert result.raw.data["crop"].shape == (len(result.raw), 28, 28)
        json.dumps(result.to_json())  # the JSON Lines record always serialises


# ----------------------------------------------------------------- broken files, the CLI


class FastClassifier(FakeClassifier):
    """The CLI's classifier without a model: reads every crop as a 7."""

    def __init__(self, path=None, warm_up: bool = True) -> None:
        super().__init__()
        self.load_ms = self.warmup_ms = 0.0
        self.device = "fake"


def invoke(*args: str, classifier=None):
    """`livedigits run ARGS` with the stand-in classifier (no TensorFlow)."""
    return invoke_run(*args, classifier=classifier or FastClassifier())


def assert_consecutive(recs: list[dict]) -> None:
    assert [r["frame"] for r in recs] == list(range(len(recs)))


def sample_frames(n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(SAMPLE))
    frames = [cap.read()[1] for _ in range(n)]
    cap.release()
    return frames


@pytest.fixture(scope="module")
def sample_avi(tmp_path_factory) -> Path:
    """12 frames of the plain sample as MJPG .avi, whose frames stand alone (no index needed)."""
    path = tmp_path_factory.mktemp("avi") / "plain.avi"
    with VideoSink(path, 15, (640, 480)) as sink:
        for f in sample_frames(12):
            sink.write(f)
    return path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_truncated_sample_mp4_is_one_error_line(tmp_path, seed):
    data = SAMPLE.read_bytes()
    cut = random.Random(seed).randrange(0, data.find(b"moov"))  # index at the end, cut away
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[:cut])
    res = invoke(str(path), "--json", str(tmp_path / "out.jsonl"))
    assert res.exit_code == 2
    one_error_line(res, "cut.mp4")


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_truncated_avi_reads_its_good_frames(sample_avi, tmp_path, seed):
    data = sample_avi.read_bytes()
    first = data.find(b"00dc")
    first_end = first + 8 + int.from_bytes(data[first + 4: first + 8], "little")
    cut = random.Random(seed).randrange(first_end, len(data))
    path, js = tmp_path / "cut.avi", tmp_path / "out.jsonl"
    path.write_bytes(data[:cut])
    res = invoke(str(path), "--json", str(js), "--output", str(tmp_path / "out.avi"))
    assert res.exit_code == 0, res.output
    recs = read_jsonl(js)
    assert 1 <= len(recs) <= 12
    assert_consecutive(recs)


def test_avi_cut_inside_its_first_frame_is_one_error_line(sample_avi, tmp_path):
    data = sample_avi.read_bytes()
    path = tmp_path / "cut.avi"
    path.write_bytes(data[: data.find(b"00dc") + 300])
    res = invoke(str(path))
    assert res.exit_code == 2
    one_error_line(res, "cut.avi")


def _unknown_codec(avi: bytes) -> bytes:
    return avi.replace(b"MJPG", b"ZZZZ")  # stream header and bitmap header fourccs


def _garbage_stream(avi: bytes) -> bytes:
    """The container intact, every frame's bytes replaced by noise."""
    out, rng, at = bytearray(avi), np.random.default_rng(7), avi.find(b"movi")
    while (at := avi.find(b"00dc", at + 4)) >= 0:
        n = int.from_bytes(avi[at + 4: at + 8], "little")
        out[at + 8: at + 8 + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    return bytes(out)


@pytest.mark.parametrize(("name", "make", "words"), [
    ("zzzz.avi", _unknown_codec, ("cannot open", "zzzz.avi")),
    ("noise.avi", _garbage_stream, ("cannot decode", "noise.avi")),
    ("empty.avi", lambda avi: b"", ("empty",)),
    ("empty.png", lambda avi: b"", ("empty",)),
    ("text.jpg", lambda avi: b"hello " * 50, ("text file", "text.jpg")),
    ("half.png", lambda avi: cv2.imencode(".png", np.zeros((50, 50), np.uint8))[1]
     .tobytes()[:40], ("half.png",)),
], ids=["unknown-codec", "garbage-stream", "zero-byte-video", "zero-byte-image", "text-as-jpg",
        "truncated-png"])
def test_undecodable_files_are_one_error_line(sample_avi, tmp_path, name, make,
                                              words):
    path = tmp_path / name
    path.write_bytes(make(sample_avi.read_bytes()))
    res = invoke(str(path), "--json", str(tmp_path / "out.jsonl"))
    assert res.exit_code == 2
    one_error_line(res, *words)
    assert read_jsonl(tmp_path / "out.jsonl") == []


@pytest.mark.parametrize(("name", "ext"), [("page.jpg", ".png"), ("page.png", ".jpg"),
                                           ("page.mp4", ".jpg")],
                         ids=["png-named-jpg", "jpeg-named-png", "jpeg-named-mp4"])
def test_image_with_the_wrong_extension_still_reads(tmp_path, name, ext):
    path, js = tmp_path / name, tmp_path / "out.jsonl"
    path.write_bytes(cv2.imencode(ext, sample_frames(1)[0])[1].tobytes())
    res = invoke(str(path), "--json", str(js))
    assert res.exit_code == 0, res.output
    recs = read_jsonl(js)
    assert len(recs) == 1 and recs[0]["frame"] == 0
    if not name.endswith(".mp4"):  # read as an image, not a video: no tracking to confirm
        assert recs[0]["detections"]  # the sample's digits were seen


def test_folder_with_broken_files_reads_the_others(tmp_path):
    good = sample_frames(1)[0]
    folder = tmp_path / "pages"
    folder.mkdir()
    files = {
        "a_good.png": cv2.imencode(".png", good)[1].tobytes(),
        "b_empty.jpg": b"",
        "c_text.png": b"not an image at all",
        "d_good.jpg": cv2.imencode(".jpg", good)[1].tobytes(),
        "e_cut.png": cv2.imencode(".png", good)[1].tobytes()[:100],
        "f_good.bmp": cv2.imencode(".bmp", good)[1].tobytes(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    js = tmp_path / "out.jsonl"
    res = invoke(str(folder), "--json", str(js), "--output", str(tmp_path / "annotated"))
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    recs = read_jsonl(js)
    assert [r["file"] for r in recs] == ["a_good.png", "d_good.jpg", "f_good.bmp"]
    assert_consecutive(recs)
    skipped = [ln for ln in res.output.splitlines() if ln.startswith("livedigits: skipped")]
    assert len(skipped) == 3
    for name in ("b_empty.jpg", "c_text.png", "e_cut.png"):
        assert sum(name in ln for ln in skipped) == 1
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("livedigits: error: 3 of 6 files could not be read")
    assert sorted(p.name for p in (tmp_path / "annotated").iterdir()) == [
        "a_good.png", "d_good.jpg", "f_good.bmp"]


# --------------------------------------------- the CLI in a subprocess: streams and signals

# The CLI with a stand-in classifier that takes DELAY s a frame: no model to load, and a
# run slow enough to be stopped part way.
FAKE_CLI = """
import sys, time
import numpy as np
from livedigits.classify import Prediction

class Fake:
    load_ms = warmup_ms = 0.0
    device = "fake"

    def predict(self, crops):
        time.sleep(DELAY)
        n = len(crops)
        return Prediction(np.full(n, 7), np.full(n, 0.99, np.float32),
                          np.zeros((n, 11), np.float32))

from livedigits.cli import main
main(sys.argv[1:], prog_name="livedigits", obj={"classifier": Fake()})
"""


def default_sigint() -> None:
    """In the child: SIGINT stops it even when the tests run as a background job (ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(*args: str, delay: float = 0.0, real: bool = False) -> subprocess.Popen:
    """`livedigits run ARGS --no-display` in a subprocess (with the stand-in model unless real)."""
    code = ["-m", "livedigits"] if real else ["-c", FAKE_CLI.replace("DELAY", str(delay))]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, *code, "run", *args, "--no-display"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)


def finish(proc: subprocess.Popen, timeout: float = 60.0) -> tuple[int, str]:
    """Wait for the CLI (a hang fails the test); its exit code and stderr."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"livedigits run hung; stderr:\n{err}")
    return proc.returncode, err


def cli(*args: str, timeout: float = 60.0) -> tuple[int, str]:
    return finish(start_cli(*args), timeout)


def stream_frames(n: int = 10) -> list[np.ndarray]:
    return sample_frames(n)


def video_frames(path: Path) -> int:
    """How many frames a written video plays back (0 if it does not open)."""
    return len(read_video(path)[0])


@pytest.mark.parametrize(("faults", "frames", "reconnects"), [
    ({"stall_after": 4, "stall_s": 1.0}, 8, False),  # shorter than the 5 s read timeout: waits
    ({"stall_after": 4, "stall_s": 6.0}, 6, True),  # longer: reconnects (and stalls again at 8)
    ({"drop_after": 3, "drops": 3}, 12, True),  # three drops mid-frame in a row
    ({"corrupt_at": 3}, 10, False),  # a corrupt JPEG is skipped
], ids=["short-stall", "long-stall", "drops", "corrupt-jpeg"])
def test_stream_faults_do_not_stop_the_run(tmp_path, faults, frames, reconnects):
    js, out = tmp_path / "live.jsonl", tmp_path / "live.avi"
    with MjpegServer(stream_frames(), fps=20, max_s=60, **faults) as server:
        code, err = cli(server.url, "--max-frames", str(frames), "--json", str(js),
                        "--output", str(out))
        connections = server.connections
    assert code == 0 and error_lines(err) == [], err
    recs = read_jsonl(js)
    assert len(recs) == frames
    assert_consecutive(recs)
    assert (connections > 1) == reconnects
    assert video_frames(out) == frames


def test_stream_resolution_change(tmp_path):
    js, out = tmp_path / "live.jsonl", tmp_path / "live.mp4"
    with MjpegServer(stream_frames(), fps=20, resize_after=3, resize_to=(320, 240)) as server:
        code, err = cli(server.url, "--max-frames", "10", "--json", str(js),
                        "--output", str(out))
    assert code == 0 and error_lines(err) == [], err
    recs = read_jsonl(js)
    assert len(recs) == 10
    assert_consecutive(recs)
    # OpenCV's FFmpeg reader scales a stream that changes size back to the size it opened
    # with, so boxes stay in the first frame's pixels (and the digits are still found).
    late = [d["box"] for r in recs[-4:] for d in r["detections"]]
    assert late and all(x >= 0 and y >= 0 and x + w <= 640 and y + h <= 480
                        for x, y, w, h in late)
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 640
    cap.release()
    assert video_frames(out) == 10


def test_stream_that_is_refused_gives_up_with_one_line():
    with MjpegServer(stream_frames(), refuse=True) as server:
        code, err = cli(server.url, "--retries", "2")
    assert code == 2
    assert error_lines(err) == [f"livedigits: error: could not open stream {server.url} after 3 "
                                "tries; check the device/network"]


def test_stream_that_goes_away_ends_with_one_line_and_whole_outputs(tmp_path):
    js, out = tmp_path / "live.jsonl", tmp_path / "live.avi"
    with MjpegServer(stream_frames(), fps=20, drop_after=6, come_back=False) as server:
        code, err = cli(server.url, "--retries", "2", "--json", str(js), "--output", str(out))
    recs = read_jsonl(js)
    assert code == 2
    [line] = error_lines(err)
    assert "dropped and did not come back after 2 retries" in line
    assert f"({len(recs)} frames read; outputs are complete)" in line
    assert 1 <= len(recs) <= 7
    assert_consecutive(recs)
    assert video_frames(out) == len(recs)
    said = err.replace(line, "")
    assert f"wrote {js} ({len(recs)} JSON lines)" in said and str(out) in said  # where they went


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Block until the JSON Lines file has `n` lines (bounded; the process must still run)."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_bytes().count(b"\n") >= n):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run ended or stalled before {n} lines: {proc.communicate()[1]}")
        time.sleep(0.01)


def check_stopped_run(code: int, err: str, js: Path, out: Path, total: int) -> list[dict]:
    """A run stopped by a signal: clean exit, whole JSON lines, a video with the same frames."""
    assert code == 0, err
    assert error_lines(err) == []
    recs = read_jsonl(js)
    assert_consecutive(recs)
    assert f"stopped after {len(recs)} frames; outputs are complete" in err
    assert 0 < len(recs) < total
    assert video_frames(out) == len(recs)  # finalised and playable, no frame more or less
    return recs


@pytest.mark.parametrize(("sig", "seed"), [(signal.SIGINT, 1), (signal.SIGTERM, 2),
                                           (signal.SIGINT, 3), (signal.SIGTERM, 4)])
def test_signal_mid_run_loses_nothing(tmp_path, sig, seed):
    rng = random.Random(seed)
    js, out = tmp_path / "out.jsonl", tmp_path / "out.mp4"
    proc = start_cli(str(SAMPLE), "--output", str(out), "--json", str(js), delay=0.02)
    wait_for_lines(js, rng.randrange(1, 40), proc)
    time.sleep(rng.random() * 0.05)  # land anywhere in a frame, writes included
    proc.send_signal(sig)
    check_stopped_run(*finish(proc), js, out, total=90)


def test_sigterm_stops_the_real_command(tmp_path):
    """The brief's exact command, with the real model: `python -m livedigits run ...`."""
    js, out = tmp_path / "out.jsonl", tmp_path / "out.mp4"
    proc = start_cli(str(SAMPLE), "--output", str(out), "--json", str(js), real=True)
    wait_for_lines(js, random.Random(5).randrange(3, 30), proc, timeout=120)
    proc.send_signal(signal.SIGTERM)
    check_stopped_run(*finish(proc), js, out, total=90)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_the_stream_is_still_opening(tmp_path, sig):
    """A signal while a stream that closes every connection is being retried: no traceback."""
    js = tmp_path / "out.jsonl"
    with MjpegServer(stream_frames(), drop_after=0, drops=0, come_back=False) as server:
        proc = start_cli(server.url, "--retries", "10", "--json", str(js))
        deadline = time.monotonic() + 30
        while server.connections < 2 and time.monotonic() < deadline:  # it is retrying
            time.sleep(0.02)
        proc.send_signal(sig)
        code, err = finish(proc, timeout=30)
    assert code == 0 and error_lines(err) == [], err
    assert "stopped before the first frame" in err
    assert read_jsonl(js) == []
