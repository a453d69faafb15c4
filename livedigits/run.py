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
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import click
import numpy as np

from livedigits.annotate import Layout, Rect, annotate, overlay_rect, scene_layout
from livedigits.console import Debounce, Progress
from livedigits.defaults import MIN_CONFIDENCE, RETRIES
from livedigits.detect import DetectorSettings
from livedigits.detections import FrameResult
from livedigits.errors import UserError
from livedigits.images import IMAGE_EXTS
from livedigits.pipeline import DigitModel, Pipeline, PipelineSettings, Prepared
from livedigits.sinks import VIDEO_CODECS, JsonlSink, VideoSink, write_image
from livedigits.sources import Frame, Source, SourceInfo, StreamLost, open_source
from livedigits.window import Render, Viewer, ViewState, Window, has_display, open_window

WINDOW = "livedigits"
STAGES = ("read", "detect", "preprocess", "infer", "track", "numbers", "draw", "write")


@dataclass
class RunOptions:
    source: str
    model: Path | None = None
    backend: str = "onnx"  # "onnx" (ONNX Runtime, no TensorFlow) or "tf"
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
    save_dir: Path = Path(".")  # snapshots and recordings from the window
    exit_at_end: bool = False  # else the window holds a video's last frame until q
    show_confidence: bool = False


@dataclass
class Stats:
    """Frames, seconds and per-stage times of a run, for the benchmark report: running sums
    for the means, and only the last `KEEP` frames' times for the p95, so a camera left
    running for days holds the same memory as a short clip."""

    KEEP = 10_000  # frames whose stage times are kept for the percentiles

    frames: int = 0
    seconds: float = 0.0
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    recent: dict[str, deque[float]] = field(default_factory=dict)

    def add(self, stages: dict[str, float]) -> None:
        self.frames += 1
        for k, v in stages.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
            self.counts[k] = self.counts.get(k, 0) + 1
            self.recent.setdefault(k, deque(maxlen=self.KEEP)).append(v)

    def mean_ms(self) -> dict[str, float]:
        """Each stage's mean ms over every frame of the run."""
        return {k: self.sums[k] / n for k, n in self.counts.items() if n}

    def summary(self) -> dict:
        """Frames, FPS, and per stage the mean ms (all frames) and p95 (the last KEEP)."""
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        stages = {k: {"mean": round(mean, 3),
                      "p95": round(float(np.percentile(self.recent[k], 95)), 3)}
                  for k, mean in self.mean_ms().items()}
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


def run(opts: RunOptions, classifier: DigitModel | None = None,
        window: Window | None = None) -> Stats:
    """Read the source until it ends or the user stops; returns the timing statistics.

    `classifier` reads the crops; by default the model at `opts.model` is loaded. `window`
    (a `FakeWindow` in tests) is shown instead of opening one.
    """
    stats = Stats()
    with StopSignals() as signals:
        try:
            return _run(opts, classifier, signals, stats, window)
        except (KeyboardInterrupt, Stop):
            # Mostly before the first frame: a camera or stream still opening, the model loading.
            done = f"after {stats.frames} frames" if stats.frames else "before the first frame"
            click.echo(f"stopped {done}; outputs are complete", err=True)
            return stats


