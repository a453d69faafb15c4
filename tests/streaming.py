"""A small MJPEG-over-HTTP server for tests: a phone camera app on 127.0.0.1, with faults on demand.

It speaks what IP-camera apps speak (`multipart/x-mixed-replace`, one `image/jpeg` part per frame
with its Content-Length), which OpenCV's FFMPEG backend reads from a URL ending in `.mjpg`.

>>> frames = [np.full((48, 64, 3), v, np.uint8) for v in (0, 128, 255)]
>>> with MjpegServer(frames, fps=30) as server:
...     cap = cv2.VideoCapture(server.url, cv2.CAP_FFMPEG)
...     ok, image = cap.read()
...     cap.release()
>>> ok, image.shape
(True, (48, 64, 3))
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "livedigitsframe"


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """One BGR image as JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok, "could not encode a test frame"
    return buf.tobytes()


def level_frames(n: int = 50, size: tuple[int, int] = (64, 48), step: int = 5) -> list[np.ndarray]:
    """`n` flat grey frames whose level `i * step` names their position (see `frame_number`)."""
    w, h = size
    return [np.full((h, w, 3), i * step, np.uint8) for i in range(n)]


def frame_number(image: np.ndarray, step: int = 5) -> int:
    """Which of `level_frames` an image is, from its mean level (JPEG keeps flat levels)."""
    return int(round(float(image.mean()) / step))


def free_port() -> int:
    """A port nothing listens on, so a connection to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MjpegServer:
    """Serves `frames` (BGR, looping) as an MJPEG stream at `.url`; stops itself after `max_s`.

    Faults, counted in frames sent on one connection:
    - `refuse`: nothing listens; `.url` points at a closed port.
    - `stall_after`, `stall_s`: after K frames send nothing for N s (K=0: before the HTTP reply).
    - `drop_after`: after K frames send half of the next one and close the connection; the first
      `drops` connections do this, later ones serve normally unless `come_back` is False, in which
      case later connections are closed at once (the camera went away).
    - `corrupt_at`: frame K is sent as bytes that are not a JPEG (once per connection).
    - `resize_after`, `resize_to`: frames after K are sent at `resize_to` (w, h).
    `connections` counts the requests served, so a test can see a reconnect.
    """

    def __init__(self, frames: Sequence[np.ndarray], fps: float = 30.0, *, max_s: float = 20.0,
                 refuse: bool = False, stall_after: int | None = None, stall_s: float = 0.0,
                 drop_after: int | None = None, drops: int = 1, come_back: bool = True,
                 corrupt_at: int | None = None, resize_after: int | None = None,
                 resize_to: tuple[int, int] = (32, 24), path: str = "/video.mjpg") -> None:
        self.jpegs = [encode_jpeg(f) for f in frames]
        self.resized = [encode_jpeg(cv2.resize(f, resize_to, interpolation=cv2.INTER_AREA))
                        for f in frames]
        self.fps, self.max_s, self.refuse = fps, max_s, refuse
        self.stall_after, self.stall_s = stall_after, stall_s
        self.drop_after, self.drops, self.come_back = drop_after, drops, come_back
        self.corrupt_at, self.resize_after, self.path = corrupt_at, resize_after, path
        self.connections = 0
        self.frames_sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self.port = free_port() if refuse else 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> MjpegServer:
        """Listen (unless refusing) on an OS-assigned port and serve on a daemon thread."""
        if self.refuse:
            return self
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.max_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving and end open connections; safe to call twice."""
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
        if self._httpd is not None:
            httpd, self._httpd = self._httpd, None
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.connections += 1
                    number = server.connections
                # BrokenPipe/ConnectionReset: the client went away, which tests do on purpose.
                with contextlib.suppress(OSError):
                    server._serve(self, number)

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler, number: int) -> None:
        dropping = self.drop_after is not None
        if dropping and number > self.drops and not self.come_back:
            handler.close_connection = True
            return
        if self.stall_after == 0:
            self._stop.wait(self.stall_s)
        handler.send_response(200)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        handler.send_header("Cache-Control", "no-cache, no-store")
        handler.send_header("Pragma", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()
        out = handler.wfile
        period = 1.0 / self.fps
        next_t = time.monotonic()
        k = 0
        while not self._stop.is_set():
            if self.stall_after and k == self.stall_after:
                self._stop.wait(self.stall_s)
            resized = self.resize_after is not None and k >= self.resize_after
            jpeg = (self.resized if resized else self.jpegs)[k % len(self.jpegs)]
            if k == self.corrupt_at:
                jpeg = b"this is not a jpeg " * 20
            head = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n").encode()
            if dropping and number <= self.drops and k == self.drop_after:
                out.write(head + jpeg[: len(jpeg) // 2])
                out.flush()
                handler.close_connection = True
                return
            out.write(head + jpeg + b"\r\n")
            out.flush()
            with self._lock:
                self.frames_sent += 1
            k += 1
            next_t += period
            self._stop.wait(max(0.0, next_t - time.monotonic()))
