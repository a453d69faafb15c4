"""Digits and marks as pen strokes: thin ink to a skeleton, trace it, redraw it with a pen.

The trainer re-strokes MNIST digits with other pens (tablet, ballpoint, marker), the
style-shift check and `teach`'s test sheets draw with pens the trainer never uses, and the
negative generators draw symbols and letters from hand-made stroke lists. All of them share
these few primitives.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Path = np.ndarray  # (K, 2) float32 x, y points of one stroke

# Bit k of a pixel's neighbourhood code is its neighbour P(k+2) in Zhang and Suen's numbering
# (N, NE, E, SE, S, SW, W, NW); filter2D correlates, so the kernel sits where the neighbour is.
_CODE_KERNEL = np.array([[128, 1, 2], [64, 0, 4], [32, 16, 8]], np.float32)


def _thinning_luts() -> tuple[np.ndarray, np.ndarray]:
    """Deletion tables of Zhang-Suen thinning, one per sub-iteration, indexed by the code."""
    luts = np.zeros((2, 256), np.uint8)
    for code in range(256):
        p = [(code >> k) & 1 for k in range(8)]  # P2..P9
        b = sum(p)
        a = sum(p[k] == 0 and p[(k + 1) % 8] == 1 for k in range(8))
        p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
        if 2 <= b <= 6 and a == 1:
            luts[0, code] = (p2 * p4 * p6 == 0) and (p4 * p6 * p8 == 0)
            luts[1, code] = (p2 * p4 * p8 == 0) and (p2 * p6 * p8 == 0)
    return luts[0], luts[1]


_LUTS = _thinning_luts()


def thin(mask: np.ndarray, max_iter: int = 60) -> np.ndarray:
    """The one-pixel skeleton (uint8 0/1) of a binary mask, by Zhang-Suen thinning.

    cv2.ximgproc.thinning is not in opencv-python, so this is the same method with OpenCV
    primitives: a neighbourhood code by one filter2D, a deletion table by one LUT.

    >>> m = np.zeros((9, 20), np.uint8); m[3:6, 2:18] = 1
    >>> int(thin(m).sum()) < 20, int(thin(m)[:, 4:16].sum(axis=0).max())
    (True, 1)
    """
    img = (np.asarray(mask) > 0).astype(np.uint8)
    for _ in range(max_iter):
        changed = False
        for lut in _LUTS:
            code = cv2.filter2D(img, -1, _CODE_KERNEL, borderType=cv2.BORDER_CONSTANT)
            delete = cv2.LUT(code, lut) & img
            if delete.any():
                img = img - delete
                changed = True
        if not changed:
            break
    return img


def trace(mask: np.ndarray) -> list[Path]:
    """Strokes following a mask's skeleton, one closed walk per connected piece.

    A walk around a one-pixel skeleton passes every branch out and back, so drawing it with
    a pen covers the whole skeleton; loops (0, 6, 8, 9) are walked round.
    """
    skel = thin(mask) * 255
    contours, _ = cv2.findContours(skel, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return [c.reshape(-1, 2).astype(np.float32) for c in contours if len(c) >= 2]


def digit_strokes(digit: np.ndarray, up: int = 2, level: int = 100) -> tuple[list[Path], float]:
    """The strokes of a 28x28 MNIST digit at `up` times its resolution, and that canvas side."""
    big = cv2.resize(digit, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR)
    return trace(big > level), float(big.shape[0])


def transform(paths: list[Path], m: np.ndarray) -> list[Path]:
    """Paths mapped by a 2x3 affine."""
    return [(p @ m[:, :2].T + m[:, 2]).astype(np.float32) for p in paths]


def fit(paths: list[Path], side: float, margin: float = 0.12) -> list[Path]:
    """Paths scaled and moved so their bounding box fills a `side` square, aspect kept."""
    pts = np.concatenate(paths) if paths else np.zeros((1, 2), np.float32)
    lo, hi = pts.min(0), pts.max(0)
    scale = side * (1 - 2 * margin) / max(float((hi - lo).max()), 1.0)
    offset = side / 2 - (lo + hi) / 2 * scale
    return [(p * scale + offset).astype(np.float32) for p in paths]


def smooth_series(rng: np.random.Generator, n: int, cells: int = 4) -> np.ndarray:
    """A smooth random series of `n` values about 0 with spread ~1 (pressure, wobble)."""
    knots = rng.standard_normal(cells + 2).astype(np.float32)
    return np.interp(np.linspace(0, cells + 1, n), np.arange(cells + 2), knots).astype(np.float32)


@dataclass(frozen=True)
class Pen:
    """How a stroke is drawn: width (px), pressure swing (share of width), corner sharpness
    (polyline tolerance in px: 0 follows the curve, larger cuts it into straight segments)."""

    width: float
    pressure: float = 0.0
    corner: float = 0.0


def draw(paths: list[Path], shape: tuple[int, int], pen: Pen, rng: np.random.Generator,
         closed: bool = False) -> np.ndarray:
    """Paths drawn with `pen` on a black canvas: a binary ink mask (uint8 0/255).

    Pressure changes the width in a few runs along each stroke (one polyline call per run).
    """
    img = np.zeros(shape, np.uint8)
    runs = 4 if pen.pressure > 0 else 1
    for p in paths:
        pts = p.reshape(-1, 1, 2)
        if pen.corner > 0 and len(p) > 2:
            pts = cv2.approxPolyDP(pts, pen.corner, closed)
        pts = np.round(pts.reshape(-1, 2)).astype(np.int32)
        if closed and len(pts) > 2:
            pts = np.vstack([pts, pts[:1]])
        if len(pts) == 1:
            pts = np.vstack([pts, pts])
        press = 1 + pen.pressure * smooth_series(rng, runs, cells=2)
        cuts = np.linspace(0, len(pts) - 1, runs + 1).round().astype(int)
        for k in range(runs):
            part = pts[cuts[k] : cuts[k + 1] + 1]
            if len(part) < 2:
                continue
            t = max(1, int(round(pen.width * max(float(press[k]), 0.3))))
            cv2.polylines(img, [part], False, 255, t, cv2.LINE_AA)
    return np.where(img >= 128, 255, 0).astype(np.uint8)


def nib(paths: list[Path], shape: tuple[int, int], width: float, angle: float,
        thin_share: float = 0.2) -> np.ndarray:
    """Paths drawn with a broad calligraphy nib held at `angle` radians: strokes across the nib
    are `width` wide, strokes along it `thin_share` of that. A binary mask (uint8 0/255)."""
    img = np.zeros(shape, np.uint8)
    d = np.array([np.cos(angle), np.sin(angle)], np.float32) * width / 2
    e = np.array([-np.sin(angle), np.cos(angle)], np.float32) * max(width * thin_share, 1) / 2
    for p in paths:
        if len(p) == 1:
            p = np.vstack([p, p])
        for a, b in zip(p[:-1], p[1:], strict=True):
            quad = np.array([a - d - e, a + d - e, b + d + e, b - d + e])
            hull = cv2.convexHull(np.vstack([quad, a - d + e, a + d + e, b + d - e,
                                             b - d - e]).astype(np.float32))
            cv2.fillConvexPoly(img, np.round(hull).astype(np.int32), 255, cv2.LINE_AA)
    return np.where(img >= 128, 255, 0).astype(np.uint8)


def jitter(paths: list[Path], rng: np.random.Generator, amount: float) -> list[Path]:
    """Each stroke's points moved by a smooth wobble of about `amount` px, as a hand does."""
    out = []
    for p in paths:
        n = len(p)
        wob = np.stack([smooth_series(rng, n), smooth_series(rng, n)], axis=1) * amount
        out.append((p + wob).astype(np.float32))
    return out


def densify(paths: list[Path], step: float = 2.0) -> list[Path]:
    """Points every `step` px along each stroke, so a wobble bends straight lines."""
    out = []
    for p in paths:
        if len(p) < 2:
            out.append(p)
            continue
        seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
        s = np.r_[0, np.cumsum(seg)]
        t = np.linspace(0, s[-1], max(2, int(s[-1] / step) + 1))
        out.append(np.stack([np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])],
                            axis=1).astype(np.float32))
    return out


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """A smooth random field over an image, about zero mean, spread ~1, `cells` bumps across."""
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
