"""One frame through the stages: detect -> crops -> classify -> stabilise -> numbers.

Pure apart from the classifier call: it takes a numpy frame and returns a FrameResult with
per-stage timings. Sources, windows and files are the caller's business (see `run.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Protocol

import cv2
import numpy as np

from livedigits.defaults import MIN_CONFIDENCE
from livedigits.detect import Blobs, DetectorSettings, detect
from livedigits.detections import Detections, FrameResult
from livedigits.numbers import STEEP_TILT, line_angles, page_tilt, read_numbers
from livedigits.preprocess import MNIST_SIZE, make_crops
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
    # Settled tracks (digits, and marks the model calls "not a digit") re-read by the model
    # per frame, in turn; new and uncertain blobs are read every frame whatever this is. None
    # reads every blob every frame.
    read_budget: int | None = 8


@dataclass(frozen=True)
class Prepared:
    """A frame's blobs ready for the classifier: `detections.data` holds each row's ink
    "mask", the "angle" of its row, and its "split" group and "whole" flag (the 28x28 "crop"
    is made in `finish`, only for the blobs the model reads)."""

    detections: Detections
    ms: dict[str, float]
    sheet: np.ndarray | None = None  # the sheet's outline, when the paper lies on a surround


def detect_scaled(image: np.ndarray, settings: DetectorSettings, max_side: int,
                  sheet: np.ndarray | None = None) -> Blobs:
    """Detect on a copy no larger than `max_side`, with boxes (and `sheet`, a sheet's outline
    known already) in the original's pixels.

    A 24-megapixel photo takes a second to threshold at full size and its digits are huge;
    at 2000 px they are still far above the smallest size the detector reads.
    """
    h, w = image.shape[:2]
    scale = max_side / max(h, w, 1)
    if scale >= 1 or image.ndim not in (2, 3):
        return detect(image, settings, sheet)
    blobs = detect(_scaled(image, scale), settings, None if sheet is None else sheet * scale)
    xyxy = np.round(blobs.detections.xyxy / scale)
    blobs.detections = blobs.detections.replace(
        xyxy=np.clip(xyxy, 0, [w, h, w, h]).astype(np.int32))
    if blobs.sheet is not None:
        blobs.sheet = blobs.sheet / scale
    return blobs


def _scaled(image: np.ndarray, scale: float) -> np.ndarray:
    """`image` resized by `scale` (under 1: shrunk, by pixel area)."""
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA)


def _moved(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """`points` (N x 2, x y) carried by the 2x3 affine matrix `m`."""
    return points @ m[:, :2].T + m[:, 2]


def turned_size(w: float, h: float, tilt: float) -> tuple[float, float]:
    """Width and height of the canvas that holds a w x h image turned by `tilt` degrees.

    >>> [round(v) for v in turned_size(100, 50, 90)]
    [50, 100]
    """
    c, s = abs(np.cos(np.radians(tilt))), abs(np.sin(np.radians(tilt)))
    return h * s + w * c, h * c + w * s


def level(image: np.ndarray, tilt: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned by `tilt` degrees (lines sloping down to the right come out level)
    on a canvas large enough to hold all of it, and the 2x3 matrix that maps its pixels back
    to the image's. The corners the turn uncovers repeat the image's edge."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), tilt, 1.0)
    nw, nh = (int(np.ceil(v)) for v in turned_size(w, h, tilt))
    m[:, 2] += (nw - w) / 2, (nh - h) / 2
    turned = cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    return turned, cv2.invertAffineTransform(m)


def _boxes_back(xyxy: np.ndarray, masks: list[np.ndarray], back: np.ndarray,
                size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The boxes (x0, y0, x1, y1) in the image `back` maps to, clipped to its `size` (w, h),
    of blobs found on the levelled image (their boxes `xyxy` and ink `masks` there): each
    the box of the blob's own ink turned back, as tight as if it had been found there. (A
    mask is smaller than its box where the levelled image was read on a smaller copy.) And
    the share of each blob's ink that lies in the image, not in the corners `level` added."""
    out = np.zeros((len(masks), 4), np.float64)
    share = np.zeros(len(masks), np.float64)
    w, h = size
    for i, (box, m) in enumerate(zip(np.asarray(xyxy, np.float64), masks, strict=True)):
        step = (box[2:] - box[:2]) / np.maximum(m.shape[::-1], 1)
        pts = box[:2] + (cv2.findNonZero(m).reshape(-1, 2) + 0.5) * step
        p = _moved(pts, back)
        out[i] = np.r_[p.min(axis=0) - 0.5, p.max(axis=0) + 0.5]
        share[i] = np.mean(((p >= 0) & (p <= [w, h])).all(axis=1))
    return np.clip(np.round(out), 0, [w, h, w, h]).astype(np.int32), share


