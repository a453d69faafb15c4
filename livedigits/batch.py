"""`livedigits batch`: many inputs, each read as `livedigits run INPUT --json F [--output V]`.

The unit of work is one input (tracking needs a video's frames in order), so a batch is an
embarrassingly parallel map: in this process, in N worker processes (`--jobs`), or on a Dask
cluster, one task an input (`--scheduler`). Every input's results go under one folder with
names that cannot collide; each is written under a temporary name and renamed when whole, then
marked done, so a batch stopped at any point resumes where it was.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field, fields, replace
from multiprocessing.connection import wait
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from livedigits.defaults import FALLBACK_FPS, MIN_CONFIDENCE, RETRIES
from livedigits.detections import FrameResult
from livedigits.errors import UserError
from livedigits.images import IMAGE_EXTS
from livedigits.pipeline import DigitModel
from livedigits.sources import STREAM_SCHEMES, Frame, StreamLost, redact

VIDEO_EXTS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg",
                        ".wmv", ".flv", ".ts", ".3gp"})
LIST_EXTS = frozenset({".txt", ".lst", ".list"})
SUMMARY = "summary.csv"
PARTIAL = ".partial"  # in-progress outputs, under DIR; renamed out of it when whole
TRIES = 2  # an input whose worker dies is tried once more, then recorded as failed


# ------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ReadSettings:
    """How each input is read: the `run` options that shape its results."""

    model: str | None = None  # None: the shipped model
    min_confidence: float = MIN_CONFIDENCE
    invert: bool | None = None
    max_frames: int | None = None
    retries: int = RETRIES
    video: bool = False  # also write the annotated video (or image)

    def key(self) -> dict:
        """What a finished result must have been read with to count as done (not `video`:
        a result with its video also serves a batch that does not want one)."""
        d = asdict(self)
        del d["video"], d["retries"]
        return d


# ----------------------------------------------------------------------------- the inputs


@dataclass(frozen=True)
class Input:
    """One thing to read: a file path (absolute) or a stream URL, and its output name."""

    spec: str
    name: str  # output stem under DIR: a readable stem plus a hash of `spec`
    error: str | None = None  # known before reading (a glob that matched nothing)

    @property
    def shown(self) -> str:
        """`spec` safe to print: a URL's password hidden."""
        return redact(self.spec)


def is_url(spec: str) -> bool:
    return spec.lower().startswith(STREAM_SCHEMES)


def output_name(spec: str) -> str:
    """A file-name-safe stem of the input plus 8 hex digits of its hash: two inputs called
    `clip.mp4` in different folders get different names, and the same input always the same.

    >>> output_name("/videos/a/clip.mp4") != output_name("/videos/b/clip.mp4")
    True
    >>> output_name("/videos/a/clip.mp4")[:5]
    'clip-'
    """
    if is_url(spec):
        parts = urlsplit(spec)
        stem = Path(parts.path).stem or parts.hostname or "stream"
    else:
        stem = Path(spec).stem
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._")[:60] or "input"
    return f"{stem}-{hashlib.sha1(spec.encode()).hexdigest()[:8]}"


def _readable(path: Path) -> bool:
    ext = path.suffix.lower()
    return ext in VIDEO_EXTS or ext in IMAGE_EXTS


def expand_sources(sources: Iterable[str], out_dir: Path | None = None,
                   recursive: bool = False) -> list[Input]:
    """The inputs SOURCES name, in order, each once.

    A folder gives its video files (with `recursive`, also those of its subfolders), a glob
    the files it matches, a .txt/.lst/.list file the paths and URLs on its lines (relative
    paths relative to the list; blank lines and # comments skipped), a URL itself, any other
    path itself (a missing one is recorded as failed when read). Files under `out_dir` are
    left out: they are this batch's own outputs.
    """
    out = out_dir.resolve() if out_dir is not None else None
    seen: set[str] = set()
    inputs: list[Input] = []

    def add(spec: str, error: str | None = None) -> None:
        if spec not in seen:
            seen.add(spec)
            inputs.append(Input(spec, output_name(spec), error))

    def own_output(p: Path) -> bool:
        return out is not None and (p == out or out in p.parents)

    def visit(spec: str, base: Path, depth: int = 0) -> None:
        spec = spec.strip()
        if is_url(spec):
            add(spec)
            return
        path = Path(spec).expanduser()
        if not path.is_absolute():
            path = base / path
        if path.is_dir():
            found = sorted(p for p in (path.rglob("*") if recursive else path.iterdir())
                           if p.is_file() and p.suffix.lower() in VIDEO_EXTS
                           and not p.name.startswith(".") and not own_output(p.resolve()))
            for p in found:
                add(str(p.resolve()))
            return
        if path.is_file() and path.suffix.lower() in LIST_EXTS and depth == 0:
            for line in _list_lines(path):
                visit(line, path.parent.resolve(), depth + 1)
            return
        if not path.exists() and glob.has_magic(spec):
            matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
            matches = [m.resolve() for m in matches if m.is_file() and _readable(m)]
            matches = [m for m in matches if not own_output(m)]
            for m in matches:
                add(str(m))
            if not matches:
                add(spec, f"no video or image files match {spec}")
            return
        if path.exists():
            add(str(path.resolve()))
        else:
            add(str(path.absolute()), f"no such file or folder: {spec}")

    for s in sources:
        visit(str(s), Path.cwd())
    return inputs


