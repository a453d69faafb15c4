"""Find digit-like blobs of ink in a frame.

The classic recipe, tuned for paper under a webcam: divide out the uneven illumination,
threshold ink that is clearly darker (or, on a board, lighter) than its local background,
take connected blobs, join the pieces of one digit, and keep what is digit-sized and
digit-shaped. Each kept blob comes with its own ink mask, so a neighbour's ink that reaches
into the box never leaks into the crop.

The blobs are found at half size, where each pixel holds the most ink-like of its 2x2 block
(a one-pixel stroke survives the halving); each kept blob's ink is then cut again at full
size, inside its box only, so the crops lose nothing while the frame is never worked on
whole at full size beyond its conversion to grey.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass

import cv2
import numpy as np

from livedigits.detections import Detections
from livedigits.images import to_gray8

WORK_SCALE = 8  # the background is estimated on a frame this many times smaller
SHEET_MIN, SHEET_MAX = 0.06, 0.9  # a sheet on a surround covers this share of the frame
SHEET_SOLIDITY = 0.85  # its area against its convex hull's: paper is flat and convex
SHEET_ROWS = 60  # the sheet is looked for on a copy whose short side is at least this
SHEET_STEP = 0.15  # its edge steps down by this share of its brightness onto the surround
SPLIT_ASPECT = 1.1  # a blob wider than this times its height may be digits that touch
DIGIT_ASPECT = 0.7  # the typical width of a digit against its height, for splitting
WIDE_BLOB, WIDTH_PAGE = 1.6, 6  # with this many lone digits, a blob this many times as wide
# as they are may be digits that touch, however narrow they all are
MAX_RUN = 4.5  # at most four touching digits are split; wider blobs are lines
MIN_JOIN = 10  # pixels; side-by-side pieces join only on marks taller than 8x this
SQUARE = np.ones((3, 3), np.uint8)  # a pixel and its eight neighbours
PAIR = np.ones((2, 1), np.uint8)  # a pixel and the one below it
STACK_RATIO, STACK_PAGE = 2.2, 8  # with this many digits, one this many times taller is two
WHOLE_DIGIT = 0.6  # a piece this share of the page's digit height is a digit of its own
INSIDE = 1 / 3  # a piece with this share of its box inside a bigger piece's is part of that mark
FULL_PIECE = 0.8  # digits that touch side by side each stand about the blob's full height
LOOP_HOLE = 4  # pixels; paper enclosed by ink, this big or more, is a loop's hole, not a pinhole
SMALL_DIGIT = 24  # pixels; only in a digit this short is a loop's hole as narrow as a pinhole
LOOP_MIN = 0.25  # a closed loop this share of the page's digit height may be a small 0


@dataclass(frozen=True)
class DetectorSettings:
    """Thresholds for what counts as a digit; the defaults suit paper seen by a webcam."""

    invert: bool | None = None  # None: decide per frame (dark ink on paper or light on board)
    contrast: float = 0.22  # ink differs from its background by this fraction ...
    min_diff: int = 18  # ... and by at least this many grey levels
    min_height: int = 12  # pixels
    min_height_frac: float = 0.012  # of the frame height
    max_height_frac: float = 0.97  # a digit may fill the frame, but not reach past it
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
    which; the classifier decides which reading stands (see `pipeline.resolve_splits`). Where
    two ways of cutting it are offered, `data["cut"]` numbers each piece's way (0 the first,
    -1 for whole and plain blobs). Built as `Blobs(detections, masks, inverted, split, whole,
    sheet, cut)`; the rows' extras go into `data`.
    """

    detections: Detections
    masks: InitVar[list[np.ndarray]]
    inverted: bool
    split: InitVar[np.ndarray | None] = None
    whole: InitVar[np.ndarray | None] = None
    sheet: np.ndarray | None = None  # outline of the sheet found (full-size pixels), if any
    cut: InitVar[np.ndarray | None] = None

    def __post_init__(self, masks: list[np.ndarray], split: np.ndarray | None,
                      whole: np.ndarray | None, cut: np.ndarray | None) -> None:
        n = len(self.detections)
        split = np.full(n, -1, np.int64) if split is None else np.asarray(split, np.int64)
        whole = np.ones(n, bool) if whole is None else np.asarray(whole, bool)
        self.detections = self.detections.with_data(
            mask=list(masks), split=split, whole=whole,
            cut=np.where((split >= 0) & ~whole, 0, -1) if cut is None
            else np.asarray(cut, np.int64))


def as_gray(frame: np.ndarray) -> np.ndarray:
    """Any image (1, 3 or 4 channels; uint8, uint16 or float) as 2-D uint8 grey.

    >>> as_gray(np.full((2, 2, 3), 65535, np.uint16)).tolist()
    [[255, 255], [255, 255]]
    """
    return to_gray8(frame)


def shrink(gray: np.ndarray, factor: int = WORK_SCALE) -> np.ndarray:
    """The frame at 1/`factor` size (1/WORK_SCALE: where the paper and the sheet are worked
    out)."""
    h, w = gray.shape
    sw, sh = max(1, w // factor), max(1, h // factor)
    return cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA)