def detect_page(image: np.ndarray, settings: DetectorSettings,
                max_side: int) -> tuple[Blobs, np.ndarray]:
    """The blobs of `detect_scaled` and the angle of each one's line (to turn its crop).

    A page whose lines of digits all slope steeply (a sheet lying at 40 degrees) is levelled
    and read again: upright, digits that touch along a row are cut between them, not in
    upright columns through them. Boxes come back in the image's pixels, each holding its
    blob's ink; the masks stay upright (their angle is their line's slope on the levelled
    page). A page within STEEP_TILT of level costs no more than finding its lines' slope."""
    blobs = detect_scaled(image, settings, max_side)
    tilt = page_tilt(blobs.detections)
    if abs(tilt) < STEEP_TILT or image.ndim not in (2, 3):
        return blobs, line_angles(blobs.detections)
    h, w = image.shape[:2]
    # A large photo is turned on the copy `detect_scaled` would read the canvas at, not
    # at full size (a 12-megapixel photo took a second and a half to turn).
    scale = min(1.0, max_side / max(turned_size(w, h, tilt)))
    small = image if scale == 1.0 else _scaled(image, scale)
    turned, back = level(small, tilt)
    back = back * np.array([[w / small.shape[1]], [h / small.shape[0]]])
    # The least digit height is a share of the frame's height, not of the taller canvas.
    least = settings.min_height_frac * small.shape[0] / turned.shape[0]
    # The sheet found on the frame is the page on the canvas too: there it may not stand out
    # again (it covers less of the canvas, and the turn draws the surround out around it).
    sheet = None if blobs.sheet is None else _moved(blobs.sheet,
                                                    cv2.invertAffineTransform(back))
    flat = detect_scaled(turned, replace(settings, min_height_frac=least), max_side, sheet)
    det = flat.detections
    xyxy, share = _boxes_back(det.xyxy, list(det.data["mask"]), back, (w, h))
    # A blob mostly in the corners the turn uncovered is the image's edge drawn out across
    # them (wood grain, a shadow), not a mark on the page.
    keep = share >= 0.5
    if blobs.sheet is not None:
        # The canvas may hide the sheet the frame shows (it covers a smaller share of the
        # canvas, its edge is drawn out into the corners): that sheet bounds the page still.
        box = xyxy.astype(np.float64)
        keep &= _inside((box[:, :2] + box[:, 2:]) / 2.0, blobs.sheet)
        flat.sheet = blobs.sheet
    elif flat.sheet is not None:
        flat.sheet = _moved(flat.sheet, back)
    det = det[keep]
    angles = line_angles(det)
    flat.detections = det.replace(xyxy=xyxy[keep])
    return flat, angles


def _inside(points: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """Which `points` (x, y) lie inside (or on) the polygon `outline`."""
    poly = np.asarray(outline, np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0
                     for x, y in points], bool)


