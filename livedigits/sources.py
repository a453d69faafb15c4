"""Where frames come from: a camera, an MJPEG/RTSP stream, a video file, an image or a folder.

`open_source(spec)` picks the reader from the spec and every reader yields `Frame`s of BGR uint8
images. Files are decoded on a background thread a few frames ahead, so decoding overlaps with
the caller's processing and no frame is dropped. Live sources are grabbed continuously on a
background thread that keeps only the newest frame, so the caller always works on what the
camera sees now, never on a backlog; a dropped stream is reopened with back-off. Every wait has
a timeout: nothing here can hang the caller.
"""

from __future__ import annotations

import math
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from livedigits.defaults import FALLBACK_FPS, RETRIES
from livedigits.errors import UserError
from livedigits.images import IMAGE_EXTS, is_text, read_image, to_bgr8

__all__ = ["IMAGE_EXTS", "Frame", "Source", "SourceInfo", "StreamLost", "open_source",
           "read_image", "to_bgr8"]
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://")
T = TypeVar("T")
_END = object()  # the decode thread's "no more frames"


@dataclass
class Frame:
    """One image from a source; `time` is video position for files, seconds since start if live."""

    index: int
    time: float
    image: np.ndarray
    name: str = ""


@dataclass(frozen=True)
class SourceInfo:
    """What a source is, so callers never ask its class: rate, size, length, kind.

    `fps` is None when a live device does not say; `size` (w, h) is the first frame's, None
    until one is read; `frame_count` is None when unknown (live) or a container's guess;
    `live` sources keep only the newest frame; `still` sources are images read one result per
    file, without tracking; `folder` is a folder of images (one output file per image).
    """

    fps: float | None = None
    size: tuple[int, int] | None = None
    frame_count: int | None = None
    live: bool = False
    still: bool = False
    folder: bool = False


def sane_fps(fps: float | None) -> float | None:
    """A reported frame rate if it is believable, else None (OpenCV says 0, NaN or 90000).

    >>> sane_fps(29.97), sane_fps(0.0), sane_fps(float("nan")), sane_fps(90000.0)
    (29.97, None, None, None)
    """
    if fps is None or not math.isfinite(fps) or not 0 < fps <= 1000:
        return None
    return float(fps)


class StreamLost(UserError):
    """A live source stopped sending frames and reconnecting did not bring it back."""


class Source:
    """A stream of `Frame`s; iterate it, then `close()` it (or use it as a context manager)."""

    name: str = ""
    live: bool = False
    still: bool = False
    is_folder: bool = False
    fps: float | None = None
    size: tuple[int, int] | None = None  # (w, h) of the first frame
    frame_count: int | None = None
    errors: list[str]  # files that were skipped, one line each (image folders only)

    def __init__(self) -> None:
        self.errors = []

    @property
    def info(self) -> SourceInfo:
        """What this source is, as it knows it now (live sizes are known after the first frame)."""
        return SourceInfo(fps=self.fps, size=self.size, frame_count=self.frame_count,
                          live=self.live, still=self.still, folder=self.is_folder)

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """Whether a background thread of this source (decoder, grabber) is still alive."""
        return False

    def close(self) -> None:
        """Stop background threads and release devices; safe to call more than once."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, fps={self.fps}, size={self.size})"


def open_source(spec: str, camera_size: tuple[int, int] | None = None,
                retries: int = RETRIES, timeout_s: float = 5.0,
                on_error: Callable[[str], None] | None = None) -> Source:
    """Open what `spec` names: camera index, stream URL, folder, image, or video file.

    `on_error` hears each file of a folder that cannot be read (it is skipped, not fatal).

    >>> src = open_source("0")  # the first camera        # doctest: +SKIP
    >>> src = open_source("http://192.168.1.7:8080/video.mjpg")  # a phone  # doctest: +SKIP
    >>> with open_source("clip.mp4") as src:          # doctest: +SKIP
    ...     for frame in src:
    ...         print(frame.index, frame.time, frame.image.shape)
    """
    spec = str(spec).strip()
    if not spec:
        raise UserError("no source given: pass a camera index (0), a stream URL, a video, "
                        "an image or a folder of images")
    if spec.isdigit():
        return CameraSource(int(spec), size=camera_size, retries=retries, timeout_s=timeout_s)
    if spec.lower().startswith(STREAM_SCHEMES):
        return StreamSource(spec, retries=retries, timeout_s=timeout_s)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, on_error=on_error)
    if not path.exists():
        raise UserError(f"no such file or folder: {spec} (for a camera pass its index, e.g. 0)")
    if path.suffix.lower() in IMAGE_EXTS:
        return ImageSource(path)
    return VideoFileSource(path, timeout_s=timeout_s)


# ----------------------------------------------------------------------------------- images


class ImageSource(Source):
    """One image file as one frame."""

    still = True
    frame_count = 1

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = str(path)
        self.image = read_image(self.path)
        h, w = self.image.shape[:2]
        self.size = (w, h)

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(0, 0.0, self.image, self.path.name)


def _natural_key(path: Path) -> list:
    """Sort key so that page2.png comes before page10.png."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


