"""What `run` prints as it goes: a number once it is stable, and a progress bar for folders.

`Debounce` keeps a reading that flips between frames ('7631', '76 1', '7651') off the console
until one of them holds. `Progress` draws its bar on the last line of a terminal and prints
result lines above it, never glued to it; its ETA counts from the first item done, not from
the start (the model load is no part of it).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

STABLE_FRAMES = 3  # a reading is printed once it has held this many frames in a row


class Debounce:
    """Says which readings to print: a new one once it has held `frames` frames in a row.

    >>> d = Debounce(frames=2)
    >>> [d.update(t) for t in ["12", "13", "12", "12", "12", "7"]]
    [None, None, None, '12', None, None]
    """

    def __init__(self, frames: int = STABLE_FRAMES) -> None:
        self.frames = max(1, frames)
        self.printed: str | None = None
        self._candidate: str | None = None
        self._count = 0

    def update(self, text: str) -> str | None:
        """The text to print now, or None."""
        if text == self._candidate:
            self._count += 1
        else:
            self._candidate, self._count = text, 1
        if self._count == self.frames and text != self.printed:
            self.printed = text
            return text
        return None

    def flush(self) -> str | None:
        """At the end: the last reading, if it held two frames (or is the only one) and was
        not printed; a flip on the very last frame is not."""
        text = self._candidate
        if text is None or text == self.printed:
            return None
        if self._count >= min(2, self.frames) or self.printed is None:
            self.printed = text
            return text
        return None


def _clock_text(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """A progress bar on the terminal's last line, with result lines printed above it.

    On a terminal the bar is redrawn in place; elsewhere (a log file, a pipe) there is no bar,
    only the result lines and a last 'done' line. The ETA is measured from the first `update`.
    """

    def __init__(self, total: int, label: str = "", stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, tty: bool | None = None) -> None:
        self.total, self.label = max(0, total), label
        self.stream = stream or sys.stderr
        self.clock = clock
        self.tty = self.stream.isatty() if tty is None else tty
        self.done = 0
        self._first: float | None = None  # when the first item was done
        self._shown = False

    def eta(self) -> float | None:
        """Seconds left, from the pace since the first item; None before two items."""
        if self._first is None or self.done < 2:
            return None
        rate = (self.clock() - self._first) / (self.done - 1)
        return rate * (self.total - self.done)

    def bar(self, width: int | None = None) -> str:
        """The bar's text, e.g. 'reading images  [#####-----]  5/10  00:04 left'."""
        width = width or shutil.get_terminal_size((80, 20)).columns
        eta = self.eta()
        tail = f"  {self.done}/{self.total}" + (f"  {_clock_text(eta)} left" if eta is not None
                                                 else "")
        room = max(10, min(40, width - len(self.label) - len(tail) - 6))
        filled = room * self.done // max(self.total, 1)
        return f"{self.label}  [{'#' * filled}{'-' * (room - filled)}]{tail}"[: width - 1]

    def _clear(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\r\x1b[2K")
            self._shown = False

    def _draw(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + self.bar())
            self.stream.flush()
            self._shown = True

    def line(self, text: str, stream: TextIO | None = None) -> None:
        """Print a result line above the bar (on `stream`, stdout or stderr)."""
        self._clear()
        if stream is not None and stream is not self.stream:
            self.stream.flush()
        out = stream or self.stream
        out.write(text + "\n")
        out.flush()
        self._draw()

    def update(self, n: int = 1) -> None:
        """`n` more items done."""
        if self._first is None:
            self._first = self.clock()
        self.done = min(self.total, self.done + n)
        self._draw()

    def finish(self) -> None:
        """Leave the finished bar on its own line (on a terminal)."""
        if self.tty and self._shown:
            self.stream.write("\r\x1b[2K" + self.bar() + "\n")
            self.stream.flush()
            self._shown = False
