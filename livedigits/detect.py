"""Find digit-like blobs of ink in a frame.

The classic recipe, tuned for paper under a webcam: divide out the uneven illumination,
threshold ink that is clearly darker (or, on a board, lighter) than its local background,
take connected blobs, join the pieces of one digit, and keep what is digit-sized and
digit-shaped. Each kept blob comes with its own ink mask, so a neighbour's ink that reaches
into the box never leaks into the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livedigits.detections import Detections

WORK_SCALE = 4  # the background is estimated on a frame this many times smaller


@dataclass(frozen=True)
class DetectorSettings:
    """Thresholds for what counts as a digit; the defaults suit paper seen by a webcam."""

    invert: bool | None = None  # None: decide per frame (dark ink on paper or light on board)
    contrast: float = 0.22  # ink differs from its background by this fraction ...
    min_diff: int = 18  # ... and by at least this many grey levels
    min_height: int = 12  # pixels
    min_height_frac: float = 0.012  # of the frame height
    max_height_frac: float = 0.7
    max_aspect: float = 1.6  # width / height; wider blobs are lines, pens or touching digits
    min_density: float = 0.06  # ink pixels / box area
    max_blob_density: float = 0.62  # a wide blob this full is a dot or smudge, not a digit
    relative_min: float = 0.4  # drop blobs shorter than this times the median digit height


@dataclass
class Blobs:
    """Detected digit boxes with their binary ink crops (uint8, 255 = ink), one per box."""

    detections: Detections
    masks: list[np.ndarray]
    inverted: bool


def as_gray(frame: np.ndarray) -> np.ndarray:
    """Any image (1, 3 or 4 channels; uint8, uint16 or float) as 2-D uint8 grey.

    >>> as_gray(np.full((2, 2, 3), 65535, np.uint16)).tolist()
    [[255, 255], [255, 255]]
    """
    img = np.asarray(frame)
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[:, :, 0]
        else:
            img = img[:, :, :3].mean(axis=2) if img.dtype != np.uint8 else cv2.cvtColor(
                np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_BGR2GRAY)
    if img.ndim != 2:
        return np.zeros((0, 0), np.uint8)
    if img.dtype == np.uint8:
        return img
    img = np.nan_to_num(img.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if img.dtype.kind == "f" and np.asarray(frame).dtype.kind == "f" and img.max() <= 1.0:
        img = img * 255.0
    elif np.asarray(frame).dtype == np.uint16:
        img = img / 257.0
    return np.clip(img, 0, 255).astype(np.uint8)


def background(gray: np.ndarray) -> np.ndarray:
    """The paper's brightness without the ink: a median over a window wider than any stroke."""
    h, w = gray.shape
    sw, sh = max(1, w // WORK_SCALE), max(1, h // WORK_SCALE)
    small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA)
    k = max(3, (min(sw, sh) // 8) | 1)
    k = min(k, 255)  # OpenCV's uint8 median blur supports any odd size, keep it bounded
    bg = cv2.medianBlur(small, k) if min(sw, sh) >= k else np.full_like(small, np.median(small))
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)


def ink_mask(gray: np.ndarray, settings: DetectorSettings) -> tuple[np.ndarray, bool]:
    """Binary ink mask (255 = ink) and whether the ink is lighter than the background."""
    bg = background(gray)
    g16, b16 = gray.astype(np.int16), bg.astype(np.int16)
    darker = b16 - g16
    margin = np.maximum(settings.min_diff, (bg * settings.contrast).astype(np.int16))
    dark = darker > margin
    if settings.invert is False:
        return dark.view(np.uint8) * 255, False
    light_margin = np.maximum(settings.min_diff, ((255 - b16) * settings.contrast).astype(np.int16))
    light = -darker > light_margin
    inverted = bool(settings.invert) or (
        settings.invert is None and np.count_nonzero(light) > 2 * np.count_nonzero(dark))
    return (light if inverted else dark).view(np.uint8) * 255, inverted


def remove_lines(mask: np.ndarray) -> np.ndarray:
    """Take out ruled lines, margin lines and pen bodies: ink runs far longer than a digit.

    The runs are found on a copy thickened across the line, so slightly tilted lines count too;
    only the original ink under them is removed.
    """
    h, w = mask.shape
    out = mask
    horizontal = (max(40, w // 5), w, (7, 1), (1, max(40, w // 5)))
    vertical = (max(40, int(0.45 * h)), h, (1, 7), (max(40, int(0.45 * h)), 1))
    for length, axis_len, across, along in (horizontal, vertical):
        if axis_len <= length:
            continue
        thick = cv2.dilate(mask, np.ones(across, np.uint8))
        kernel = np.ones(along, np.uint8)
        lines = cv2.morphologyEx(thick, cv2.MORPH_OPEN, kernel)
        if lines.any():
            out = cv2.bitwise_and(out, cv2.bitwise_not(lines))
    return out


def _join_pieces(boxes: np.ndarray) -> np.ndarray:
    """Group ids that join boxes belonging to one digit (a 5's flag, a faint 7's stroke).

    Two pieces join when they overlap horizontally for most of the narrower one and the
    vertical gap between them is small next to their height.
    """
    n = len(boxes)
    group = np.arange(n)
    if n < 2:
        return group
    x0, y0, x1, y1 = boxes.T
    w, h = x1 - x0, y1 - y0
    ox = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
    gy = np.maximum(y0[:, None], y0[None]) - np.minimum(y1[:, None], y1[None])
    narrow = np.minimum(w[:, None], w[None])
    tall = np.maximum(h[:, None], h[None])
    small = np.minimum(h[:, None] * w[:, None], h[None] * w[None])
    big = np.maximum(h[:, None] * w[:, None], h[None] * w[None])
    joined_h = np.maximum(y1[:, None], y1[None]) - np.minimum(y0[:, None], y0[None])
    link = (ox > 0.5 * narrow) & (gy < 0.25 * tall) & (small < 0.5 * big) & (joined_h < 1.6 * tall)
    np.fill_diagonal(link, False)
    for i, j in zip(*np.nonzero(np.triu(link)), strict=True):
        gi, gj = group[i], group[j]
        if gi != gj:
            group[group == gj] = gi
    return group


def _has_hole(mask: np.ndarray) -> bool:
    """Whether ink encloses paper: what tells a thick 0, 6, 8 or 9 from a filled blot."""
    paper = np.pad(~mask, 1, constant_values=True).view(np.uint8)
    n, labels = cv2.connectedComponents(paper, connectivity=4)
    return n > 2 and np.count_nonzero(labels > 1) >= 0.02 * mask.size


def detect(frame: np.ndarray, settings: DetectorSettings | None = None) -> Blobs:
    """Boxes and ink masks of the digit-like blobs in a frame (BGR or grey, any dtype).

    >>> page = np.full((120, 160), 230, np.uint8)
    >>> _ = cv2.putText(page, "7", (60, 90), cv2.FONT_HERSHEY_SIMPLEX, 2, 20, 6)
    >>> len(detect(page).detections)
    1
    """
    s = settings or DetectorSettings()
    gray = as_gray(frame)
    if gray.ndim != 2 or min(gray.shape, default=0) < 8:
        return Blobs(Detections.empty(), [], False)
    mask, inverted = ink_mask(gray, s)
    mask = remove_lines(mask)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    H, W = gray.shape
    min_h = max(s.min_height, s.min_height_frac * H)
    x, y, w, h, area = (stats[1:, i] for i in range(5))
    ids = np.arange(1, n)
    # Specks cannot be part of a digit; dropping them first keeps the joining step small.
    keep = (area >= max(8, (min_h * min_h) // 40)) & (h < s.max_height_frac * H)
    keep &= (x > 0) & (y > 0) & (x + w < W) & (y + h < H)
    ids, x, y, w, h, area = (a[keep] for a in (ids, x, y, w, h, area))
    boxes = np.stack([x, y, x + w, y + h], axis=1)
    group = _join_pieces(boxes)
    out_boxes, out_ids = [], []
    for g in np.unique(group):
        members = group == g
        b = boxes[members]
        out_boxes.append([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])
        out_ids.append((ids[members], area[members].sum()))
    if not out_boxes:
        return Blobs(Detections.empty(), [], inverted)
    ob = np.array(out_boxes, np.int32)
    bw, bh = ob[:, 2] - ob[:, 0], ob[:, 3] - ob[:, 1]
    ink = np.array([a for _, a in out_ids], np.float64)
    density = ink / np.maximum(bw * bh, 1)
    ok = (bh >= min_h) & (bw <= s.max_aspect * bh) & (density >= s.min_density)
    for i in np.flatnonzero(ok & (bw > 0.45 * bh) & (density > s.max_blob_density)):
        x0, y0, x1, y1 = ob[i]
        ok[i] = _has_hole(np.isin(labels[y0:y1, x0:x1], out_ids[i][0]))
    if ok.sum() >= 3:  # with a few digits in view, what is far smaller than them is noise
        ok &= bh >= s.relative_min * np.median(bh[ok])
    masks = []
    for i in np.flatnonzero(ok):
        x0, y0, x1, y1 = ob[i]
        crop = labels[y0:y1, x0:x1]
        masks.append(np.isin(crop, out_ids[i][0]).view(np.uint8) * 255)
    return Blobs(Detections(ob[ok]), masks, inverted)