class ImageFolderSource(Source):
    """Every image in a folder (not its subfolders), in natural name order, one frame each.

    A file that cannot be read is skipped, not fatal: its error is appended to `errors` and
    passed to `on_error`. Files are decoded one ahead on a background thread.
    """

    still = True
    is_folder = True

    def __init__(self, folder: str | Path,
                 on_error: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.name = str(folder)
        self.on_error = on_error
        try:
            self.paths = sorted((p for p in self.folder.iterdir()
                                 if p.suffix.lower() in IMAGE_EXTS
                                 and not p.name.startswith(".") and not p.is_dir()),
                                key=_natural_key)
        except OSError as e:
            raise UserError(f"cannot list folder {folder}: {e.strerror or e}") from e
        if not self.paths:
            raise UserError(f"no images in folder {folder} (looked for "
                            f"{', '.join(sorted(IMAGE_EXTS))})")
        self.frame_count = len(self.paths)
        self._reader: _Prefetcher[Frame | str] | None = None

    def _read_all(self) -> Iterator[Frame | str]:
        """Runs on the reader thread: a Frame per good file, an error line per bad one."""
        for path in self.paths:
            try:
                image = read_image(path)
            except UserError as e:
                yield str(e)
                continue
            yield Frame(-1, 0.0, image, path.name)

    def __iter__(self) -> Iterator[Frame]:
        if self._reader is None:
            self._reader = _Prefetcher(self._read_all(), f"read {self.name}", depth=2)
        index = 0
        for item in self._reader:
            if isinstance(item, str):  # reported here so on_error runs on the caller's thread
                self.errors.append(item)
                if self.on_error is not None:
                    self.on_error(item)
                continue
            item.index = index
            index += 1
            if self.size is None:
                self.size = (item.image.shape[1], item.image.shape[0])
            yield item

    @property
    def running(self) -> bool:
        return self._reader is not None and self._reader.alive

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


# ------------------------------------------------------------------------------ video files


class _Prefetcher(Generic[T]):
    """Runs a frame generator on a daemon thread into a bounded queue: producer works ahead.

    Nothing is dropped: the producer blocks while the queue is full. An exception in the producer
    is re-raised in the consumer. `stall_s` bounds how long the consumer waits for one item.
    """

    def __init__(self, frames: Iterator[T], what: str, depth: int = 4,
                 stall_s: float = 30.0, on_exit: Callable[[], None] | None = None) -> None:
        self.what, self.stall_s, self.on_exit = what, stall_s, on_exit
        self._frames = frames
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"livedigits {what}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for frame in self._frames:
                if not self._put(frame):
                    return
        except Exception as e:  # handed to the consumer, which re-raises it
            self._error = e
        finally:
            self._frames.close()  # type: ignore[attr-defined]  # runs the generator's finally
            if self.on_exit is not None:
                self.on_exit()
            self._put(_END)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while not self._stop.is_set():
            deadline = time.monotonic() + self.stall_s
            while True:
                try:
                    item = self._queue.get(timeout=0.1)
                    break
                except queue.Empty:
                    if not self._thread.is_alive() and self._queue.empty():
                        item = _END
                        break
                    if time.monotonic() > deadline:
                        raise UserError(f"{self.what}: no frame decoded in {self.stall_s:.0f} s; "
                                        "the file may be damaged or on a stalled disk") from None
            if item is _END:
                self._stop.set()
                if self._error is not None:
                    raise self._error
                return
            yield item

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def waiting(self) -> int:
        """Items produced ahead and not yet taken."""
        return self._queue.qsize()

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)