def _run(opts: RunOptions, classifier: DigitModel | None, signals: StopSignals,
         stats: Stats, window: Window | None = None) -> Stats:
    """Open the parts, run the loop, then say how it ended (errors as one-line UserErrors)."""
    display = window is not None or want_display(opts)
    check_outputs(opts)
    folder = FolderProgress()
    source = open_source(opts.source, camera_size=opts.camera_size, retries=opts.retries,
                         on_error=folder.skipped)
    with ExitStack() as stack:
        stack.callback(source.close)
        check_output_kind(opts.output, source.info)  # before the model takes its seconds
        clf = (classifier if classifier is not None
               else load_classifier(opts.model, opts.backend))
        pipeline = Pipeline(clf, pipeline_settings(opts.min_confidence, opts.invert,
                                                   source.info))
        outputs = open_outputs(opts, source.info, folder, stack)
        viewer = open_viewer(opts, source.info, stack, window) if display else None
        stopped = ended = False
        last: Render | None = None
        lost: StreamLost | None = None
        try:
            last, ended = loop(source, pipeline, outputs, viewer, opts, signals, stats, stack)
        except (KeyboardInterrupt, Stop):
            stopped = True
            click.echo(f"stopped after {stats.frames} frames; outputs are complete", err=True)
        except StreamLost as e:
            lost = e
        except BrokenPipeError:  # `--json - | head` read enough: nothing more on the terminal
            for out in outputs:
                if isinstance(out, ConsoleOutput):
                    out.changes = False
            raise
        finally:
            signals.hold()
        say_written(outputs)
        if lost is not None:
            raise UserError(f"{lost} ({stats.frames} frames read; outputs are complete)"
                            ) from lost
        if viewer is not None and last is not None and ended and hold_at_end(opts, source.info):
            # outputs are final: Ctrl-C or SIGTERM now just closes the window
            still = source.info.still
            viewer.hold(last, "q or Esc closes the window" if still
                        else "end of video: press a key to close the window",
                        stop=lambda: signals.signum is not None, any_key=not still)
        check_ending(opts, source, stats, stopped)  # after the hold: skipped files end it too
    if opts.benchmark:
        print_benchmark(stats, clf, source, to_stderr=opts.json_path == "-")
    return stats


def loop(source: Source, pipeline: Pipeline, outputs: list[Output], viewer: Viewer | None,
         opts: RunOptions, signals: StopSignals, stats: Stats, stack: ExitStack
         ) -> tuple[Render | None, bool]:
    """Each frame: finish it (classify, track, numbers), draw it, write it to every output,
    show it. Returns how to draw the last frame and whether the source came to its end (not
    the user quitting, nor --max-frames)."""
    fps_ema = None
    draw = opts.output is not None
    overlay: dict[str, float] = {}  # the last complete frame's stages, for the window
    render: WindowFrame | None = None
    t_start = t_read = time.perf_counter()
    try:
        for frame, prepared in _prepared(source, pipeline, stack):
            if viewer is not None:  # + and - in the window
                pipeline.settings.min_confidence = viewer.state.min_confidence
            t0 = time.perf_counter()
            result = pipeline.finish(prepared, frame.index, frame.time)
            t1 = time.perf_counter()
            stages = {"read": (t0 - t_read) * 1e3, **result.stages_ms}
            if viewer is not None:
                render = WindowFrame(frame.image, result, fps_ema, overlay or stages, opts)
            scene = None
            if draw:  # the labels are placed once, for the video and the window alike
                lay = render.layout(viewer.state) if render and viewer else None
                scene = annotate(frame.image.copy(), result, show_crops=opts.show_crops,
                                 overlay=False, show_confidence=opts.show_confidence, lay=lay)
            t2 = time.perf_counter()
            with signals.writing():  # a frame goes to every output or to none
                for out in outputs:
                    out.write(frame, result, scene)
                stages.update(draw=(t2 - t1) * 1e3, write=(time.perf_counter() - t2) * 1e3)
                stats.add(stages)  # before a deferred stop, so the count matches the outputs
            if render is not None and viewer is not None:
                fps_ema = _ema(fps_ema, 1000.0 / max(sum(stages.values()), 1e-3))
                render.fps = fps_ema
                overlay = dict(stages)
                if not viewer.show(render):
                    return render, False
                overlay["draw"] += render.drawn_ms
            if opts.max_frames is not None and stats.frames >= opts.max_frames:
                return render, False
            t_read = time.perf_counter()
    finally:
        stats.seconds = time.perf_counter() - t_start
    return render, True


@dataclass
class WindowFrame:
    """How the window draws one frame for whatever the keys have set (crops, help, ...);
    `drawn_ms` is what the last drawing took, for the next frame's overlay."""

    image: np.ndarray
    result: FrameResult
    fps: float | None
    stages: dict[str, float]
    opts: RunOptions
    drawn_ms: float = 0.0
    _layout: tuple[Rect, Layout] | None = None  # the labels' layout and the panel it avoids

    def layout(self, state: ViewState) -> Layout:
        """Where the labels go, clear of the overlay's panel; made again only when the panel
        moves (a key adding a status line), not at every redraw or for the output video."""
        panel = overlay_rect(self.image, self.fps, self.stages, state.status())
        if self._layout is None or self._layout[0] != panel:
            lay = scene_layout(self.image, self.result, self.opts.show_confidence, [panel])
            self._layout = (panel, lay)
        return self._layout[1]

    def __call__(self, state: ViewState) -> np.ndarray:
        t0 = time.perf_counter()
        o = self.opts
        scene = annotate(self.image.copy(), self.result, self.fps,
                         show_crops=o.show_crops or state.show_crops, stages_ms=self.stages,
                         show_confidence=o.show_confidence, extra=state.status(),
                         lay=self.layout(state))
        self.drawn_ms = (time.perf_counter() - t0) * 1e3
        return scene


