"""Turn an ink crop into an MNIST-like 28x28 image.

This is the one normalisation shared by the live pipeline and the trainer, so the model
always sees crops made the same way MNIST was made: aspect ratio kept, the longest side
fitted into 20 px with anti-aliasing, the centre of mass put in the middle of 28x28.
"""

from __future__ import annotations

import cv2
import numpy as np

from livedigits.spec import MNIST_SIZE

DIGIT_BOX = 20
MAX_DESKEW = 50.0  # degrees; a steeper "row" is a column of digits, not a tilted line


def to_mnist(ink: np.ndarray, box: int = DIGIT_BOX) -> np.ndarray:
    """Normalise one ink image (uint8, ink bright on 0) into a 28x28 uint8 MNIST-like digit.

    >>> ink = np.zeros((60, 30), np.uint8); ink[5:55, 12:18] = 255
    >>> out = to_mnist(ink); out.shape, int(out[:, :4].max())
    ((28, 28), 0)
    """
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.uint8)
    if ink.ndim != 2 or ink.size == 0:
        return out
    ys, xs = np.nonzero(ink)
    if ys.size == 0:
        return out
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (nw, nh), interpolation=interp)
    m = cv2.moments(small)
    if m["m00"] <= 0:
        cy, cx = nh / 2, nw / 2
    else:
        cy, cx = m["m01"] / m["m00"], m["m10"] / m["m00"]
    # MNIST shifts by whole pixels; clamp so the digit never leaves the canvas.
    top = int(np.clip(round(MNIST_SIZE / 2 - cy), 0, MNIST_SIZE - nh))
    left = int(np.clip(round(MNIST_SIZE / 2 - cx), 0, MNIST_SIZE - nw))
    out[top : top + nh, left : left + nw] = small
    return out


def upright(mask: np.ndarray, angle: float) -> np.ndarray:
    """Rotate a crop so that its row, tilted by `angle` degrees, becomes horizontal."""
    if abs(angle) < 8.0 or abs(angle) > MAX_DESKEW or mask.size == 0:
        return mask
    h, w = mask.shape
    side = int(np.ceil(np.hypot(h, w)))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 2] += ((side - w) / 2, (side - h) / 2)
    return cv2.warpAffine(mask, m, (side, side), flags=cv2.INTER_LINEAR)


def make_crops(masks: list[np.ndarray], angles: np.ndarray) -> np.ndarray:
    """MNIST-like 28x28 crops for a frame's ink masks, each turned upright along its row."""
    out = np.zeros((len(masks), MNIST_SIZE, MNIST_SIZE), np.uint8)
    for i, (m, a) in enumerate(zip(masks, angles, strict=True)):
        out[i] = to_mnist(upright(m, float(a)))
    return out


def to_model_input(digits: np.ndarray) -> np.ndarray:
    """Stack of 28x28 uint8 digits -> float32 (N, 28, 28, 1) in [0, 1], the model's input."""
    x = np.asarray(digits, dtype=np.float32).reshape(-1, MNIST_SIZE, MNIST_SIZE, 1)
    return x / 255.0
