"""Soak: tens of thousands of frames, in process and through a live stream; memory stays flat.

Slow (about 25 minutes on 2 cores), so marked `slow` and run by `make soak`, not by default.
Each test prints its resident-memory samples (`-s` shows them) for the README.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from livedigits.pipeline import Pipeline
from tests.conftest import ROOT, read_video
from tests.helpers import read_jsonl
from tests.streaming import MjpegServer

pytestmark = pytest.mark.slow

SAMPLE = ROOT / "samples" / "ruled_720p.mp4"
SOAK_FRAMES = 30_000  # in process: about 18 minutes at 36 ms a frame on 2 cores
SAMPLE_EVERY = 1_000  # frames between memory samples
WARM_UP_FRAMES = 3_000  # memory is compared against the sample taken here
LIVE_S = 180.0  # seconds the live stream is read
LIVE_SAMPLE_S = 10.0  # seconds between memory samples of the live run
LIVE_WARM_UP_S = 30.0
MAX_GROWTH = 0.05  # after warm-up, resident memory may grow by at most this fraction
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB, from /proc (Linux)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def decode_all(path: Path) -> list[np.ndarray]:
    """Every frame of a video, decoded once so the loop measures the pipeline, not FFmpeg."""
    frames, _ = read_video(path)
    assert frames, f"cannot decode {path}"
    return frames


def growth(ref: float, last: float) -> float:
    return (last - ref) / ref


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux)")
def test_pipeline_memory_and_tracks_stay_bounded(classifier):
    """30,000 frames of a looped 720p clip: RSS flat after warm-up, tracker holds no dead tracks."""
    frames = decode_all(SAMPLE)
    pipeline = Pipeline(classifier)
    tracker = pipeline.tracker
    samples: list[tuple[int, float, int]] = []  # (frames done, RSS MB, live tracks)
    most_raw = most_tracks = 0
    t0 = time.perf_counter()
    for i in range(SOAK_FRAMES):
        result = pipeline.process(frames[i % len(frames)], i, i / 15.0)
        most_raw = max(most_raw, len(result.raw))
        most_tracks = max(most_tracks, len(tracker))
        # A track that missed max_age frames in a row is dead and must be gone already.
        assert all(t.misses < tracker.max_age for t in tracker.tracks)
        if (i + 1) % SAMPLE_EVERY == 0:
            samples.append((i + 1, rss_mb(), len(tracker)))
    seconds = time.perf_counter() - t0
    rss = dict((n, mb) for n, mb, _ in samples)
    print(f"\nsoak in process: {SOAK_FRAMES} frames of {SAMPLE.name} in {seconds:.0f} s "
          f"({SOAK_FRAMES / seconds:.1f} fps); tracks at most {most_tracks} "
          f"(raw detections at most {most_raw}/frame), ids issued {tracker.ids_issued}")
    print("RSS MB every 1000 frames: " + " ".join(f"{mb:.0f}" for _, mb, _ in samples))
    print(f"RSS: first sample {samples[0][1]:.1f} MB, at {WARM_UP_FRAMES} frames "
          f"{rss[WARM_UP_FRAMES]:.1f} MB, end {samples[-1][1]:.1f} MB "
          f"({growth(rss[WARM_UP_FRAMES], samples[-1][1]):+.2%} after warm-up)")
    assert growth(rss[WARM_UP_FRAMES], samples[-1][1]) < MAX_GROWTH
    # Each detection can keep a track alive for max_age frames, no longer.
    assert most_tracks <= tracker.max_age * most_raw
    assert tracker.ids_issued > 10 * most_tracks  # ids were issued all along, the list stayed short


def default_sigint() -> None:
    """In the child: SIGINT stops it even when this test runs as a background job (ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux)")
def test_live_stream_run_memory_stays_flat(tmp_path):
    """`livedigits run URL` on an MJPEG stream for LIVE_S seconds, then Ctrl-C: RSS stays flat."""
    frames = decode_all(SAMPLE)
    js, out = tmp_path / "live.jsonl", tmp_path / "live.mp4"
    with MjpegServer(frames, fps=15, max_s=LIVE_S + 120) as server:
        cmd = [sys.executable, "-m", "livedigits", "run", server.url, "--no-display",
               "--json", str(js), "--output", str(out)]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=default_sigint)
        try:
            deadline = time.monotonic() + 120
            while not (js.exists() and js.stat().st_size) and time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.5)
            t0 = time.monotonic()
            samples: list[tuple[float, float, int]] = []  # (seconds, RSS MB, frames written)
            while (t := time.monotonic() - t0) < LIVE_S:
                assert proc.poll() is None, proc.communicate()
                samples.append((t, rss_mb(proc.pid), js.read_bytes().count(b"\n")))
                time.sleep(LIVE_SAMPLE_S)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        sent = server.frames_sent
    recs = read_jsonl(js)
    ref = next(mb for t, mb, _ in samples if t >= LIVE_WARM_UP_S)
    print(f"\nsoak live: {len(recs)} frames read in {LIVE_S:.0f} s from an MJPEG stream of "
          f"{SAMPLE.name} at 15 fps ({sent} sent), with --json and --output")
    print("RSS MB every 10 s: " + " ".join(f"{mb:.0f}" for _, mb, _ in samples))
    print(f"RSS: first sample {samples[0][1]:.1f} MB, at {LIVE_WARM_UP_S:.0f} s {ref:.1f} MB, "
          f"end {samples[-1][1]:.1f} MB ({growth(ref, samples[-1][1]):+.2%} after warm-up)")
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "outputs are complete" in err
    assert [r["frame"] for r in recs] == list(range(len(recs)))
    assert len(recs) > LIVE_S * 5  # it kept reading all along (15 fps offered)
    assert growth(ref, samples[-1][1]) < MAX_GROWTH
    cap = cv2.VideoCapture(str(out))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(recs)
    cap.release()
