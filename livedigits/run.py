"""The `run` loop: a source's frames through the pipeline to a window, files and the terminal.

All I/O lives here; the stages it calls are pure. Whatever stops the loop (the end of the
input, `q`, a closed window, Ctrl-C, SIGTERM, a stream that does not come back), the output
video is finalised and every JSON line written so far is complete.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
import cv2
import numpy as np

from livedigits.annotate import annotate
from livedigits.errors import UserError
from livedigits.pipeline import Pipeline, PipelineSettings, Prepared
from livedigits.sinks import JsonlSink, VideoSink, write_image
from livedigits.sources import (
    Frame,
    ImageFolderSource,
    ImageSource,
    Source,
    StreamLost,
    open_source,
)
from livedigits.window import has_display, window_open

WINDOW = "livedigits"
STAGES = ("read", "detect", "preprocess", "infer", "track", "numbers", "draw", "write")


@dataclass
class RunOptions:
    source: str
    model: Path | None = None
    output: Path | None = None
    json_path: str | None = None
    display: bool = True
    benchmark: bool = False
    max_frames: int | None = None
    min_confidence: float = 0.6
    invert: bool | None = None
    camera_size: tuple[int, int] | None = None
    show_crops: bool = False
    retries: int = 5


@dataclass
class Stats:
    """Per-stage times of every frame, for the overlay and the benchmark report."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    frames: int = 0
    seconds: float = 0.0

    def add(self, stages: dict[str, float]) -> None:
        self.frames += 1
        for k, v in stages.items():
            self.ms.setdefault(k, []).append(v)

    def summary(self) -> dict:
        """Frames, FPS, and mean/p95 ms per stage."""
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        stages = {k: {"mean": round(float(np.mean(v)), 3),
                      "p95": round(float(np.percentile(v, 95)), 3)}
                  for k, v in self.ms.items() if v}
        return {"frames": self.frames, "seconds": round(self.seconds, 3), "fps": round(fps, 1),
                "stages_ms": stages}


class Stop(BaseException):
    """SIGINT or SIGTERM arrived: end the run cleanly (a BaseException, like KeyboardInterrupt,
    so that no `except Exception` on the way swallows it)."""


class StopSignals:
    """Turns SIGINT and SIGTERM into one clean stop for the duration of a `with` block.

    The first signal raises Stop at once, unless a frame's outputs are being written (see
    `writing`): then Stop is raised right after, so every output holds the same frames. Later
    signals are ignored: the outputs are being finalised, which is bounded. Signals a parent
    set to be ignored (a background job's SIGINT) stay ignored; off the main thread nothing is
    installed, since Python only delivers signals there.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._writing = False
        self._held = False
        self._old: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                old = signal.getsignal(sig)
                if old is not signal.SIG_IGN:
                    self._old[sig] = old
                    signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        if not (self._writing or self._held):
            raise Stop()

    def hold(self) -> None:
        """From now on only note a signal: the run is finalising its outputs."""
        self._held = True

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Defer a stop until the block is done: a frame goes to all outputs or to none."""
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
        if self.signum is not None and not self._held:
            raise Stop()


class Window:
    """The live window: shows frames, handles q/Esc, space (pause) and s (snapshot)."""

    def __init__(self) -> None:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
        self.paused = False

    def show(self, scene: np.ndarray) -> bool:
        """Show a frame; False when the user asked to quit or closed the window."""
        cv2.imshow(WINDOW, scene)
        while True:
            key = cv2.waitKey(50 if self.paused else 1) & 0xFF  # paused: still see a close
            if key in (ord("q"), 27):
                return False
            if not window_open(WINDOW):
                return False
            if key == ord(" "):
                self.paused = not self.paused
            elif key == ord("s"):
                name = f"livedigits-{time.strftime('%Y%m%d-%H%M%S')}.png"
                cv2.imwrite(name, scene)
                click.echo(f"saved snapshot {name}", err=True)
            if not self.paused:
                return True

    def close(self) -> None:
        if window_open(WINDOW):
            cv2.destroyWindow(WINDOW)


