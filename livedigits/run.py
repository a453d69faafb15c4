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
from typing import Any, Protocol

import click
import cv2
import numpy as np

from livedigits.annotate import annotate
from livedigits.defaults import FALLBACK_FPS, MIN_CONFIDENCE, RETRIES
from livedigits.detect import DetectorSettings
from livedigits.detections import FrameResult
from livedigits.errors import UserError
from livedigits.pipeline import DigitModel, Pipeline, PipelineSettings, Prepared
from livedigits.sinks import JsonlSink, VideoSink, write_image
from livedigits.sources import Frame, Source, SourceInfo, StreamLost, open_source
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
    min_confidence: float = MIN_CONFIDENCE
    invert: bool | None = None
    camera_size: tuple[int, int] | None = None
    show_crops: bool = False
    retries: int = RETRIES


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
        self._old: dict[int, Any] = {}

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

    def __enter__(self) -> Window:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run(opts: RunOptions, classifier: DigitModel | None = None) -> Stats:
    """Read the source until it ends or the user stops; returns the timing statistics.

    `classifier` reads the crops; by default the model at `opts.model` is loaded.
    """
    stats = Stats()
    with StopSignals() as signals:
        try:
            return _run(opts, classifier, signals, stats)
        except (KeyboardInterrupt, Stop):
            # Mostly before the first frame: a camera or stream still opening, the model loading.
            done = f"after {stats.frames} frames" if stats.frames else "before the first frame"
            click.echo(f"stopped {done}; outputs are complete", err=True)
            return stats


def _run(opts: RunOptions, classifier: DigitModel | None, signals: StopSignals,
         stats: Stats) -> Stats:
    """Open the parts, run the loop, then say how it ended (errors as one-line UserErrors)."""
    display = want_display(opts)
    check_outputs(opts)
    progress = Progress()
    source = open_source(opts.source, camera_size=opts.camera_size, retries=opts.retries,
                         on_error=progress.skipped)
    with ExitStack() as stack:
        stack.callback(source.close)
        clf = classifier if classifier is not None else load_classifier(opts.model)
        pipeline = Pipeline(clf, pipeline_settings(opts, source.info))
        outputs = open_outputs(opts, source.info, progress, stack)
        window = stack.enter_context(Window()) if display else None
        stopped = False
        try:
            loop(source, pipeline, outputs, window, opts, signals, stats, stack)
        except (KeyboardInterrupt, Stop):
            stopped = True
            click.echo(f"stopped after {stats.frames} frames; outputs are complete", err=True)
        except StreamLost as e:
            raise UserError(f"{e} ({stats.frames} frames read; outputs are complete)") from e
        finally:
            signals.hold()
        check_ending(opts, source, stats, stopped)
    if opts.benchmark:
        print_benchmark(stats, clf, source, to_stderr=opts.json_path == "-")
    return stats


def loop(source: Source, pipeline: Pipeline, outputs: list[Output], window: Window | None,
         opts: RunOptions, signals: StopSignals, stats: Stats, stack: ExitStack) -> None:
    """Each frame: finish it (classify, track, numbers), draw it, write it to every output."""
    fps_ema = None
    draw = window is not None or opts.output is not None
    t_start = t_read = time.perf_counter()
    try:
        for frame, prepared in _prepared(source, pipeline, stack):
            t0 = time.perf_counter()
            result = pipeline.finish(prepared, frame.index, frame.time)
            t1 = time.perf_counter()
            stages = {"read": (t0 - t_read) * 1e3, **result.stages_ms}
            scene = None
            if draw:
                fps_ema = _ema(fps_ema, 1000.0 / max(sum(stages.values()), 1e-3))
                scene = annotate(frame.image.copy() if window is None else frame.image, result,
                                 fps_ema, show_crops=opts.show_crops, overlay=window is not None)
            t2 = time.perf_counter()
            with signals.writing():  # a frame goes to every output or to none
                for out in outputs:
                    out.write(frame, result, scene)
                stages.update(draw=(t2 - t1) * 1e3, write=(time.perf_counter() - t2) * 1e3)
                stats.add(stages)  # before a deferred stop, so the count matches the outputs
            if window is not None and scene is not None and not window.show(scene):
                break
            if opts.max_frames is not None and stats.frames >= opts.max_frames:
                break
            t_read = time.perf_counter()
    finally:
        stats.seconds = time.perf_counter() - t_start


def want_display(opts: RunOptions) -> bool:
    """Whether to show a window: asked for, not benchmarking, and a display is there."""
    if not opts.display or opts.benchmark:
        return False
    if not has_display():
        click.echo("no display found: running headless (use --no-display to say so)", err=True)
        return False
    return True


def load_classifier(model: Path | None) -> DigitModel:
    """The shipped (or given) model, compiled and warmed up; TensorFlow loads only here."""
    from livedigits.classify import Classifier

    return Classifier(model)


def pipeline_settings(opts: RunOptions, info: SourceInfo) -> PipelineSettings:
    """The pipeline for this run; a track is reported from its second sighting, so images
    and one-frame "videos" are read untracked."""
    still = info.still or info.frame_count == 1
    return PipelineSettings(min_confidence=opts.min_confidence, track=not still,
                            detector=DetectorSettings(invert=opts.invert))


