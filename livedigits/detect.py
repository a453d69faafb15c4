"""Find digit-like blobs of ink in a frame.

The classic recipe, tuned for paper under a webcam: divide out the uneven illumination,
threshold ink that is clearly darker (or, on a board, lighter) than its local background,
take connected blobs, join the pieces of one digit, and keep what is digit-sized and
digit-shaped. Each kept blob comes with its own ink mask, so a neighbour's ink that reaches
into the box never leaks into the crop.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass

import cv2
import numpy as np

from livedigits.detections import Detections
from livedigits.images import to_gray8

WORK_SCALE = 8  # the background is estimated on a frame this many times smaller
SPLIT_ASPECT = 1.1  # a blob wider than this times its height may be digits that touch
DIGIT_ASPECT = 0.7  # the typical width of a digit against its height, for splitting
MAX_RUN = 4.5  # at most four touching digits are split; wider blobs are lines


@dataclass(frozen=True)
class DetectorSettings:
    """Thresholds for what counts as a digit; the defaults suit paper seen by a webcam."""

    invert: bool | None = None  # None: decide per frame (dark ink on paper or light on board)
    contrast: float = 0.22  # ink differs from its background by this fraction ...
    min_diff: int = 18  # ... and by at least this many grey levels
    min_height: int = 12  # pixels
    min_height_frac: float = 0.012  # of the frame height
    max_height_frac: float = 0.6  # taller marks are margin lines, edges or shadows
    max_aspect: float = 1.6  # width / height; wider blobs are lines, pens or touching digits
    min_density: float = 0.06  # ink pixels / box area
    max_blob_density: float = 0.62  # a wide blob this full is a dot or smudge, not a digit
    relative_min: float = 0.4  # drop blobs shorter than this times the median digit height


@dataclass
class Blobs:
    """Detected digit boxes; each row's binary ink crop (uint8, 255 = ink) is in
    `detections.data["mask"]`.

    A blob wide enough to be touching digits comes twice: whole, and cut into pieces. Rows of
    such a pair share `data["split"]` (-1 for plain blobs) and `data["whole"]` tells which is
    which; the classifier decides which reading stands (see `pipeline.resolve_splits`). Built
    as `Blobs(detections, masks, inverted, split, whole)`; the rows' extras go into `data`.
    """

    detections: Detections
    masks: InitVar[list[np.ndarray]]
    inverted: bool
    split: InitVar[np.ndarray | None] = None
    whole: InitVar[np.ndarray | None] = None

    def __post_init__(self, masks: list[np.ndarray], split: np.ndarray | None,
                      whole: np.ndarray | None) -> None:
        n = len(self.detections)
        self.detections = self.detections.with_data(
            mask=list(masks),
            split=np.full(n, -1, np.int64) if split is None else np.asarray(split, np.int64),
            whole=np.ones(n, bool) if whole is None else np.asarray(whole, bool))


def as_gray(frame: np.ndarray) -> np.ndarray:
    """Any image (1, 3 or 4 channels; uint8, uint16 or float) as 2-D uint8 grey.

    >>> as_gray(np.full((2, 2, 3), 65535, np.uint16)).tolist()
    [[255, 255], [255, 255]]
    """
    return to_gray8(frame)


def background(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frame and the paper's brightness without the ink, both at 1/WORK_SCALE size.

    A median over a window wider than any stroke keeps the paper and drops the ink, whatever
    its polarity; shadows, vignetting and gradients stay in the background and divide out.
    """
    h, w = gray.shape
    sw, sh = max(1, w // WORK_SCALE), max(1, h // WORK_SCALE)
    small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA)
    k = min(max(3, (min(sw, sh) // 5) | 1), 255)
    if min(sw, sh) >= k:
        bg_small = cv2.medianBlur(small, k)
    else:
        bg_small = np.full_like(small, int(np.median(small)))
    return small, bg_small


def _level(bg: np.ndarray, contrast: float, floor: int, inverted: bool) -> np.ndarray:
    """The grey level past which a pixel counts as ink, given its background: darker than the
    background by a share of it (lighter by a share of its distance from white, for chalk),
    and by at least `floor`. A lookup table, so it costs one pass over a small image."""
    b = np.arange(256)
    if inverted:
        level = b + np.maximum(np.round((255 - b) * contrast), floor)
    else:
        level = b - np.maximum(np.round(b * contrast), floor)
    return cv2.LUT(bg, level.clip(0, 255).astype(np.uint8))


def _past(gray: np.ndarray, level: np.ndarray, inverted: bool) -> np.ndarray:
    """255 where `gray` is beyond `level` on the ink side."""
    return cv2.compare(gray, level, cv2.CMP_GT if inverted else cv2.CMP_LT)


def _is_light_ink(small: np.ndarray, bg_small: np.ndarray, s: DetectorSettings) -> bool:
    """Chalk on a board: far more pixels stand out above the background than below it."""
    dark = _past(small, _level(bg_small, s.contrast, s.min_diff, False), False)
    light = _past(small, _level(bg_small, s.contrast, s.min_diff, True), True)
    return cv2.countNonZero(light) > 2 * cv2.countNonZero(dark)


def ink_mask(gray: np.ndarray, settings: DetectorSettings
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Masks (255 = set) of ink at full size, and at half size of faint marks (for finding
    ruled lines) and of strong ink (pen strokes a ruling must not erase); and whether the ink
    is lighter than the background (chalk on a board).

    The thresholds are worked out on the small background and scaled up as one level map,
    so the full-size frame is touched by one resize and one compare.
    """
    s = settings
    small, bg_small = background(gray)
    inv = s.invert if s.invert is not None else _is_light_ink(small, bg_small, s)
    h, w = gray.shape
    level = cv2.resize(_level(bg_small, s.contrast, s.min_diff, inv), (w, h),
                       interpolation=cv2.INTER_LINEAR)
    ink = _past(gray, level, inv)
    half = (max(1, w // 2), max(1, h // 2))
    # The most ink-like pixel of each 2x2 block: a one-pixel ruling survives the halving.
    pooled = cv2.resize((cv2.dilate if inv else cv2.erode)(gray, np.ones((2, 2), np.uint8)),
                        half, interpolation=cv2.INTER_NEAREST)
    faint = _past(pooled, cv2.resize(_level(bg_small, s.contrast / 2, s.min_diff // 2, inv),
                                     half, interpolation=cv2.INTER_LINEAR), inv)
    strong = _past(pooled, cv2.resize(_level(bg_small, s.contrast * 2, s.min_diff * 2, inv),
                                      half, interpolation=cv2.INTER_LINEAR), inv)
    return ink, faint, strong, bool(inv)


def line_mask(faint: np.ndarray, strong: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """What to take out of the ink, at full size: ruled lines and pens (horizontal; but not
    the strong ink of a digit's stroke that runs along them) and margin lines and the sheet's
    edge (vertical; entirely). These are marks far longer than any digit.

    Both are found on the half-size faint mask, so a pale blue ruling counts in full, not
    only where it happens to pass the ink threshold. Rulings: runs of at least a fifth of the
    width on a copy thickened across, so slightly tilted lines count. Margins: straight
    segments over 60% of the height at any tilt (a digit is never that tall).
    """
    half = faint
    hh, hw = half.shape
    # A region solid in both directions is a blot or a shadow, not a line: keep its ink.
    solid = cv2.morphologyEx(half, cv2.MORPH_OPEN, np.ones((8, 8), np.uint8))
    marks = cv2.bitwise_and(half, cv2.bitwise_not(solid))
    ruled = np.zeros_like(marks)
    length = max(20, hw // 5)
    if hw > length:
        thick = cv2.dilate(marks, np.ones((7, 1), np.uint8))
        runs = cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((1, length), np.uint8))
        ruled = cv2.bitwise_and(runs, marks)  # the marks themselves, not the thickened band
    margin = np.zeros_like(marks)
    if hh >= 40:
        # On `half`, not `marks`: the edge of the sheet against a dark desk is a solid band.
        # Only near-vertical runs go in: Hough's cost grows with the pixels it is given.
        upright = cv2.morphologyEx(cv2.dilate(half, np.ones((1, 3), np.uint8)), cv2.MORPH_OPEN,
                                   np.ones((max(8, hh // 20), 1), np.uint8))
        quarter = cv2.compare(cv2.resize(upright, (hw // 2, hh // 2),
                                         interpolation=cv2.INTER_AREA), 0, cv2.CMP_GT)
        qh = hh // 2
        segments = cv2.HoughLinesP(quarter, 1, np.pi / 180, threshold=int(0.4 * qh),
                                   minLineLength=int(0.6 * qh), maxLineGap=max(2, qh // 25))
        for x0, y0, x1, y1 in (segments.reshape(-1, 4) if segments is not None else []):
            if abs(x1 - x0) < 0.3 * abs(y1 - y0):
                cv2.line(margin, (int(2 * x0), int(2 * y0)), (int(2 * x1), int(2 * y1)), 255, 9)
        margin = cv2.bitwise_and(margin, half)
    if not (cv2.countNonZero(ruled) or cv2.countNonZero(margin)):
        return np.zeros((size[1], size[0]), np.uint8)
    edge = np.ones((3, 3), np.uint8)  # the anti-aliased edges of a line too
    lines = cv2.bitwise_or(cv2.bitwise_and(cv2.dilate(ruled, edge), cv2.bitwise_not(strong)),
                           cv2.dilate(margin, edge))
    return cv2.resize(lines, size, interpolation=cv2.INTER_NEAREST)


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
    stacked = (ox > 0.5 * narrow) & (gy < 0.25 * tall)
    # A flag or a stroke just above or below the body, overlapping it a little (a 5's bar).
    capped = (ox > 0.15 * narrow) & (gy >= -2) & (gy < 0.2 * tall)
    link = (stacked | capped) & (small < 0.5 * big) & (joined_h < 1.6 * tall)
    np.fill_diagonal(link, False)
    for i, j in zip(*np.nonzero(np.triu(link)), strict=True):
        gi, gj = group[i], group[j]
        if gi != gj:
            group[group == gj] = gi
    return group


def split_touching(blob: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Cut a blob of digits written so close that their ink touches into one piece per digit.

    The number of digits comes from the blob's width against its height; each cut goes
    through the column with the least ink near where it is expected. Returns (x offset, mask).
    """
    h, w = blob.shape
    k = int(np.clip(round(w / (DIGIT_ASPECT * h)), 2, 4))
    ink = blob.sum(axis=0).astype(np.float64)
    step = w / k
    cuts = [0]
    for j in range(1, k):
        lo, hi = int(j * step - 0.3 * step), int(j * step + 0.3 * step) + 1
        cuts.append(lo + int(np.argmin(ink[lo:hi])))
    cuts.append(w)
    return [(a, blob[:, a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


def _has_hole(mask: np.ndarray) -> bool:
    """Whether ink encloses paper: what tells a thick 0, 6, 8 or 9 from a filled blot."""
    paper = np.pad(~mask, 1, constant_values=True).view(np.uint8)
    n, labels = cv2.connectedComponents(paper, connectivity=4)
    return bool(n > 2 and np.count_nonzero(labels > 1) >= 0.02 * mask.size)


def _is_blot(mask: np.ndarray) -> bool:
    """A filled, convex mark with no paper inside: a dot or a blot. A thick 8 or 0 has a hole
    or at least a waist, so it goes on to the model."""
    if _has_hole(mask):
        return False
    contours, _ = cv2.findContours(mask.view(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    c = max(contours, key=cv2.contourArea)
    hull = cv2.contourArea(cv2.convexHull(c))
    return hull > 0 and cv2.contourArea(c) / hull > 0.92


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
    mask, faint, strong, inverted = ink_mask(gray, s)
    lines = line_mask(faint, strong, (gray.shape[1], gray.shape[0]))
    mask = cv2.bitwise_and(mask, cv2.bitwise_not(lines))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    H, W = gray.shape
    min_h = max(s.min_height, s.min_height_frac * H)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return Blobs(Detections.empty(), [], inverted)
    rects = np.array([cv2.boundingRect(c) for c in contours], np.int32).reshape(-1, 4)
    x, y, w, h = rects.T
    # Specks cannot be part of a digit; dropping them first keeps the joining step small.
    keep = (np.maximum(w, h) >= min_h / 4) & (h < s.max_height_frac * H)
    keep &= (x > 0) & (y > 0) & (x + w < W) & (y + h < H)
    if not keep.any():
        return Blobs(Detections.empty(), [], inverted)
    contours = [c for c, k in zip(contours, keep, strict=True) if k]
    x, y, w, h = x[keep], y[keep], w[keep], h[keep]
    boxes = np.stack([x, y, x + w, y + h], axis=1)
    group = _join_pieces(boxes)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    ob = np.concatenate([np.minimum.reduceat(boxes[order, :2], starts),
                         np.maximum.reduceat(boxes[order, 2:], starts)], axis=1).astype(np.int32)
    members = np.split(order, starts[1:])
    bw, bh = ob[:, 2] - ob[:, 0], ob[:, 3] - ob[:, 1]
    ok = (bh >= min_h) & (bw <= MAX_RUN * bh)
    if ok.sum() >= 3:  # with a few digits in view, what is far smaller than them is noise
        ok &= bh >= s.relative_min * np.median(bh[ok])
    boxes_out, masks, split, whole = [], [], [], []
    for i in np.flatnonzero(ok):
        x0, y0, x1, y1 = ob[i]
        # This blob's own ink: its outlines filled, holes given back by the mask, so ink of a
        # neighbour that reaches into the box stays out.
        blob = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.drawContours(blob, [contours[k] for k in members[i]], -1, 1, -1,
                         offset=(-int(x0), -int(y0)))
        blob = (blob & mask[y0:y1, x0:x1]).astype(bool)
        pieces = [(0, blob, True)]
        if bw[i] > SPLIT_ASPECT * bh[i]:
            pieces += [(dx, m, False) for dx, m in split_touching(blob)]
        for dx, m, is_whole in pieces:
            ys, xs = np.nonzero(m)
            if ys.size == 0:
                continue
            py0, py1, px0, px1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            m = m[py0:py1, px0:px1]
            ph, pw = py1 - py0, px1 - px0
            density = ys.size / m.size
            if ph < min_h or pw > s.max_aspect * ph or density < s.min_density or (
                    pw > 0.45 * ph and density > s.max_blob_density and _is_blot(m)):
                continue
            boxes_out.append([x0 + dx + px0, y0 + py0, x0 + dx + px1, y0 + py1])
            masks.append(m.view(np.uint8) * 255)
            split.append(i if len(pieces) > 1 else -1)
            whole.append(is_whole)
    if not boxes_out:
        return Blobs(Detections.empty(), [], inverted)
    return Blobs(Detections(np.array(boxes_out, np.int32)), masks, inverted,
                 np.array(split, np.int64), np.array(whole, bool))
