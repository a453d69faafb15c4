"""Stand-ins for `livedigits batch` tests, importable by worker processes (they pickle by name).

`fake_classifier` replaces the model where it is not the point; `read_or_die` is the real
reader except for inputs named to kill the worker that reads them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2

from livedigits.batch import read_input
from tests.conftest import FakeClassifier

RECORD = "LIVEDIGITS_TEST_WORKER_RECORD"  # a file each worker appends its thread settings to


def fake_classifier(model: str | None, threads: int | None):
    """Reads every crop as a 7; notes the worker's thread settings where the test asks."""
    record = os.environ.get(RECORD)
    if record:
        with open(record, "a", encoding="utf-8") as f:
            f.write(json.dumps({"threads": threads, "cv2": cv2.getNumThreads(),
                                "omp": os.environ.get("OMP_NUM_THREADS"),
                                "pid": os.getpid()}) + "\n")
    return FakeClassifier()


def read_or_die(source: str, jsonl: Path, video: Path | None, settings, classifier):
    """`read_input`, but a worker reading `*die*` exits at once, one reading `*once*` only the
    first time (a marker file beside the input remembers)."""
    name = Path(source).name
    if "die" in name:
        os._exit(3)
    if "once" in name:
        marker = Path(source).with_suffix(".died")
        if not marker.exists():
            marker.touch()
            os._exit(3)
    return read_input(source, jsonl, video, settings, classifier)


def read_slowly(source: str, jsonl: Path, video: Path | None, settings, classifier):
    """`read_input`, but an input named `*slow*` writes a line and then takes a minute."""
    if "slow" in Path(source).name:
        jsonl.write_text('{"frame": 0}\n')
        time.sleep(60)
    return read_input(source, jsonl, video, settings, classifier)


def dying_classifier(model: str | None, threads: int | None):
    """A model whose loading kills the worker process (as a broken native library would)."""
    os._exit(5)