def _list_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read the list of inputs {path}: "
                        f"{getattr(e, 'strerror', None) or e}") from e
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


# ------------------------------------------------------------------------------- results


@dataclass
class Result:
    """One row of summary.csv: what became of one input."""

    input: str
    status: str  # ok (read now), done (complete from an earlier run), failed, stopped
    frames: int = 0
    fps: float = 0.0
    digits: int = 0  # digit readings summed over frames (a digit seen in 90 frames counts 90)
    numbers: int = 0  # distinct number texts read
    seconds: float = 0.0
    error: str = ""
    output: str = ""  # the JSON Lines file, relative to DIR
    fatal: bool = field(default=False, repr=False)  # the model could not load: stop the batch

    @property
    def failed(self) -> bool:
        return self.status == "failed"


COLUMNS = [f.name for f in fields(Result) if f.name != "fatal"]


@dataclass
class ReadSummary:
    """What reading one input gave (see `read_input`)."""

    frames: int = 0
    digits: int = 0
    numbers: set[str] = field(default_factory=set)
    seconds: float = 0.0
    note: str = ""  # a live stream that ended: why

    def write(self, frame: Frame, result: FrameResult, scene: np.ndarray | None) -> None:
        """An output of the run loop: count what each frame read."""
        self.frames += 1
        self.digits += len(result.detections)
        self.numbers.update(n.text for n in result.numbers)

    def close(self) -> None:
        pass

    def written(self) -> list[str]:
        return []


# -------------------------------------------------------------------------------- the seam


def read_input(source: str, jsonl: Path, video: Path | None, settings: ReadSettings,
               classifier: DigitModel) -> ReadSummary:
    """Read one input to a JSON Lines file (and the annotated video, or image for a still),
    exactly as `livedigits run SOURCE --json JSONL [--output VIDEO] --no-display` does: the
    run loop itself, with run's outputs and this summary as one more, and no console.

    UserError for bad input. A live stream that stops after some frames ends the input
    normally (what it read is whole), with a note. Ctrl-C passes through as KeyboardInterrupt.
    """
    from livedigits import run as runner
    from livedigits.pipeline import Pipeline
    from livedigits.sources import open_source

    opts = runner.RunOptions(source=source, output=video, json_path=str(jsonl), display=False,
                             max_frames=settings.max_frames, invert=settings.invert,
                             min_confidence=settings.min_confidence, retries=settings.retries)
    summary, stats = ReadSummary(), runner.Stats()
    t0 = time.perf_counter()
    src = open_source(source, retries=settings.retries)
    with ExitStack() as stack:
        stack.callback(src.close)
        info = src.info
        outputs: list[runner.Output] = [runner.JsonlOutput(str(jsonl)), summary]
        if video is not None:
            outputs.insert(0, runner.StillsOutput(video, folder=False) if info.still
                           else runner.VideoOutput(video, info.fps or FALLBACK_FPS))
        for out in outputs:
            stack.callback(out.close)
        pipeline = Pipeline(classifier, runner.pipeline_settings(
            settings.min_confidence, settings.invert, info))
        try:  # StopSignals never entered: no handlers, Ctrl-C is the batch's; no window
            runner.loop(src, pipeline, outputs, None, opts, runner.StopSignals(), stats, stack)
        except StreamLost as e:
            if stats.frames == 0:
                raise
            summary.note = str(e)
    if stats.frames == 0:
        raise UserError(f"no frame could be read from {redact(source)}")
    summary.seconds = time.perf_counter() - t0
    return summary