def run(opts: RunOptions) -> Stats:
    """Read the source until it ends or the user stops; returns the timing statistics."""
    stats = Stats()
    with StopSignals() as signals:
        try:
            return _run(opts, signals, stats)
        except (KeyboardInterrupt, Stop):
            # Mostly before the first frame: a camera or stream still opening, the model loading.
            done = f"after {stats.frames} frames" if stats.frames else "before the first frame"
            click.echo(f"stopped {done}; outputs are complete", err=True)
            return stats


def _run(opts: RunOptions, signals: StopSignals, stats: Stats) -> Stats:
    from livedigits.classify import Classifier

    display = opts.display and not opts.benchmark
    if display and not has_display():
        click.echo("no display found: running headless (use --no-display to say so)", err=True)
        display = False
    check_outputs(opts)
    source = open_source(opts.source, camera_size=opts.camera_size, retries=opts.retries)
    human_to_stderr = opts.json_path == "-"
    progress = None
    if isinstance(source, ImageFolderSource):
        progress = click.progressbar(length=len(source.paths), label="reading images",
                                     file=sys.stderr)
        source.on_error = lambda err: (click.echo(f"\nlivedigits: skipped {err}", err=True),
                                       progress.update(1))
    with ExitStack() as stack:
        stack.callback(source.close)
        clf = Classifier(opts.model)
        # A track is reported from its second sighting: a one-frame "video" is a still.
        still = is_still(source) or getattr(source, "frame_count", 0) == 1
        settings = PipelineSettings(min_confidence=opts.min_confidence, track=not still)
        settings.detector = type(settings.detector)(invert=opts.invert)
        pipeline = Pipeline(clf, settings)
        jsonl = stack.enter_context(JsonlSink(opts.json_path)) if opts.json_path else None
        window = Window() if display else None
        if window is not None:
            stack.callback(window.close)
        video: VideoSink | None = None
        stopped = False
        last_text = None
        fps_ema = None
        t_start = time.perf_counter()
        t_read = t_start
        try:
            for frame, prepared in _prepared(source, pipeline, stack):
                t0 = time.perf_counter()
                result = pipeline.finish(prepared, frame.index, frame.time)
                t1 = time.perf_counter()
                stages = {"read": (t0 - t_read) * 1e3, **result.stages_ms}
                scene = None
                if window is not None or opts.output is not None:
                    fps_ema = _ema(fps_ema, 1000.0 / max(sum(stages.values()), 1e-3))
                    scene = annotate(frame.image.copy() if window is None else frame.image,
                                     result, fps_ema, show_crops=opts.show_crops,
                                     overlay=window is not None)
                t2 = time.perf_counter()
                with signals.writing():
                    if opts.output is not None and scene is not None:
                        if is_still(source):
                            write_image(_still_output(opts.output, frame.name, source), scene)
                        else:
                            if video is None:
                                h, w = scene.shape[:2]
                                video = stack.enter_context(
                                    VideoSink(opts.output, source.fps or 30.0, (w, h)))
                            video.write(scene)
                    if jsonl is not None:
                        record = result.to_json()
                        if frame.name:
                            record["file"] = frame.name
                        jsonl.write(record)
                    t3 = time.perf_counter()
                    stages.update(draw=(t2 - t1) * 1e3, write=(t3 - t2) * 1e3)
                    stats.add(stages)  # before a deferred stop, so the count matches the outputs
                text = result.text
                if is_still(source):
                    prefix = f"{frame.name}: " if frame.name else ""
                    click.echo(f"{prefix}{text or '-'}", err=human_to_stderr)
                elif text != last_text and not opts.benchmark:
                    click.echo(f"[{frame.time:8.2f} s] {text or '-'}", err=human_to_stderr)
                last_text = text
                if progress is not None:
                    progress.update(1)
                if window is not None and not window.show(scene):
                    break
                if opts.max_frames is not None and stats.frames >= opts.max_frames:
                    break
                t_read = time.perf_counter()
        except (KeyboardInterrupt, Stop):
            stopped = True
            click.echo(f"stopped after {stats.frames} frames; outputs are complete", err=True)
        except StreamLost as e:
            stats.seconds = time.perf_counter() - t_start
            raise UserError(f"{e} ({stats.frames} frames read; outputs are complete)") from e
        finally:
            signals.hold()
            stats.seconds = time.perf_counter() - t_start
            if progress is not None:
                progress.render_finish()
        if stats.frames == 0 and not stopped:
            raise UserError(f"no frame could be read from {opts.source}")
        if source.errors:
            raise UserError(f"{len(source.errors)} of {len(source.errors) + stats.frames} "
                            "files could not be read (see above); the others were read",
                            exit_code=1)
    if opts.benchmark:
        print_benchmark(stats, clf, source, to_stderr=opts.json_path == "-")
    return stats


