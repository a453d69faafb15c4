"""Throughput of `livedigits batch` on 8 videos: `--jobs 1` against `--jobs 2` and a 2-worker
LocalCluster, as ratios within one run.

The inputs are the 7 samples plus a copy of one (a batch reads the same file once), each read
in full with the shipped model into a fresh folder. Each configuration is `livedigits batch`
in a fresh process, timed end to end as a user sees it (interpreter and TensorFlow start, worker
start, model loads, reading, summary), the three interleaved repetition by repetition so that
load from other work on the machine falls on all of them alike.

    nice -n 10 .venv/bin/python benchmarks/batch_bench.py --json benchmarks/batch_results.json
    .venv/bin/python benchmarks/batch_bench.py --quick      # 3 short inputs, one repetition
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.bench import machine_info  # noqa: E402
from livedigits.batch import dask_missing  # noqa: E402

CONFIGS = {"jobs 1": ["--jobs", "1"], "jobs 2": ["--jobs", "2"],
           "LocalCluster, 2 workers": ["--jobs", "2", "--scheduler", "local"]}


def inputs(folder: Path, quick: bool) -> list[Path]:
    """The 7 samples and a copy of the first (8 videos), or 3 for a quick run."""
    samples = sorted((ROOT / "samples").glob("*.mp4"))
    if quick:
        samples = samples[:3]
    else:
        copy = folder / f"copy_of_{samples[0].name}"
        shutil.copyfile(samples[0], copy)
        samples.append(copy)
    return samples


def measure(videos: list[Path], config: list[str], max_frames: int | None) -> dict:
    """One `livedigits batch` in a fresh process, as a user runs it: interpreter start,
    TensorFlow import and model loads included, nothing warm from an earlier repetition."""
    with tempfile.TemporaryDirectory(prefix="livedigits-batch-bench-") as out:
        cmd = [sys.executable, "-m", "livedigits", "batch", *map(str, videos), "--out", out,
               *config, *(["--max-frames", str(max_frames)] if max_frames else [])]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(ROOT), os.environ.get("PYTHONPATH", "")]))
        t0, cpu0 = time.perf_counter(), _children_cpu()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
        if done.returncode != 0:
            raise SystemExit(f"batch_bench: {' '.join(config)} failed:\n{done.stderr}")
        with open(Path(out) / "summary.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    frames = sum(int(r["frames"]) for r in rows)
    return {"seconds": round(wall, 2), "frames": frames, "fps": round(frames / wall, 1),
            "reading_seconds": round(sum(float(r["seconds"]) for r in rows), 2),
            "cpu_seconds": round(cpu, 2)}


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (the batch and its workers,
    each reaped by its parent) so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=2, help="repetitions of each configuration")
    ap.add_argument("--quick", action="store_true", help="3 inputs of 15 frames, one rep")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)
    configs = dict(CONFIGS)
    if dask_missing():
        print("batch_bench: no Dask, so no LocalCluster figures", file=sys.stderr)
        configs.pop("LocalCluster, 2 workers")
    reps, max_frames = (1, 15) if args.quick else (args.reps, None)
    runs: dict[str, list[dict]] = {k: [] for k in configs}
    load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        videos = inputs(Path(tmp), args.quick)
        for rep in range(reps):
            for name, config in configs.items():
                print(f"rep {rep + 1}/{reps}: {name} ...", file=sys.stderr, flush=True)
                runs[name].append(measure(videos, config, max_frames))
    base = statistics.median(r["seconds"] for r in runs["jobs 1"])
    table = {}
    for name, rs in runs.items():
        med = statistics.median(r["seconds"] for r in rs)
        # per repetition, against jobs 1 of the same repetition
        pairs = [b["seconds"] / r["seconds"] for b, r in zip(runs["jobs 1"], rs, strict=True)]
        table[name] = {"seconds_median": round(med, 2), "seconds": [r["seconds"] for r in rs],
                       "reading_seconds": [r["reading_seconds"] for r in rs],
                       "cpu_seconds": [r["cpu_seconds"] for r in rs],
                       "frames": rs[0]["frames"], "fps": round(rs[0]["frames"] / med, 1),
                       "speedup_vs_jobs1": round(base / med, 2),
                       "speedup_per_rep": [round(p, 2) for p in pairs]}
    result = {"machine": machine_info(), "videos": [v.name for v in videos],
              "reps": reps, "loadavg_start": load,
              "loadavg_end": [round(x, 2) for x in os.getloadavg()], "configs": table}
    print(f"{'configuration':<26}{'seconds':>9}{'frames/s':>10}{'x jobs 1':>10}"
          f"{'inputs s':>10}{'CPU s':>8}  per rep")
    for name, t in table.items():
        print(f"{name:<26}{t['seconds_median']:>9.1f}{t['fps']:>10.1f}"
              f"{t['speedup_vs_jobs1']:>10.2f}{statistics.median(t['reading_seconds']):>10.1f}"
              f"{statistics.median(t['cpu_seconds']):>8.1f}  {t['speedup_per_rep']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