def load_classifier(model: str | None, threads: int | None = None):
    """The digit model as `run` loads it by default (ONNX Runtime), its runtime pinned to
    `threads` threads (None: its default). Thread pools are fixed when a runtime starts, so
    call it in a fresh worker process, after `pin_threads` (see `start_worker`)."""
    from livedigits.classify import OnnxClassifier

    return OnnxClassifier(model, threads=threads)


def pin_threads(threads: int) -> None:
    """Ask every runtime in this process for `threads` threads (before it starts): OpenCV's
    pool now, and through the environment the runtimes that read it at start (OpenMP,
    TensorFlow, BLAS)."""
    import cv2

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = str(threads)
    cv2.setNumThreads(threads)


# ------------------------------------------------------------------------- the output folder


class Layout:
    """Where one input's files live under DIR, and whether it is done.

    `NAME.jsonl` (and `NAME.mp4`, or `NAME.png` for an image) appear only whole: they are
    written under `DIR/.partial/` and renamed at the end. `NAME.done.json` is written last (a
    rename too) and holds the input's summary row and the settings it was read with.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir)
        self.partial = self.dir / PARTIAL

    def jsonl(self, inp: Input) -> Path:
        return self.dir / f"{inp.name}.jsonl"

    def video(self, inp: Input) -> Path:
        ext = Path(inp.spec).suffix.lower() if not is_url(inp.spec) else ""
        return self.dir / (f"{inp.name}{ext}" if ext in IMAGE_EXTS else f"{inp.name}.mp4")

    def done(self, inp: Input) -> Path:
        return self.dir / f"{inp.name}.done.json"

    def starts(self, inp: Input) -> Path:
        return self.partial / f"{inp.name}.starts"

    def outputs(self, inp: Input, video: bool) -> list[Path]:
        return [self.jsonl(inp)] + ([self.video(inp)] if video else [])

    def temporary(self, path: Path) -> Path:
        return self.partial / path.name

    def finished(self, inp: Input, settings: ReadSettings) -> Result | None:
        """`inp`'s row (status `done`) if it is complete for these settings, else None."""
        try:
            mark = json.loads(self.done(inp).read_text(encoding="utf-8"))
            row = Result(**{k: mark["result"][k] for k in COLUMNS})
            same = mark["settings"] == settings.key() and mark["input"] == inp.spec
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not same or (settings.video and not mark.get("video")):
            return None
        if not all(p.is_file() for p in self.outputs(inp, bool(mark.get("video")))):
            return None
        return replace(row, status="done", input=inp.shown)

    def forget(self, inp: Input) -> None:
        """Before reading `inp` again: its done mark, outputs and partial files go."""
        for p in (self.done(inp), self.jsonl(inp), self.video(inp),
                  self.temporary(self.jsonl(inp)), self.temporary(self.video(inp))):
            p.unlink(missing_ok=True)

    def reset(self, inp: Input) -> None:
        """At the start of a batch: no worker has started on `inp` yet."""
        self.starts(inp).unlink(missing_ok=True)

    def note_start(self, inp: Input) -> int:
        """Count a worker starting on `inp`; returns how many started before (shared storage
        tells a Dask worker that the input already took a worker down)."""
        self.partial.mkdir(parents=True, exist_ok=True)
        with open(self.starts(inp), "a+", encoding="utf-8") as f:
            f.seek(0)
            before = len(f.read().splitlines())
            f.write(f"{os.getpid()}\n")
        return before

    def mark_done(self, inp: Input, result: Result, settings: ReadSettings) -> None:
        mark = {"input": inp.spec, "settings": settings.key(), "video": settings.video,
                "result": {k: getattr(result, k) for k in COLUMNS}}
        tmp = self.temporary(self.done(inp))
        tmp.write_text(json.dumps(mark, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.done(inp))
        self.reset(inp)


def process_input(inp: Input, out_dir: str | Path, settings: ReadSettings, classifier,
                  reader: Callable = read_input) -> Result:
    """Read one input into DIR: partial files first, renamed when whole, then marked done.

    Bad input becomes a failed Result, never an exception; Ctrl-C (KeyboardInterrupt) passes
    through and leaves only partial files, which the next batch redoes.
    """
    lay = Layout(out_dir)
    row = Result(inp.shown, "failed")
    if inp.error:
        return replace(row, error=inp.error)
    lay.partial.mkdir(parents=True, exist_ok=True)
    lay.forget(inp)
    finals = lay.outputs(inp, settings.video)
    temps = [lay.temporary(p) for p in finals]
    try:
        s = reader(inp.spec, temps[0], temps[1] if settings.video else None, settings,
                   classifier)
    except Exception as e:  # noqa: BLE001 (any failure is this input's, recorded; others go on)
        for t in temps:
            t.unlink(missing_ok=True)
        msg = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
        return replace(row, error=" ".join(msg.split()))
    for t, f in zip(reversed(temps), reversed(finals), strict=True):  # the JSON Lines last
        os.replace(t, f)
    result = replace(row, status="ok", output=finals[0].name, frames=s.frames, digits=s.digits,
                     numbers=len(s.numbers), seconds=round(s.seconds, 3), error=s.note,
                     fps=round(s.frames / s.seconds, 2) if s.seconds > 0 else 0.0)
    lay.mark_done(inp, result, settings)
    return result


# -------------------------------------------------------------------------------- options


@dataclass
class BatchOptions:
    sources: list[str]
    out_dir: Path
    settings: ReadSettings = field(default_factory=ReadSettings)
    jobs: int = 1
    scheduler: str | None = None  # "local" or a Dask scheduler address
    force: bool = False
    recursive: bool = False
    progress: bool = True
    # Seams for tests and embedders; module-level functions, so they pickle by name.
    classifier_factory: Callable = load_classifier
    reader: Callable = read_input
    cluster_kwargs: dict = field(default_factory=dict)  # extra LocalCluster arguments


@dataclass
class BatchReport:
    results: list[Result]
    seconds: float
    stopped: bool = False

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def exit_code(self) -> int:
        return 1 if self.stopped or self.count("failed") else 0


# -------------------------------------------------------------------------------- runners


def _inline(todo: list[Input], opts: BatchOptions) -> Iterator[tuple[Input, Result]]:
    """In this process, one input after another, one model (loaded when first needed)."""
    classifier = None
    for inp in todo:
        if classifier is None and inp.error is None:
            classifier = opts.classifier_factory(opts.settings.model, None)
        yield inp, process_input(inp, opts.out_dir, opts.settings, classifier, opts.reader)


def start_worker(factory: Callable, model: str | None, threads: int):
    """A worker process's classifier, with every runtime pinned to `threads` threads, so that
    N workers on N cores do not oversubscribe them."""
    pin_threads(threads)
    return factory(model, threads)


def _worker_main(conn, out_dir: str, settings: ReadSettings, factory: Callable,
                 reader: Callable, threads: int) -> None:
    """A worker process: one model, pinned threads; reads the inputs it is sent, one at a
    time, and sends back each Result. Ctrl-C is the parent's business (SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        classifier = start_worker(factory, settings.model, threads)
    except UserError as e:
        conn.send(("fatal", str(e)))
        return
    conn.send(("ready", None))
    while True:
        inp = conn.recv()
        if inp is None:
            return
        conn.send(("result", process_input(inp, out_dir, settings, classifier, reader)))


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start children with SIGINT ignored (inherited across exec): a Ctrl-C while they import
    must not kill them with a traceback; the parent decides what a Ctrl-C does."""
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, old)


