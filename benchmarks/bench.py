"""How fast livedigits reads digits, next to the decode ceiling and the seed report's method.

One run measures, on the same inputs: decoding alone (the ceiling), the pipeline end to end as
`livedigits run --benchmark` runs it (ONNX Runtime, the default), the same with `--backend tf`
(the compiled TensorFlow call), and the seed report's method (fixed threshold, external
contours, one `model.predict` per crop, with our model). Then the classifier alone in both
backends, a cost curve (ms per frame against digits per frame on rendered pages), and whole
processes: one photo (wall time, peak memory), the first frame of a video written, and the
peak memory of a live-like run. Prints a table, and optionally writes JSON and a PNG plot.

    .venv/bin/python benchmarks/bench.py --json bench.json --plot bench.png
    .venv/bin/python benchmarks/bench.py --quick          # a smoke run of a few seconds
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: `python benchmarks/bench.py`
    sys.path.insert(0, str(ROOT))

import livedigits.classify as classify_mod  # noqa: E402
import livedigits.run as run_mod  # noqa: E402
from livedigits.classify import Classifier, OnnxClassifier  # noqa: E402
from livedigits.preprocess import to_model_input  # noqa: E402

SAMPLES = ROOT / "samples"
FULL_INPUTS = ("plain_480p", "ruled_720p", "desk_1080p")
QUICK_INPUTS = ("plain_480p",)
FULL_CURVE = (1, 5, 20, 50, 100)
QUICK_CURVE = (1, 20)
SEED_THRESHOLD = 75
PAGE_SIZE = (1280, 720)
TARGETS = {"fps_720p": 150.0, "x_ceiling": 0.5, "x_seed": 100.0, "curve_growth": 2.0,
           "batch32_ms": 3.0, "photo_s": 1.0, "photo_mib": 200.0, "first_frame_s": 1.0,
           "live_mib": 300.0}
# How each target compares: at least (>=), at most (<=) or under (<) its figure.
TARGET_CMP = {"curve_growth": "<", "batch32_ms": "<=", "photo_s": "<=", "photo_mib": "<=",
              "first_frame_s": "<=", "live_mib": "<="}
CLASSIFIER_SIZES = (1, 8, 24, 32, 100)
BACKENDS = ("onnx", "tf")


# ------------------------------------------------------------------------------- the machine


def machine_info() -> dict:
    """CPU model, cores and library versions: what the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import onnxruntime

    tf = classify_mod.import_tensorflow()  # without its C++ start-up notices

    return {"cpu": cpu, "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "onnxruntime": onnxruntime.__version__,
            "opencv": cv2.__version__, "numpy": np.__version__,
            "load_avg_start": [round(x, 2) for x in os.getloadavg()]}


