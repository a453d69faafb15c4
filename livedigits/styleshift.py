"""The style-shift check: digits in writing styles the trainer never produces.

MNIST test digits redrawn by a held-back family of pens, with its own seed and parameters
that `augment` never uses: a broad calligraphy nib (the width follows the stroke's
direction), a dry ballpoint that skips, a felt-tip that blots where the hand stops, and a
tablet pen whose strokes are cut into straighter polylines and drawn heavier than any pen
the trainer uses.
Beside them, where `../shared/realworld/` is present, the single-digit photos in it, each
digit's own ink normalised the MNIST way. `livedigits evaluate` reports both beside
MNIST.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from livedigits import strokes
from livedigits.preprocess import to_mnist

SEED = 20_261_130  # never used by training
SIZE = 2000  # MNIST test digits in the set
SIDE = 112
FAMILIES = ("nib", "skip", "blot", "tablet")
ENV_VAR = "LIVEDIGITS_REALWORLD"


def _paths(digit: np.ndarray, rng: np.random.Generator) -> list[strokes.Path]:
    """A digit's strokes on the SIDE canvas, tilted a little (no slant: that is training's)."""
    paths, size = strokes.digit_strokes(digit)
    m = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), float(rng.uniform(-6, 6)), 1.0)
    return strokes.transform([p * (SIDE / size) for p in paths], m.astype(np.float32))


def nib_pen(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A broad nib held at 30-60 degrees: thick downstrokes, hairline cross-strokes."""
    paths = strokes.densify(_paths(digit, rng), 1.5)
    return strokes.nib(paths, (SIDE, SIDE), rng.uniform(11, 15),
                       np.deg2rad(rng.uniform(30, 60)), rng.uniform(0.1, 0.2))


def skipping_ballpoint(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A thin ballpoint running dry: short gaps every few millimetres of stroke."""
    out = []
    for p in strokes.densify(_paths(digit, rng), 1.0):
        keep = np.ones(len(p), bool)
        i = int(rng.integers(8, 20))
        while i < len(p):
            gap = int(rng.integers(2, 5))
            keep[i : i + gap] = False
            i += gap + int(rng.integers(14, 30))
        # Each kept run is its own stroke, so the pen lifts across the gap.
        starts = np.flatnonzero(np.diff(np.r_[0, keep.astype(int)]) == 1)
        ends = np.flatnonzero(np.diff(np.r_[keep.astype(int), 0]) == -1) + 1
        out += [p[a:b] for a, b in zip(starts, ends, strict=True)]
    pen = strokes.Pen(width=rng.uniform(3.0, 4.5))
    return strokes.draw(out, (SIDE, SIDE), pen, rng)


def blotting_felt_tip(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A felt-tip that leaves a blot of ink at each corner and stroke end."""
    paths = _paths(digit, rng)
    width = rng.uniform(5.0, 7.0)
    img = strokes.draw(paths, (SIDE, SIDE), strokes.Pen(width=width), rng)
    for p in paths:
        corners = cv2.approxPolyDP(p.reshape(-1, 1, 2), 4.0, True).reshape(-1, 2)
        for x, y in corners[rng.random(len(corners)) < 0.5]:
            r = int(round(width * rng.uniform(0.7, 1.0)))
            cv2.circle(img, (int(x), int(y)), r, 255, -1, cv2.LINE_AA)
    return np.where(img >= 128, 255, 0).astype(np.uint8)


def tablet_pen(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A tablet stylus sampled coarsely: long straight segments, sharp corners, a heavy line.
    Corner tolerance and width lie beyond the ranges `augment.restyle` draws from."""
    pen = strokes.Pen(width=rng.uniform(12.5, 15.0), corner=rng.uniform(8.0, 11.0))
    return strokes.draw(_paths(digit, rng), (SIDE, SIDE), pen, rng)


PENS = {"nib": nib_pen, "skip": skipping_ballpoint, "blot": blotting_felt_tip,
        "tablet": tablet_pen}


@dataclass
class StyleShiftSet:
    """Digits (N, 28, 28) uint8, their labels and the family that drew each."""

    x: np.ndarray
    y: np.ndarray
    family: np.ndarray


def style_shift_set(x_test: np.ndarray, y_test: np.ndarray, n: int = SIZE,
                    seed: int = SEED) -> StyleShiftSet:
    """`n` MNIST test digits (spread over the whole test set), each redrawn by one held-back
    pen and normalised with the live pipeline's `to_mnist`; the same set for the same seed."""
    rng = np.random.default_rng(seed)
    n = min(n, len(x_test))
    idx = np.linspace(0, len(x_test) - 1, n).round().astype(int)
    fam = rng.integers(len(FAMILIES), size=n)
    out = np.zeros((n, 28, 28), np.uint8)
    for i, (k, f) in enumerate(zip(idx, fam, strict=True)):
        out[i] = to_mnist(PENS[FAMILIES[f]](x_test[k], rng))
    return StyleShiftSet(out, y_test[idx].astype(np.int64), np.array(FAMILIES)[fam])


def default_realworld() -> Path | None:
    """`$LIVEDIGITS_REALWORLD`, else `../shared/realworld` beside the checkout or the working
    directory; None when there is none."""
    here = Path(__file__).resolve().parents[1]
    for c in (os.environ.get(ENV_VAR), here.parent / "shared/realworld",
              Path.cwd().parent / "shared/realworld"):
        if c and (Path(c) / "labels.csv").is_file():
            return Path(c)
    return None


def close_up_ink(image: np.ndarray, side: int = 400) -> np.ndarray:
    """The ink of a close-up photo of one digit (uint8 0/255 at `side` px): paper brightness by
    a grey closing, ink by Otsu on the darkening, and the pieces that do not touch the border
    and are at least a tenth of the largest. This measures the model on a digit's own ink;
    what the live detector makes of such photos is `score-photos`' business."""
    from livedigits.detect import as_gray

    g = as_gray(image)
    s = side / max(g.shape)
    g = cv2.resize(g, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    bg = cv2.morphologyEx(g, cv2.MORPH_CLOSE,
                          cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (51, 51)))
    _, mask = cv2.threshold(cv2.subtract(bg, g), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    n, lab, st, _ = cv2.connectedComponentsWithStats(mask)
    if n < 2:
        return np.zeros_like(mask)
    x, y, w, h, area = st[1:].T
    h_img, w_img = mask.shape
    keep = (x > 0) & (y > 0) & (x + w < w_img) & (y + h < h_img) & (area >= 0.1 * area.max())
    return (np.r_[False, keep][lab]).astype(np.uint8) * 255


def realworld_singles(root: Path | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The photos of one digit in `root/labels.csv` (kind `single`) as 28x28 crops of their
    ink (`close_up_ink`, then `to_mnist`), with labels and file names; empty without `root`."""
    crops, labels, files = [], [], []
    if root is not None and (root / "labels.csv").is_file():
        with open(root / "labels.csv") as f:
            for row in csv.DictReader(f):
                if row.get("kind") != "single" or not row["digits"].isdigit():
                    continue
                image = cv2.imread(str(root / row["file"]), cv2.IMREAD_COLOR)
                ink = close_up_ink(image) if image is not None else np.zeros((1, 1), np.uint8)
                crops.append(to_mnist(ink))
                labels.append(int(row["digits"]))
                files.append(row["file"])
    if not crops:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), []
    return np.stack(crops), np.array(labels, np.int64), files
