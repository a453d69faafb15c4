"""The Python API: the digits and numbers of an image, or of every frame of a source.

    >>> from livedigits import Reader
    >>> reader = Reader()                                  # doctest: +SKIP
    >>> reading = reader.read("page.jpg")                  # doctest: +SKIP
    >>> reading.text, [(d.digit, d.box) for d in reading.digits][:1]   # doctest: +SKIP
    ('2021 7', [(2, (412, 230, 38, 61))])
    >>> for r in reader.stream("samples/plain_480p.mp4"):  # doctest: +SKIP
    ...     print(r.frame, r.text)

The same pipeline and model as `livedigits run`; boxes are (x, y, width, height) in pixels of
the image given. Errors a user can make (a missing file, a camera that does not open) raise
`livedigits.errors.UserError` with a one-line message.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from livedigits import quiet_opencv
from livedigits.defaults import MIN_CONFIDENCE
from livedigits.detections import FrameResult
from livedigits.errors import UserError
from livedigits.pipeline import DigitModel, Pipeline

if TYPE_CHECKING:
    from livedigits.sources import SourceInfo

Box = tuple[int, int, int, int]  # x, y, width, height


@dataclass(frozen=True)
class Digit:
    """One digit read: its value, how sure the model is (0-1), its box, and its track id in a
    stream (None for a single image)."""

    digit: int
    confidence: float
    box: Box
    track: int | None = None


@dataclass(frozen=True)
class Number:
    """Digits on one line read together, e.g. '2021', with the box around them."""

    text: str
    box: Box
    digits: tuple[Digit, ...]


@dataclass
class Reading:
    """What was read in one image or frame; `result` is the pipeline's own record."""

    frame: int
    time: float
    digits: list[Digit]
    numbers: list[Number]
    result: FrameResult = field(repr=False)
    name: str = ""  # the file, for an image or a folder of images
    size: tuple[int, int] | None = None  # the image's width and height

    @property
    def text(self) -> str:
        """The numbers in reading order, separated by spaces: '2021 7'."""
        return self.result.text

    def to_json(self) -> dict:
        """The record `livedigits run --json` writes for this frame."""
        return self.result.to_json(self.name, self.size)


def as_box(values) -> Box:
    """Four numbers as an integer (x, y, width, height)."""
    x, y, w, h = (int(v) for v in values)
    return x, y, w, h


def reading(result: FrameResult, name: str = "", image: np.ndarray | None = None) -> Reading:
    """A pipeline result (of `image`) as plain Python values."""
    det = result.detections
    digits = [Digit(int(d), round(float(c), 4), as_box(box),
                    None if t < 0 else int(t))
              for box, d, c, t in zip(det.xywh, det.digit, det.confidence, det.track_id,
                                      strict=True)]
    numbers = [Number(n.text, as_box(n.xywh), tuple(digits[m] for m in n.members
                                                   if 0 <= m < len(digits)))
               for n in result.numbers]
    size = None if image is None else (int(image.shape[1]), int(image.shape[0]))
    return Reading(int(result.index), float(result.time), digits, numbers, result, name, size)


def as_image(image: np.ndarray | str | Path) -> tuple[str, np.ndarray]:
    """An image file's name and its pixels, or an array as BGR ('' for its name); UserError
    for a file that does not read or an array that holds no image."""
    from livedigits.images import read_image, to_bgr8

    if isinstance(image, str | Path):
        return str(image), read_image(image)
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.size == 0:
        raise UserError(f"not an image: an array of shape {array.shape} (give height x width, "
                        "grey, or height x width x 3, BGR)")
    return "", to_bgr8(array)


class Reader:
    """Reads handwritten digits with the shipped model (or `model`: a .onnx export, or a .keras
    file with its export beside it), in ONNX Runtime (`backend="tf"`: TensorFlow).

    The model loads once, on the first read. `min_confidence` drops doubtful digits; `invert`
    says light ink on a dark board (True) or dark ink on paper (False); None decides per image.
    """

    def __init__(self, model: str | Path | None = None,
                 min_confidence: float = MIN_CONFIDENCE,
                 invert: bool | None = None, backend: str = "onnx") -> None:
        quiet_opencv()
        self.model_path = None if model is None else Path(model)
        self.backend = backend  # "onnx" (ONNX Runtime, no TensorFlow) or "tf", as in `run`
        self.min_confidence = min_confidence
        self.invert = invert
        self._classifier: DigitModel | None = None

    @property
    def classifier(self) -> DigitModel:
        """The model, loaded on first use."""
        if self._classifier is None:
            from livedigits.classify import open_classifier

            self._classifier = open_classifier(self.model_path, self.backend)
        return self._classifier

    def _pipeline(self, info: SourceInfo | None = None) -> Pipeline:
        """The pipeline `run` builds for this source (None: one image)."""
        from livedigits.run import pipeline_settings

        return Pipeline(self.classifier, pipeline_settings(self.min_confidence, self.invert, info))

    def read(self, image: np.ndarray | str | Path) -> Reading:
        """The digits and numbers of one image: a BGR (or grey) array, or an image file."""
        name, bgr = as_image(image)
        return reading(self._pipeline().process(bgr), name, bgr)

    def stream(self, source: str | int | Path, max_frames: int | None = None
               ) -> Iterator[Reading]:
        """A Reading per frame of a camera index, a stream URL, a video, an image or a folder
        of images. Digits are tracked across the frames of a video or live source, as in
        `livedigits run`: a digit is reported from its second frame on. A file of a folder
        that does not read is skipped with a warning (`warnings.warn`), as run skips it."""
        from livedigits.sources import open_source

        def skipped(error: str) -> None:
            warnings.warn(f"livedigits: skipped {error}", UserWarning, stacklevel=3)

        with open_source(str(source), on_error=skipped) as src:
            pipeline = self._pipeline(src.info)
            for n, frame in enumerate(src):
                if max_frames is not None and n >= max_frames:
                    break
                yield reading(pipeline.process(frame.image, frame.index, frame.time),
                              frame.name, frame.image)

    def draw(self, image: np.ndarray | str | Path, read: Reading,
             show_confidence: bool = False) -> np.ndarray:
        """A copy of `image` (an array or an image file, as `read` takes) with the boxes,
        digits and numbers of `read` drawn on it."""
        from livedigits.annotate import annotate

        return annotate(as_image(image)[1].copy(), read.result, overlay=False,
                        show_confidence=show_confidence)
