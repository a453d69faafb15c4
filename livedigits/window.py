"""The window `run` and `draw` show, and what its keys do.

`open_window` gives the same plain window for both commands (no Qt toolbar, opened at the
frame's size scaled to fit the screen, no font warnings). `Viewer` is the behaviour of `run`'s
window: it paces a file to its fps, pauses and steps, saves snapshots, records, and holds a still
or a video's last frame until the user closes it. It talks to a window only through
`show`/`wait_key`/`is_open`/`close`, so `FakeWindow` drives it in tests without a display.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import click
import cv2
import numpy as np

from livedigits.defaults import MIN_CONFIDENCE

if TYPE_CHECKING:
    from livedigits.sinks import VideoSink

ESC = 27
SCREEN_FALLBACK = (1280, 720)  # when the platform does not say
SCREEN_USE = 0.9  # of the screen, leaving room for the title bar and a panel
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts",
             "~/.fonts", "/System/Library/Fonts")

KEYS = (
    ("q / Esc", "quit"),
    ("space", "pause / resume"),
    (".", "one frame on (paused)"),
    ("s", "save a snapshot (PNG)"),
    ("r", "start / stop recording (MP4)"),
    ("+ / -", "raise / lower min confidence"),
    ("c", "crops view"),
    ("h", "show / hide this help"),
)
CONFIDENCE_STEP = 0.05


def has_display() -> bool:
    """Whether a window can be opened: a display server is there and OpenCV has a GUI."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return False
    info = cv2.getBuildInformation()
    gui = info.split("GUI:", 1)[1].split("\n\n", 1)[0] if "GUI:" in info else ""
    return "YES" in gui or "QT" in gui or "GTK" in gui


def window_open(name: str) -> bool:
    """Whether the window `name` is still up; False once the user closed it."""
    try:
        return cv2.getWindowProperty(name, cv2.WND_PROP_VISIBLE) >= 1
    except cv2.error:  # Qt drops its GUI state with the last window, and then this raises
        return False


def quiet_qt() -> None:
    """Point Qt at real fonts before the first window: the pip OpenCV sets QT_QPA_FONTDIR to a
    folder it does not ship, and Qt then warns 'Cannot find font directory' at every start."""
    current = os.environ.get("QT_QPA_FONTDIR")
    if current and Path(current).is_dir():
        return
    for d in FONT_DIRS:
        if Path(d).expanduser().is_dir():
            os.environ["QT_QPA_FONTDIR"] = str(Path(d).expanduser())
            return
    os.environ.pop("QT_QPA_FONTDIR", None)  # Qt falls back to fontconfig
    os.environ.setdefault("QT_LOGGING_RULES", "default.warning=false")


def screen_size() -> tuple[int, int]:
    """The screen's (width, height) in pixels; SCREEN_FALLBACK where the platform won't say."""
    try:
        if sys.platform == "win32":
            user32 = ctypes.windll.user32  # type: ignore[attr-defined]
            return int(user32.GetSystemMetrics(0)), int(user32.GetSystemMetrics(1))
        name = ctypes.util.find_library("X11")
        if name and os.environ.get("DISPLAY"):
            x11 = ctypes.CDLL(name)
            x11.XOpenDisplay.restype = ctypes.c_void_p
            x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
            x11.XDefaultScreen.argtypes = [ctypes.c_void_p]
            x11.XDisplayWidth.argtypes = [ctypes.c_void_p, ctypes.c_int]
            x11.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
            x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
            dpy = x11.XOpenDisplay(None)
            if dpy:
                try:
                    scr = x11.XDefaultScreen(dpy)
                    size = int(x11.XDisplayWidth(dpy, scr)), int(x11.XDisplayHeight(dpy, scr))
                finally:
                    x11.XCloseDisplay(dpy)
                if size[0] > 0 and size[1] > 0:
                    return size
    except (OSError, AttributeError, ValueError):
        pass
    return SCREEN_FALLBACK