class _Worker:
    def __init__(self, ctx, opts: BatchOptions, threads: int) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker_main, daemon=True, name="livedigits-batch",
            args=(child, str(opts.out_dir), opts.settings, opts.classifier_factory,
                  opts.reader, threads))
        with _sigint_ignored():
            self.proc.start()
        child.close()
        self.task: Input | None = None
        self.ready = False

    def stop(self) -> None:
        """An idle worker is asked to exit; a busy one (Ctrl-C) is terminated: its input's
        partial files are redone next time."""
        if self.proc.is_alive() and self.task is None:
            with suppress(OSError):
                self.conn.send(None)
            self.proc.join(timeout=2)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _processes(todo: list[Input], opts: BatchOptions) -> Iterator[tuple[Input, Result]]:
    """N worker processes, each with its own model; exactly one input per worker at a time,
    so a worker that dies takes only its own input (tried once more on a new worker)."""
    ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
    threads = max(1, usable_cores() // opts.jobs)
    queue = deque(todo)
    tries: dict[str, int] = {}
    unready = 0  # workers that died before their model was loaded
    workers = [_Worker(ctx, opts, threads) for _ in range(min(opts.jobs, len(todo)))]
    try:
        while queue or any(w.task is not None for w in workers):
            for w in workers:
                if w.ready and w.task is None and queue:
                    w.task = queue.popleft()
                    tries[w.task.spec] = tries.get(w.task.spec, 0) + 1
                    w.conn.send(w.task)
            ready = set(wait([w.conn for w in workers] + [w.proc.sentinel for w in workers]))
            for w in list(workers):
                if w.conn in ready:
                    try:
                        kind, value = w.conn.recv()
                    except (EOFError, OSError):
                        kind, value = "died", None
                else:
                    kind, value = ("died", None) if w.proc.sentinel in ready else ("", None)
                if kind == "fatal":
                    raise UserError(value)
                if kind == "ready":
                    w.ready = True
                elif kind == "result" and w.task is not None:
                    done, w.task = w.task, None
                    yield done, value
                elif kind == "died":
                    w.proc.join(timeout=5)
                    lost, code = w.task, w.proc.exitcode
                    if not w.ready:
                        unready += 1
                        if unready > 2 * opts.jobs:  # no model will ever load: not an input's
                            raise UserError("the worker processes die as they start ("
                                            f"{_exit_reason(code)}); try --jobs 1")
                    w.task = None
                    w.stop()
                    workers.remove(w)
                    if lost is not None:
                        if tries[lost.spec] < TRIES:
                            queue.appendleft(lost)
                        else:
                            why = f"the worker reading it died {TRIES} times"
                            yield lost, Result(lost.shown, "failed",
                                               error=f"{why} ({_exit_reason(code)})")
            busy = sum(w.task is not None for w in workers)
            while len(workers) < min(opts.jobs, busy + len(queue)):  # replace the dead
                workers.append(_Worker(ctx, opts, threads))
    finally:
        for w in workers:
            w.stop()


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def dask_task(inp: Input, out_dir: str, settings: ReadSettings, factory: Callable,
              reader: Callable) -> Result:
    """One input on a Dask worker: its model is loaded once per worker process and kept."""
    lay = Layout(out_dir)
    if lay.note_start(inp) >= TRIES:
        return Result(inp.shown, "failed", error=f"the worker reading it died {TRIES} times")
    try:
        classifier = _worker_classifier(factory, settings.model)
    except UserError as e:
        return Result(inp.shown, "failed", error=str(e), fatal=True)
    return process_input(inp, out_dir, settings, classifier, reader)


_classifiers: dict[tuple, object] = {}
_classifiers_lock = threading.Lock()


def _worker_classifier(factory: Callable, model: str | None):
    """This worker process's model (one per process; each task thread uses it)."""
    key = (factory, model)
    with _classifiers_lock:
        if key not in _classifiers:
            _classifiers[key] = start_worker(factory, model, 1)
        return _classifiers[key]


def dask_setup(worker) -> None:
    """Dask preload for LocalCluster workers: Ctrl-C in the terminal is the batch's to handle
    (a worker the nanny restarts after a death would otherwise die of it, with a traceback)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def dask_missing() -> str | None:
    """Why `--scheduler` cannot work here, or None when Dask is installed."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        return ("--scheduler needs Dask, which is not installed: "
                "pip install 'livedigits[cluster]' (or 'dask[distributed]')")
    return None


