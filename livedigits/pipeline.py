"""One frame through the stages: detect -> crops -> classify -> stabilise -> numbers.

Pure apart from the classifier call: it takes a numpy frame and returns a FrameResult with
per-stage timings. Sources, windows and files are the caller's business (see `run.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from livedigits.defaults import MIN_CONFIDENCE
from livedigits.detect import Blobs, DetectorSettings, detect
from livedigits.detections import Detections, FrameResult
from livedigits.numbers import line_angles, read_numbers
from livedigits.preprocess import make_crops
from livedigits.spec import NOT_A_DIGIT
from livedigits.track import Tracker


class DigitModel(Protocol):
    """What the pipeline needs of a classifier (the real one, or a fake in tests)."""

    def predict(self, digits: np.ndarray): ...


@dataclass
class PipelineSettings:
    min_confidence: float = MIN_CONFIDENCE
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    track: bool = True  # off for single images
    max_age: int = 5
    min_hits: int = 2
    max_side: int = 2000  # larger photos are read on a copy this size; boxes are mapped back


@dataclass(frozen=True)
class Prepared:
    """A frame's blobs ready for the classifier: `detections.data` holds each row's ink
    "mask", its 28x28 "crop", and its "split" group and "whole" flag."""

    detections: Detections
    ms: dict[str, float]


def detect_scaled(image: np.ndarray, settings: DetectorSettings, max_side: int) -> Blobs:
    """Detect on a copy no larger than `max_side`, with boxes in the original's pixels.

    A 24-megapixel photo takes a second to threshold at full size and its digits are huge;
    at 2000 px they are still far above the smallest size the detector reads.
    """
    h, w = image.shape[:2]
    scale = max_side / max(h, w, 1)
    if scale >= 1 or image.ndim not in (2, 3):
        return detect(image, settings)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    blobs = detect(small, settings)
    xyxy = np.round(blobs.detections.xyxy / scale)
    blobs.detections = blobs.detections.replace(
        xyxy=np.clip(xyxy, 0, [w, h, w, h]).astype(np.int32))
    return blobs


def resolve_splits(split: np.ndarray, whole: np.ndarray, accepted: np.ndarray) -> np.ndarray:
    """For blobs read both whole and cut into pieces, keep one reading: the whole blob where
    the model reads it as one digit (a wide 2), else the pieces (digits that touch).

    >>> resolve_splits(np.array([-1, 4, 4, 4]), np.array([True, True, False, False]),
    ...                np.array([True, True, True, False])).tolist()
    [True, True, False, False]
    """
    keep = accepted.copy()
    for g in np.unique(split[split >= 0]):
        rows = split == g
        whole_read = (rows & whole & accepted).any()
        keep[rows & ~whole] &= not whole_read
        keep[rows & whole] &= whole_read
    return keep


class Pipeline:
    """Reads the digits of one frame after another; keeps the tracker's state between frames.

    >>> p = Pipeline(Classifier())                     # doctest: +SKIP
    >>> p.process(cv2.imread("page.png")).numbers      # doctest: +SKIP
    [Number(text='2021', xyxy=(40, 60, 210, 120), members=[0, 1, 2, 3])]
    """

    def __init__(self, model: DigitModel, settings: PipelineSettings | None = None) -> None:
        self.model = model
        self.settings = settings or PipelineSettings()
        s = self.settings
        self.tracker = Tracker(max_age=s.max_age, min_hits=s.min_hits) if s.track else None

    def process(self, image: np.ndarray, index: int = 0, t: float = 0.0) -> FrameResult:
        """Detect, classify, stabilise and group the digits of one frame."""
        return self.finish(self.prepare(image), index, t)

    def prepare(self, image: np.ndarray) -> Prepared:
        """The stateless half: find the blobs and make their crops. Safe to run on another
        thread, one frame ahead of `finish`, so a video's frames overlap."""
        t0 = time.perf_counter()
        det = detect_scaled(image, self.settings.detector, self.settings.max_side).detections
        t1 = time.perf_counter()
        det = det.with_data(crop=make_crops(list(det.data["mask"]), line_angles(det)))
        t2 = time.perf_counter()
        return Prepared(det, {"detect": (t1 - t0) * 1e3, "preprocess": (t2 - t1) * 1e3})

    def finish(self, prepared: Prepared, index: int = 0, t: float = 0.0) -> FrameResult:
        """The stateful half, in frame order: classify in one call, stabilise, read numbers."""
        t2 = time.perf_counter()
        det = prepared.detections
        if len(det):
            pred = self.model.predict(np.asarray(det.data["crop"]))
            det = det.replace(digit=pred.digit, confidence=pred.confidence)
        t3 = time.perf_counter()
        keep = (det.digit != NOT_A_DIGIT) & (det.confidence >= self.settings.min_confidence)
        keep = resolve_splits(np.asarray(det.data["split"]), np.asarray(det.data["whole"]), keep)
        raw = det[keep]
        tracked = self.tracker.update(raw) if self.tracker is not None else raw
        t4 = time.perf_counter()
        numbers = read_numbers(tracked)
        t5 = time.perf_counter()
        ms = dict(prepared.ms, infer=(t3 - t2) * 1e3, track=(t4 - t3) * 1e3,
                  numbers=(t5 - t4) * 1e3)
        return FrameResult(index, t, tracked, numbers, raw, ms)
