"""Whether a window can be shown, and whether ours is still up: shared by `run` and `draw`."""

from __future__ import annotations

import os
import sys

import cv2


def has_display() -> bool:
    """Whether a window can be opened: a display server is there and OpenCV has a GUI."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return False
    info = cv2.getBuildInformation()
    gui = info.split("GUI:", 1)[1].split("\n\n", 1)[0] if "GUI:" in info else ""
    return "YES" in gui


def window_open(name: str) -> bool:
    """Whether the window `name` is still up; False once the user closed it."""
    try:
        return cv2.getWindowProperty(name, cv2.WND_PROP_VISIBLE) >= 1
    except cv2.error:  # Qt drops its GUI state with the last window, and then this raises
        return False
