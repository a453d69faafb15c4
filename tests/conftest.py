"""Shared fixtures: MNIST when it can be found, the shipped model, the real webcam frames."""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from livedigits.data import default_mnist_path, load_mnist

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "livedigits.keras"
EXPORT = MODEL.with_suffix(".onnx")
REALWORLD = ROOT.parent / "shared" / "realworld"


@pytest.fixture(scope="session")
def mnist():
    path = default_mnist_path()
    if path is None:
        pytest.skip("no mnist.npz found (set LIVEDIGITS_MNIST or put it in ../shared/data/)")
    return load_mnist(path)


@dataclass(frozen=True)
class QuickModel:
    """What `livedigits train --quick` (without --out) did: the model it saved, what it said,
    and whether the shipped model kept its modification time."""

    path: Path
    output: str
    shipped_untouched: bool


@pytest.fixture(scope="session")
def quick_model(mnist):
    """One quick training per test session, shared by every test that needs a trained model."""
    from tests.helpers import invoke

    before = MODEL.stat().st_mtime_ns
    res = invoke("train", "--quick", "--data", mnist.source)
    assert res.exit_code == 0, res.output
    saved = re.search(r"saved (\S+\.keras):", res.output)
    assert saved, res.output
    path = Path(saved.group(1))
    yield QuickModel(path, res.output, MODEL.stat().st_mtime_ns == before)
    shutil.rmtree(path.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def classifier():
    """The shipped model as the read path runs it: the ONNX export in ONNX Runtime."""
    from livedigits.classify import OnnxClassifier

    return OnnxClassifier(EXPORT)


@pytest.fixture(scope="session")
def tf_classifier():
    """The shipped Keras model in TensorFlow (`--backend tf`)."""
    from livedigits.classify import Classifier

    return Classifier(MODEL)


def realworld_cases() -> list[tuple[Path, str]]:
    """(frame, digits in reading order) for each real webcam frame in ../shared/realworld."""
    labels = REALWORLD / "labels.csv"
    if not labels.is_file():
        return []
    with open(labels) as f:
        return [(REALWORLD / row["file"], row["digits"]) for row in csv.DictReader(f)]


def read_video(path) -> tuple[list[np.ndarray], float]:
    """Every frame a video plays back and its fps; ([], 0.0) when it does not open."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return frames, fps


class FakeClassifier:
    """Stands in for the CNN: reads every crop as `digit` with `confidence`, or per a function."""

    def __init__(self, digit: int = 7, confidence: float = 0.99, fn=None) -> None:
        self.digit, self.confidence, self.fn, self.calls = digit, confidence, fn, []

    def predict(self, crops: np.ndarray):
        from livedigits.classify import Prediction

        self.calls.append(len(crops))
        n = len(crops)
        digit = (np.array([self.fn(c) for c in crops], np.int64) if self.fn
                 else np.full(n, self.digit, np.int64))
        conf = np.full(n, self.confidence, np.float32)
        return Prediction(digit, conf, np.zeros((n, 11), np.float32))


def page(size=(480, 640), digits=(("7", 100, 200), ("3", 160, 200)), scale=3.0,
         background=225, ink=30) -> np.ndarray:
    """A synthetic grey page with printed digits at (text, x, baseline y)."""
    import cv2

    img = np.full(size, background, np.uint8)
    for text, x, y in digits:
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 8, cv2.LINE_AA)
    return img
