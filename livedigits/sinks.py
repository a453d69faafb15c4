"""Where results go: an annotated video, JSON Lines, annotated images.

Every sink is safe to stop at any moment (Ctrl-C, a dropped stream): the video is finalised on
`close()` so it plays, and a JSON line is either written whole and flushed or not at all.
"""

from __future__ import annotations

import json
import sys
import weakref
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from livedigits.defaults import FALLBACK_FPS
from livedigits.errors import UserError
from livedigits.images import IMAGE_EXTS, to_bgr8
from livedigits.sources import sane_fps

VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
H264_EXTS = frozenset({".mp4", ".m4v", ".mov"})  # written as H.264 where the platform can
CODEC_NAMES = {"h264": "H.264", "mp4v": "MPEG-4 Part 2", "MJPG": "Motion JPEG"}


def _check_folder(path: Path) -> None:
    """UserError unless `path` could be created: its folder exists and it is not a folder."""
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file name for the output")
    if not path.parent.is_dir():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist; create it "
                        "or choose another output path")


class _H264Writer:
    """H.264 in MP4 through PyAV's FFmpeg (it ships libx264; the pip OpenCV does not), with
    OpenCV's writer interface. `ultrafast` costs about what OpenCV's mp4v does per frame, so
    writing does not slow a live run; the file plays in browsers and every common player."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        import av  # only here: a missing PyAV means mp4v, not a failed import

        self._container: Any = av.open(str(path), "w")
        try:
            stream = self._container.add_stream(
                "libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
            stream.options = {"preset": "ultrafast", "crf": "23"}
            stream.codec_context.open()  # fail here, not on the first frame
        except Exception:
            self._container.close()
            raise
        self._stream = stream
        self._av = av
        self._pts = 0

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self._container is not None

    def write(self, image: np.ndarray) -> None:
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = self._pts
        self._pts += 1
        self._container.mux(self._stream.encode(frame))

    def release(self) -> None:
        """Flush the encoder and write the index; safe to call more than once."""
        c, self._container = self._container, None
        if c is not None:
            try:
                c.mux(self._stream.encode(None))
            finally:
                c.close()


def _open_h264(path: Path, fps: float, size: tuple[int, int]):
    """An H.264 writer for `path`, or (None, why not)."""
    if size[0] % 2 or size[1] % 2:
        return None, "H.264 needs an even width and height"
    try:
        return _H264Writer(path, fps, size), ""
    except ImportError:
        return None, "PyAV is not installed (pip install av)"
    except Exception as e:  # an FFmpeg without libx264: av.error.* or ValueError
        return None, f"no H.264 encoder ({type(e).__name__})"


class VideoSink:
    """Writes BGR frames to .mp4/.mov (H.264, else mp4v) or .avi (MJPG); frames of another size
    are resized. `codec` says what was written and `note` why it is not H.264 in an .mp4.

    Close it (or leave its `with` block) to finalise the file; that is safe after Ctrl-C.

    >>> with VideoSink("out.mp4", fps=30.0, size=(640, 480)) as sink:  # doctest: +SKIP
    ...     for frame in frames:
    ...         sink.write(frame)
    """

    def __init__(self, path: str | Path, fps: float | None, size: tuple[int, int],
                 h264: bool = True) -> None:
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
        self.note = ""
        writer = None
        if h264 and self.path.suffix.lower() in H264_EXTS:
            writer, why = _open_h264(self.path, self.fps, self.size)
            if writer is None:
                self.note = f"written as mp4v, which some players and browsers do not play: {why}"
            else:
                codec = "h264"
        if writer is None:
            writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*codec), self.fps,
                                     self.size)
        if not writer.isOpened():
            writer.release()
            raise UserError(f"cannot write video {path}: OpenCV could not open it for writing "
                            "(check permissions and free space, or try .avi)")
        self.codec = codec
        self._writer = writer
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

    def describe(self) -> str:
        """Where and what was written, for the line that tells the user."""
        return f"{self.path} ({self.frames} frames, {CODEC_NAMES.get(self.codec, self.codec)})"

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
        except BrokenPipeError:
            raise  # `--json - | head`: the reader has enough; click exits quietly, as Unix tools do
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