class VideoFileSource(Source):
    """A video file, every frame in order; decoded ahead on a background thread.

    `fps` comes from the container (30 when it does not say); a truncated file ends after its
    last decodable frame.
    """

    def __init__(self, path: str | Path, timeout_s: float = 5.0, queue_size: int = 4) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = str(path)
        self.queue_size = queue_size
        self.stall_s = max(10.0, 2 * timeout_s)
        if self.path.stat().st_size == 0:
            raise UserError(f"{path} is an empty file (0 bytes), not a video")
        # Always FFMPEG: CAP_ANY would read a name like img%03d.png as an image sequence.
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            if is_text(self.path):
                raise UserError(f"{path} is a text file, not a video or an image")
            raise UserError(f"cannot open {path} as a video: the file is damaged or its format "
                            "is not supported (try re-encoding it as H.264 .mp4)")
        ok, first = cap.read()
        if not ok or first is None or first.size == 0:
            cap.release()
            if is_text(self.path):
                raise UserError(f"{path} is a text file, not a video or an image")
            raise UserError(f"cannot decode the first frame of {path}: the file is damaged or "
                            "its codec is not supported (try re-encoding it as H.264 .mp4)")
        self._cap: cv2.VideoCapture | None = cap
        self._first: np.ndarray | None = to_bgr8(first)
        self.fps = sane_fps(cap.get(cv2.CAP_PROP_FPS)) or FALLBACK_FPS
        self.size = (first.shape[1], first.shape[0])
        self.frame_count = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)) or None
        self._reader: _Prefetcher[Frame] | None = None
        self._lock = threading.Lock()

    def _decode(self) -> Iterator[Frame]:
        """Runs on the decode thread, which alone touches the capture from here on."""
        cap, image, index, fps = self._cap, self._first, 0, self.fps or FALLBACK_FPS
        self._first = None
        assert cap is not None  # released only by this thread's on_exit, or before it starts
        while image is not None:
            yield Frame(index, index / fps, image)
            index += 1
            image = self._read_next(cap)

    @staticmethod
    def _read_next(cap: cv2.VideoCapture, attempts: int = 3) -> np.ndarray | None:
        """The next decodable frame, or None at the end (a damaged packet gets a few retries)."""
        for _ in range(attempts):
            ok, image = cap.read()
            if ok and image is not None and image.size:
                return to_bgr8(image)
        return None

    def __iter__(self) -> Iterator[Frame]:
        with self._lock:
            if self._reader is None:
                if self._cap is None:
                    return
                self._reader = _Prefetcher(self._decode(), f"decode {self.name}",
                                           depth=self.queue_size, stall_s=self.stall_s,
                                           on_exit=self._release)
        yield from self._reader

    @property
    def running(self) -> bool:
        return self._reader is not None and self._reader.alive

    @property
    def buffered(self) -> int:
        """Frames decoded ahead, waiting for the caller (at most `queue_size`)."""
        return self._reader.waiting if self._reader is not None else 0

    @property
    def released(self) -> bool:
        """Whether the video file is closed (at its end, or by `close`)."""
        return self._cap is None

    def _release(self) -> None:
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None

    def close(self) -> None:
        with self._lock:
            reader = self._reader
        if reader is None:
            self._release()
            return
        reader.close()
        # A decode thread stuck past the join timeout releases the capture itself when it ends;
        # releasing it here under its feet could crash inside FFMPEG.


