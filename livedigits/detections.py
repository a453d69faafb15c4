"""The data that flows between stages: digit detections, numbers, and one frame's result.

`Detections` holds parallel numpy arrays (one row per digit) and indexes like an array, so a
stage can keep what it wants with a mask: `d[d.confidence > 0.5]`. Per-row extras that only
some stages need (each blob's ink mask, its 28x28 crop, its split group) ride along in `data`
and are sliced with the rows, so nothing has to be kept in step by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

NO_ID = -1

Column = np.ndarray | list  # a `data` column: an array with one row per box, or a list


def _col(values, dtype, n: int, fill) -> np.ndarray:
    if values is None:
        return np.full(n, fill, dtype)
    return np.asarray(values, dtype).reshape(n)


@dataclass
class Detections:
    """Digits in one frame: boxes `xyxy` (N, 4) int32 in frame pixels, and per-box columns.

    >>> d = Detections(np.array([[0, 0, 10, 20], [30, 0, 40, 20]]), digit=[7, 1],
    ...                confidence=[0.9, 0.4])
    >>> len(d[d.confidence > 0.5]), d[d.confidence > 0.5].digit.tolist()
    (1, [7])
    >>> d.with_data(name=["a", "b"])[np.array([False, True])].data["name"]
    ['b']
    """

    xyxy: np.ndarray
    digit: np.ndarray = None  # type: ignore[assignment]  # -1 until classified
    confidence: np.ndarray = None  # type: ignore[assignment]
    track_id: np.ndarray = None  # type: ignore[assignment]  # -1 until tracked
    data: dict[str, Column] = field(default_factory=dict)  # per-row extras, sliced with rows

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, np.int32).reshape(-1, 4)
        n = len(self.xyxy)
        self.digit = _col(self.digit, np.int64, n, NO_ID)
        self.confidence = _col(self.confidence, np.float32, n, 0.0)
        self.track_id = _col(self.track_id, np.int64, n, NO_ID)
        for key, column in self.data.items():
            if len(column) != n:
                raise ValueError(f"data[{key!r}] has {len(column)} rows, the boxes {n}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.int32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index) -> Detections:
        """Rows by boolean mask, integer array, or slice; always returns Detections."""
        if isinstance(index, int | np.integer):
            index = [index]
        rows = np.arange(len(self))[index]
        data = {k: v[rows] if isinstance(v, np.ndarray) else [v[i] for i in rows]
                for k, v in self.data.items()}
        return Detections(self.xyxy[rows], self.digit[rows], self.confidence[rows],
                          self.track_id[rows], data)

    def replace(self, **changes: Any) -> Detections:
        """A new Detections with some columns replaced (this one is left as it is)."""
        return replace(self, **changes)

    def with_data(self, **columns: Column) -> Detections:
        """A new Detections with `columns` added to (or replacing those in) `data`."""
        return replace(self, data={**self.data, **columns})

    @property
    def xywh(self) -> np.ndarray:
        """Boxes as (x, y, width, height), the form written to JSON."""
        out = self.xyxy.copy()
        out[:, 2:] -= out[:, :2]
        return out

    @property
    def centers(self) -> np.ndarray:
        """Box centres (N, 2) float (x, y)."""
        return (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2.0

    @property
    def heights(self) -> np.ndarray:
        return (self.xyxy[:, 3] - self.xyxy[:, 1]).astype(np.float64)


@dataclass
class Number:
    """Digits read as one multi-digit number: its text, enclosing box and member rows."""

    text: str
    xyxy: tuple[int, int, int, int]
    members: list[int] = field(default_factory=list)

    @property
    def xywh(self) -> list[int]:
        x0, y0, x1, y1 = self.xyxy
        return [int(x0), int(y0), int(x1 - x0), int(y1 - y0)]


@dataclass
class FrameResult:
    """What the pipeline read in one frame, plus per-stage timings in milliseconds."""

    index: int
    time: float
    detections: Detections
    numbers: list[Number]
    raw: Detections | None = None  # classified, before stabilising; data["crop"] per row
    stages_ms: dict[str, float] = field(default_factory=dict)
    sheet: np.ndarray | None = None  # outline (x, y rows) of the sheet found, if on a surround

    @property
    def text(self) -> str:
        """The numbers read, in reading order, separated by spaces (e.g. '2021 7 45')."""
        return " ".join(n.text for n in self.numbers)

    def to_json(self, name: str = "", size: tuple[int, int] | None = None) -> dict:
        """The JSON Lines record: boxes in integer input-frame pixels, time in seconds; with
        `"file"` (the image's file name, no folder) when `name` is given and `"size"` (the
        frame's [width, height], so a score can tell another video's truth) when `size` is."""
        d = self.detections
        extra: dict = {}
        if name:
            extra["file"] = Path(name).name
        if size is not None:
            extra["size"] = [int(size[0]), int(size[1])]
        return {
            "frame": int(self.index),
            "time": round(float(self.time), 4),
            "detections": [
                {"box": [int(v) for v in box], "digit": int(dig),
                 "confidence": round(float(conf), 4), "track": int(tid)}
                for box, dig, conf, tid in zip(d.xywh, d.digit, d.confidence, d.track_id,
                                               strict=True)
            ],
            "numbers": [{"text": n.text, "box": n.xywh} for n in self.numbers],
            **extra,
        }