def progress(msg: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(msg, file=sys.stderr, flush=True)


def spread(values: Sequence[float], digits: int = 3) -> dict:
    """Median, min and max (the spread over repetitions or frames) of a list of figures."""
    v = np.asarray(values, np.float64)
    return {"median": round(float(np.median(v)), digits), "min": round(float(v.min()), digits),
            "max": round(float(v.max()), digits), "n": int(v.size)}


# ------------------------------------------------------------------------ 1. decode ceiling


def decode_fps(path: Path, frames: int | None) -> tuple[float, int]:
    """Frames per second of a bare cv2.VideoCapture read loop, and the frames read."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        n = 0
        t0 = time.perf_counter()
        while frames is None or n < frames:
            ok, image = cap.read()
            if not ok or image is None:
                break
            n += 1
        seconds = time.perf_counter() - t0
    finally:
        cap.release()
    return n / seconds, n


# --------------------------------------------------------------------- 2./4. our pipeline


def run_pipeline(path: Path, frames: int | None, clf) -> run_mod.Stats:
    """`livedigits run PATH --benchmark` itself (decode on its own thread) with the loaded
    classifier `clf` (ONNX Runtime, or TensorFlow as `--backend tf` loads it; loaded once per
    benchmark, before any clock starts: `startup` measures loading), its table muted."""
    opts = run_mod.RunOptions(source=str(path), display=False, benchmark=True,
                              max_frames=frames)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return run_mod.run(opts, classifier=clf)


def stage_summary(runs: Sequence[run_mod.Stats]) -> dict:
    """Per stage: the median over repetitions of each repetition's mean ms per frame."""
    names = list(runs[0].mean_ms())
    return {k: round(float(np.median([s.mean_ms()[k] for s in runs])), 3) for k in names}


# ------------------------------------------------------------ whole processes, from the start


# Starts the command and reports its wall seconds, CPU seconds (user + system, all threads:
# what the work costs whatever else loads the machine), peak resident KiB and exit code. A small
# process of its own, because a child forked from this one (TensorFlow loaded: 600 MiB) and
# then exec'd keeps that size as its peak in the kernel's accounting.
LAUNCHER = """
import os, signal, subprocess, sys, time
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1) or proc.terminate())
t0 = time.time()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(t0, flush=True)
if stop:
    proc.terminate()
_, status, usage = os.wait4(proc.pid, 0)
print(time.time() - t0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
      os.waitstatus_to_exitcode(status), flush=True)
"""


def child(args: Sequence[str], cwd: Path, done=None, timeout: float = 300.0) -> dict:
    """Run `python -m livedigits ARGS`; return its wall and CPU seconds and peak resident MiB.

    With `done` (a function polled every 5 ms), also the seconds until it first returned true;
    the process is then stopped with SIGTERM (which livedigits handles cleanly)."""
    # Bytecode caches as an installed package has them (pip compiles on install).
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, sys.executable, "-m", "livedigits", *args], cwd=cwd,
        env=env, stdout=subprocess.PIPE, text=True)
    until = None
    assert launcher.stdout is not None
    start = float(launcher.stdout.readline())  # the child has started; SIGTERM is forwarded
    if done is not None:
        t0 = time.perf_counter()
        while launcher.poll() is None and time.perf_counter() - t0 < timeout:
            if done():
                until = time.time()
                launcher.terminate()
                break
            time.sleep(0.005)
    out_text, _ = launcher.communicate(timeout=timeout)
    wall, cpu, peak_kib, code = out_text.split()
    out: dict = {"wall_s": float(wall), "cpu_s": float(cpu), "peak_mib": int(peak_kib) / 1024,
                 "exit": int(code)}
    if until is not None:
        out["until_s"] = until - start
    return out


def a_photo(tmp: Path) -> Path:
    """The first real webcam photo in ../shared/realworld, else a rendered page."""
    real = sorted((ROOT.parent / "shared" / "realworld" / "webcam").glob("*.png"))
    if real:
        return real[0]
    path = tmp / "page.png"
    cv2.imwrite(str(path), render_page(20))
    return path


def first_line(path: Path):
    """A `done` test for `child`: the JSON Lines file has its first complete line."""
    def done() -> bool:
        with contextlib.suppress(OSError), open(path, "rb") as f:
            return b"\n" in f.read(1 << 16)
        return False
    return done


