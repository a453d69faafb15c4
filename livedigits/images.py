"""Images to BGR uint8: decoding image files, and the one policy for any depth and channels.

Every stage that meets an image of unknown make (sources reading files and cameras, the
detector given a frame, the sinks writing one) converts it here, the same way: grey becomes
BGR, transparent pixels become white paper, 16-bit and float images are stretched to 0-255 by
their value range (floats already in [0, 1] are taken as they are).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livedigits.errors import UserError

IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as BGR uint8, whatever its depth and channels.

    Transparent pixels become white paper, greyscale becomes BGR, 16-bit and float images are
    stretched to 0-255 by their range. JPEG rotation (EXIF) is applied. Unreadable => UserError.

    >>> read_image("page.png").shape                   # doctest: +SKIP
    (480, 640, 3)
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not an image" if path.is_dir() else "does not exist"
        raise UserError(f"{path} {what}")
    try:
        data = np.fromfile(path, np.uint8)  # not cv2.imread: it cannot open non-ASCII paths
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from e
    if data.size == 0:
        raise UserError(f"{path} is an empty file (0 bytes), not an image")
    is_jpeg = data[:3].tobytes() == b"\xff\xd8\xff"
    # IMREAD_UNCHANGED keeps alpha and depth but ignores EXIF rotation, which phone JPEGs need.
    image = cv2.imdecode(data, cv2.IMREAD_COLOR if is_jpeg else cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        if is_text(path):
            raise UserError(f"{path} is a text file, not an image")
        raise UserError(f"cannot decode {path} as an image: the file is damaged or not really a "
                        f"{path.suffix.lstrip('.').upper() or 'image'}; re-save it as PNG or JPEG")
    return to_bgr8(image)


def is_text(path: str | Path, probe: int = 4096) -> bool:
    """Whether a file looks like text (UTF-8 without NUL bytes in its first `probe` bytes): a
    README given as a video needs no advice about codecs."""
    try:
        with open(path, "rb") as f:
            head = f.read(probe)
    except OSError:
        return False
    if not head or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 3  # only a character cut at the end of the probe
    return True


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (grey, grey+alpha, BGR, BGRA; 8/16-bit or float) as BGR uint8."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] > 4:  # not a colour image: its first three planes
        image = image[:, :, :3]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    alpha = None
    if image.ndim == 3 and image.shape[2] in (2, 4):
        alpha = _alpha01(image[:, :, -1])
        image = image[:, :, :-1]
    if image.dtype != np.uint8:
        image = _stretch8(image, None if alpha is None else alpha > 0)
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if alpha is not None:
        # Transparent background is the paper: composite onto white.
        a = alpha[:, :, None]
        image = (image.astype(np.float32) * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(image)


def _alpha01(alpha: np.ndarray) -> np.ndarray:
    """Alpha as float32 in [0, 1]; integer alpha is scaled by its type's full range."""
    if np.issubdtype(alpha.dtype, np.integer):
        return alpha.astype(np.float32) / float(np.iinfo(alpha.dtype).max)
    return np.clip(np.nan_to_num(alpha.astype(np.float32)), 0.0, 1.0)


def _stretch8(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Scale a 16-bit/float image to uint8 by its value range (over `mask`, the opaque pixels).

    Float images already in [0, 1] are taken as they are, so paper stays paper-coloured.
    """
    # In float64: a float32 image's range can exceed float32 (-3e38 to 3e38).
    values = np.nan_to_num(image.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    sample = values[mask] if mask is not None and mask.any() else values
    lo, hi = float(sample.min()), float(sample.max())
    if not np.issubdtype(image.dtype, np.integer) and lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    elif hi <= lo:  # a flat image has no range: integers take the type's, floats are paper
        if not np.issubdtype(image.dtype, np.integer):
            return np.full(values.shape, 255, np.uint8)
        lo, hi = 0.0, float(np.iinfo(image.dtype).max)
    # Halved first: a float64 image spanning -1.7e308..1.7e308 has a range past float64.
    out = (values / 2 - lo / 2) * (255.0 / (hi / 2 - lo / 2))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def to_gray8(image: np.ndarray) -> np.ndarray:
    """Any image as 2-D uint8 grey, by the same policy as `to_bgr8`; (0, 0) when it has no
    pixels or is not an image at all.

    >>> to_gray8(np.full((2, 2, 3), 65535, np.uint16)).tolist()
    [[255, 255], [255, 255]]
    """
    img = np.asarray(image)
    if img.size == 0 or img.ndim not in (2, 3):
        return np.zeros((0, 0), np.uint8)
    if img.dtype == np.uint8 and img.ndim == 2:
        return img
    if not (img.dtype == np.uint8 and img.shape[2] == 3):
        img = to_bgr8(img)
    return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2GRAY)