def check_outputs(opts: RunOptions) -> None:
    """Refuse outputs that would destroy the input, or that are the wrong kind of path."""
    src = Path(opts.source)
    for what, out in (("--output", opts.output), ("--json", opts.json_path)):
        if out is None or str(out) == "-" or not src.exists() or not Path(out).exists():
            continue
        if src.resolve() == Path(out).resolve() or (
                src.is_file() and Path(out).is_file() and src.samefile(out)):
            raise UserError(f"{what} {out} would overwrite the input; choose another path")
    if opts.output is not None and src.is_dir() and opts.output.exists() and (
            not opts.output.is_dir()):
        raise UserError(f"--output {opts.output} is a file; for a folder of images give a "
                        "folder to write the annotated images into")


def _prepared(source: Source, pipeline: Pipeline, stack: ExitStack
              ) -> Iterator[tuple[Frame, Prepared]]:
    """Frames with their blobs and crops. For a video file the next frame's detection runs on
    a worker thread while this one is classified and written: the two halves overlap on two
    cores. Live sources are not held back a frame, so the window shows the newest one."""
    if source.live or is_still(source):
        for frame in source:
            yield frame, pipeline.prepare(frame.image)
        return
    pool = ThreadPoolExecutor(1, thread_name_prefix="livedigits-detect")
    stack.callback(pool.shutdown, wait=True, cancel_futures=True)
    pending: tuple[Frame, Future] | None = None
    for frame in source:
        ahead = pool.submit(pipeline.prepare, frame.image)
        if pending is not None:
            yield pending[0], pending[1].result()
        pending = (frame, ahead)
    if pending is not None:
        yield pending[0], pending[1].result()


def _ema(prev: float | None, value: float, alpha: float = 0.1) -> float:
    return value if prev is None else (1 - alpha) * prev + alpha * value


def is_still(source: Source) -> bool:
    """Single images and image folders: no tracking, one result per file."""
    return isinstance(source, ImageSource | ImageFolderSource)


def _still_output(output: Path, name: str, source: Source) -> Path:
    """Where an annotated still goes: OUTPUT itself for one image, OUTPUT/NAME for a folder."""
    if isinstance(source, ImageFolderSource):
        output.mkdir(parents=True, exist_ok=True)
        return output / Path(name).name
    return output


def print_benchmark(stats: Stats, clf, source: Source, to_stderr: bool = False) -> None:
    """The table of frames, FPS and per-stage ms, then `benchmark: {json}` as the last line
    (on stderr when stdout carries the JSON Lines)."""
    s = stats.summary()
    s.update(model_load_ms=round(clf.load_ms, 1), warmup_ms=round(clf.warmup_ms, 1),
             device=clf.device, source=source.name,
             size=list(source.size) if source.size else None)
    click.echo(f"frames {s['frames']}  fps {s['fps']}  ({s['seconds']} s, model load "
               f"{s['model_load_ms']} ms + warm-up {s['warmup_ms']} ms excluded, "
               f"inference on {s['device']})", err=to_stderr)
    click.echo(f"{'stage':<12}{'mean ms':>10}{'p95 ms':>10}", err=to_stderr)
    for k, v in s["stages_ms"].items():
        click.echo(f"{k:<12}{v['mean']:>10.2f}{v['p95']:>10.2f}", err=to_stderr)
    click.echo("benchmark: " + json.dumps(s), err=to_stderr)