def startup(inputs: Sequence[Path], reps: int, log) -> dict:
    """Whole processes as a user starts them, per backend: one photo read (wall seconds and
    peak MiB), seconds from `livedigits run VIDEO` to its first frame written (a JSON line),
    and the peak MiB of reading a whole video with annotated output (what a live run holds)."""
    video = next((p for p in inputs if _size(p)[1] == 720), inputs[0])
    backends = BACKENDS if reps > 1 else ("onnx",)  # a quick run spares TensorFlow's 7 s
    out: dict = {"photo": {}, "first_frame": {}, "video": {}}
    with tempfile.TemporaryDirectory(prefix="livedigits-startup-") as tmp:
        tmp = Path(tmp)
        photo = a_photo(tmp)
        child(["run", str(photo), "--no-display"], tmp)  # warm-up: bytecode, file caches
        out["photo_file"] = photo.name
        out["video_file"] = video.name
        for b in backends:
            runs = [child(["run", str(photo), "--no-display", "--backend", b], tmp)
                    for _ in range(reps)]
            out["photo"][b] = {"wall_s": spread([r["wall_s"] for r in runs]),
                               "cpu_s": spread([r["cpu_s"] for r in runs]),
                               "peak_mib": spread([r["peak_mib"] for r in runs], 1)}
            firsts = []
            for i in range(reps):
                jsonl = tmp / f"first_{b}_{i}.jsonl"
                r = child(["run", str(video), "--no-display", "--backend", b, "--json",
                           str(jsonl), "--output", str(tmp / f"first_{b}_{i}.mp4")], tmp,
                          done=first_line(jsonl))
                firsts.append(r.get("until_s", r["wall_s"]))
            out["first_frame"][b] = {"s": spread(firsts)}
            r = child(["run", str(video), "--no-display", "--backend", b, "--json",
                       str(tmp / f"all_{b}.jsonl"), "--output", str(tmp / f"all_{b}.mp4")], tmp)
            out["video"][b] = {"wall_s": round(r["wall_s"], 3),
                               "peak_mib": round(r["peak_mib"], 1)}
            log(f"  startup {b}: photo {out['photo'][b]['wall_s']['median']:.2f} s "
                f"{out['photo'][b]['peak_mib']['max']:.0f} MiB, first frame "
                f"{out['first_frame'][b]['s']['median']:.2f} s, whole video "
                f"{r['peak_mib']:.0f} MiB")
    return out


# ------------------------------------------------------------------- 3. the seed's method