def _dask(todo: list[Input], opts: BatchOptions) -> Iterator[tuple[Input, Result]]:
    """One Dask task an input, on a LocalCluster or the cluster at `opts.scheduler`."""
    import logging

    import dask
    from dask.distributed import Client, LocalCluster, as_completed

    with ExitStack() as stack:
        if opts.scheduler == "local":
            kwargs = dict(n_workers=opts.jobs, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None, preload=[__name__],
                          silence_logs=logging.CRITICAL)
            kwargs.update(opts.cluster_kwargs)
            # The workers' statistical profiler samples every thread's stack 100 times a
            # second: CPU taken from reading, for a dashboard nobody opens here.
            stack.enter_context(dask.config.set({"distributed.worker.profile.enabled": False}))
            with _sigint_ignored():
                cluster = stack.enter_context(LocalCluster(**kwargs))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(opts.scheduler, timeout="10s"))
            except (OSError, TimeoutError, ValueError) as e:
                raise UserError(f"cannot reach the Dask scheduler at {opts.scheduler}: "
                                f"{e}") from None
        out_dir = str(opts.out_dir.resolve())
        futures = {client.submit(dask_task, inp, out_dir, opts.settings,
                                 opts.classifier_factory, opts.reader, pure=False,
                                 key=f"livedigits-{inp.name}-{os.getpid()}-{time.time_ns()}"):
                   inp for inp in todo}
        try:
            for fut in as_completed(futures):
                inp = futures[fut]
                try:
                    result = fut.result()
                except Exception as e:  # noqa: BLE001 (a lost task is its input's failure)
                    msg = f"{type(e).__name__}: {e}"
                    result = Result(inp.shown, "failed", error=" ".join(msg.split()))
                if result.fatal:
                    raise UserError(result.error)
                yield inp, result
        finally:
            client.cancel(list(futures))


