"""`livedigits draw`: a white canvas in a window; every digit drawn on it is boxed and read live.

The drawing is a list of strokes (`Canvas`), rendered afresh when it changes so that undo is
exact. `DrawApp` ties a canvas to the same `Pipeline` as `run` and takes cv2's mouse and key
events as plain calls, so tests drive it without a display; only `run_draw` opens a window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import cv2
import numpy as np

from livedigits.annotate import annotate
from livedigits.detect import DetectorSettings
from livedigits.detections import Detections, FrameResult
from livedigits.errors import UserError
from livedigits.pipeline import DigitModel, Pipeline, PipelineSettings
from livedigits.window import has_display, open_window

WINDOW = "livedigits draw"
MIN_BRUSH, MAX_BRUSH, BRUSH_STEP = 4, 60, 2
REFRESH_S = 0.1  # read the drawing at most this often while it changes
NOTICE_S = 3.0  # how long "saved ..." stays in the status bar
BAR_HEIGHT = 36
PAPER, INK = (255, 255, 255), (0, 0, 0)
ESC = 27


@dataclass
class Stroke:
    """One press-drag-release of the mouse: its points in canvas pixels and its brush size."""

    brush: int
    points: list[tuple[int, int]] = field(default_factory=list)


class Canvas:
    """A drawing as a list of strokes; `version` counts every change to what `render` shows.

    >>> c = Canvas(200, 100)
    >>> c.begin(20, 20); c.extend(20, 80); c.end()
    >>> c.render()[50, 20].tolist(), c.version
    ([0, 0, 0], 2)
    """

    def __init__(self, width: int = 960, height: int = 480, brush: int = 14) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"canvas size must be positive, got {width}x{height}")
        self.width, self.height = width, height
        self.brush = clamp_brush(brush)
        self.strokes: list[Stroke] = []
        self.drawing = False  # a stroke is open: the button is still down
        self.version = 0
        self._rendered: tuple[int, np.ndarray] | None = None

    def begin(self, x: int, y: int) -> None:
        """Start a stroke at (x, y) with the current brush; a lone click leaves a dot."""
        self.end()
        self.strokes.append(Stroke(self.brush, [self._clip(x, y)]))
        self.drawing = True
        self.version += 1

    def extend(self, x: int, y: int) -> None:
        """Continue the open stroke to (x, y); nothing if no stroke is open or it did not move."""
        if not self.drawing:
            return
        p = self._clip(x, y)
        points = self.strokes[-1].points
        if p != points[-1]:
            points.append(p)
            self.version += 1

    def end(self) -> None:
        """Close the open stroke (the button went up)."""
        self.drawing = False

    def undo(self) -> None:
        """Remove the last stroke, even one still being drawn."""
        self.drawing = False
        if self.strokes:
            self.strokes.pop()
            self.version += 1

    def clear(self) -> None:
        """Remove every stroke."""
        self.drawing = False
        if self.strokes:
            self.strokes.clear()
            self.version += 1

    def set_brush(self, size: int) -> int:
        """Set the brush for the next strokes, clamped to MIN_BRUSH..MAX_BRUSH; returns it."""
        self.brush = clamp_brush(size)
        return self.brush

    @property
    def empty(self) -> bool:
        return not self.strokes

    def render(self) -> np.ndarray:
        """The drawing as a BGR uint8 image: black round-capped ink on white paper (a copy)."""
        if self._rendered is None or self._rendered[0] != self.version:
            img = np.full((self.height, self.width, 3), PAPER, np.uint8)
            for s in self.strokes:
                pts = np.array(s.points, np.int32)
                if len(pts) == 1:
                    cv2.circle(img, s.points[0], s.brush // 2, INK, -1, cv2.LINE_AA)
                else:
                    # OpenCV draws thick segments with round ends, so caps and joins are round
                    cv2.polylines(img, [pts], False, INK, s.brush, cv2.LINE_AA)
            self._rendered = (self.version, img)
        return self._rendered[1].copy()

    def _clip(self, x: int, y: int) -> tuple[int, int]:
        """A mouse position held inside the paper (a drag may leave it)."""
        return int(min(max(x, 0), self.width - 1)), int(min(max(y, 0), self.height - 1))


def clamp_brush(size: int) -> int:
    """A brush size in MIN_BRUSH..MAX_BRUSH pixels."""
    return int(min(max(int(size), MIN_BRUSH), MAX_BRUSH))


def empty_result() -> FrameResult:
    """What a blank canvas reads as, without running anything."""
    return FrameResult(0, 0.0, Detections.empty(), [])


class DrawApp:
    """A canvas, the pipeline that reads it, and what to do on each mouse and key event.

    >>> app = DrawApp(Classifier(), save_dir=Path("drawings"))   # doctest: +SKIP
    >>> app.handle_mouse(cv2.EVENT_LBUTTONDOWN, 100, 80, 0)      # doctest: +SKIP
    >>> app.refresh().numbers                                     # doctest: +SKIP
    """

    def __init__(self, model: DigitModel, size: tuple[int, int] = (960, 480),
                 save_dir: Path = Path("."), brush: int = 14, interval: float = REFRESH_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.canvas = Canvas(size[0], size[1], brush)
        # the canvas is always dark ink on white paper: no need to guess the polarity per frame
        settings = PipelineSettings(track=False, detector=DetectorSettings(invert=False))
        self.pipeline = Pipeline(model, settings)
        self.save_dir = Path(save_dir)
        self.interval, self.clock = interval, clock
        self.result = empty_result()
        self.reads = 0  # how many times the drawing went through the pipeline
        self.notice, self._notice_until = "", 0.0
        self._read_version = self.canvas.version
        self._read_at = -float("inf")

    @property
    def read_version(self) -> int:
        """The canvas version that `result` was read from."""
        return self._read_version

    @property
    def stale(self) -> bool:
        """Whether the drawing changed since it was last read."""
        return self.canvas.version != self._read_version

    def refresh(self, now: float | None = None) -> FrameResult:
        """Read the drawing if it changed and the last read is `interval` old; the latest result.

        A blank canvas reads as nothing without calling the model.
        """
        now = self.clock() if now is None else now
        if self.stale and now - self._read_at >= self.interval:
            version = self.canvas.version
            if self.canvas.empty:
                self.result = empty_result()
            else:
                self.result = self.pipeline.process(self.canvas.render(), self.reads, now)
                self.reads += 1
            self._read_version, self._read_at = version, now
        return self.result

    def handle_mouse(self, event: int, x: int, y: int, flags: int, param=None) -> None:
        """cv2's mouse callback: the left button draws."""
        c = self.canvas
        inside = 0 <= x < c.width and 0 <= y < c.height  # not on the status bar
        if event == cv2.EVENT_LBUTTONDOWN:
            if inside:
                c.begin(x, y)
        elif event == cv2.EVENT_LBUTTONUP:
            c.extend(x, y)
            c.end()
        elif event == cv2.EVENT_MOUSEMOVE:
            if not flags & cv2.EVENT_FLAG_LBUTTON:
                c.end()  # the button went up outside the window: we never saw it
            elif c.drawing:
                c.extend(x, y)
            elif inside:
                c.begin(x, y)  # dragged in from outside the paper with the button held

    def handle_key(self, key: int) -> bool:
        """Act on a key from cv2.waitKey (-1: none); False when the user asked to quit.

        c clear, u undo, +/- brush size, s save as PNG, q or Esc quit; other keys do nothing.
        """
        if key < 0:
            return True
        ch = key & 0xFF
        if ch in (ord("q"), ord("Q"), ESC):
            return False
        if ch == ord("c"):
            self.canvas.clear()
        elif ch == ord("u"):
            self.canvas.undo()
        elif ch in (ord("+"), ord("=")):  # '=' is '+' without shift
            self.canvas.set_brush(self.canvas.brush + BRUSH_STEP)
        elif ch in (ord("-"), ord("_")):
            self.canvas.set_brush(self.canvas.brush - BRUSH_STEP)
        elif ch == ord("s"):
            try:
                self._say(f"saved {self.save()}", echo=True)
            except UserError as e:  # keep the window and the drawing: it can be saved elsewhere
                self._say(str(e), echo=True)
        return True

    def save(self) -> Path:
        """Write the clean drawing (no boxes) as a timestamped PNG in `save_dir`; its path."""
        try:
            self.save_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot save into {self.save_dir}: {e.strerror}") from e
        stem = f"livedigits-draw-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = self.save_dir / f"{stem}.png", 1
        while path.exists():  # two saves in one second
            path, n = self.save_dir / f"{stem}-{n}.png", n + 1
        if not cv2.imwrite(str(path), self.canvas.render()):
            raise UserError(f"could not write {path}")
        return path

    def status_text(self) -> str:
        """The status bar: what is read, or the latest notice, and the keys."""
        now = self.clock()
        left = self.notice if now < self._notice_until else f"read: {self.read_text() or '-'}"
        keys = "c clear  u undo  +/- brush  s save  q quit"
        return f"{left}   |   brush {self.canvas.brush}   {keys}"

    def read_text(self) -> str:
        """The numbers read so far in reading order, e.g. '2021 7'."""
        return self.result.text

    def view(self) -> np.ndarray:
        """What the window shows: the drawing with boxes and numbers, over the status bar."""
        scene = annotate(self.canvas.render(), self.result, overlay=False)
        bar = np.full((BAR_HEIGHT, scene.shape[1], 3), 235, np.uint8)
        cv2.line(bar, (0, 0), (scene.shape[1], 0), (180, 180, 180), 1)
        cv2.putText(bar, self.status_text(), (10, BAR_HEIGHT - 12), cv2.FONT_HERSHEY_SIMPLEX,
                    0.55, (30, 30, 30), 1, cv2.LINE_AA)
        return np.vstack([scene, bar])

    def _say(self, message: str, echo: bool = False) -> None:
        """Show `message` in the status bar for a while (and on stderr when it matters)."""
        self.notice, self._notice_until = message, self.clock() + NOTICE_S
        if echo:
            click.echo(f"livedigits: {message}", err=True)