def seed_crops(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The seed's crops: grey > fixed threshold 75 (inverted), external contours, every one.

    Returns boxes (N, 4) as x, y, w, h and crops (N, 28, 28) uint8: the binary blob squashed
    to 18x18 whatever its aspect, with a 5-pixel black border.
    """
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    _, binary = cv2.threshold(gray, SEED_THRESHOLD, 255, cv2.THRESH_BINARY_INV)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = np.array([cv2.boundingRect(c) for c in contours], np.int32).reshape(-1, 4)
    crops = np.zeros((len(boxes), 28, 28), np.uint8)
    for i, (x, y, w, h) in enumerate(boxes):
        crops[i, 5:23, 5:23] = cv2.resize(binary[y : y + h, x : x + w], (18, 18))
    return boxes, crops


def seed_read(frame: np.ndarray, model) -> tuple[np.ndarray, np.ndarray]:
    """The seed's reading of a frame: boxes and labels, one `model.predict` call per crop."""
    boxes, crops = seed_crops(frame)
    labels = np.zeros(len(crops), np.int64)
    for i, crop in enumerate(crops):
        probs = model.predict(to_model_input(crop[None]), verbose=0)
        labels[i] = int(np.argmax(probs[0]))
    return boxes, labels


def seed_ms(images: Sequence[np.ndarray], model) -> tuple[list[float], list[int]]:
    """Per-frame ms of the seed's method (frames already decoded), and its crops per frame."""
    seed_read(images[0], model)  # warm-up: Keras builds its predict function on first use
    ms, crops = [], []
    for image in images:
        t0 = time.perf_counter()
        boxes, _ = seed_read(image, model)
        ms.append((time.perf_counter() - t0) * 1e3)
        crops.append(len(boxes))
    return ms, crops


def first_frames(path: Path, n: int) -> list[np.ndarray]:
    """The first `n` decoded frames of a video."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    out = []
    try:
        while len(out) < n:
            ok, image = cap.read()
            if not ok:
                break
            out.append(image)
    finally:
        cap.release()
    return out


# ------------------------------------------------------------------- the cost-curve pages


def _digit_images(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`n` white-on-black 28x28 digits: MNIST test digits if mnist.npz is there, else printed."""
    from livedigits.data import default_mnist_path, load_mnist

    path = default_mnist_path()
    if path is not None:
        x = load_mnist(path).x_test
        return [x[i] for i in rng.choice(len(x), n, replace=False)]
    out = []
    for d in rng.integers(0, 10, n):
        img = np.zeros((28, 28), np.uint8)
        cv2.putText(img, str(d), (6, 23), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2, cv2.LINE_AA)
        out.append(img)
    return out


def render_page(n: int, seed: int = 0, size: tuple[int, int] = PAGE_SIZE) -> np.ndarray:
    """A BGR page with `n` digits (about 40 px tall) in cells of a grid of at least 10x10.

    Cells are picked at random so a few digits spread over the page as many do; the page has
    a gentle light gradient like paper under a lamp.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    rows = cols = 10
    while rows * cols < n:
        rows, cols = rows + 1, cols + 2
    cw, ch = w // cols, h // rows
    grad = np.linspace(-12, 12, w, dtype=np.float32)[None, :] + np.linspace(
        -6, 6, h, dtype=np.float32)[:, None]
    page = np.repeat((218 + grad)[:, :, None], 3, axis=2)
    ink = np.array([60, 35, 30], np.float32)  # dark blue ballpoint, BGR
    side = min(56, ch - 8, cw - 8)
    for cell, digit in zip(rng.permutation(rows * cols)[:n], _digit_images(n, rng), strict=True):
        r, c = divmod(int(cell), cols)
        alpha = cv2.resize(digit, (side, side), interpolation=cv2.INTER_LINEAR) / 255.0
        x0 = c * cw + (cw - side) // 2 + int(rng.integers(-3, 4))
        y0 = r * ch + (ch - side) // 2 + int(rng.integers(-3, 4))
        roi = page[y0 : y0 + side, x0 : x0 + side]
        a = alpha[:, :, None].astype(np.float32)
        page[y0 : y0 + side, x0 : x0 + side] = roi * (1 - a) + ink * a
    return np.clip(page + 0.5, 0, 255).astype(np.uint8)


def write_page_video(page: np.ndarray, path: Path, frames: int, seed: int = 0) -> Path:
    """A short mp4v clip of a page: each frame shifted by a pixel or two, with sensor noise."""
    h, w = page.shape[:2]
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 15.0, (w, h))
    try:
        for i in range(frames):
            m = np.float32([[1, 0, (i % 5) - 2], [0, 1, (i % 3) - 1]])
            shifted = cv2.warpAffine(page, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
            noise = rng.normal(0, 2.0, shifted.shape).astype(np.float32)
            writer.write(np.clip(shifted + noise, 0, 255).astype(np.uint8))
    finally:
        writer.release()
    return path


# ---------------------------------------------------------------------------- the benchmark


def digits_per_frame(path: Path) -> float | None:
    """Mean digits per frame from a sample's ground truth (NAME.json beside the video)."""
    truth = path.with_suffix(".json")
    if not truth.is_file():
        return None
    frames = json.loads(truth.read_text()).get("ground_truth", [])
    return round(float(np.mean([len(f["digits"]) for f in frames])), 1) if frames else None


def bench_video(path: Path, frames: int | None, reps: int, seed_frames: int,
                clfs: dict, log) -> dict:
    """Ceiling, pipeline in both backends and seed method on one video, with ratios."""
    for backend in BACKENDS:  # warm-up: caches, thread pools, file pages
        run_pipeline(path, min(frames or 10, 10), clfs[backend])
    dec, pipe, swap = [], [], []
    n_frames = 0
    for r in range(reps):  # interleaved, so a burst of background load hits all three alike
        fps, n_frames = decode_fps(path, frames)
        dec.append(fps)
        pipe.append(run_pipeline(path, frames, clfs["onnx"]))
        swap.append(run_pipeline(path, frames, clfs["tf"]))
        log(f"  {path.stem} rep {r + 1}/{reps}: decode {fps:.0f} fps, pipeline "
            f"{_fps(pipe[-1]):.1f} fps, with TensorFlow {_fps(swap[-1]):.1f} fps")
    seed_times, seed_counts = seed_ms(first_frames(path, seed_frames), clfs["tf"].model)
    out = {"path": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
           "size": _size(path),
           "frames": n_frames, "digits_per_frame": digits_per_frame(path),
           "decode": _figures(dec),
           "pipeline": {**_figures([_fps(s) for s in pipe]), "stages_ms": stage_summary(pipe)},
           "pipeline_tf": {**_figures([_fps(s) for s in swap]),
                           "stages_ms": stage_summary(swap)},
           "seed": {"frames": len(seed_times), "crops_per_frame": spread(seed_counts, 1),
                    "ms_per_frame": spread(seed_times)}}
    out["ratios"] = ratios(out)
    return out


def _fps(stats: run_mod.Stats) -> float:
    return stats.frames / stats.seconds


def _size(path: Path) -> list[int]:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        return [int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))]
    finally:
        cap.release()


