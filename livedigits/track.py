"""Keep digits steady across frames: follow each box, vote its label, smooth its position.

Tracks are matched to detections by position only, because a digit's label flickers from frame
to frame (a 7 read as a 1 now and then); the label is then a vote over the track's recent frames.
A track is reported once it has been seen `min_hits` times, and forgotten after `max_age` frames
in a row without a match, so the number of tracks stays bounded whatever the input.

A settled track (confirmed, its recent readings unanimous and confident) need not be read by
the model every frame: `Tracker.plan` says which of a frame's detections must be read (new and
uncertain ones) and which settled ones are re-read in turn, a few a frame, so that a page of a
hundred digits costs the model about what a few new ones do. Association runs every frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from livedigits.boxes import greedy_match, iou_matrix, paired_iou
from livedigits.detections import Detections

ALPHA = 0.5  # how far the reported box moves towards each new detection (1 = no smoothing)
VELOCITY_ALPHA = 0.5  # how fast the velocity estimate follows the camera
MAX_CENTRE_DIST = 0.75  # no-overlap fallback: centre moved less than this many box sizes
MAX_SIZE_RATIO = 2.0  # no-overlap fallback: box size within this factor of the track's
SETTLE_READINGS = 5  # a track is settled when its last this many readings agree ...
SETTLE_CONFIDENCE = 0.95  # ... each at least this confident
SKIP_IOU = 0.5  # a settled track's reading stands for a box only if it overlaps its own this much


@dataclass
class Plan:
    """Which boxes the model reads this frame (see `Tracker.plan`); for those it does not, the
    digit and confidence their tracks stand for; how many settled tracks are re-read."""

    read: np.ndarray
    digit: np.ndarray
    confidence: np.ndarray
    rechecks: int


@dataclass(eq=False)
class Track:
    """One followed digit: its smoothed box, per-frame velocity and last `window` readings."""

    id: int
    last: np.ndarray  # xyxy float64 as last detected
    votes: deque[tuple[int, float]]
    box: np.ndarray = field(init=False)  # xyxy float64, smoothed: what is reported
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))
    hits: int = 1
    misses: int = 0  # frames in a row without a match
    unread: int = 0  # frames since the model last read it (see Tracker.plan)
    streak: int = 1  # frames in a row it was matched (a mark that flickers never settles)
    # vote() and settled() until the next reading: a settled page asks every track every frame
    _vote: tuple[int, float] | None = field(default=None, init=False, repr=False)
    _settled: bool | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.box = self.last.copy()

    def predicted(self) -> np.ndarray:
        """Where the digit should be detected this frame if the camera keeps moving as it did.

        Predicted from the last detection, not the smoothed box, which lags behind a pan.
        """
        return self.last + self.velocity * (self.misses + 1)

    def hit(self, xyxy: np.ndarray, digit: int, confidence: float, read: bool = True) -> None:
        """Take this frame's detection: update velocity, smoothed box and, when the model read
        it this frame (`read`), the votes."""
        steps = self.misses + 1
        self.streak = self.streak + 1 if self.misses == 0 else 1
        ahead = self.box + self.velocity * steps  # the smoothed box carried along with the camera
        self.box = ahead + ALPHA * (xyxy - ahead)
        self.velocity += VELOCITY_ALPHA * ((xyxy - self.last) / steps - self.velocity)
        self.last = xyxy.copy()
        if read:
            self.votes.append((digit, confidence))
            self._vote = self._settled = None
            self.unread = 0
        else:
            self.unread += 1
        self.hits += 1
        self.misses = 0

    def settled(self) -> bool:
        """Matched in each of its last SETTLE_READINGS frames, and its last SETTLE_READINGS
        readings are one digit, each read confidently."""
        if self.streak < SETTLE_READINGS:
            return False
        if self._settled is None:
            recent = list(self.votes)[-SETTLE_READINGS:]
            self._settled = (len(recent) == SETTLE_READINGS and len({d for d, _ in recent}) == 1
                             and min(c for _, c in recent) >= SETTLE_CONFIDENCE)
        return self._settled

    def vote(self) -> tuple[int, float]:
        """The confidence-weighted majority label and its support in [0, 1].

        Support is the winning label's summed confidence over the number of readings: the mean
        confidence when all readings agree, less when they disagree. Ties go to the newest label.
        """
        if self._vote is not None:
            return self._vote
        weight: dict[int, float] = {}
        newest: dict[int, int] = {}
        for k, (digit, conf) in enumerate(self.votes):
            weight[digit] = weight.get(digit, 0.0) + conf
            newest[digit] = k
        best = max(weight, key=lambda d: (weight[d], newest[d]))
        self._vote = best, weight[best] / len(self.votes)
        return self._vote


class Tracker:
    """Follows digits across frames and reports each confirmed one with a steady id and label.

    >>> t = Tracker(min_hits=2)
    >>> frames = [([[10, 10, 30, 50]], [7], [0.9]), ([[12, 10, 32, 50]], [1], [0.6]),
    ...           ([[14, 12, 34, 52]], [7], [0.8])]
    >>> for boxes, digits, confs in frames:
    ...     out = t.update(Detections(boxes, digit=digits, confidence=confs))
    ...     print(out.track_id.tolist(), out.digit.tolist(), out.xyxy.tolist())
    [] [] []
    [0] [7] [[11, 10, 31, 50]]
    [0] [7] [[13, 11, 33, 51]]
    """

    def __init__(self, max_age: int = 5, min_hits: int = 2, window: int = 15,
                 iou_threshold: float = 0.2) -> None:
        if max_age < 1 or min_hits < 1 or window < 1:
            raise ValueError("max_age, min_hits and window must be at least 1")
        self.max_age, self.min_hits, self.window = max_age, min_hits, window
        self.iou_threshold = iou_threshold
        self._tracks: list[Track] = []
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._tracks)

    @property
    def tracks(self) -> list[Track]:
        """The live tracks, tentative ones included (a copy of the list; for drawing, tests)."""
        return list(self._tracks)

    @property
    def ids_issued(self) -> int:
        """How many track ids were handed out so far (ids are never reused)."""
        return self._next_id

    def reset(self) -> None:
        """Forget every track; ids keep counting up so an output stream never reuses one."""
        self._tracks = []

    def plan(self, xyxy: np.ndarray, budget: int, eligible: np.ndarray | None = None) -> Plan:
        """Which of this frame's boxes the model must read, before it reads any.

        An `eligible` box (default: all) matched to a settled confirmed track, and still
        shaped like it (IoU >= SKIP_IOU with where the track should be: not a blob that merged
        it with a neighbour or lost half of it), need not be read: of those, the `budget`
        unread longest are re-read (in turn, so each is checked every few frames); every other
        box is read. The tracks are not changed: `update` does that once the frame is read.
        """
        n = len(xyxy)
        out = Plan(np.ones(n, bool), np.zeros(n, np.int64), np.zeros(n, np.float32), 0)
        rows = np.arange(n) if eligible is None else np.flatnonzero(eligible)
        boxes = np.nan_to_num(np.asarray(xyxy, np.float64).reshape(-1, 4)[rows])
        pairs = [(ti, di) for ti, di in self._match(boxes)
                 if self._tracks[ti].hits >= self.min_hits and self._tracks[ti].settled()]
        if pairs:
            ti, di = np.array(pairs).T
            pred = np.array([self._tracks[t].predicted() for t in ti])
            iou = paired_iou(pred, boxes[di])  # each track with its own box
            pairs = [p for p, ok in zip(pairs, iou >= SKIP_IOU, strict=True) if ok]
        settled = [(self._tracks[ti], int(rows[di])) for ti, di in pairs]
        settled.sort(key=lambda p: -p[0].unread)  # stable: ties stay in track order
        budget = max(budget, 0)
        out.rechecks = min(budget, len(settled))
        for track, di in settled[budget:]:
            out.read[di] = False
            out.digit[di], out.confidence[di] = track.vote()
        return out

    def update(self, det: Detections, read: np.ndarray | None = None) -> Detections:
        """Match this frame's detections to the tracks; returns the confirmed matched tracks.

        Rows come in `det` order, each with the track's id, voted digit, vote support as
        confidence (see `Track.vote`) and smoothed box. Unmatched detections start new tracks.
        Rows with `read` False (see `plan`) move their tracks but add no vote.
        """
        boxes = np.nan_to_num(det.xyxy.astype(np.float64))
        confs = np.clip(np.nan_to_num(det.confidence.astype(np.float64)), 0.0, 1.0)
        digits = det.digit.tolist()
        fresh = [True] * len(det) if read is None else np.asarray(read, bool).tolist()
        pairs = self._match(boxes)
        matched = [False] * len(self._tracks)
        owner: list[Track | None] = [None] * len(det)
        for ti, di in pairs:
            t = self._tracks[ti]
            t.hit(boxes[di], digits[di], float(confs[di]), read=fresh[di])
            matched[ti], owner[di] = True, t
        for ti, t in enumerate(self._tracks):
            if not matched[ti]:
                t.misses += 1
        self._tracks = [t for t in self._tracks if t.misses < self.max_age]
        for di in range(len(det)):
            if owner[di] is None:
                t = Track(self._next_id, boxes[di].copy(),
                          deque([(digits[di], float(confs[di]))], maxlen=self.window))
                self._next_id += 1
                self._tracks.append(t)
                owner[di] = t
        return self._report([t for t in owner if t is not None and t.hits >= self.min_hits])

    def _match(self, boxes: np.ndarray) -> list[tuple[int, int]]:
        """One-to-one (track, detection) pairs, greedily by best score.

        Any overlap match (IoU >= iou_threshold) outranks any centre-distance fallback, which
        catches a box that jumped clear of its old place when the camera moved fast.
        """
        if not self._tracks or not len(boxes):
            return []
        pred = np.array([t.predicted() for t in self._tracks])
        iou = iou_matrix(pred, boxes)
        size_t, size_d = _size(pred), _size(boxes)
        scale = (size_t[:, None] + size_d[None, :]) / 2
        ct, cd = _centres(pred), _centres(boxes)
        dist = np.hypot(*(cd[None, :, :] - ct[:, None, :]).transpose(2, 0, 1)) / scale
        ratio = np.maximum(size_t[:, None], size_d[None, :]) / np.minimum(
            size_t[:, None], size_d[None, :])
        near = (dist < MAX_CENTRE_DIST) & (ratio <= MAX_SIZE_RATIO)
        score = np.where(iou >= self.iou_threshold, 1.0 + iou,
                         np.where(near, 1.0 - dist / MAX_CENTRE_DIST, -np.inf))
        return greedy_match(score)

    def _report(self, tracks: list[Track]) -> Detections:
        if not tracks:
            return Detections.empty()
        votes = [t.vote() for t in tracks]
        boxes = np.rint(np.array([t.box for t in tracks]))
        return Detections(np.clip(boxes, -2**31, 2**31 - 1).astype(np.int32),
                          digit=np.array([v[0] for v in votes]),
                          confidence=np.array([v[1] for v in votes]),
                          track_id=np.array([t.id for t in tracks]))


def _centres(b: np.ndarray) -> np.ndarray:
    return (b[:, :2] + b[:, 2:]) / 2


def _size(b: np.ndarray) -> np.ndarray:
    """A box's size for distances: its longer side, at least 1 px so empty boxes still compare."""
    return np.maximum(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]), 1.0)
