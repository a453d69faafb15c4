"""Where results go: an annotated video, JSON Lines, annotated images.

Every sink is safe to stop at any moment (Ctrl-C, a dropped stream): the video is finalised on
`close()` so it plays, and a JSON line is either written whole and flushed or not at all.
"""

from __future__ import annotations

import json
import sys
import weakref
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from livedigits.defaults import FALLBACK_FPS
from livedigits.errors import UserError
from livedigits.images import IMAGE_EXTS, to_bgr8
from livedigits.sources import sane_fps

VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def _check_folder(path: Path) -> None:
    """UserError unless `path` could be created: its folder exists and it is not a folder."""
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file name for the output")
    if not path.parent.is_dir():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist; create it "
                        "or choose another output path")


class VideoSink:
    """Writes BGR frames to .mp4 (mp4v) or .avi (MJPG); frames of another size are resized.

    Close it (or leave its `with` block) to finalise the file; that is safe after Ctrl-C.

    >>> with VideoSink("out.mp4", fps=30.0, size=(640, 480)) as sink:  # doctest: +SKIP
    ...     for frame in frames:
    ...         sink.write(frame)
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        codec = VIDEO_CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise UserError(f"cannot write video {path}: unsupported extension "
                            f"'{self.path.suffix}'; use .mp4 or .avi")
        _check_folder(self.path)
        w, h = int(size[0]), int(size[1])
        if w <= 0 or h <= 0:
            raise ValueError(f"video size must be positive, got {size}")
        self.size = (w, h)
        self.fps = sane_fps(fps) or FALLBACK_FPS
        self.frames = 0
        fourcc = cv2.VideoWriter.fourcc(*codec)
        writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self.size)
        if not writer.isOpened():
            writer.release()
            raise UserError(f"cannot write video {path}: OpenCV could not open it for writing "
                            "(check permissions and free space, or try .avi)")
        self._writer: cv2.VideoWriter | None = writer
        # Also finalises at interpreter exit if the owner never closes it.
        self._finalize = weakref.finalize(self, writer.release)

    def write(self, image: np.ndarray) -> None:
        """Append one frame (BGR uint8; grey/BGRA converted, another size resized)."""
        if self._writer is None:
            raise RuntimeError(f"VideoSink {self.path} is closed")
        image = to_bgr8(image)
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        """Finalise the file (writes the index so it plays); safe to call more than once."""
        self._writer = None
        self._finalize()

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class JsonlSink:
    """Writes one JSON object per line to a file or, for "-", to stdout; each line is flushed.

    A record is serialised in full before anything is written, so a failure or Ctrl-C never
    leaves half a line. Numpy numbers and arrays are written as plain JSON numbers and lists.

    >>> with JsonlSink("results.jsonl") as out:        # doctest: +SKIP
    ...     out.write({"frame": 0, "digits": "42"})
    """

    def __init__(self, path_or_dash: str | Path) -> None:
        self.name = str(path_or_dash)
        self.lines = 0
        self._owned = self.name != "-"
        if not self._owned:
            self._file: IO[bytes] | None = getattr(sys.stdout, "buffer", None)
            self._text = sys.stdout if self._file is None else None
            return
        path = Path(path_or_dash)
        _check_folder(path)
        try:
            self._file = open(path, "wb")  # noqa: SIM115 (closed by close())
        except OSError as e:
            raise UserError(f"cannot write {path}: {e.strerror or e}") from e
        self._text = None

    def write(self, record: dict) -> None:
        """Write `record` as one complete JSON line and flush it."""
        line = json.dumps(record, ensure_ascii=False, default=_jsonable) + "\n"
        if self._file is None and self._text is None:
            raise RuntimeError(f"JsonlSink {self.name} is closed")
        try:
            if self._file is not None:
                self._file.write(line.encode("utf-8"))
                self._file.flush()
            elif self._text is not None:
                self._text.write(line)
                self._text.flush()
        except BrokenPipeError as e:
            msg = "the program reading the JSON lines closed its end of the pipe"
            raise UserError(msg) from e
        except OSError as e:
            raise UserError(f"cannot write to {self.name}: {e.strerror or e}") from e
        self.lines += 1

    def close(self) -> None:
        """Close the file (stdout is only flushed); safe to call more than once."""
        f, self._file, text, self._text = self._file, None, self._text, None
        if f is not None and self._owned:
            f.close()
        elif f is not None:
            f.flush()
        elif text is not None:
            text.flush()

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _jsonable(value):
    """json.dumps fallback for numpy scalars/arrays and paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Save an image (BGR uint8) to png/jpg/bmp/tif/webp; UserError if it cannot be written.

    >>> write_image("annotated.png", scene)            # doctest: +SKIP
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTS:
        raise UserError(f"cannot write image {path}: unsupported extension '{path.suffix}'; "
                        f"use one of {', '.join(sorted(IMAGE_EXTS))}")
    _check_folder(path)
    try:
        ok, buf = cv2.imencode(ext, np.asarray(image))
    except cv2.error:
        ok = False
    if not ok:
        raise UserError(f"cannot encode the image as {ext} for {path}")
    try:
        buf.tofile(path)  # not cv2.imwrite: it cannot write non-ASCII paths on Windows
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from e