def run_draw(model_path: Path | None, size: tuple[int, int] = (960, 480),
             save_dir: Path = Path("."), backend: str = "onnx") -> None:
    """Open the drawing window and read what is drawn until q, Esc or the window is closed.

    >>> run_draw(None, (960, 480), Path("."))   # doctest: +SKIP
    """
    from livedigits.classify import open_classifier

    if not has_display():
        raise UserError("no display: `livedigits draw` needs a window; run it in a desktop "
                        "session (or under a virtual display, e.g. xvfb-run)")
    if size[0] < 64 or size[1] < 64:
        raise UserError(f"canvas {size[0]}x{size[1]} is too small: use at least 64x64")
    app = DrawApp(open_classifier(model_path, backend), size=size, save_dir=save_dir)
    # the plain window of `run` too: no Qt toolbar (its zoom and pan would move the paper
    # under the pen), scaled to fit the screen; mouse positions come in canvas pixels
    window = open_window(WINDOW, (size[0], size[1] + BAR_HEIGHT))
    window.create()
    cv2.setMouseCallback(WINDOW, app.handle_mouse)
    shown = None
    try:
        while True:
            app.refresh()
            state = (app.canvas.version, app.read_version, app.status_text())
            if state != shown:
                window.show(app.view())
                shown = state
            if not app.handle_key(window.wait_key(15)):
                break
            if not window.is_open():
                break
    except KeyboardInterrupt:
        pass
    finally:
        window.close()