def find_sheet(small: np.ndarray) -> np.ndarray | None:
    """The outline (a convex polygon, in `small`'s pixels) of a sheet of paper lying on a
    darker or textured surround (a desk, a door, a wall, a hand), or None when the paper
    fills the frame or there is no clear sheet.

    The sheet is the largest bright region (Otsu on the small frame) that is solid (its
    outline nearly convex), covers a fair part of the frame but not all of it, and whose edge
    is a clear step down to what lies around it.
    """
    sh, sw = small.shape
    if min(sh, sw) < 16:
        return None
    # The writing taken out first (a median wider than its strokes at this size): rows of
    # bold digits would otherwise cut the sheet apart along the steps of their ink.
    blur = cv2.GaussianBlur(cv2.medianBlur(small, 5), (3, 3), 0)
    _, bright = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if not bright.any():  # a flat frame (a lens cap) has no bright part
        return None
    # Cut the bright part along sharp steps, so glare on a desk that touches the sheet stays
    # apart from it: the sheet's edge is sharp, light falling off across a surface is not.
    step = max(SHEET_STEP * float(np.median(small[bright > 0])), 20.0)
    grad = cv2.morphologyEx(blur, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    bright[grad >= step] = 0
    bright = cv2.morphologyEx(bright, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    area, frame = cv2.contourArea(c), float(sh * sw)
    hull = cv2.convexHull(c)
    if not (SHEET_MIN * frame <= area <= SHEET_MAX * frame):
        return None
    if area < SHEET_SOLIDITY * cv2.contourArea(hull):
        return None
    inside = np.zeros_like(small)
    cv2.fillPoly(inside, [hull], 255)
    # A sheet's edge is a step, not the slow fall of vignetting or of light across a page:
    # compare the rings just inside and just outside the outline.
    # The outline runs just inside the cut edge, so the outer ring starts past the edge.
    near, far = np.ones((5, 5), np.uint8), np.ones((11, 11), np.uint8)
    inner = small[(inside > 0) & (cv2.erode(inside, near) == 0)]
    outer = small[(cv2.dilate(inside, near) == 0) & (cv2.dilate(inside, far) > 0)]
    if outer.size == 0 or np.median(inner) - np.median(outer) < step:
        return None
    return hull.reshape(-1, 2)


def locate_sheet(gray: np.ndarray, small: np.ndarray) -> np.ndarray | None:
    """`find_sheet`'s outline in `small`'s pixels (`gray` at 1/WORK_SCALE). On a frame whose
    short side is under WORK_SCALE * SHEET_ROWS pixels the sheet is looked for on a finer copy
    whose short side is SHEET_ROWS or more: at 1/WORK_SCALE a small frame's light fall-off and
    its row of writing take a few pixels each, and the sheet's edge is told from them no
    longer."""
    h, w = gray.shape
    f = min(WORK_SCALE, max(1, min(h, w) // SHEET_ROWS))
    if f == WORK_SCALE:
        return find_sheet(small)
    hull = find_sheet(shrink(gray, f))
    return None if hull is None else (hull + 0.5) * f / WORK_SCALE - 0.5


def sheet_mask(hull: np.ndarray, size: tuple[int, int], scale: float,
               grow: bool = False) -> np.ndarray:
    """The inside of a sheet outline found at 1/`scale` size, at full `size` (w, h), less a
    margin along its edge: the edge itself and the surround's ink are not the sheet's.

    The outline runs inside the sheet's edge: the blur spreads the step over two pixels at
    1/WORK_SCALE size and `find_sheet` cuts both. `grow` gives them back (for the ink read,
    so digits written close to the edge are not clipped and dropped; the search for ruled
    lines keeps to the outline, where the sheet's edge is not taken for one)."""
    w, h = size
    if grow:
        small = np.zeros((int(hull[:, 1].max()) + 4, int(hull[:, 0].max()) + 4), np.uint8)
        cv2.fillPoly(small, [hull.astype(np.int32)], 255)
        grown = cv2.findContours(cv2.dilate(small, np.ones((5, 5), np.uint8)),
                                 cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        hull = cv2.convexHull(max(grown, key=cv2.contourArea)).reshape(-1, 2)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(hull * scale + scale / 2).astype(np.int32)], 255)
    m = int(0.5 * scale) | 1
    return cv2.erode(mask, np.ones((m, m), np.uint8))


def background(gray: np.ndarray, small: np.ndarray | None = None,
               sheet: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The frame and the paper's brightness without the ink, both at 1/WORK_SCALE size.

    A median over a window wider than any stroke keeps the paper and drops the ink, whatever
    its polarity; shadows, vignetting and gradients stay in the background and divide out.
    Around a sheet (`sheet`: its outline in small pixels) the surround counts as paper, so it
    does not darken the paper near the sheet's edge.
    """
    small = shrink(gray) if small is None else small
    sh, sw = small.shape
    if sheet is not None:
        outside = np.full_like(small, 255)
        cv2.fillPoly(outside, [np.round(sheet).astype(np.int32)], 0)
        if (outside == 0).any():  # (an outline given off the frame holds no paper)
            small = small.copy()
            small[outside > 0] = int(np.median(small[outside == 0]))
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


@dataclass(frozen=True)
class Ink:
    """A frame's ink at half size (255 = set): the ink itself, faint marks (for finding
    ruled lines) and strong ink (pen strokes a ruling must not erase); at full size, the grey
    level past which a pixel is ink (to cut a blob's ink again there); and whether the ink is
    lighter than its background (chalk on a board)."""

    ink: np.ndarray
    faint: np.ndarray
    strong: np.ndarray
    level: np.ndarray
    inverted: bool


def ink_mask(gray: np.ndarray, settings: DetectorSettings, small: np.ndarray | None = None,
             sheet: np.ndarray | None = None) -> Ink:
    """The frame's ink, faint and strong marks at half size (see `Ink`).

    The thresholds are worked out on the small background and scaled up as level maps; the
    full-size frame is touched once, to take the most ink-like pixel of each 2x2 block (and
    the level map is made at full size once, for the blobs' boxes to be cut from).
    """
    s = settings
    small, bg_small = background(gray, small, sheet)
    if sheet is not None:
        inv = bool(s.invert)  # a bright sheet: dark ink on it, unless the user says otherwise
    else:
        inv = s.invert if s.invert is not None else _is_light_ink(small, bg_small, s)
    h, w = gray.shape
    half = (max(1, w // 2), max(1, h // 2))
    # The most ink-like pixel of each 2x2 block: a one-pixel stroke or ruling survives the
    # halving. Half pixel (i, j) holds full pixels 2i-1..2i, 2j-1..2j (see `full_box`).
    pooled = cv2.resize((cv2.dilate if inv else cv2.erode)(gray, np.ones((2, 2), np.uint8)),
                        half, interpolation=cv2.INTER_NEAREST)

    def level(contrast: float, floor: int, size: tuple[int, int] = half) -> np.ndarray:
        return cv2.resize(_level(bg_small, contrast, floor, inv), size,
                          interpolation=cv2.INTER_LINEAR)

    return Ink(_past(pooled, level(s.contrast, s.min_diff), inv),
               _past(pooled, level(s.contrast / 2, s.min_diff // 2), inv),
               _past(pooled, level(s.contrast * 2, s.min_diff * 2), inv),
               level(s.contrast, s.min_diff, (w, h)), bool(inv))


def line_mask(faint: np.ndarray, strong: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """What to take out of the ink, at half size, the lines whole (strong ink and all), and
    the thickness of the thickest printed line taken out whole (0 if none):
    ruled lines and pens (horizontal; but not
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
    blot = max(8, hw // 80)  # wider than a printed line, even a thick blurred one
    solid = cv2.morphologyEx(half, cv2.MORPH_OPEN, np.ones((blot, blot), np.uint8))
    marks = cv2.bitwise_and(half, cv2.bitwise_not(solid))
    ruled = np.zeros_like(marks)
    on_line = ruled  # the blots a line runs through (they stay ink; the line is one line)
    length = max(20, hw // 8)
    if hw > length:
        thick = cv2.dilate(marks, np.ones((max(7, length // 11), 1), np.uint8))  # 5 degrees
        if cv2.countNonZero(solid):
            # A blot on a line (a stroke's thick foot where it meets it) does not cut the
            # line in two; a long solid band (a shadow) is no line and bridges nothing.
            x, y, w, h = cv2.boundingRect(solid)  # worked out where there is any, only
            sub = solid[y:y + h, x:x + w]
            on_line = np.zeros_like(solid)
            on_line[y:y + h, x:x + w] = cv2.subtract(sub, cv2.morphologyEx(
                sub, cv2.MORPH_OPEN, np.ones((1, 3 * blot), np.uint8),
                borderType=cv2.BORDER_CONSTANT, borderValue=0))  # no ink past the box
            thick = cv2.bitwise_or(thick, on_line)
        # A run that long needs a row holding that much: most pages of writing have none.
        if cv2.reduce(thick, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).max() >= 255 * length:
            runs = cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((1, length), np.uint8))
            ruled = cv2.bitwise_and(runs, marks)  # the marks, not the thickened band
            on_line = cv2.bitwise_and(runs, on_line)
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
        return np.zeros_like(half), np.zeros_like(half), 0
    edge = np.ones((3, 3), np.uint8)  # the anti-aliased edges of a line too
    ruled, margin = cv2.dilate(ruled, edge), cv2.dilate(margin, edge)
    lines = cv2.bitwise_or(cv2.bitwise_and(ruled, cv2.bitwise_not(strong)), margin)
    # A printed line as dark as the pen (a sudoku's box lines) goes whole: sparing its strong
    # ink would keep the whole line. The strokes that cross it are bridged again later.
    # (Faint rulings hold strong ink only where a stroke crosses them: checked first, cheaply.)
    band = 0
    crossing = cv2.bitwise_and(ruled, strong)
    whole = cv2.bitwise_or(ruled, on_line)  # the lines with the blots on them
    if cv2.countNonZero(crossing) > 0.03 * cv2.countNonZero(ruled):
        for c in cv2.findContours(whole, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]:
            x, y, w, h = cv2.boundingRect(c)
            # Dark along most of its length, not only where strokes cross it: a photo's
            # printed line is pen-dark in its middle, paler at its blurred edges. (Checked
            # on its box first, cheaply: a faint ruling fails there already.)
            if np.count_nonzero(crossing[y:y + h, x:x + w].any(axis=0)) <= 0.5 * w:
                continue
            own = np.zeros((h, w), np.uint8)
            cv2.drawContours(own, [c], -1, 255, -1, offset=(-x, -y))
            sub = (own > 0) & (whole[y:y + h, x:x + w] > 0)
            # A line runs on through the blots on it (a stroke's thick foot), if they are
            # short against it; a run of thick strokes (a big marker digit) is no line.
            blots = np.count_nonzero((sub & (on_line[y:y + h, x:x + w] > 0)).any(axis=0))
            parts = [(sub, x, y)]
            if blots > 0.2 * w:
                sub &= ruled[y:y + h, x:x + w] > 0
                n, labels, stats, _ = cv2.connectedComponentsWithStats(sub.view(np.uint8))
                parts = [(labels[py:py + ph, px:px + pw] == k, x + px, y + py)
                         for k, (px, py, pw, ph) in enumerate(stats[1:, :4], 1)]
            for part, px, py in parts:
                ph, pw = part.shape
                dark = part & (crossing[py:py + ph, px:px + pw] > 0)
                if np.count_nonzero(dark.any(axis=0)) > 0.5 * pw and _is_band(part):
                    band = max(band, _draw_band(lines, dark, px, py))
    return lines, cv2.bitwise_or(whole, margin), band


def _draw_band(out: np.ndarray, sub: np.ndarray, x: int, y: int) -> int:
    """Mark a printed (horizontal) line, `sub` (its dark core within its box at x, y), in
    `out`: in each column, from the core's top edge to its bottom edge as the columns around
    it have them (a running median over the columns no stroke crosses, a few digits' width),
    a pixel more each side, so a line that bows or thickens across a photo goes whole while
    the strokes that touch, cross or lie along it stay out. (The core, not the pale blurred
    fringe: that goes as a faint ruling's does, and as wide it would eat a 7's bar lying
    along the line.) Returns the band's typical thickness."""
    h, w = sub.shape
    counts = np.count_nonzero(sub, axis=0)
    typical = int(np.median(counts))
    clean = np.flatnonzero((counts > 0) & (counts <= typical + max(2, typical // 4)))
    if w < 2 or clean.size < 2:
        return 0
    top, bottom = (v[clean] for v in _column_extent(sub))
    rows = np.arange(h)[:, None]
    win = min(clean.size, max(15, w // 8)) | 1
    pad = win // 2

    def along(v: np.ndarray) -> np.ndarray:
        """`v` (over the clean columns) as a running median, on every column."""
        windows = np.lib.stride_tricks.sliding_window_view(np.pad(v, pad, mode="edge"), win)
        return np.interp(np.arange(w), clean, np.median(windows, axis=1))

    t0, t1 = np.floor(along(top)) - 1, np.ceil(along(bottom)) + 1
    out[y:y + h, x:x + w][(rows >= t0) & (rows <= t1)] = 255
    return int(np.median(t1 - t0 + 1))


def _column_extent(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's topmost and bottommost ink row in `mask` (h and -1 where it has none).

    >>> [v.tolist() for v in _column_extent(np.array([[0, 1], [1, 1], [0, 0]]) > 0)]
    [[1, 0], [1, 1]]
    """
    h = mask.shape[0]
    rows = np.arange(h)[:, None]
    return np.where(mask, rows, h).min(axis=0), np.where(mask, rows, -1).max(axis=0)


def _is_band(sub: np.ndarray) -> bool:
    """Whether a mark (a mask) is one straight band of even width (a printed line), not
    strokes of writing that happen to chain along a row: it fills most of its rotated
    bounding box."""
    pts = cv2.findNonZero(sub.view(np.uint8))
    (_, _), (rw, rh), _ = cv2.minAreaRect(pts)
    return np.count_nonzero(sub) >= 0.4 * rw * rh


def keep_digit_strokes(lines: np.ndarray, whole: np.ndarray, boxes: np.ndarray,
                       share: float = 0.3) -> np.ndarray:
    """The line mask (half size) without the marks that are strokes of a large digit.

    A ruling or a margin is far longer than the writing it crosses; a straight mark that is
    not (the stem of a 4 or the bar of a 7 filling the frame) belongs to the ink it touches.
    `whole` holds the lines unbroken by the strokes that cross them, so their length is the
    line's, not a piece's; `boxes` are the blobs left after taking the lines out (x0, y0, x1,
    y1 at full size). A line goes back to the ink when a blob near it (within a twentieth
    of its length) is at least `share` of its length.
    """
    b = boxes.reshape(-1, 4).astype(np.int64)
    if len(b) == 0:
        return lines
    extent = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    # Lines are at least a few digits long: with no blob that large in view, nothing to check.
    if 2 * extent.max() < share * min(whole.shape) / 4:
        return lines
    # The lines' outlines at quarter size: only their extents are needed, and it is 4x cheaper.
    quarter = cv2.resize(whole, (max(1, whole.shape[1] // 2), max(1, whole.shape[0] // 2)),
                         interpolation=cv2.INTER_NEAREST)
    outlines = cv2.findContours(quarter, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
    if not outlines:
        return lines
    stats = 4 * np.array([cv2.boundingRect(c) for c in outlines], np.int64).reshape(-1, 4)
    length = np.maximum(stats[:, 2], stats[:, 3])
    near = 8 + length // 20
    lx0, ly0 = stats[:, 0] - near, stats[:, 1] - near
    lx1, ly1 = lx0 + stats[:, 2] + 2 * near, ly0 + stats[:, 3] + 2 * near
    touch = ((b[None, :, 0] < lx1[:, None]) & (b[None, :, 2] > lx0[:, None])
             & (b[None, :, 1] < ly1[:, None]) & (b[None, :, 3] > ly0[:, None]))
    big = (touch & (extent[None, :] >= share * length[:, None])).any(axis=1)
    if not big.any():
        return lines
    back = np.zeros_like(quarter)
    cv2.drawContours(back, [c for c, k in zip(outlines, big, strict=True) if k], -1, 255, -1)
    back = cv2.dilate(cv2.resize(back, (lines.shape[1], lines.shape[0]),
                                 interpolation=cv2.INTER_NEAREST), np.ones((3, 3), np.uint8))
    return cv2.bitwise_and(lines, cv2.bitwise_not(back))


def _join_pieces(boxes: np.ndarray, min_h: float = 0.0) -> np.ndarray:
    """Group ids that join boxes belonging to one digit (a 5's flag, a faint 7's stroke).

    Two pieces join when they overlap horizontally for most of the narrower one and the
    vertical gap between them is small next to their height, or when they stand side by side,
    overlapping vertically, with a gap under a twenty-fifth of the taller one's height, or
    when the smaller has INSIDE of its box inside the other's (a 3's top lifted off). Two
    pieces that are each about as tall as the page's digits (the median of three or more
    marks at least `min_h` tall) are two digits, never one (neighbours on a steep row).
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
    # A piece a third or more inside another's box (a 3's top arc lifted off its body): the
    # boxes of neighbouring digits only meet at their slanted ends.
    inside = np.maximum(ox, 0) * np.maximum(-gy, 0) >= INSIDE * small
    # A flag or a stroke just above or below the body, overlapping it a little (a 5's bar).
    capped = (ox > 0.15 * narrow) & (gy >= -2) & (gy < 0.2 * tall)
    joined_w = np.maximum(x1[:, None], x1[None]) - np.minimum(x0[:, None], x0[None])
    # The pieces of one digit sit within about its box; pieces of neighbours on a steep row
    # (a page turned 40 degrees) make a box far bigger than either.
    link = ((stacked | capped | inside) & (small < 0.5 * big) & (joined_h < 1.6 * tall)
            & (joined_w * joined_h < 2.0 * big))
    # Side by side with next to no gap (a 4's open top beside its stem): one mark, offered
    # whole and, if wide, split too, so the classifier decides as for digits that touch.
    oy = -gy
    short = np.minimum(h[:, None], h[None])
    link |= (ox > -0.04 * tall) & (ox <= 0) & (oy > 0.5 * short) & (tall > 8 * MIN_JOIN)
    digits = h >= min_h
    if min_h > 0 and digits.sum() >= 3:
        typical = float(np.median(h[digits]))
        whole = h >= WHOLE_DIGIT * typical
        cy = (y0 + y1) / 2
        apart = np.abs(cy[:, None] - cy[None]) >= 0.5 * typical  # one above the other
        link &= ~(whole[:, None] & whole[None] & apart)
    np.fill_diagonal(link, False)
    for i, j in zip(*np.nonzero(np.triu(link)), strict=True):
        gi, gj = group[i], group[j]
        if gi != gj:
            group[group == gj] = gi
    return group


def split_touching(blob: np.ndarray, width: float = 0.0) -> list[tuple[int, np.ndarray]]:
    """Cut a blob of digits written so close that their ink touches into one piece per digit.

    The number of digits comes from the blob's width against the page's digit `width` when
    it is known, else against the blob's height; each cut goes through the column with the
    least ink near where it is expected. Returns (x offset, mask).
    """
    h, w = blob.shape
    k = int(np.clip(round(w / (width or DIGIT_ASPECT * h)), 2, 4))
    ink = blob.sum(axis=0).astype(np.float64)
    step = w / k
    cuts = [0]
    for j in range(1, k):
        lo, hi = int(j * step - 0.3 * step), int(j * step + 0.3 * step) + 1
        cuts.append(lo + int(np.argmin(ink[lo:hi])))
    cuts.append(w)
    return [(a, blob[:, a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


def other_cut(blob: np.ndarray, cut: int) -> int | None:
    """Where else a blob of two touching digits, cut at column `cut`, may be cut: at the
    column with the least ink, well away from `cut`, that leaves each side about the blob's
    full height of ink (FULL_PIECE of it: digits side by side stand about as tall). A 1 is
    far narrower than the digits beside it: the column with the least ink near the middle
    often runs through its wider neighbour (the bar of an open 4), and the narrow cut is
    the right one; the classifier decides which reading stands. None if there is none."""
    h, w = blob.shape
    top, bottom = _column_extent(blob)
    # Height of the ink left of each column c (columns :c) and right of it (c:).
    left = np.maximum.accumulate(bottom) - np.minimum.accumulate(top) + 1
    right = (np.maximum.accumulate(bottom[::-1]) - np.minimum.accumulate(top[::-1]) + 1)[::-1]
    narrow = max(2, round(0.1 * h))  # even a 1 is this wide: no sliver of a stroke
    c = np.arange(narrow, w - narrow + 1)
    ok = ((left[c - 1] >= FULL_PIECE * h) & (right[c] >= FULL_PIECE * h)
          & (np.abs(c - cut) >= max(2, 0.15 * w)))
    if not ok.any():  # (also where the blob is too narrow to hold two)
        return None
    ink = np.count_nonzero(blob, axis=0)[c]
    return int(c[ok][np.argmin(ink[ok])])


def split_stacked(blob: np.ndarray, rows: list[int]) -> list[tuple[int, np.ndarray]]:
    """Cut a blob of digits one above another, joined across the printed lines between
    them, at those lines' `rows`. Returns (y offset, mask)."""
    cuts = [0, *sorted(r for r in rows if 0 < r < blob.shape[0]), blob.shape[0]]
    return [(a, blob[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


def _thin_pen(mask: np.ndarray, ink: int) -> bool:
    """Whether a sparse blob is still writing: a large digit in a thin pen covers little of
    its box, but about as much as its strokes' width against its height would give (a
    digit's strokes run two to three times its height)."""
    h = mask.shape[0]
    outline = cv2.findContours(mask.view(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)[0]
    half_perimeter = sum(len(c) for c in outline) / 2
    width = ink / max(half_perimeter, 1)  # the strokes' mean width
    return ink / mask.size >= width / h  # a quarter of what 2.5 heights of stroke cover


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


def _touching(contours: list, rim: np.ndarray) -> np.ndarray:
    """For each contour, whether any of its points lies on `rim` (255 = set)."""
    pts = np.concatenate([c.reshape(-1, 2) for c in contours])
    on = rim[pts[:, 1], pts[:, 0]] > 0
    starts = np.cumsum([0] + [len(c) for c in contours[:-1]])
    return np.logical_or.reduceat(on, starts)


def _lone_mark(ink: np.ndarray) -> bool:
    """Whether the ink is one large mark standing alone (a digit held close to the camera):
    nearly all of it in one cluster, a good part of the frame tall, clear of the frame's
    edges. Its straight strokes are then the writing, not rulings or a margin. `ink` is at
    half size; the check runs at a quarter."""
    h, w = ink.shape
    q = cv2.resize(ink, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    q = cv2.dilate(cv2.compare(q, 0, cv2.CMP_GT), np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(q, connectivity=8)
    if n < 2:
        return False
    area = stats[1:, cv2.CC_STAT_AREA]
    k = int(np.argmax(area))
    x, y, bw, bh = stats[k + 1, :4]
    qh, qw = q.shape
    return bool(area[k] >= 0.85 * area.sum() and bh >= 0.3 * qh
                and x > 0 and y > 0 and x + bw < qw and y + bh < qh)


def _bridge(kept: np.ndarray, ink: np.ndarray, lines: np.ndarray, k: int) -> np.ndarray:
    """`kept` (the ink less the lines) with the strokes that cross a printed line taken out
    whole bridged again: ink under the line with kept ink on both sides within `k` pixels
    (printed lines taken out whole are the horizontal ones: bridged up and down only)."""
    across = cv2.morphologyEx(kept, cv2.MORPH_CLOSE, np.ones((k, 1), np.uint8))
    return cv2.bitwise_or(kept, cv2.bitwise_and(across, cv2.bitwise_and(ink, lines)))


def _blobs_without(ink: np.ndarray, lines: np.ndarray, band: int = 0) -> list:
    """The outer contours of the (half-size) ink less the line mask of the same size.

    A stroke that crosses a printed line taken out whole loses the piece where they meet; it
    is bridged again across the line (at most the thickest such line's width, `band`, apart),
    so the digit stays one. One-pixel gaps up and down (two at full size) are closed, so a
    stroke nicked by a ruling is not cut in two; gaps side by side are not: there, two
    digits written close stay two.
    """
    if cv2.countNonZero(lines):
        kept = cv2.subtract(ink, lines)
        ink = _bridge(kept, ink, lines, band + 3) if band else kept
    # A closing by two pixels one above the other: dilated down, eroded back up. The erosion
    # reads the row above, which for the top row is the border: that row stays as it was.
    closed = cv2.erode(cv2.dilate(ink, PAIR, anchor=(0, 0)), PAIR, anchor=(0, 1))
    closed[0] = ink[0]
    ink = closed
    return list(cv2.findContours(ink, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0])


def full_box(half_xyxy: np.ndarray) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) found at half size, in full-size pixels: half pixel i holds
    full pixels 2i-1 and 2i (see `ink_mask`). So the last column (row) of an even-sized frame
    is never looked at, and a mark counts as cut by the frame's edge when it comes within one
    pixel of the left or top edge, or two of the right or bottom one.

    >>> full_box(np.array([[3, 4, 10, 12]])).tolist()
    [[5, 7, 19, 23]]
    """
    return 2 * np.asarray(half_xyxy) - 1


def half_box(xyxy: np.ndarray) -> np.ndarray:
    """Full-size boxes (x0, y0, x1, y1) in the half-size pixels that hold them: the inverse
    of `full_box` (full pixel p lies in half pixel (p + 1) // 2).

    >>> half_box(full_box(np.array([[3, 4, 10, 12]]))).tolist()
    [[3, 4, 10, 12]]
    """
    return (np.asarray(xyxy, np.int64) + 1) // 2


def _blob_ink(gray: np.ndarray, ink: Ink, lines: np.ndarray, band: int, outline: list | None,
              box: tuple[int, int, int, int]) -> np.ndarray:
    """A blob's own ink at full size (uint8, 255 = ink) inside its box (x0, y0, x1, y1 from
    `full_box`): the grey thresholded again at full size, less the lines, closed over
    pinholes, and only where the blob's half-size `outline` (its contours, filled) lies, so
    ink of a neighbour that reaches into the box stays out (None: nothing else reaches in)."""
    # Worked out one half pixel wider on each side where the frame allows, so that the
    # closing below never takes the box's edge for ink; cut back to the box at the end.
    H, W = gray.shape
    bx0, by0, bx1, by1 = half_box(np.array(box)).tolist()
    hx, hy = max(0, bx0 - 1), max(0, by0 - 1)
    hx1, hy1 = min(lines.shape[1], bx1 + 1), min(lines.shape[0], by1 + 1)
    x0, y0 = max(0, 2 * hx - 1), max(0, 2 * hy - 1)
    x1, y1 = min(W, 2 * hx1 - 1), min(H, 2 * hy1 - 1)
    ox, oy = x0 - (2 * hx - 1), y0 - (2 * hy - 1)  # 1 where the frame's edge cut it

    def up(sub: np.ndarray, how: int = cv2.INTER_NEAREST) -> np.ndarray:
        """A half-size patch (rows hy:hy1, columns hx:hx1) at full size, on x0..x1, y0..y1."""
        big = cv2.resize(sub, (2 * sub.shape[1], 2 * sub.shape[0]), interpolation=how)
        return big[oy:oy + y1 - y0, ox:ox + x1 - x0]

    full = _past(gray[y0:y1, x0:x1], ink.level[y0:y1, x0:x1], ink.inverted)
    sub_lines = lines[hy:hy1, hx:hx1]
    if sub_lines.any():
        cut = up(sub_lines)
        kept = cv2.subtract(full, cut)
        full = _bridge(kept, full, cut, 2 * band + 5) if band else kept
    closed = cv2.morphologyEx(full, cv2.MORPH_CLOSE, SQUARE)
    full = _keep_loops(full, closed) if box[3] - box[1] < SMALL_DIGIT else closed
    if outline is not None:
        own = np.zeros((hy1 - hy, hx1 - hx), np.uint8)
        cv2.drawContours(own, outline, -1, 255, -1, offset=(-hx, -hy))
        # Grown by a pixel: the full-size threshold may reach a little past the half-size one.
        full = cv2.bitwise_and(full, cv2.dilate(up(own), SQUARE))
    return full[box[1] - y0:box[3] - y0, box[0] - x0:box[2] - x0]


def _keep_loops(ink: np.ndarray, closed: np.ndarray) -> np.ndarray:
    """`closed` (the `ink` closed over pinholes) with paper again where `ink` enclosed more
    than a pinhole: in a small digit a loop's hole (a 0 written as a small o) may be no wider
    than the pinholes the closing is for."""
    filled = cv2.subtract(closed, ink)
    if cv2.countNonZero(filled) < LOOP_HOLE:
        return closed
    paper = cv2.copyMakeBorder(cv2.bitwise_not(ink), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=255)
    n, labels = cv2.connectedComponents(paper, connectivity=4)
    if n <= 2:  # the ink and the paper around it: no hole
        return closed
    outside = labels[0, 0]
    labels = labels[1:-1, 1:-1]
    holes = ((np.bincount(labels[filled > 0], minlength=n) > 0)  # the closing reached in
             & (np.bincount(labels.ravel(), minlength=n) >= LOOP_HOLE))
    holes[[0, outside]] = False  # label 0 is the ink
    if not holes.any():
        return closed
    out = closed.copy()
    out[holes[labels]] = 0
    return out


def _alone(boxes: np.ndarray, members: list[np.ndarray], rects: np.ndarray) -> np.ndarray:
    """For each blob (full-size `boxes`, made of the half-size marks `members` indexes in
    `rects`, x y w h), whether no other mark reaches into its box, one half pixel wider on
    each side (as `_blob_ink` works it out): then its box holds only its own ink."""
    half = half_box(boxes)
    x0, y0, x1, y1 = (half[:, 0] - 1)[:, None], (half[:, 1] - 1)[:, None], \
        (half[:, 2] + 1)[:, None], (half[:, 3] + 1)[:, None]
    rx, ry, rw, rh = (rects[:, k][None] for k in range(4))
    inside = (rx < x1) & (rx + rw > x0) & (ry < y1) & (ry + rh > y0)
    return inside.sum(axis=1) == np.array([len(m) for m in members])


def _line_rows(lines: np.ndarray, box: np.ndarray) -> list[int]:
    """The rows (full size, from the box's top) where printed lines taken out (`lines`, at
    half size) run across the middle 60% of the box (x0, y0, x1, y1) for at least half its
    width: one row per line, its middle."""
    x0, y0, x1, y1 = half_box(box).tolist()
    top = y0 + (y1 - y0) // 5
    across = np.count_nonzero(lines[top:y1 - (y1 - y0) // 5, x0:x1], axis=1) >= 0.5 * (x1 - x0)
    rows = np.flatnonzero(across)
    if rows.size == 0:
        return []
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    # Half row r holds full rows 2r-1 and 2r: its middle is 2r - 0.5.
    return [int(round(2 * (top + float(b.mean())) - 0.5)) - int(box[1]) for b in bands]


def _loop_floor(typical: float) -> float:
    """The least height of a closed loop kept as a small 0 among digits `typical` px tall."""
    return max(8.0, LOOP_MIN * typical)


def _small_loops(boxes: np.ndarray, small: np.ndarray, typical: float, ink) -> np.ndarray:
    """Which of the `small` marks (too small to be digits by size alone) are closed loops at
    least LOOP_MIN of the `typical` digit height (and 8 px) tall and about round: many writers
    make a 0 a small o beside their other digits, and a speck of dirt never encloses paper.
    `ink(i)` gives mark i's own ink."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    loop = small & (h >= _loop_floor(typical)) & (w <= 2 * h) & (h <= 2 * w)
    for i in np.flatnonzero(loop):
        loop[i] = _has_hole(ink(i))
    return loop


def _regroup(region: np.ndarray, min_h: float) -> list[tuple[int, int, np.ndarray]]:
    """A blob found at half size, cut into the digits its full-size ink holds: its pieces
    joined as `_join_pieces` joins them (a 5's flag stays on), but two digits that only the
    halving made touch come apart. Returns (x, y offset in `region`, ink) per digit."""
    outlines = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(outlines) < 2:
        return [(0, 0, region)]
    rects = np.array([cv2.boundingRect(c) for c in outlines], np.int64).reshape(-1, 4)
    big = np.maximum(rects[:, 2], rects[:, 3]) >= min_h / 4  # specks stay with the digit
    if big.sum() < 2:
        return [(0, 0, region)]
    kept = [c for c, k in zip(outlines, big, strict=True) if k]
    boxes = rects[big].copy()
    boxes[:, 2:] += boxes[:, :2]
    group = _join_pieces(boxes)
    if len(np.unique(group)) == 1:
        return [(0, 0, region)]
    out = []
    for g in np.unique(group):
        x0, y0 = boxes[group == g, :2].min(axis=0)
        x1, y1 = boxes[group == g, 2:].max(axis=0)
        own = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.drawContours(own, [kept[k] for k in np.flatnonzero(group == g)], -1, 255, -1,
                         offset=(-int(x0), -int(y0)))
        out.append((int(x0), int(y0), cv2.bitwise_and(region[y0:y1, x0:x1], own)))
    return out


def detect(frame: np.ndarray, settings: DetectorSettings | None = None,
           sheet: np.ndarray | None = None) -> Blobs:
    """Boxes and ink masks of the digit-like blobs in a frame (BGR or grey, any dtype).

    `sheet`: the outline (x, y in the frame's pixels) of a sheet already found, as on the
    levelled copy of a frame where it was found; None: look for one.

    >>> page = np.full((120, 160), 230, np.uint8)
    >>> _ = cv2.putText(page, "7", (60, 90), cv2.FONT_HERSHEY_SIMPLEX, 2, 20, 6)
    >>> len(detect(page).detections)
    1
    """
    s = settings or DetectorSettings()
    gray = as_gray(frame)
    if gray.ndim != 2 or min(gray.shape, default=0) < 8:
        return Blobs(Detections.empty(), [], False)
    H, W = gray.shape
    small = shrink(gray)
    if sheet is not None:  # (kept to the frame: an outline past its edge holds nothing)
        sheet = (np.clip(np.asarray(sheet, np.float64).reshape(-1, 2), 0, [W, H])
                 - WORK_SCALE / 2) / WORK_SCALE
    elif s.invert is not True:
        sheet = locate_sheet(gray, small)
    ink = ink_mask(gray, s, small, sheet)
    found, faint, strong = ink.ink, ink.faint, ink.strong
    hh, hw = found.shape
    if sheet is not None:
        inside = sheet_mask(sheet, (hw, hh), WORK_SCALE / 2, grow=True)
        ruled = sheet_mask(sheet, (hw, hh), WORK_SCALE / 2)
        found, faint = cv2.bitwise_and(found, inside), cv2.bitwise_and(faint, ruled)
        strong = cv2.bitwise_and(strong, ruled)
    outline = None if sheet is None else sheet * WORK_SCALE + WORK_SCALE / 2
    lines, unbroken, band = line_mask(faint, strong)
    contours = _blobs_without(found, lines, band)
    min_h = max(s.min_height, s.min_height_frac * H)
    rects = np.array([cv2.boundingRect(c) for c in contours], np.int32).reshape(-1, 4)
    if cv2.countNonZero(lines):
        boxes = rects.astype(np.int64)
        # With the lines out, a page of writing still has its digits; one big digit does not.
        few = np.count_nonzero(2 * boxes[:, 2:].max(axis=1) >= min_h) <= 2
        boxes[:, 2:] += boxes[:, :2]
        boxes = full_box(boxes)
        kept = np.zeros_like(lines) if few and _lone_mark(found) else keep_digit_strokes(
            lines, unbroken, boxes)
        if kept is not lines:
            lines = kept
            contours = _blobs_without(found, lines, band)
            rects = np.array([cv2.boundingRect(c) for c in contours], np.int32).reshape(-1, 4)
    if not contours:
        return Blobs(Detections.empty(), [], ink.inverted, sheet=outline)
    every = rects  # every mark, specks too: what may reach into a digit's box
    x, y, w, h = rects.T
    # Specks cannot be part of a digit; dropping them first keeps the joining step small.
    keep = (2 * np.maximum(w, h) >= min_h / 4) & (2 * h < s.max_height_frac * H)
    keep &= (x > 0) & (y > 0) & (x + w < hw) & (y + h < hh)
    if sheet is not None:  # and a mark cut by the sheet's edge is the edge, or the desk
        keep &= ~_touching(contours, cv2.subtract(inside, cv2.erode(inside, np.ones((3, 3),
                                                                                 np.uint8))))
    if not keep.any():
        return Blobs(Detections.empty(), [], ink.inverted, sheet=outline)
    contours = [c for c, k in zip(contours, keep, strict=True) if k]
    x, y, w, h = x[keep], y[keep], w[keep], h[keep]
    boxes = full_box(np.stack([x, y, x + w, y + h], axis=1))
    group = _join_pieces(boxes, min_h)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    ob = np.concatenate([np.minimum.reduceat(boxes[order, :2], starts),
                         np.maximum.reduceat(boxes[order, 2:], starts)], axis=1).astype(np.int32)
    members = np.split(order, starts[1:])
    bw, bh = ob[:, 2] - ob[:, 0], ob[:, 3] - ob[:, 1]
    ok = (bh >= min_h) & (bw <= MAX_RUN * bh)
    floor = np.full(len(ob), float(min_h))
    loop = np.zeros(len(ob), bool)
    alone = _alone(ob, [np.flatnonzero(keep)[m] for m in members], every)
    across: dict[int, list[int]] = {}  # marks far taller than the page's digits: line rows

    cut: dict[int, np.ndarray] = {}  # each blob's ink, cut once (loop checks ask first)

    def own_ink(i: int) -> np.ndarray:
        if i not in cut:
            cut[i] = _blob_ink(gray, ink, lines, band,
                               None if alone[i] else [contours[k] for k in members[i]],
                               (int(ob[i, 0]), int(ob[i, 1]), int(ob[i, 2]), int(ob[i, 3])))
        return cut[i]

    digit_w, typical = 0.0, 0.0  # the page's digit width, where enough digits stand apart
    if ok.sum() >= 3:  # with a few digits in view, what is far smaller than them is noise
        typical = float(np.median(bh[ok]))
        ok &= bh >= s.relative_min * typical
        # Writers differ in how wide they write: the page's own lone digits (not 1s, not
        # blobs of several) tell how many digits a blob of touching ones holds.
        single = ok & (bw >= 0.35 * bh) & (bw <= SPLIT_ASPECT * bh)
        if single.sum() >= WIDTH_PAGE:
            digit_w = float(np.median(bw[single]))
        # (Boxes found at half size may be a pixel taller each side than the ink in them.)
        near_floor = bh < max(min_h, s.relative_min * typical) + 2
        loop = _small_loops(ob, near_floor & (bw <= MAX_RUN * bh), typical,
                            lambda i: own_ink(i) > 0)
        ok |= loop
        floor[loop] = _loop_floor(typical)
        # On a page of digits, a mark far taller than all the others that a printed line
        # crosses is digits one above the other, joined across the line (a sudoku's cells).
        if ok.sum() >= STACK_PAGE and cv2.countNonZero(lines):
            for i in np.flatnonzero(ok & (bh > STACK_RATIO * typical)).tolist():
                across[i] = _line_rows(lines, ob[i])
    boxes_out: list[list[int]] = []
    masks: list[np.ndarray] = []
    split: list[int] = []
    whole: list[bool] = []
    ways: list[int] = []  # which way of cutting a blob each piece comes from
    for i in np.flatnonzero(ok).tolist():
        x0, y0 = int(ob[i, 0]), int(ob[i, 1])
        region = own_ink(i)
        for ox, oy, blob in _regroup(region, min_h):
            h_, w_ = blob.shape
            pieces = [(0, 0, blob, -1)]  # (x, y offset, ink, way of cutting; -1: whole)
            # Digits side by side make a blob about one digit tall, not one cut at printed lines.
            wide = w_ > SPLIT_ASPECT * h_ or (digit_w > 0 and w_ >= WIDE_BLOB * digit_w
                                               and h_ <= 1.5 * typical and not across.get(i))
            if wide and not loop[i]:  # a small o is one digit at most
                cut_up = split_touching(blob, digit_w)
                pieces += [(dx, 0, m, 0) for dx, m in cut_up]
                at = other_cut(blob, cut_up[1][0]) if len(cut_up) == 2 else None
                if at is not None:  # two digits, one maybe a narrow 1: a second way to cut
                    pieces += [(0, 0, blob[:, :at], 1), (at, 0, blob[:, at:], 1)]
            elif across.get(i):  # no digit is that tall: only the pieces are offered
                pieces = [(0, dy, m, 0) for dy, m in
                          split_stacked(blob, [r - oy for r in across[i]])]
            pair = len(boxes_out) if len(pieces) > 1 else -1
            for dx, dy, m, way in pieces:
                is_whole = way < 0
                px0, py0, pw, ph = cv2.boundingRect(m)
                if ph < floor[i] or pw > s.max_aspect * ph:
                    continue
                if not is_whole and ph < s.relative_min * typical:
                    continue  # as for blobs: a piece far shorter than the page's digits
                m = m[py0:py0 + ph, px0:px0 + pw]
                n_ink = cv2.countNonZero(m)
                density = n_ink / m.size
                if (density < s.min_density and not _thin_pen(m, n_ink)) or (
                        pw > 0.45 * ph and density > s.max_blob_density and _is_blot(m > 0)):
                    continue
                bx, by = x0 + ox + dx + px0, y0 + oy + dy + py0
                boxes_out.append([bx, by, bx + pw, by + ph])
                masks.append(m)
                split.append(pair)
                whole.append(is_whole)
                ways.append(way if pair >= 0 else -1)
    if not boxes_out:
        return Blobs(Detections.empty(), [], ink.inverted, sheet=outline)
    return Blobs(Detections(np.array(boxes_out, np.int32)), masks, ink.inverted,
                 np.array(split, np.int64), np.array(whole, bool), outline,
                 np.array(ways, np.int64))