def fit_to_screen(size: tuple[int, int], screen: tuple[int, int],
                  use: float = SCREEN_USE) -> tuple[int, int]:
    """The window size for a frame (w, h): its own size, or scaled down, aspect kept, to fit
    `use` of the screen. Never enlarged.

    >>> fit_to_screen((1920, 1080), (1366, 768))
    (1229, 691)
    """
    w, h = size
    s = min(1.0, use * screen[0] / max(w, 1), use * screen[1] / max(h, 1))
    return max(1, round(w * s)), max(1, round(h * s))


class Window(Protocol):
    """What the viewer needs of a window (the real one, or `FakeWindow`)."""

    def show(self, image: np.ndarray) -> None: ...

    def wait_key(self, ms: int) -> int: ...

    def is_open(self) -> bool: ...

    def close(self) -> None: ...

    def clock(self) -> float: ...


class CvWindow:
    """An OpenCV window with the plain style of both commands: no toolbar or status bar, the
    image scaled to the window with its aspect kept, opened at a size that fits the screen.

    It opens with the first image shown, so no empty window waits while the model loads.
    """

    def __init__(self, name: str, size: tuple[int, int] | None = None,
                 resizable: bool = True) -> None:
        self.name, self.resizable = name, resizable
        self._size = size
        self._shown: tuple[int, int] | None = None  # the size the window was fitted to
        self._created = self._closed = False

    def create(self) -> None:
        """Open the window now (it otherwise opens with the first image)."""
        if self._created:
            return
        quiet_qt()
        flags = cv2.WINDOW_GUI_NORMAL | (cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO
                                         if self.resizable else cv2.WINDOW_AUTOSIZE)
        cv2.namedWindow(self.name, flags)
        self._created = True
        self._screen = screen_size()
        if self._size is not None:
            self._fit(self._size)

    def _fit(self, size: tuple[int, int]) -> None:
        if self.resizable and size != self._shown:
            cv2.resizeWindow(self.name, *fit_to_screen(size, self._screen))
        self._shown = size

    def show(self, image: np.ndarray) -> None:
        self.create()
        if self._shown != (image.shape[1], image.shape[0]):
            self._fit((image.shape[1], image.shape[0]))
        cv2.imshow(self.name, image)

    def wait_key(self, ms: int) -> int:
        """The key pressed within `ms` (at least 1) ms as a character code; -1 for none."""
        key = cv2.waitKey(max(1, int(ms)))
        return -1 if key < 0 else key & 0xFF

    def is_open(self) -> bool:
        """False once the user closed the window (True before it first opens)."""
        if self._closed:
            return False
        return window_open(self.name) if self._created else True

    def close(self) -> None:
        if self._created and window_open(self.name):
            cv2.destroyWindow(self.name)
            cv2.waitKey(1)  # let the GUI take the window down
        self._closed = True

    clock = staticmethod(time.monotonic)


def open_window(name: str, size: tuple[int, int] | None = None,
                resizable: bool = True) -> CvWindow:
    """The window both `run` and `draw` use (see `CvWindow`)."""
    return CvWindow(name, size, resizable)


class FakeWindow:
    """A window for tests: records each image shown and how long it stayed up (virtual ms, as
    waited for), answers `wait_key` from a script of keys, and closes itself when told or after
    `max_waits` waits, so a test can never hang.

    >>> w = FakeWindow(keys=[None, "q"])
    >>> w.show(np.zeros((2, 2, 3), np.uint8)); w.wait_key(40), w.wait_key(40), w.held_ms
    (-1, 113, [80.0])
    """

    def __init__(self, keys: Iterable[str | int | None] = (), close_after: int | None = None,
                 max_waits: int = 10_000) -> None:
        self.keys: list[str | int | None] = list(keys)  # consumed one per wait
        self.shown: list[np.ndarray] = []
        self.held_ms: list[float] = []  # per image shown: the time waited while it was up
        self.waits = 0
        self.now = 0.0
        self.open = True
        self.close_after, self.max_waits = close_after, max_waits

    def show(self, image: np.ndarray) -> None:
        assert self.open, "show() on a closed window"
        self.shown.append(image.copy())
        self.held_ms.append(0.0)

    def wait_key(self, ms: int) -> int:
        self.waits += 1
        ms = max(1, int(ms))
        self.now += ms / 1000
        if self.held_ms:
            self.held_ms[-1] += ms
        if self.waits >= self.max_waits or (self.close_after is not None
                                            and self.waits >= self.close_after):
            self.open = False
        key = self.keys.pop(0) if self.keys else None
        return -1 if key is None else ord(key) if isinstance(key, str) else int(key)

    def is_open(self) -> bool:
        return self.open

    def close(self) -> None:
        self.open = False

    def clock(self) -> float:
        return self.now