def check_ending(opts: RunOptions, source: Source, stats: Stats, stopped: bool) -> None:
    """UserError when nothing was read, or when files of a folder were skipped (exit 1)."""
    if stats.frames == 0 and not stopped:
        raise UserError(f"no frame could be read from {opts.source}")
    if source.errors:
        raise UserError(f"{len(source.errors)} of {len(source.errors) + stats.frames} "
                        "files could not be read (see above); the others were read",
                        exit_code=1)


# ------------------------------------------------------------------------------- outputs


class Output(Protocol):
    """Where each frame's result goes; `write` is called for every frame, `close` once."""

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None: ...

    def close(self) -> None: ...


def open_outputs(opts: RunOptions, info: SourceInfo, progress: Progress,
                 stack: ExitStack) -> list[Output]:
    """The outputs the options ask for, each closed by `stack` however the run ends."""
    outputs: list[Output] = []
    if opts.output is not None:
        outputs.append(StillsOutput(opts.output, info.folder) if info.still
                       else VideoOutput(opts.output, info.fps or FALLBACK_FPS))
    if opts.json_path:
        outputs.append(JsonlOutput(opts.json_path))
    outputs.append(ConsoleOutput(still=info.still, changes=not opts.benchmark,
                                 to_stderr=opts.json_path == "-"))
    if info.folder:
        progress.start(info.frame_count or 0)
        outputs.append(progress)
    for out in outputs:
        stack.callback(out.close)
    return outputs


class VideoOutput:
    """The annotated video, opened at the first frame's size."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self.sink: VideoSink | None = None

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None:
        if scene is None:
            return
        if self.sink is None:
            h, w = scene.shape[:2]
            self.sink = VideoSink(self.path, self.fps, (w, h))
        self.sink.write(scene)

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()


class StillsOutput:
    """Annotated images: OUTPUT itself for one image, OUTPUT/NAME for a folder of them."""

    def __init__(self, path: Path, folder: bool) -> None:
        self.path, self.folder = path, folder

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None:
        if scene is None:
            return
        path = self.path
        if self.folder:
            path.mkdir(parents=True, exist_ok=True)
            path = path / Path(frame.name).name
        write_image(path, scene)

    def close(self) -> None:
        pass


class JsonlOutput:
    """One JSON object per frame (with `"file"` for images), flushed as it goes."""

    def __init__(self, path: str) -> None:
        self.sink = JsonlSink(path)

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None:
        record = result.to_json()
        if frame.name:
            record["file"] = frame.name
        self.sink.write(record)

    def close(self) -> None:
        self.sink.close()


class ConsoleOutput:
    """The numbers read: one line per image, or one per change in a video (unless `changes`
    is off, as under --benchmark). On stderr when stdout carries the JSON Lines."""

    def __init__(self, still: bool, changes: bool = True, to_stderr: bool = False) -> None:
        self.still, self.changes, self.to_stderr = still, changes, to_stderr
        self.last: str | None = None

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None:
        text = result.text
        if self.still:
            prefix = f"{frame.name}: " if frame.name else ""
            click.echo(f"{prefix}{text or '-'}", err=self.to_stderr)
        elif text != self.last and self.changes:
            click.echo(f"[{frame.time:8.2f} s] {text or '-'}", err=self.to_stderr)
        self.last = text

    def close(self) -> None:
        pass


class Progress:
    """A progress bar over a folder's files, on stderr; a skipped file is reported and counted."""

    def __init__(self) -> None:
        self.bar: Any = None  # click's ProgressBar, once the folder's size is known

    def start(self, length: int) -> None:
        self.bar = click.progressbar(length=length, label="reading images", file=sys.stderr)

    def skipped(self, error: str) -> None:
        click.echo(f"\nlivedigits: skipped {error}", err=True)
        self.advance()

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None:
        self.advance()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()


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
    if source.info.live or source.info.still:
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


def print_benchmark(stats: Stats, clf, source: Source, to_stderr: bool = False) -> None:
    """The table of frames, FPS and per-stage ms, then `benchmark: {json}` as the last line
    (on stderr when stdout carries the JSON Lines)."""
    s = stats.summary()
    size = source.info.size
    s.update(model_load_ms=round(getattr(clf, "load_ms", 0.0), 1),
             warmup_ms=round(getattr(clf, "warmup_ms", 0.0), 1),
             device=getattr(clf, "device", "?"), source=source.name,
             size=list(size) if size else None)
    click.echo(f"frames {s['frames']}  fps {s['fps']}  ({s['seconds']} s, model load "
               f"{s['model_load_ms']} ms + warm-up {s['warmup_ms']} ms excluded, "
               f"inference on {s['device']})", err=to_stderr)
    click.echo(f"{'stage':<12}{'mean ms':>10}{'p95 ms':>10}", err=to_stderr)
    for k, v in s["stages_ms"].items():
        click.echo(f"{k:<12}{v['mean']:>10.2f}{v['p95']:>10.2f}", err=to_stderr)
    click.echo("benchmark: " + json.dumps(s), err=to_stderr)