# ---------------------------------------------------------------------------------- batch


def run_batch(opts: BatchOptions) -> BatchReport:
    """Read every input SOURCES name into DIR; skip those already done; write summary.csv.

    Ctrl-C or SIGTERM stops it: inputs already finished stay whole and marked done, the
    rest are recorded as stopped and redone next time.
    """
    t0 = time.perf_counter()
    if opts.scheduler is not None and (why := dask_missing()):
        raise UserError(why)
    out_dir = opts.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--output {out_dir} is a file; give a folder for the results")
    inputs = expand_sources(opts.sources, out_dir, opts.recursive)
    if not inputs:
        raise UserError("no inputs: give video files, folders, globs or a .txt list of "
                        "paths and URLs")
    try:
        (out_dir / PARTIAL).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {out_dir}: {e.strerror or e}") from e
    lay = Layout(out_dir)
    rows: dict[str, Result] = {}
    todo = []
    for inp in inputs:
        earlier = None if opts.force else lay.finished(inp, opts.settings)
        if earlier is not None:
            rows[inp.spec] = earlier
        else:
            lay.reset(inp)
            todo.append(inp)
    if opts.scheduler is not None:
        runner = _dask
    elif opts.jobs > 1 and len(todo) > 1:
        runner = _processes
    else:
        runner = _inline
    stopped = False
    bar = _Progress(len(todo), len(inputs) - len(todo), opts.progress)
    with _sigterm_as_interrupt():
        try:
            for inp, result in runner(todo, opts):
                rows[inp.spec] = result
                bar.update(result)
        except KeyboardInterrupt:
            stopped = True
        finally:
            bar.finish()
    for inp in todo:  # finished on a worker, but stopped before its result came back
        if inp.spec not in rows and (row := lay.finished(inp, opts.settings)) is not None:
            rows[inp.spec] = replace(row, status="ok")
    results = [rows.get(i.spec) or Result(i.shown, "stopped") for i in inputs]
    write_summary(out_dir / SUMMARY, results)
    return BatchReport(results, time.perf_counter() - t0, stopped)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a batch like Ctrl-C does (on the main thread, where signals arrive)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def write_summary(path: Path, results: list[Result]) -> None:
    """summary.csv, one row an input, written whole (a temporary file, then a rename)."""
    tmp = path.parent / PARTIAL / path.name
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in results:
            w.writerow({k: getattr(r, k) for k in COLUMNS})
    os.replace(tmp, path)


class _Progress:
    """A bar over the inputs to read, with ETA, on stderr; failures reported as they come."""

    def __init__(self, todo: int, done_before: int, show: bool) -> None:
        import click

        self.click, self.show, self.failed = click, show, 0
        if show and done_before:
            click.echo(f"{done_before} inputs already done (use --force to read them again)",
                       err=True)
        self.bar = None
        if show and todo:
            self.bar = click.progressbar(length=todo, label=f"reading {todo} inputs",
                                         show_eta=True, show_pos=True, file=sys.stderr,
                                         item_show_func=lambda r: r and Path(r.input).name)
            self.bar.__enter__()

    def update(self, result: Result) -> None:
        if result.failed:
            self.failed += 1
            if self.show:
                self.click.echo(f"\nlivedigits: failed {result.input}: {result.error}",
                                err=True)
        if self.bar is not None:
            self.bar.update(1, result)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