def open_viewer(opts: RunOptions, info: SourceInfo, stack: ExitStack,
                window: Window | None = None) -> Viewer:
    """The window and its keys; a video file plays at its own fps, anything else at once."""
    if window is None:
        window = open_window(WINDOW, info.size)
    pace = info.fps if not (info.live or info.still) else None
    viewer = Viewer(window, ViewState(min_confidence=opts.min_confidence), fps=pace,
                    save_dir=opts.save_dir, record_fps=info.fps,
                    step=info.folder and not opts.exit_at_end)
    stack.callback(viewer.close)
    return viewer


def hold_at_end(opts: RunOptions, info: SourceInfo) -> bool:
    """Whether the window stays up when the source ends: an image always, a video file unless
    --exit-at-end; a live source that ends has failed, and says so instead. A folder's images
    each waited for a key already, the last one too."""
    if info.folder:
        return False
    return info.still or (not info.live and not opts.exit_at_end)


def want_display(opts: RunOptions) -> bool:
    """Whether to show a window: asked for, not benchmarking, and a display is there."""
    if not opts.display or opts.benchmark:
        return False
    if not has_display():
        click.echo("no display found: running headless (use --no-display to say so)", err=True)
        return False
    return True


def load_classifier(model: Path | None, backend: str = "onnx") -> DigitModel:
    """The shipped (or given) model, loaded and warmed up: in ONNX Runtime by default,
    in TensorFlow with backend "tf" (which loads only then)."""
    from livedigits.classify import open_classifier

    return open_classifier(model, backend)


def pipeline_settings(min_confidence: float, invert: bool | None,
                      info: SourceInfo | None = None) -> PipelineSettings:
    """The pipeline for a source (`run` and the API alike; None: one image given as such); a
    track is reported from its second sighting, so images and one-frame "videos" are read
    untracked."""
    still = info is None or info.still or info.frame_count == 1
    return PipelineSettings(min_confidence=min_confidence, track=not still,
                            detector=DetectorSettings(invert=invert))


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
    """Where each frame's result goes; `write` is called for every frame, `close` once (and
    again, harmlessly, however the run ends); `written` says where a file went, if any."""

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None: ...

    def close(self) -> None: ...

    def written(self) -> list[str]: ...


def open_outputs(opts: RunOptions, info: SourceInfo, folder: FolderProgress,
                 stack: ExitStack) -> list[Output]:
    """The outputs the options ask for, each closed by `stack` however the run ends."""
    outputs: list[Output] = []
    if opts.output is not None:
        outputs.append(StillsOutput(opts.output, info.folder) if info.still
                       else VideoOutput(opts.output, info.fps))
    if opts.json_path:
        outputs.append(JsonlOutput(opts.json_path))
    if info.folder:
        folder.start(info.frame_count or 0)
    outputs.append(ConsoleOutput(still=info.still, changes=not opts.benchmark,
                                 to_stderr=opts.json_path == "-",
                                 progress=folder if info.folder else None))
    if info.folder:
        outputs.append(folder)
    for out in outputs:
        stack.callback(out.close)
    return outputs


def say_written(outputs: list[Output]) -> None:
    """Close the outputs and say where each file went, one line each (on stderr)."""
    for out in outputs:  # all of them first: the progress bar ends on its own line
        out.close()
    for out in outputs:
        for line in out.written():
            click.echo(line, err=True)


class VideoOutput:
    """The annotated video, opened at the first frame's size."""

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path, self.fps = path, fps  # None: the sink's fallback
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

    def written(self) -> list[str]:
        if self.sink is None:
            return []
        note = [f"note: {self.sink.path} {self.sink.note}"] if self.sink.note else []
        return [f"wrote {self.sink.describe()}", *note]


