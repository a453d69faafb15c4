"""Which cameras open: `livedigits run --list-cameras`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import cv2

MAX_INDEX = 10  # indexes probed: 0..9


@dataclass
class Camera:
    index: int
    name: str  # from the platform where it says, else ""
    size: tuple[int, int] | None  # of a first frame, when one came


def camera_name(index: int, sysfs: Path = Path("/sys/class/video4linux")) -> str:
    """The device's own name on Linux (/sys/class/video4linux/videoN/name); '' elsewhere."""
    try:
        return (sysfs / f"video{index}" / "name").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def list_cameras(max_index: int = MAX_INDEX, opener=cv2.VideoCapture) -> list[Camera]:
    """The cameras that open, by index; each is closed again at once."""
    found = []
    for i in range(max_index):
        if sys.platform.startswith("linux") and not Path(f"/dev/video{i}").exists():
            continue  # nothing to open: skip the driver's slow failure
        cap = opener(i)
        try:
            if not cap.isOpened():
                continue
            ok, image = cap.read()
            size = (image.shape[1], image.shape[0]) if ok and image is not None else None
        finally:
            cap.release()
        found.append(Camera(i, camera_name(i), size))
    return found


def format_cameras(cameras: list[Camera]) -> str:
    """One line per camera, or a line saying there is none."""
    if not cameras:
        return ("no camera opens (probed indexes 0-9); a phone or IP camera can be read by "
                "its URL: livedigits run http://PHONE:8080/video")
    lines = []
    for c in cameras:
        size = f"{c.size[0]}x{c.size[1]}" if c.size else "no frame yet"
        lines.append(f"{c.index}  {c.name or 'camera'}  ({size})")
    return "\n".join(lines)
