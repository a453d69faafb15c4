"""Training-time augmentation that makes MNIST look like what the camera pipeline feeds the model.

Two families: `classic` jitters the 28x28 digit itself (rotation, scale, shear, shift), and
`camera` re-renders it the way a thresholded webcam crop comes out (a digit redrawn at camera
resolution, blurred, thresholded at a random level for thinner or thicker strokes, tilted,
sometimes cut by an edge) and then normalises it with the live pipeline's own `to_mnist`.
"""

from __future__ import annotations

import cv2
import numpy as np

from livedigits.negatives import make_negative
from livedigits.preprocess import to_mnist
from livedigits.spec import MNIST_SIZE, NOT_A_DIGIT

UP = 3  # camera-style digits are redrawn at 3x MNIST resolution


def _affine(size: float, rng: np.random.Generator, rot: float, scale: tuple[float, float],
            shear: float, shift: float) -> np.ndarray:
    """A random 2x3 affine about the centre of a `size` square."""
    a = np.deg2rad(rng.uniform(-rot, rot))
    sx = rng.uniform(*scale)
    sy = sx * rng.uniform(0.85, 1.15)
    sh = rng.uniform(-shear, shear)
    m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array(
        [[sx, sh], [0, sy]]
    )
    c = np.array([size / 2, size / 2])
    t = c - m @ c + rng.uniform(-shift, shift, 2)
    return np.hstack([m, t[:, None]]).astype(np.float32)


def classic(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small rotation, scale, shear and shift of a 28x28 digit."""
    m = _affine(28, rng, rot=12, scale=(0.9, 1.1), shear=0.2, shift=2.0)
    return cv2.warpAffine(digit, m, (MNIST_SIZE, MNIST_SIZE), flags=cv2.INTER_LINEAR)


def camera(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Redraw a digit as a thresholded camera crop, then normalise it like the live pipeline."""
    size = 28 * UP
    big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), rng.uniform(0.8, 3.0))
    if rng.random() < 0.5:  # sensor noise ruffles the edges the threshold finds
        noise = rng.normal(0, rng.uniform(5, 30), big.shape)
        big = np.clip(big + noise, 0, 255).astype(np.uint8)
    m = _affine(size, rng, rot=15, scale=(0.85, 1.1), shear=0.3, shift=3.0)
    big = cv2.warpAffine(big, m, (size, size), flags=cv2.INTER_LINEAR)
    mask = (big > rng.uniform(0.25, 0.7) * max(int(big.max()), 1)).astype(np.uint8) * 255
    if rng.random() < 0.3:
        k = int(rng.integers(2, 5))
        op = cv2.dilate if rng.random() < 0.6 else cv2.erode
        thick = op(mask, np.ones((k, k), np.uint8))
        if thick.any():
            mask = thick
    if rng.random() < 0.1:  # partly cut by the frame edge
        cut = int(size * rng.uniform(0.05, 0.15))
        side = int(rng.integers(4))
        if side == 0:
            mask[:cut] = 0
        elif side == 1:
            mask[-cut:] = 0
        elif side == 2:
            mask[:, :cut] = 0
        else:
            mask[:, -cut:] = 0
    out = to_mnist(mask)
    if rng.random() < 0.25:  # slightly off-centre, as a loose crop gives
        dx, dy = rng.integers(-2, 3, 2)
        out = np.roll(out, (int(dy), int(dx)), axis=(0, 1))
    if rng.random() < 0.2:  # contrast and blur of a soft crop
        out = cv2.GaussianBlur(out, (3, 3), 0)
        out = (out.astype(np.float32) * rng.uniform(0.6, 1.0)).astype(np.uint8)
    return out


def augment_batch(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                  neg_fraction: float, neg_digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Augment a batch of digits, replacing `neg_fraction` of it with non-digit marks."""
    out = np.empty_like(x)
    labels = y.astype(np.int64).copy()
    for i in range(len(x)):
        r = rng.random()
        if r < neg_fraction:
            out[i] = make_negative(rng, neg_digits)
            labels[i] = NOT_A_DIGIT
        elif r < neg_fraction + 0.45:
            out[i] = camera(x[i], rng)
        elif r < neg_fraction + 0.9:
            out[i] = classic(x[i], rng)
        else:
            out[i] = x[i]
    return out, labels
