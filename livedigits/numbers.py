"""From digits to numbers: group a frame's digits into written lines, then read the numbers.

A line is a chain of digits where each links to its nearest neighbour ahead of it, so a line
may be tilted (paper held at an angle) and still come out whole; its direction is fitted to the
digits' centres. A number is a run of digits along a line with no gap that is wide both against
the digits' height and against the line's own gaps, and with no step off the line's baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livedigits.detections import Detections, Number

LINK_GAP = 1.2  # neighbours on a line: box gap below this many digit heights (their mean)
MAX_SIZE_RATIO = 3.5  # neighbours on a line: heights within this factor of each other
# (handwriting: a 7 or 9 with a long tail beside a 0 written as a small o) ...
TURN_SIZE_RATIO = 2.0  # ... but a crop is turned along its line only among like-sized marks
MAX_LINK_ANGLE = 60.0  # degrees; a steeper step goes to the line above or below
NUMBER_GAP = 0.8  # a wider gap along a line ends a number, in the line's median digit heights
GAP_RATIO = 2.0  # ... if it is also this many times the line's usual gap (4 digits or more)
FAR_GAP = 2.0  # ... or wider than this many digit heights, whatever the usual gap
BASELINE_SHIFT = 0.5  # digits whose centres step across the line by more are apart
ROW_OVERLAP = 0.5  # lines share a page row when they overlap this much of the shorter height
PAGE_TILT = 5.0  # degrees; a page tilted more has its rows found along its own direction
SPREAD_AGREE = 5.0  # degrees; digits far apart keep a page's slope within this of each other
STEEP_TILT = 15.0  # degrees; a page tilted more is levelled to detect, its lines found in its frame

_TAN_LINK = float(np.tan(np.radians(MAX_LINK_ANGLE)))


@dataclass
class Line:
    """Digits written along one direction: row indices in reading order, and the line's angle.

    `angle` is the direction of reading, first member to last, in degrees in image
    coordinates: 0 is level, positive goes down to the right. A line fitted on the image points
    rightwards (within 90 degrees of level); one read on a steep page keeps the page's own
    direction, so it may point up to 135 degrees away (a column of a page lying at 45 degrees).
    """

    members: np.ndarray
    angle: float = 0.0

    def __len__(self) -> int:
        return len(self.members)


def group_lines(det: Detections, size_ratio: float = MAX_SIZE_RATIO) -> list[Line]:
    """The written lines of a frame, in page reading order; a lone digit is a line of one.

    >>> d = Detections([[0, 0, 20, 40], [60, 0, 80, 40], [30, 2, 50, 42], [0, 100, 20, 140]])
    >>> [(ln.members.tolist(), round(ln.angle)) for ln in group_lines(d)]
    [([0, 2, 1], 0), ([3], 0)]
    """
    return [line for row in page_rows(det, size_ratio) for line in row]


def page_rows(det: Detections, size_ratio: float = MAX_SIZE_RATIO) -> list[list[Line]]:
    """The written lines grouped into page rows, top to bottom, each row's lines left to right.

    >>> d = Detections([[0, 0, 20, 40], [100, 0, 120, 40], [0, 100, 20, 140]])
    >>> [[ln.members.tolist() for ln in row] for row in page_rows(d)]
    [[[0], [1]], [[2]]]
    """
    if len(det) == 0:
        return []
    lines, straight = _chains(det, size_ratio)
    tilt = _page_tilt([ln for ln, k in zip(lines, straight, strict=True) if k])
    if not straight.any():
        tilt = _spread_tilt(det, size_ratio)
    centers = det.centers
    if tilt == 0.0:
        return _page_order(det.xyxy, centers, lines, straight, 0.0)
    # A page held at an angle: sort its rows in the page's own frame, not the image's.
    t = np.radians(tilt)
    turned = centers @ np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    half = (det.xyxy[:, 2:] - det.xyxy[:, :2]) / 2.0
    boxes: np.ndarray = np.c_[turned - half, turned + half]
    if abs(tilt) >= STEEP_TILT:
        # Steep rows (a sheet lying at 40 degrees) are chained again in the page's frame,
        # where the next digit along a row lies level beside each one: in the image's, a 9
        # whose long tail runs down the page reaches below and behind its row.
        lines, straight = _chains(Detections(np.round(boxes).astype(np.int64)), size_ratio)
        lines = [Line(ln.members, ln.angle + tilt) if len(ln) >= 2 else ln for ln in lines]
    return _page_order(boxes, turned, lines, straight, tilt)


def page_tilt(det: Detections) -> float:
    """The angle (degrees, positive down to the right) that the page's lines of digits keep,
    from its lines of four or more digits in a straight row; 0 within PAGE_TILT of level.

    >>> round(page_tilt(Detections([[10 * k, 7 * k, 10 * k + 12, 7 * k + 20] for k in range(5)])))
    35
    """
    if len(det) < 4:
        return 0.0
    lines, straight = _chains(det, MAX_SIZE_RATIO)
    return _page_tilt([ln for ln, k in zip(lines, straight, strict=True) if k])


def _chains(det: Detections, size_ratio: float) -> tuple[list[Line], np.ndarray]:
    """The written lines, each a chain of nearest neighbours fitted with its direction, and
    which of them are straight enough (`_is_long`) for their slope to be trusted."""
    nxt = _next_on_line(det, size_ratio)
    has_prev = np.zeros(len(det), bool)
    has_prev[nxt[nxt >= 0]] = True
    centers = det.centers
    lines = []
    for start in np.flatnonzero(~has_prev).tolist():
        chain = [start]
        while nxt[chain[-1]] >= 0:
            chain.append(int(nxt[chain[-1]]))
        if len(chain) == 1:
            lines.append(Line(np.array(chain, np.int64), 0.0))
        else:
            lines.append(_fit_line(centers, np.array(chain, np.int64)))
    straight = np.array([_is_long(ln, centers, det.heights) for ln in lines])
    return lines, straight


def _page_tilt(straight: list[Line]) -> float:
    """The angle (degrees) most digits' lines keep, from the `straight` lines (`_is_long`)
    within 45 degrees of level; 0 when there are none or the page is within PAGE_TILT
    degrees of level."""
    long = [ln for ln in straight if abs(ln.angle) <= 45.0]
    if not long:
        return 0.0
    angles = np.sort(np.repeat([ln.angle for ln in long], [len(ln) for ln in long]))
    tilt = float(angles[len(angles) // 2])
    return tilt if abs(tilt) >= PAGE_TILT else 0.0


def _spread_tilt(det: Detections, size_ratio: float) -> float:
    """The slope (degrees) between digits written far apart and their nearest like-sized
    neighbour ahead, both ways (a grid of single digits on a page held at an angle): their
    median where three or more such pairs keep it within SPREAD_AGREE degrees (all but a
    quarter of them); 0 otherwise, or within PAGE_TILT of level."""
    if len(det) < 4:
        return 0.0
    dx, dy, hi, lo = _apart(det)
    nxt = _mutual_ahead(dx, dy, (dx > 0) & (np.abs(dy) <= dx) & (hi <= size_ratio * lo))
    pair = np.flatnonzero(nxt >= 0)
    angles = np.degrees(np.arctan2(dy[pair, nxt[pair]], dx[pair, nxt[pair]]))
    if len(angles) < 3:
        return 0.0
    tilt = float(np.median(angles))
    agree = np.count_nonzero(np.abs(angles - tilt) <= SPREAD_AGREE) >= 0.75 * len(angles)
    return tilt if agree and abs(tilt) >= PAGE_TILT else 0.0


def _is_long(line: Line, centers: np.ndarray, heights: np.ndarray) -> bool:
    """Whether a line is four digits or more whose centres keep to its fitted direction
    (within about a third of a digit's height): one whose slope can be trusted."""
    if len(line) < 4:
        return False
    t = np.radians(line.angle)
    c = centers[line.members]
    across = (c - c.mean(axis=0)) @ np.array([-np.sin(t), np.cos(t)])
    h = np.sort(heights[line.members])
    return bool(np.abs(across).max() <= 0.35 * h[len(h) // 2])


def line_angles(det: Detections) -> np.ndarray:
    """Each detection's line angle in degrees (0 for a lone digit), to turn its crop upright.

    Lines here link only marks of like size (TURN_SIZE_RATIO): a mark far smaller or taller
    than its neighbours is as likely a stray one, and turning it could make it look a digit.

    >>> line_angles(Detections([[0, 0, 20, 40], [30, 20, 50, 60]])).round().tolist()
    [34.0, 34.0]
    """
    angles = np.zeros(len(det), np.float64)
    for line in group_lines(det, TURN_SIZE_RATIO):
        if len(line) >= 2:
            angles[line.members] = line.angle
    return angles


def read_numbers(det: Detections, max_gap: float = NUMBER_GAP) -> list[Number]:
    """The numbers on a page in reading order: runs of digits along a line without wide gaps.

    A gap is measured along the line, between the boxes' extents, in units of the line's
    median digit height; one wider than `max_gap` starts a new number. Rows whose digit is not
    0-9 (unclassified, rejected) are left out before grouping: their place is just a gap.

    >>> d = Detections([[0, 0, 20, 40], [25, 0, 45, 40], [100, 0, 120, 40]], digit=[4, 2, 7])
    >>> [(n.text, n.xyxy, n.members) for n in read_numbers(d)]
    [('42', (0, 0, 45, 40), [0, 1]), ('7', (100, 0, 120, 40), [2])]
    """
    return [n for row in read_page(det, max_gap) for n in row]


def read_page(det: Detections, max_gap: float = NUMBER_GAP) -> list[list[Number]]:
    """The numbers of `read_numbers`, by page row (lines side by side share a row).

    >>> d = Detections([[0, 0, 20, 40], [100, 0, 120, 40], [0, 80, 20, 120]], digit=[4, 7, 5])
    >>> [[n.text for n in row] for row in read_page(d)]
    [['4', '7'], ['5']]
    """
    rows = np.flatnonzero((det.digit >= 0) & (det.digit <= 9))
    sub = det[rows]
    centers, wh = sub.centers, np.maximum(sub.xywh[:, 2:].astype(np.float64), 0.0)
    boxes, digits, index = sub.xyxy.tolist(), sub.digit.tolist(), rows.tolist()
    page = []
    for row in page_rows(sub):
        numbers = []
        for line in _take_in_between(row, centers, wh[:, 1]):
            for run in _split_line(centers, wh, line, max_gap):
                run = run.tolist()
                x0, y0, x1, y1 = zip(*(boxes[i] for i in run), strict=True)
                numbers.append(Number("".join(str(digits[i]) for i in run),
                                      (min(x0), min(y0), max(x1), max(y1)),
                                      [index[i] for i in run]))
        page.append(numbers)
    return page


def _take_in_between(row: list[Line], centers: np.ndarray, heights: np.ndarray) -> list[Line]:
    """The row's lines, each lone mark that sits on a longer line, between two of its digits,
    taken into that line in its place: a 0 written as a small o between two tall digits is
    too small to link to them, but it is read where it was written."""
    long = [ln for ln in row if len(ln) >= 2]
    if not long or len(long) == len(row):
        return row
    out = list(long)
    for ln in row:
        if len(ln) >= 2:
            continue
        k = int(ln.members[0])
        for j, host in enumerate(out):
            t = np.radians(host.angle)
            offset = centers[host.members] - centers[k]
            along = offset @ np.array([np.cos(t), np.sin(t)])
            across = offset @ np.array([-np.sin(t), np.cos(t)])
            if along.min() < 0 < along.max() and np.abs(across).min() < np.median(
                    heights[host.members]):
                members = np.r_[host.members, k]
                order = np.argsort(np.r_[along, 0.0], kind="stable")
                out[j] = Line(members[order], host.angle)
                break
        else:
            out.append(ln)
    return sorted(out, key=lambda ln: float(centers[ln.members, 0].min()))


def reading_order(det: Detections) -> np.ndarray:
    """Row indices in page reading order: rows of lines top to bottom, lines left to right.

    >>> reading_order(Detections([[0, 100, 20, 140], [30, 0, 50, 40], [0, 0, 20, 40]])).tolist()
    [2, 1, 0]
    """
    lines = group_lines(det)
    if not lines:
        return np.zeros(0, np.int64)
    return np.concatenate([line.members for line in lines])


def read_text(det: Detections) -> str:
    """The page's numbers in reading order, separated by spaces.

    >>> read_text(Detections([[0, 0, 20, 40], [25, 0, 45, 40], [100, 0, 120, 40],
    ...                       [0, 80, 20, 120]], digit=[2, 0, 7, 5]))
    '20 7 5'
    """
    return " ".join(n.text for n in read_numbers(det))


def _next_on_line(det: Detections, size_ratio: float = MAX_SIZE_RATIO) -> np.ndarray:
    """Each digit's successor on its line, or -1: the nearest digit ahead, if that one agrees.

    Ahead means to the right and no steeper than MAX_LINK_ANGLE. Keeping only mutual choices
    gives every digit at most one neighbour per side, so lines come out as chains, never trees.
    """
    b = det.xyxy.astype(np.float64)
    dx, dy, hi, lo = _apart(det)
    near, far = b[:, :2], b[:, 2:]  # top-left and bottom-right corners
    gap_xy = np.maximum(0.0, np.maximum(near[None] - far[:, None], near[:, None] - far[None]))
    gap = np.hypot(gap_xy[..., 0], gap_xy[..., 1])  # 0 when the boxes touch or overlap
    return _mutual_ahead(dx, dy, (dx > 0) & (np.abs(dy) <= dx * _TAN_LINK)
                         & (gap < LINK_GAP * (hi + lo) / 2) & (hi <= size_ratio * lo))


def _apart(det: Detections) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every two digits ([i, j]: from digit i to digit j), how far apart their centres
    are across and down, and the taller and the shorter of their heights."""
    c = det.centers
    h = np.maximum(det.heights, 1.0)
    dx = c[None, :, 0] - c[:, None, 0]
    dy = c[None, :, 1] - c[:, None, 1]
    return dx, dy, np.maximum(h[:, None], h[None, :]), np.minimum(h[:, None], h[None, :])


def _mutual_ahead(dx: np.ndarray, dy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Each digit's nearest digit ahead among those `ok` allows ([i, j]: from i to j, `dx`
    and `dy` apart), or -1: kept only where that one's nearest behind is this one."""
    cost = np.where(ok, np.hypot(dx, dy), np.inf)
    ahead, behind = cost.argmin(axis=1), cost.argmin(axis=0)
    idx = np.arange(len(cost))
    mutual = np.isfinite(cost[idx, ahead]) & (behind[ahead] == idx)
    return np.where(mutual, ahead, -1)


def _fit_line(centers: np.ndarray, chain: np.ndarray) -> Line:
    """The chain's direction by principal axis of its centres; members ordered along it."""
    if len(chain) < 2:
        return Line(chain, 0.0)
    p = centers[chain] - centers[chain].mean(axis=0)
    sxx, syy, sxy = (p[:, 0] ** 2).sum(), (p[:, 1] ** 2).sum(), (p[:, 0] * p[:, 1]).sum()
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)  # in [-90, 90] degrees, so it points rightwards
    along = p @ np.array([np.cos(theta), np.sin(theta)])
    return Line(chain[np.argsort(along, kind="stable")], float(np.degrees(theta)))


def _split_line(centers: np.ndarray, wh: np.ndarray, line: Line,
                max_gap: float) -> list[np.ndarray]:
    """The line's members cut into runs wherever the gap along the line exceeds `max_gap`."""
    m = line.members
    if len(m) < 2:
        return [m]
    t = np.radians(line.angle)
    u = np.array([np.cos(t), np.sin(t)])
    extent = wh[m] @ np.abs(u)  # each box's length along the line
    along = centers[m] @ u
    gaps = along[1:] - along[:-1] - (extent[1:] + extent[:-1]) / 2
    height = max(float(np.sort(wh[m, 1])[len(m) // 2]), 1.0)  # the (upper) median
    wide = gaps > max_gap * height
    if len(gaps) >= 3:
        # A writer who spaces every digit widely still writes one number: a gap ends a number
        # only if it is also clearly wider than this line's usual gap (or wider than FAR_GAP).
        usual = float(np.sort(gaps)[(len(gaps) - 1) // 2])
        wide &= (gaps > GAP_RATIO * usual) | (gaps > FAR_GAP * height)
    c = centers[m]
    steps = np.diff(c, axis=0)
    # Steps that all keep one direction (within 0.2 rad, the usual case) leave no baseline.
    if len(m) >= 3 and np.ptp(np.arctan2(steps[:, 1], steps[:, 0])) > 0.2:
        wide |= _off_baseline(c, height)
    return np.split(m, np.flatnonzero(wide) + 1)


def _off_baseline(c: np.ndarray, height: float) -> np.ndarray:
    """For each step between consecutive digits, whether it leaves the direction the line's
    other steps keep (their median angle) by more than BASELINE_SHIFT digit heights: a digit
    raised or lowered off the line. Slanted rows keep one direction and are never cut."""
    steps = np.diff(c, axis=0)
    n = len(steps)
    if n < 2:
        return np.zeros(n, bool)
    angles = np.arctan2(steps[:, 1], steps[:, 0])
    others = np.broadcast_to(angles, (n, n))[~np.eye(n, dtype=bool)].reshape(n, n - 1)
    a = np.sort(others, axis=1)[:, (n - 1) // 2]  # each step's reference: the others' median
    across = np.abs(-np.sin(a) * steps[:, 0] + np.cos(a) * steps[:, 1])
    return across > BASELINE_SHIFT * height


def _page_order(xyxy: np.ndarray, centers: np.ndarray, lines: list[Line],
                straight: np.ndarray, tilt: float) -> list[list[Line]]:
    """Lines sorted into page rows top to bottom, each left to right. `xyxy` and `centers`
    are in a frame turned by `tilt` degrees; `straight` flags the lines `_is_long` trusts.

    Two lines share a row when, where they meet (the middle of the stretch both cover, or
    of the gap between them), their centre lines are as close as boxes overlapping by
    ROW_OVERLAP of the shorter would be. A long straight line keeps its own slope, so rows
    of a grid in perspective, each sloping its own way, stay apart; other lines count as
    level. Each row is anchored on its topmost line, so lines cannot chain down the page.
    """
    if len(lines) < 2:
        return [lines] if lines else []
    b = xyxy.astype(np.float64)
    heights = b[:, 3] - b[:, 1]
    label = np.empty(len(b), np.int64)
    for k, ln in enumerate(lines):
        label[ln.members] = k
    x0, x1 = np.full(len(lines), np.inf), np.full(len(lines), -np.inf)
    np.minimum.at(x0, label, b[:, 0])
    np.maximum.at(x1, label, b[:, 2])
    count = np.bincount(label, minlength=len(lines))
    mid_x, mid_y, height = (np.bincount(label, v, len(lines)) / count
                            for v in (centers[:, 0], centers[:, 1], heights))
    slope = np.zeros(len(lines))
    for k in np.flatnonzero(straight).tolist():
        slope[k] = np.tan(np.radians(lines[k].angle - tilt))

    def same_row(i: int, a: int) -> bool:
        x = (max(x0[i], x0[a]) + min(x1[i], x1[a])) / 2
        dy = abs(mid_y[i] + slope[i] * (x - mid_x[i]) - mid_y[a] - slope[a] * (x - mid_x[a]))
        hi, ha = height[i], height[a]
        return bool(dy <= (hi + ha) / 2 - ROW_OVERLAP * min(hi, ha))

    rows: list[list[int]] = []
    for i in np.argsort(mid_y, kind="stable").tolist():
        if rows and same_row(i, rows[-1][0]):
            rows[-1].append(i)
            continue
        rows.append([i])
    return [[lines[i] for i in sorted(row, key=lambda k: x0[k])] for row in rows]
