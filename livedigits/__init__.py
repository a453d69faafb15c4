"""livedigits: box and read handwritten digits live, from a webcam, a video, an image or a stream.

    >>> from livedigits import Reader
    >>> Reader().read("page.jpg").text          # doctest: +SKIP
    '2021 7'

OpenCV and the FFmpeg inside it print their own log lines ("[ERROR:0@0.06] ... Camera index
out of range", "[tcp @ 0x...] Connection refused") before ours, which say the same in words;
they are silenced here, before OpenCV first reads these settings. LIVEDIGITS_DEBUG=1 keeps them.
"""

from __future__ import annotations

import os

if not os.environ.get("LIVEDIGITS_DEBUG"):
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


def quiet_opencv() -> None:
    """Silence OpenCV's log lines even where the user's program loaded OpenCV before
    livedigits (the settings above are read once, when it loads); unless LIVEDIGITS_DEBUG.
    The command line and the API call it before reading anything."""
    if not os.environ.get("LIVEDIGITS_DEBUG"):
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


__all__ = ["Reader", "Reading", "Digit", "Number"]


def __getattr__(name: str):
    """The API (`livedigits.api`) loads on first use, so `import livedigits` stays light."""
    if name in __all__:
        from livedigits import api

        return getattr(api, name)
    raise AttributeError(f"module 'livedigits' has no attribute {name!r}")
