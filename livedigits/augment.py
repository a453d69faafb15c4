"""Training-time augmentation that makes MNIST look like what the camera pipeline feeds the model.

Four families: `classic` jitters the 28x28 digit itself (rotation, scale, shear, shift);
`camera` re-renders it the way a thresholded webcam crop comes out (a digit redrawn at camera
resolution, blurred, thresholded at a random level for thinner or thicker strokes, tilted,
sometimes cut by an edge); `restyle` changes the writer, not only the geometry (the digit
re-stroked with another pen: tablet polylines, ballpoint, marker; elastic distortion, thinning
or thickening, slant); `font_digit` prints the digit in one of OpenCV's Hershey fonts with
jitter (printed digits must read too, e.g. a sudoku's givens). All but `classic` end in the
live pipeline's own `to_mnist`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from livedigits import strokes
from livedigits.negatives import make_negative
from livedigits.preprocess import to_mnist
from livedigits.spec import MNIST_SIZE, NOT_A_DIGIT

UP = 3  # camera-style digits are redrawn at 3x MNIST resolution
STYLE_SIDE = 112  # re-stroked digits are drawn on a canvas this big (4x MNIST)
HERSHEY = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
           cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
           cv2.FONT_HERSHEY_SCRIPT_COMPLEX)


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


def elastic(mask: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A smooth random warp (Simard et al.'s elastic distortion) of about `amount` px."""
    h, w = mask.shape
    dx = strokes.smooth_field(rng, (h, w), 5) * amount
    dy = strokes.smooth_field(rng, (h, w), 5) * amount
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, gx + dx, gy + dy, cv2.INTER_LINEAR)


def weight(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Thinner or thicker strokes: a binary mask eroded or dilated by a small disc, unless
    that would erase it."""
    r = int(rng.integers(1, 4))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    out = cv2.dilate(mask, disc) if rng.random() < 0.5 else cv2.erode(mask, disc)
    return out if (out > 0).sum() > 0.3 * (mask > 0).sum() else mask


def _style_affine(rng: np.random.Generator, side: float) -> np.ndarray:
    """Slant, tilt and width of another writer: a shear up to +-0.35, rotation up to 10 deg."""
    a = np.deg2rad(rng.uniform(-10, 10))
    sx = rng.uniform(0.75, 1.2)
    m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array(
        [[sx, rng.uniform(-0.35, 0.35)], [0, 1.0]])
    c = np.array([side / 2, side / 2])
    return np.hstack([m, (c - m @ c)[:, None]]).astype(np.float32)


def restyle(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit as another writer would draw it: mostly re-stroked with a random pen
    (width, pressure, corner sharpness), else its own ink thinned or thickened; slanted,
    sometimes elastically warped, then normalised like the live pipeline."""
    side = STYLE_SIDE
    m = _style_affine(rng, side)
    if rng.random() < 0.75:
        paths, size = strokes.digit_strokes(digit)
        paths = strokes.transform([p * (side / size) for p in paths], m)
        if rng.random() < 0.3:
            paths = strokes.jitter(strokes.densify(paths, 4.0), rng, rng.uniform(0.5, 1.5))
        pen = strokes.Pen(width=rng.uniform(2.5, 10.0), pressure=rng.uniform(0.0, 0.5),
                          corner=rng.uniform(1.0, 6.0))
        mask = strokes.draw(paths, (side, side), pen, rng)
    else:
        big = cv2.resize(digit, (side, side), interpolation=cv2.INTER_LINEAR)
        big = cv2.warpAffine(big, m, (side, side), flags=cv2.INTER_LINEAR)
        mask = np.where(big > rng.uniform(60, 160), 255, 0).astype(np.uint8)
        mask = weight(mask, rng)
    if rng.random() < 0.4:
        warped = elastic(mask, rng, rng.uniform(1.5, 4.0))
        mask = np.where(warped >= 128, 255, 0).astype(np.uint8)
    return to_mnist(mask)


def font_digit(label: int, rng: np.random.Generator) -> np.ndarray:
    """A printed digit: a Hershey font (sometimes italic), random weight, slant and tilt."""
    side = STYLE_SIDE
    img = np.zeros((side, side), np.uint8)
    font = HERSHEY[int(rng.integers(len(HERSHEY)))]
    if rng.random() < 0.25:
        font |= cv2.FONT_ITALIC
    scale = 2.6 if font & 0xF != cv2.FONT_HERSHEY_PLAIN else 5.0
    cv2.putText(img, str(int(label)), (30, 86), font, scale, 255, int(rng.integers(2, 10)),
                cv2.LINE_AA)
    m = _style_affine(rng, side)
    m[:, :2] = m[:, :2] * 0.5 + np.eye(2) * 0.5  # half the writer's slant: print is upright
    img = cv2.warpAffine(img, m, (side, side), flags=cv2.INTER_LINEAR)
    return to_mnist(np.where(img >= 128, 255, 0).astype(np.uint8))


NEG_FRACTION = 0.15  # of a training batch: non-digit marks, so "not a digit" stays sharp


@dataclass(frozen=True)
class Mix:
    """Shares of a training batch by kind of digit; what marks and these leave is plain MNIST.

    The default is the from-scratch recipe; a polishing run after it can shift weight back to
    MNIST-like digits (`livedigits train --init ... --mix restyle=0.12,camera=0.2`).
    """

    camera: float = 0.30
    classic: float = 0.25
    restyle: float = 0.23
    printed: float = 0.04

    @classmethod
    def parse(cls, text: str, neg_fraction: float) -> Mix:
        """`camera=0.2,restyle=0.12` over the defaults; ValueError saying what is wrong."""
        shares = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            kind, _, value = part.partition("=")
            if kind not in cls.__dataclass_fields__:
                raise ValueError(f"unknown kind {kind!r}: use camera, classic, restyle, printed")
            try:
                shares[kind] = float(value)
            except ValueError:
                raise ValueError(f"{part!r} is not KIND=SHARE (e.g. camera=0.2)") from None
            if not 0 <= shares[kind] <= 1:
                raise ValueError(f"{part!r}: a share is between 0 and 1")
        mix = replace(cls(), **shares)
        if mix.plain(neg_fraction) < -1e-9:
            raise ValueError(f"the shares and the marks' {neg_fraction} add up to more than 1")
        return mix

    def plain(self, neg_fraction: float) -> float:
        """The share left as plain MNIST digits once `neg_fraction` of a batch are marks."""
        return 1.0 - neg_fraction - self.camera - self.classic - self.restyle - self.printed


def augment_batch(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                  neg_fraction: float, neg_digits: np.ndarray,
                  mix: Mix = Mix()) -> tuple[np.ndarray, np.ndarray]:
    """Augment a batch of digits, replacing `neg_fraction` of it with non-digit marks."""
    out = np.empty_like(x)
    labels = y.astype(np.int64).copy()
    edges = np.cumsum([neg_fraction, mix.camera, mix.classic, mix.restyle, mix.printed])
    for i in range(len(x)):
        kind = int(np.searchsorted(edges, rng.random(), side="right"))
        if kind == 0:
            out[i] = make_negative(rng, neg_digits)
            labels[i] = NOT_A_DIGIT
        elif kind == 1:
            out[i] = camera(x[i], rng)
        elif kind == 2:
            out[i] = classic(x[i], rng)
        elif kind == 3:
            out[i] = restyle(x[i], rng)
        elif kind == 4:
            out[i] = font_digit(int(y[i]), rng)
        else:
            out[i] = x[i]
    return out, labels