def _figures(fps: Sequence[float]) -> dict:
    """FPS over repetitions and the same as wall ms per frame (1000 / FPS)."""
    return {"fps": spread(fps, 2), "ms_per_frame": spread([1000.0 / f for f in fps])}


def ratios(entry: dict) -> dict:
    """Pair-by-pair ratios of one input's medians, all measured in this run."""
    pipe = entry["pipeline"]["fps"]["median"]
    out = {"x_ceiling": pipe / entry["decode"]["fps"]["median"],
           "runtime_vs_tf": pipe / entry["pipeline_tf"]["fps"]["median"]}
    if "seed" in entry:
        out["x_seed"] = entry["seed"]["ms_per_frame"]["median"] / (1000.0 / pipe)
    return {k: round(v, 3) for k, v in out.items()}


def bench_curve(points: Sequence[int], frames: int, reps: int, clf: OnnxClassifier,
                model, log) -> list[dict]:
    """Ms per frame against digits per frame on rendered 1280x720 pages, end to end."""
    from livedigits.pipeline import Pipeline, PipelineSettings

    out = []
    with tempfile.TemporaryDirectory(prefix="livedigits-bench-") as tmp:
        for n in points:
            page = render_page(n, seed=n)
            video = write_page_video(page, Path(tmp) / f"page_{n}.mp4", frames, seed=n)
            result = Pipeline(clf, PipelineSettings(track=False)).process(page)
            run_pipeline(video, min(frames, 5), clf)  # warm-up
            runs = [run_pipeline(video, frames, clf) for _ in range(reps)]
            seed_times, seed_counts = seed_ms([page], model)
            read = len(result.detections)
            entry = {"digits": n, "read": read, "complete": abs(read - n) <= max(1, n // 10),
                     **_figures([_fps(s) for s in runs]),
                     "stages_ms": stage_summary(runs),
                     "seed": {"crops_per_frame": spread(seed_counts, 1),
                              "ms_per_frame": spread(seed_times)}}
            out.append(entry)
            log(f"  curve {n:4d} digits: {entry['ms_per_frame']['median']:.1f} ms/frame, "
                f"read {entry['read']}")
    return out


def bench(inputs: Sequence[Path], curve: Sequence[int], frames: int | None, reps: int,
          seed_frames: int, curve_frames: int, log=progress) -> dict:
    """The whole benchmark; returns the JSON-ready result."""
    machine = machine_info()
    result: dict = {"machine": machine,
                    "settings": {"frames": frames, "reps": reps, "seed_frames": seed_frames,
                                 "curve_frames": curve_frames, "tf_buckets": list(
                                     classify_mod.BUCKETS)},
                    "startup": startup(inputs, max(1, min(reps, 3)), log), "inputs": {},
                    "curve": []}
    clfs = {"onnx": OnnxClassifier(), "tf": Classifier()}
    machine["onnx_device"], machine["tf_device"] = clfs["onnx"].device, clfs["tf"].device
    calls = 50 if reps <= 1 else 500
    result["classifier_ms"] = {b: bench_classifier(clfs[b], CLASSIFIER_SIZES, calls, log)
                               for b in BACKENDS}
    model = clfs["tf"].model
    for path in inputs:
        result["inputs"][path.stem] = bench_video(path, frames, reps, seed_frames, clfs, log)
    if curve:
        result["curve"] = bench_curve(curve, curve_frames, reps, clfs["onnx"], model, log)
        first, last = result["curve"][0], result["curve"][-1]
        result["curve_growth"] = round(last["ms_per_frame"]["median"]
                                       / first["ms_per_frame"]["median"], 3)
    machine["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = targets(result)
    return result


def bench_classifier(clf, sizes: Sequence[int], calls: int, log=progress) -> dict:
    """Median ms of one `predict` (one batched call, input conversion and, for TensorFlow,
    padding included) for each number of crops; the model on its own, no pipeline."""
    rng = np.random.default_rng(0)
    out = {}
    for n in sizes:
        crops = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        for _ in range(max(5, calls // 10)):
            clf.predict(crops)
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            clf.predict(crops)
            times.append((time.perf_counter() - t) * 1e3)
        out[str(n)] = spread(times)
        log(f"  {type(clf).__name__} {n:4d} crops: {out[str(n)]['median']:.2f} ms")
    return out


def targets(result: dict) -> dict:
    """The issue's targets next to where this run is (720p input and the curve)."""
    out = {}
    p720 = next((v for v in result["inputs"].values() if v["size"][1] == 720), None)
    if p720 is not None:
        fps = p720["pipeline"]["fps"]["median"]
        out["fps_720p"] = {"target": TARGETS["fps_720p"], "value": fps,
                           "met": fps >= TARGETS["fps_720p"]}
        for k in ("x_ceiling", "x_seed"):
            v = p720["ratios"][k]
            out[k] = {"target": TARGETS[k], "value": v, "met": v >= TARGETS[k]}
    if "curve_growth" in result:
        g = result["curve_growth"]
        # A point where the pipeline missed digits did less work: it cannot count as met.
        complete = all(c["complete"] for c in result["curve"])
        out["curve_growth"] = {"target": TARGETS["curve_growth"], "value": g,
                               "met": g < TARGETS["curve_growth"] and complete}
    b32 = result.get("classifier_ms", {}).get("onnx", {}).get("32")
    if b32 is not None:
        out["batch32_ms"] = {"target": TARGETS["batch32_ms"], "value": b32["median"],
                             "met": b32["median"] <= TARGETS["batch32_ms"]}
    st = result.get("startup", {})
    figures = {"photo_s": st.get("photo", {}).get("onnx", {}).get("wall_s", {}).get("median"),
               "photo_mib": st.get("photo", {}).get("onnx", {}).get("peak_mib", {}).get("max"),
               "first_frame_s": st.get("first_frame", {}).get("onnx", {}).get("s", {}).get(
                   "median"),
               "live_mib": st.get("video", {}).get("onnx", {}).get("peak_mib")}
    for k, v in figures.items():
        if v is not None:
            out[k] = {"target": TARGETS[k], "value": v, "met": v <= TARGETS[k]}
    return out


# ---------------------------------------------------------------------------- the outputs


def _mm(fig: dict, fmt: str = "{:.1f}") -> str:
    """A median with its [min-max] spread."""
    return (fmt.format(fig["median"]) + " [" + fmt.format(fig["min"]) + "-"
            + fmt.format(fig["max"]) + "]")


def table(result: dict) -> list[str]:
    """The human report: machine, per-input table, cost curve, targets."""
    m = result["machine"]
    lines = [f"machine: {m['cpu']}, {m['cores_usable']} cores; ONNX Runtime on "
             f"{m['onnx_device']}, TF on {m['tf_device']}; "
             f"load avg {m['load_avg_start'][0]} -> {m.get('load_avg_end', ['?'])[0]}",
             "figures: median [min-max] over repetitions (seed: over frames); ms = wall ms "
             "per frame"]
    st = result.get("startup", {})
    if st:
        lines += ["", f"whole process (photo {st['photo_file']}, video {st['video_file']}):"]
        for b in st["photo"]:
            lines.append(
                f"  {b:<5} photo {_mm(st['photo'][b]['wall_s'], '{:.2f}')} s "
                f"(CPU {st['photo'][b]['cpu_s']['median']:.2f} s), peak "
                f"{st['photo'][b]['peak_mib']['max']:.0f} MiB; first frame written "
                f"{_mm(st['first_frame'][b]['s'], '{:.2f}')} s; whole video peak "
                f"{st['video'][b]['peak_mib']:.0f} MiB")
    head = (f"{'input':<12}{'size':>10}{'dig/fr':>8}{'decode fps':>25}{'pipeline fps':>20}"
            f"{'ms/frame':>10}{'x ceil':>8}{'with TF fps':>18}{'x TF':>8}"
            f"{'seed ms/frame':>22}{'x seed':>8}")
    lines += ["", head, "-" * len(head)]
    for name, e in result["inputs"].items():
        r = e["ratios"]
        lines.append(
            f"{name:<12}{'x'.join(map(str, e['size'])):>10}{e['digits_per_frame'] or '-':>8}"
            f"{_mm(e['decode']['fps'], '{:.0f}'):>25}{_mm(e['pipeline']['fps']):>20}"
            f"{e['pipeline']['ms_per_frame']['median']:>10.1f}{r['x_ceiling']:>8.2f}"
            f"{_mm(e['pipeline_tf']['fps']):>18}"
            f"{r['runtime_vs_tf']:>8.2f}"
            f"{_mm(e['seed']['ms_per_frame'], '{:.0f}'):>22}{r['x_seed']:>8.0f}")
    if result.get("classifier_ms"):
        lines += ["", "classifier alone, one batched call (median [min-max] ms):",
                  f"{'crops':>6}" + "".join(f"{b:>22}" for b in result["classifier_ms"])]
        sizes = next(iter(result["classifier_ms"].values()))
        lines += [f"{n:>6}" + "".join(f"{_mm(v[n], '{:.2f}'):>22}"
                                      for v in result["classifier_ms"].values()) for n in sizes]
    stages = ("detect", "preprocess", "infer", "track", "numbers")
    if result["curve"]:
        head = (f"{'digits/frame':>12}{'read':>6}{'ms/frame':>22}{'fps':>8}"
                + "".join(f"{s:>11}" for s in stages) + f"{'seed ms':>10}")
        lines += ["", "cost curve (1280x720 pages; stage columns: mean ms per frame)", head,
                  "-" * len(head)]
        for c in result["curve"]:
            lines.append(f"{c['digits']:>12}{c['read']:>6}{_mm(c['ms_per_frame'], '{:.2f}'):>22}"
                         f"{c['fps']['median']:>8.1f}"
                         + "".join(f"{c['stages_ms'].get(s, 0.0):>11.2f}" for s in stages)
                         + f"{c['seed']['ms_per_frame']['median']:>10.0f}")
        for c in result["curve"]:
            if not c["complete"]:
                lines.append(f"warning: read {c['read']} of {c['digits']} digits on that page: "
                             "its figure is not the cost of reading them all")
        lines.append(f"growth from {result['curve'][0]['digits']} to "
                     f"{result['curve'][-1]['digits']} digits/frame: {result['curve_growth']:.2f}x")
    if result["targets"]:
        lines.append("")
        for k, t in result["targets"].items():
            cmp = TARGET_CMP.get(k, ">=")
            lines.append(f"target {k:<13} {cmp} {t['target']:<6g} now {t['value']:<9g} "
                         f"{'met' if t['met'] else 'NOT met'}")
    return lines


def plot_curve(result: dict, path: Path, size: tuple[int, int] = (900, 560)) -> None:
    """The cost curve as a PNG drawn with OpenCV: ms per frame (log) against digits per frame."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 80, 190, 50, 60
    curve = result["curve"]
    xs = [c["digits"] for c in curve]
    series = [("pipeline (end to end)", (200, 80, 0), [c["ms_per_frame"]["median"] for c in curve]),
              ("detect", (0, 140, 0), [c["stages_ms"].get("detect", 0.0) for c in curve]),
              ("infer", (0, 120, 230), [c["stages_ms"].get("infer", 0.0) for c in curve]),
              ("seed method", (40, 40, 200), [c["seed"]["ms_per_frame"]["median"]
                                              for c in curve])]
    values = [v for _, _, vals in series for v in vals if v > 0]
    lo = 10 ** np.floor(np.log10(max(min(values), 1e-2)))
    hi = 10 ** np.ceil(np.log10(max(values)))
    x_max = max(xs) if max(xs) > min(xs) else min(xs) + 1

    def px(x: float, y: float) -> tuple[int, int]:
        fx = (x - 0) / x_max
        fy = (np.log10(max(y, lo)) - np.log10(lo)) / (np.log10(hi) - np.log10(lo))
        return int(left + fx * (w - left - right)), int(h - bottom - fy * (h - top - bottom))

    font = cv2.FONT_HERSHEY_SIMPLEX
    for e in range(int(np.log10(lo)), int(np.log10(hi)) + 1):
        _, y = px(0, 10.0**e)
        cv2.line(img, (left, y), (w - right, y), (225, 225, 225), 1)
        cv2.putText(img, f"{10.0**e:g}", (10, y + 5), font, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
    for x in xs:
        X, _ = px(x, lo)
        cv2.line(img, (X, top), (X, h - bottom), (235, 235, 235), 1)
        cv2.putText(img, str(x), (X - 8, h - bottom + 20), font, 0.45, (60, 60, 60), 1,
                    cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (w - right, h - bottom), (0, 0, 0), 1)
    for i, (name, color, vals) in enumerate(series):
        pts = [px(x, v) for x, v in zip(xs, vals, strict=True)]
        for a, b in zip(pts, pts[1:], strict=False):
            cv2.line(img, a, b, color, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, p, 4, color, -1, cv2.LINE_AA)
        ly = top + 20 + 24 * i
        cv2.line(img, (w - right + 12, ly - 4), (w - right + 36, ly - 4), color, 2)
        cv2.putText(img, name, (w - right + 42, ly), font, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    for c in curve:  # the spread over repetitions of the end-to-end figure
        X, y0 = px(c["digits"], c["ms_per_frame"]["min"])
        _, y1 = px(c["digits"], c["ms_per_frame"]["max"])
        cv2.line(img, (X, y0), (X, y1), (200, 80, 0), 1)
    cv2.putText(img, "ms per frame (log) against digits per frame, 1280x720 pages",
                (left, 30), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "digits per frame", (left + (w - left - right) // 2 - 60, h - 15), font,
                0.5, (0, 0, 0), 1, cv2.LINE_AA)
    m = result["machine"]
    cv2.putText(img, f"{m['cpu'][:28]}, {m['cores_usable']} cores", (w - right + 12, h - 25),
                font, 0.38, (90, 90, 90), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write {path}")


def main(argv: Sequence[str] | None = None) -> dict:
    """Parse the options, run the benchmark, print the table, write JSON and PNG if asked."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 480p only, 15 frames, 1 repetition, curve at 1 and 20")
    ap.add_argument("--inputs", nargs="+", type=Path,
                    help="videos to measure (default: the 480p, 720p and 1080p samples)")
    ap.add_argument("--curve", nargs="*", type=int, help="digits per frame of the cost curve")
    ap.add_argument("--frames", type=int, help="frames per video (default: all)")
    ap.add_argument("--reps", type=int, help="repetitions after the warm-up (default 5)")
    ap.add_argument("--seed-frames", type=int, help="frames the seed method reads (default 3)")
    ap.add_argument("--curve-frames", type=int, help="frames per curve clip (default 45)")
    ap.add_argument("--json", type=Path, help="write the results as JSON here")
    ap.add_argument("--plot", type=Path, help="write the cost curve as a PNG here")
    a = ap.parse_args(argv)
    q = a.quick
    inputs = a.inputs or [SAMPLES / f"{n}.mp4" for n in (QUICK_INPUTS if q else FULL_INPUTS)]
    for p in inputs:
        if not p.is_file():
            ap.error(f"no such video: {p}")
    curve = a.curve if a.curve is not None else (QUICK_CURVE if q else FULL_CURVE)
    result = bench(inputs, sorted(curve), frames=a.frames or (15 if q else None),
                   reps=a.reps or (1 if q else 5), seed_frames=a.seed_frames or (1 if q else 3),
                   curve_frames=a.curve_frames or (10 if q else 45), log=progress)
    print("\n".join(table(result)))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1) + "\n")
    if a.plot and result["curve"]:
        plot_curve(result, a.plot)
    return result


if __name__ == "__main__":
    main()