# ----------------------------------------------------------------------------- live sources


def redact(url: str) -> str:
    """A URL without its password, safe to print: rtsp://user:***@host/..."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class _LiveSource(Source):
    """Grabs frames on a thread, keeps only the newest, reconnects with back-off when dropped.

    The iterator waits (bounded) for a frame it has not yielded yet, so it never hands out the
    same frame twice and never works through a backlog. After `retries` failed reconnects in a
    row it raises StreamLost. Subclasses say how to open the capture.
    """

    live = True
    what = "source"  # for messages: "camera 0", "stream http://..."
    advice = "check the device"
    retry_first_open = True  # a wrong camera index should fail at once, not after the back-off

    def __init__(self, retries: int = RETRIES, timeout_s: float = 5.0, backoff_s: float = 0.25,
                 backoff_max_s: float = 4.0, bad_reads: int = 3) -> None:
        super().__init__()
        self.retries, self.timeout_s = max(0, int(retries)), float(timeout_s)
        self.backoff_s, self.backoff_max_s, self.bad_reads = backoff_s, backoff_max_s, bad_reads
        self.grabbed = 0  # frames read from the device; more than yielded when the caller is slow
        self.reconnects = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._image: np.ndarray | None = None
        self._seq = 0  # number of the newest frame in `_image`; 0 before the first
        self._stamp = 0.0
        self._failure: str | None = None
        self._beat = time.monotonic()  # the grab thread's last sign of life
        # The first open happens here, on the caller's thread: macOS only asks for camera
        # permission from the main thread, and open errors belong to open_source().
        cap = self._first_open()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, args=(cap,),
                                        name=f"livedigits {self.what}", daemon=True)
        self._thread.start()
        self._wait_first()

    def _open(self) -> cv2.VideoCapture | None:
        """A new opened capture, or None if it did not open."""
        raise NotImplementedError

    @property
    def _hang_s(self) -> float:
        """The longest one OpenCV call may take before the grab thread counts as hung."""
        return 2 * self.timeout_s + 5.0

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1))

    def _first_open(self) -> cv2.VideoCapture:
        tries = 1 + (self.retries if self.retry_first_open else 0)
        for attempt in range(1, tries + 1):
            cap = self._open()
            if cap is not None:
                return cap
            if attempt < tries:
                time.sleep(self._backoff(attempt))
        after = f" after {tries} tries" if tries > 1 else ""
        raise UserError(f"could not open {self.what}{after}; {self.advice}")

    def _wait_first(self) -> None:
        """Block (bounded) until the first frame arrives; UserError if it does not."""
        deadline = time.monotonic() + self._hang_s
        with self._cond:
            while self._seq == 0 and self._failure is None:
                if time.monotonic() > deadline:
                    self._failure = (f"{self.what} opened but sent no frame in "
                                     f"{self._hang_s:.0f} s; {self.advice}")
                    break
                self._cond.wait(timeout=0.1)
            if self._seq and self._image is not None:
                h, w = self._image.shape[:2]
                self.size = (w, h)
                return
            failure = self._failure or f"{self.what} sent no frame; {self.advice}"
        self.close()
        raise UserError(failure)

    def _run(self, cap: cv2.VideoCapture | None) -> None:
        failures = 0  # failed reopens or reads since the last good frame
        bad = 0  # consecutive failed reads on the current capture
        ever = False  # a frame has arrived
        try:
            while not self._stop.is_set():
                if cap is None:
                    cap = self._open()
                    self._beat = time.monotonic()
                    if cap is None:
                        failures += 1
                        if failures > self.retries:
                            self._give_up(ever)
                            return
                        self._pause(self._backoff(failures))
                        continue
                    self.reconnects += 1
                t = time.monotonic()
                ok, image = cap.read()
                self._beat = time.monotonic()
                if ok and image is not None and image.size and image.ndim in (2, 3):
                    failures = bad = 0
                    ever = True
                    self._publish(to_bgr8(image))
                    continue
                bad += 1
                # One bad read is a corrupt frame, skipped; several in a row, or one that waited
                # out the read timeout, means the connection is gone.
                if bad >= self.bad_reads or self._beat - t > self.timeout_s / 2:
                    cap.release()
                    cap, bad = None, 0
                    failures += 1
                    if failures > self.retries:
                        self._give_up(ever)
                        return
                    self._pause(self._backoff(failures))
        finally:
            if cap is not None:
                cap.release()
            with self._cond:
                self._cond.notify_all()

    def _pause(self, seconds: float) -> None:
        self._beat = time.monotonic() + seconds  # a back-off is not a hang
        self._stop.wait(seconds)
        self._beat = time.monotonic()

    def _publish(self, image: np.ndarray) -> None:
        with self._cond:
            self._image = image
            self._seq += 1
            self._stamp = time.monotonic() - self._t0
            self.grabbed += 1
            self._cond.notify_all()

    def _give_up(self, ever: bool) -> None:
        if ever:
            msg = (f"{self.what} dropped and did not come back after {self.retries} retries; "
                   f"{self.advice}")
        else:
            msg = (f"{self.what} opened but sent no frame after {self.retries} retries; "
                   f"{self.advice}")
        with self._cond:
            self._failure = msg
            self._cond.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        seen, index = 0, 0
        while True:
            with self._cond:
                while self._seq == seen and self._failure is None and not self._stop.is_set():
                    if time.monotonic() - self._beat > self._hang_s:
                        self._failure = (f"{self.what} stopped answering (no frame for "
                                         f"{self._hang_s:.0f} s); {self.advice}")
                        break
                    self._cond.wait(timeout=0.1)
                if self._seq != seen and self._image is not None:
                    seen, image, stamp = self._seq, self._image, self._stamp
                elif self._failure is not None:
                    raise StreamLost(self._failure)
                else:  # closed
                    return
            yield Frame(index, stamp, image)
            index += 1

    @property
    def running(self) -> bool:
        thread = getattr(self, "_thread", None)
        return thread is not None and thread.is_alive()

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = getattr(self, "_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._hang_s)


class CameraSource(_LiveSource):
    """A local camera by index; `size` asks it for a (w, h) resolution."""

    advice = ("check it is connected and not used by another program, or try another index "
              "(0, 1, ...)")
    retry_first_open = False

    def __init__(self, index: int, size: tuple[int, int] | None = None, **kwargs) -> None:
        self.index, self.requested_size = index, size
        self.name = str(index)
        self.what = f"camera {index}"
        super().__init__(**kwargs)

    def _open(self) -> cv2.VideoCapture | None:
        cap = cv2.VideoCapture(self.index)
        if not cap.isOpened():
            cap.release()
            return None
        if self.requested_size is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.requested_size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.requested_size[1])
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not the driver's backlog
        self.fps = sane_fps(cap.get(cv2.CAP_PROP_FPS))
        return cap


class StreamSource(_LiveSource):
    """A network stream (MJPEG over HTTP from a phone app, RTSP from an IP camera) via FFMPEG."""

    advice = "check the device/network"

    def __init__(self, url: str, **kwargs) -> None:
        self.url = url
        self.name = redact(url)
        self.what = f"stream {self.name}"
        super().__init__(**kwargs)

    def _open(self) -> cv2.VideoCapture | None:
        ms = int(self.timeout_s * 1000)
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms,
                                                          cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        if not cap.isOpened():
            cap.release()
            return None
        self.fps = sane_fps(cap.get(cv2.CAP_PROP_FPS))
        return cap