class StillsOutput:
    """Annotated images: OUTPUT itself for one image, OUTPUT/NAME for a folder of them."""

    def __init__(self, path: Path, folder: bool) -> None:
        self.path, self.folder = path, folder
        self.images = 0

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None:
        if scene is None:
            return
        path = self.path
        if self.folder:
            path.mkdir(parents=True, exist_ok=True)
            path = path / Path(frame.name).name
        write_image(path, scene)
        self.images += 1

    def close(self) -> None:
        pass

    def written(self) -> list[str]:
        if not self.images:
            return []
        if self.folder:
            return [f"wrote {self.images} annotated images to {self.path}"]
        return [f"wrote {self.path}"]


class JsonlOutput:
    """One JSON object per frame (with `"file"` for images, and the frame's `"size"`), flushed
    as it goes."""

    def __init__(self, path: str) -> None:
        self.sink = JsonlSink(path)

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None:
        h, w = frame.image.shape[:2]
        self.sink.write(result.to_json(frame.name, (w, h)))

    def close(self) -> None:
        self.sink.close()

    def written(self) -> list[str]:
        if self.sink.name == "-":
            return []
        return [f"wrote {self.sink.name} ({self.sink.lines} JSON lines)"]


class ConsoleOutput:
    """The numbers read: one line per image, or for a video a reading once it has held a few
    frames (a number that flips between readings is not printed at every flip); none under
    --benchmark (`changes` off). On stderr when stdout carries the JSON Lines."""

    def __init__(self, still: bool, changes: bool = True, to_stderr: bool = False,
                 progress: FolderProgress | None = None) -> None:
        self.still, self.changes, self.to_stderr = still, changes, to_stderr
        self.progress = progress
        self.debounce = Debounce()
        self._last_time = 0.0

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress.line(line, sys.stderr if self.to_stderr else sys.stdout)
        else:
            click.echo(line, err=self.to_stderr)

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None:
        text = result.text
        if self.still:
            prefix = f"{frame.name}: " if frame.name else ""
            self._say(f"{prefix}{text or '-'}")
            return
        self._last_time = frame.time
        stable = self.debounce.update(text)
        if stable is not None and self.changes:
            self._say(f"[{frame.time:8.2f} s] {stable or '-'}")

    def close(self) -> None:
        """At the end, the last reading if it was never printed (a short clip, a late change)."""
        last = self.debounce.flush()
        if last is not None and self.changes and not self.still:
            self._say(f"[{self._last_time:8.2f} s] {last or '-'}")

    def written(self) -> list[str]:
        return []


class FolderProgress:
    """The progress bar over a folder's files (stderr), with each result line and each
    skipped file above it."""

    def __init__(self) -> None:
        self.bar: Progress | None = None

    def start(self, total: int) -> None:
        self.bar = Progress(total, "reading images", stream=sys.stderr)

    def line(self, text: str, stream: TextIO) -> None:
        if self.bar is not None:
            self.bar.line(text, stream)
        else:
            stream.write(text + "\n")

    def skipped(self, error: str) -> None:
        self.line(f"livedigits: skipped {error}", sys.stderr)
        if self.bar is not None:
            self.bar.update()

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None:
        if self.bar is not None:
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.finish()
            self.bar = None

    def written(self) -> list[str]:
        return []


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


def check_output_kind(output: Path | None, info: SourceInfo) -> None:
    """Refuse an --output of the wrong kind for the source (a video name for a folder of
    images, an image name for a video, ...) before anything is read."""
    if output is None:
        return
    ext = output.suffix.lower()
    if info.folder:
        if ext in VIDEO_CODECS or (ext in IMAGE_EXTS and not output.is_dir()):
            raise UserError(f"--output {output} names a file; for a folder of images give a "
                            "folder to write the annotated images into")
    elif info.still:
        if ext not in IMAGE_EXTS:
            raise UserError(f"--output {output}: an image is written as an image; use one of "
                            f"{', '.join(sorted(IMAGE_EXTS))}")
    elif ext not in VIDEO_CODECS:
        raise UserError(f"--output {output}: the annotated video needs a video extension; "
                        f"use one of {', '.join(VIDEO_CODECS)}")


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