def resolve_splits(split: np.ndarray, whole: np.ndarray, accepted: np.ndarray,
                   cut: np.ndarray | None = None) -> np.ndarray:
    """For blobs read both whole and cut into pieces, keep one reading: the whole blob where
    the model reads it as one digit (a wide 2), else the pieces (digits that touch).

    Where a blob was also cut a second way (`cut` numbers each piece's way, 0 the first),
    that way's pieces stand instead only if it left two or more pieces and the model reads
    every one as a digit, more of them than of the first way's (a narrow 1 cut off its
    neighbour, where the first way cut through the neighbour); else the first way's.

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
        if cut is None or whole_read:
            continue
        pieces = rows & ~whole
        read = {way: int((pieces & (cut == way) & accepted).sum())  # pieces read as digits
                for way in np.unique(cut[pieces]).tolist()}
        best = 0
        for way, n in read.items():
            mine = pieces & (cut == way)
            if way > 0 and n >= 2 and (mine <= accepted).all() and n > read.get(best, 0):
                best = way
        keep[pieces & (cut != best)] = False
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
        # Follows the blobs the model reads as "not a digit" (bits of ruled lines, a pen, ...)
        # so that they, too, need not be read again every frame; never reported.
        self.marks = Tracker(max_age=s.max_age, min_hits=s.min_hits) if s.track else None

    def process(self, image: np.ndarray, index: int = 0, t: float = 0.0) -> FrameResult:
        """Detect, classify, stabilise and group the digits of one frame."""
        return self.finish(self.prepare(image), index, t)

    def prepare(self, image: np.ndarray) -> Prepared:
        """The stateless half: find the blobs and their rows' tilt. Safe to run on another
        thread, one frame ahead of `finish`, so a video's frames overlap."""
        t0 = time.perf_counter()
        blobs, angles = detect_page(image, self.settings.detector, self.settings.max_side)
        t1 = time.perf_counter()
        det = blobs.detections.with_data(angle=angles)
        t2 = time.perf_counter()
        return Prepared(det, {"detect": (t1 - t0) * 1e3, "preprocess": (t2 - t1) * 1e3},
                        blobs.sheet)

    def finish(self, prepared: Prepared, index: int = 0, t: float = 0.0) -> FrameResult:
        """The stateful half, in frame order: plan which blobs to read (settled tracks need
        not be read every frame), crop and classify those in one call, stabilise, group.

        Rows not read this frame carry their tracks' reading and a blank "crop" (what
        `--show-crops` draws); "read" in `data` tells which were read."""
        s = self.settings
        det = prepared.detections
        n = len(det)
        t1 = time.perf_counter()
        split, whole = np.asarray(det.data["split"]), np.asarray(det.data["whole"], bool)
        cut = np.asarray(det.data["cut"])
        read = np.ones(n, bool)
        digit, confidence = det.digit.copy(), det.confidence.copy()
        if self.tracker is not None and self.marks is not None and s.read_budget is not None:
            read = self._plan(det.xyxy, split, whole, s.read_budget, digit, confidence, cut)
        tp = time.perf_counter()
        crops = np.zeros((n, MNIST_SIZE, MNIST_SIZE), np.uint8)
        if read.any():
            masks = det.data["mask"]
            crops[read] = make_crops([masks[i] for i in np.flatnonzero(read)],
                                     np.asarray(det.data["angle"])[read])
        t2 = time.perf_counter()
        if read.any():
            pred = self.model.predict(crops[read])
            digit[read], confidence[read] = pred.digit, pred.confidence
        det = det.replace(digit=digit, confidence=confidence).with_data(crop=crops, read=read)
        t3 = time.perf_counter()
        keep = (det.digit != NOT_A_DIGIT) & (det.confidence >= s.min_confidence)
        keep = resolve_splits(split, whole, keep, cut)
        raw = det[keep]
        tracked = raw
        if self.tracker is not None and self.marks is not None:
            tracked = self.tracker.update(raw, read[keep])
            marks = (det.digit == NOT_A_DIGIT) & (split < 0)
            self.marks.update(det[marks], read[marks])
        t4 = time.perf_counter()
        numbers = read_numbers(tracked)
        t5 = time.perf_counter()
        ms = dict(prepared.ms, infer=(t3 - t2) * 1e3, track=(t4 - t3 + tp - t1) * 1e3,
                  numbers=(t5 - t4) * 1e3)
        ms["preprocess"] += (t2 - tp) * 1e3
        return FrameResult(index, t, tracked, numbers, raw, ms, prepared.sheet)

    def _plan(self, xyxy: np.ndarray, split: np.ndarray, whole: np.ndarray, budget: int,
              digit: np.ndarray, confidence: np.ndarray, cut: np.ndarray) -> np.ndarray:
        """Which rows the model reads this frame (see `Tracker.plan`); writes into `digit`
        and `confidence` the readings of the others, from their settled tracks. At most
        `budget` settled blobs are re-read. A blob offered whole and in pieces is skipped as
        its settled reading was (whole, or every piece of one way of cutting it, `cut`),
        else read whole and in pieces."""
        assert self.tracker is not None and self.marks is not None
        read = np.ones(len(xyxy), bool)
        plain = split < 0
        for tracker, rows in ((self.tracker, plain), (self.marks, plain),
                              (self.tracker, ~plain)):
            plan = tracker.plan(xyxy, budget, rows & read)
            skip = ~plan.read
            digit[skip], confidence[skip] = plan.digit[skip], plan.confidence[skip]
            read &= plan.read
            budget -= plan.rechecks
        for g in np.unique(split[~plain]):
            rows = split == g
            ways = [rows & ~whole & (cut == w) for w in np.unique(cut[rows & ~whole]).tolist()
                    if w <= 0 or np.count_nonzero(rows & (cut == w)) >= 2]  # as resolve_splits
            settled = [w for w in ways if not read[w].any()]
            if (rows & whole).any() and not read[rows & whole].any():
                settled_as = rows & ~whole  # the whole is the digit: the pieces are not
            elif settled:
                settled_as = rows & ~settled[0]  # these pieces are digits: nothing else is
            else:
                read[rows] = True  # any doubt: read the blob whole and in pieces
                continue
            read[settled_as] = False
            digit[settled_as], confidence[settled_as] = NOT_A_DIGIT, 0.0
        return read