@dataclass
class ViewState:
    """What the keys change, read by whoever draws and reads the frames."""

    paused: bool = False
    show_crops: bool = False
    show_help: bool = False
    min_confidence: float = MIN_CONFIDENCE
    recording: bool = False

    def status(self) -> list[str]:
        """Extra lines for the overlay."""
        lines = [f"min conf {self.min_confidence:.2f}"]
        if self.paused:
            lines.append("PAUSED  (. next frame, space resumes)")
        if self.recording:
            lines.append("REC")
        return lines


Render = Callable[[ViewState], np.ndarray]  # draws the current frame for the current state


class Viewer:
    """`run`'s window behaviour over a `Window`.

    `show(render)` puts a frame up and returns once the next one is due (a file at its own
    fps; a live source at once), or while paused once the user steps or resumes; False when
    the user quit or closed the window. With `step` (a folder of images) each frame stays up
    until a key that is not a command. `hold(render)` keeps the last frame (or a still) up
    until q, Esc or the window is closed. Snapshots and recordings go to `save_dir`.
    """

    STEP_NOTE = "a key: next image  (q quits)"

    def __init__(self, window: Window, state: ViewState | None = None,
                 fps: float | None = None, save_dir: Path = Path("."),
                 record_fps: float | None = None, echo: Callable[[str], None] | None = None,
                 step: bool = False) -> None:
        self.window = window
        self.step = step
        self.state = state or ViewState()
        self.interval = 1.0 / fps if fps else 0.0
        self.save_dir = Path(save_dir)
        self.record_fps = fps or record_fps
        self.echo = echo or (lambda msg: click.echo(msg, err=True))
        self._due: float | None = None
        self._scene: np.ndarray | None = None
        self._recorder: VideoSink | None = None
        self.saved: list[Path] = []  # snapshots and recordings, in order

    # --- drawing ----------------------------------------------------------------------------
    def _put(self, render: Render, note: str | None = None) -> np.ndarray:
        from livedigits.annotate import draw_help, draw_note

        scene = render(self.state)
        if self.state.show_help:
            scene = draw_help(scene.copy(), KEYS)
        if note:
            scene = draw_note(scene.copy(), note)
        self._scene = scene
        self.window.show(scene)
        return scene

    def show(self, render: Render) -> bool:
        """Show the next frame; False when the user quit or closed the window."""
        if self.step:
            return self._wait_for_next(render)
        scene = self._put(render)
        if self.state.recording and self._recorder is not None:
            self._recorder.write(scene)
        now = self.window.clock()
        if self._due is None or now - self._due > 0.25:  # first frame, or fell behind
            self._due = now
        self._due += self.interval
        while True:
            if self.state.paused:
                key = self.window.wait_key(50)
            else:
                key = self.window.wait_key(max(1, round((self._due - self.window.clock()) * 1e3)))
            if not self.window.is_open():
                return False
            action = self.handle_key(key, render)
            if action == "quit":
                return False
            if action == "step":
                self._due = self.window.clock() + self.interval
                return True
            if self.state.paused:
                continue
            if action == "resume":
                self._due = self.window.clock() + self.interval
            if self.window.clock() >= self._due - 0.0005:
                return True

    def _wait_for_next(self, render: Render) -> bool:
        """One image of a folder: up until a key that is not a command (True), or q, Esc
        or a closed window (False)."""
        scene = self._put(render, self.STEP_NOTE)
        if self.state.recording and self._recorder is not None:
            self._recorder.write(scene)
        while True:
            key = self.window.wait_key(50)
            if not self.window.is_open():
                return False
            if key >= 0 and chr(key & 0xFF) in " .":  # pause and step mean next here
                return True
            action = self.handle_key(key, render, self.STEP_NOTE)
            if action == "quit":
                return False
            if action == "other":
                return True

    def hold(self, render: Render, note: str, stop: Callable[[], bool] = lambda: False,
             any_key: bool = False) -> None:
        """Keep the frame up (with `note`) until q, Esc (or with `any_key`, any key that is
        not one of the window's commands), the window is closed, or `stop()`."""
        self._stop_recording()
        self._put(render, note)
        while self.window.is_open() and not stop():
            key = self.window.wait_key(50)
            if not self.window.is_open():
                break
            action = self.handle_key(key, render, note)
            if action == "quit" or (any_key and action == "other"):
                break

    def close(self) -> None:
        self._stop_recording()
        self.window.close()

    # --- keys -------------------------------------------------------------------------------
    def handle_key(self, key: int, render: Render, note: str | None = None) -> str | None:
        """Act on one key; returns 'quit', 'step', 'resume', 'other' (a key that is not a
        command), or None."""
        if key < 0:
            return None
        ch = chr(key & 0xFF)
        s = self.state
        if key == ESC or ch in "qQ":
            return "quit"
        if ch == " ":
            s.paused = not s.paused
            self._put(render, note)
            return None if s.paused else "resume"
        if ch == ".":
            return "step" if s.paused else None
        if ch == "s":
            self.snapshot()
            return None
        if ch == "r":
            if s.recording:
                self._stop_recording()
            else:
                self._start_recording()
        elif ch in "+=":
            s.min_confidence = round(min(1.0, s.min_confidence + CONFIDENCE_STEP), 2)
        elif ch in "-_":
            s.min_confidence = round(max(0.0, s.min_confidence - CONFIDENCE_STEP), 2)
        elif ch == "c":
            s.show_crops = not s.show_crops
        elif ch == "h":
            s.show_help = not s.show_help
        else:
            return "other"
        self._put(render, note)
        return None

    def _new_path(self, stem: str, ext: str) -> Path:
        self.save_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = self.save_dir / f"{stem}{ext}", 1
        while path.exists():
            path, n = self.save_dir / f"{stem}-{n}{ext}", n + 1
        return path

    def snapshot(self) -> Path | None:
        """Save what the window shows as a PNG in `save_dir`; its path (None if it failed)."""
        from livedigits.errors import UserError
        from livedigits.sinks import write_image

        if self._scene is None:
            return None
        try:
            path = self._new_path("livedigits", ".png")
            write_image(path, self._scene)
        except (UserError, OSError) as e:
            self.echo(f"livedigits: could not save a snapshot: {e}")
            return None
        self.saved.append(path)
        self.echo(f"saved snapshot {path}")
        return path

    def _start_recording(self) -> None:
        from livedigits.errors import UserError
        from livedigits.sinks import VideoSink

        if self._scene is None:
            return
        h, w = self._scene.shape[:2]
        try:
            path = self._new_path("livedigits-rec", ".mp4")
            self._recorder = VideoSink(path, self.record_fps, (w, h))
        except (UserError, OSError) as e:
            self.echo(f"livedigits: could not start recording: {e}")
            return
        self.state.recording = True
        self.echo(f"recording to {path} (r stops)")

    def _stop_recording(self) -> None:
        rec, self._recorder = self._recorder, None
        self.state.recording = False
        if rec is not None:
            rec.close()
            self.saved.append(rec.path)
            self.echo(f"wrote {rec.path} ({rec.frames} frames)")
