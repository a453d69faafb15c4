"""Stateless drawing: each annotator takes a scene and what was read, and returns the scene.

`annotate(scene, result)` draws in place (the scene is the frame we own) and returns it; with
`show_crops` it returns a taller image, the frame over a strip of the crops the model saw.
Labels are placed so that none covers another label or a digit (`place_labels`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from livedigits.detections import Detections, FrameResult, Number

GREEN = (60, 200, 60)
ORANGE = (0, 160, 255)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GREY = (170, 170, 170)
SHEET = (255, 160, 0)  # the outline of the sheet found: a light blue, apart from the labels
FONT = cv2.FONT_HERSHEY_SIMPLEX

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels


def _scale(scene: np.ndarray) -> float:
    """Text and line size that stays readable from 480p to 4K."""
    return max(0.75, scene.shape[0] / 720)


def _thick(s: float) -> int:
    return max(1, int(2 * s))


def text_size(text: str, scale: float) -> tuple[int, int]:
    """Width and height of a label's filled background for `text` at `scale`."""
    (tw, th), base = cv2.getTextSize(text, FONT, 0.6 * scale, _thick(scale))
    return tw + 4, th + base + 2


def as_rect(box) -> Rect:
    """Four numbers as an integer Rect."""
    x0, y0, x1, y1 = (int(v) for v in box)
    return x0, y0, x1, y1


def overlaps(a: Rect, b: Rect) -> bool:
    """Whether two rectangles share any pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _clip(x: int, y: int, w: int, h: int, frame: tuple[int, int]) -> Rect:
    """A w x h rectangle at (x, y), moved inside the frame (w, h) where it pokes out."""
    x = min(max(x, 0), max(frame[0] - w, 0))
    y = min(max(y, 0), max(frame[1] - h, 0))
    return x, y, x + w, y + h


def _next_to(box: Rect, w: int, h: int, gap: int) -> list[tuple[int, int]]:
    """Where a w x h label may go for `box`, best first: above, below, right, left."""
    x0, y0, x1, y1 = box
    return [(x0, y0 - gap - h), (x0, y1 + gap), (x1 + gap, y0), (x0 - gap - w, y0)]


def _stacked(box: Rect, w: int, h: int, gap: int, frame: tuple[int, int], steps: int
             ) -> Iterator[Rect]:
    """Further spots once the four next to `box` are taken, made as they are tried: rows
    further and further above and below it, until both reach the frame's edges."""
    x0, y0, _, y1 = box
    for k in range(1, steps + 1):
        up = _clip(x0, y0 - gap - h - k * (h + gap), w, h, frame)
        down = _clip(x0, y1 + gap + k * (h + gap), w, h, frame)
        yield up
        yield down
        if up[1] == 0 and down[3] >= frame[1]:
            return


def place_labels(anchors: Sequence[Rect], sizes: Sequence[tuple[int, int]],
                 frame: tuple[int, int], avoid: Sequence[Rect] = (), gap: int = 2) -> list[Rect]:
    """A rectangle for each label (size w, h) next to its anchor box, none overlapping another
    label or anything in `avoid` (digit boxes); where the frame is too full for that, the spot
    that covers the fewest labels. Runs every frame, so it tries the four spots next to the
    box first and only then stacked ones, one at a time (plain overlap tests, no arrays).

    >>> place_labels([(10, 40, 30, 70), (32, 40, 52, 70)], [(40, 16), (40, 16)], (200, 200))
    [(10, 22, 50, 38), (32, 72, 72, 88)]
    """
    obstacles = [as_rect(r) for r in avoid]
    placed: list[Rect] = []
    steps = len(anchors) + 2  # enough rows that every label can find a free one

    def hits(r: Rect, rects: list[Rect]) -> int:
        return sum(1 for b in rects if r[0] < b[2] and b[0] < r[2] and r[1] < b[3] and b[1] < r[3])

    def free(r: Rect) -> bool:
        return not any(r[0] < b[2] and b[0] < r[2] and r[1] < b[3] and b[1] < r[3]
                       for rects in (placed, obstacles) for b in rects)

    for box, (w, h) in zip(anchors, sizes, strict=True):
        box = as_rect(box)
        spots = [_clip(x, y, w, h, frame) for x, y in _next_to(box, w, h, gap)]
        best = next((r for r in spots if free(r)), None)
        if best is None:
            for r in _stacked(box, w, h, gap, frame, steps):
                spots.append(r)
                if free(r):
                    best = r
                    break
        if best is None:  # crowded: the spot covering the fewest labels, then fewest digits
            best = min(spots, key=lambda r: (hits(r, placed), hits(r, obstacles)))
        placed.append(best)
    return placed


def _draw_label(scene: np.ndarray, text: str, rect: Rect, color, scale: float) -> None:
    x0, y0, x1, y1 = rect
    cv2.rectangle(scene, (x0, y0), (x1 - 1, y1 - 1), color, -1)
    (_, th), base = cv2.getTextSize(text, FONT, 0.6 * scale, _thick(scale))
    cv2.putText(scene, text, (x0 + 2, y0 + 1 + th), FONT, 0.6 * scale, BLACK, _thick(scale),
                cv2.LINE_AA)


def digit_text(digit: int, confidence: float, show_confidence: bool = False) -> str:
    """A digit's label: the digit, with its confidence in the debug view ('9 .95', '9 1.00')."""
    if not show_confidence:
        return str(int(digit))
    return f"{int(digit)} {confidence:.2f}".replace(" 0.", " .")


@dataclass
class Layout:
    """Where everything read goes on the scene: digit boxes and their labels, then each
    multi-digit number's outline (around its digits and their labels) and label."""

    boxes: list[Rect]
    tags: list[Rect]
    tag_texts: list[str]
    outlines: list[Rect]
    number_tags: list[Rect]
    number_texts: list[str]


def layout(det: Detections, numbers: list[Number], frame: tuple[int, int], scale: float,
           show_confidence: bool = False, avoid: Sequence[Rect] = ()) -> Layout:
    """Place the labels of `det` and `numbers` in a frame (w, h) so none covers another
    label, a digit or anything in `avoid` (the stats panel); digits are labelled in reading
    order."""
    boxes: list[Rect] = [as_rect(b) for b in det.xyxy]
    texts = [digit_text(d, c, show_confidence) for d, c in zip(det.digit, det.confidence,
                                                               strict=True)]
    order = [int(i) for i in np.lexsort((det.xyxy[:, 0], det.xyxy[:, 1] // 8))] if boxes else []
    sizes = [text_size(t, scale) for t in texts]
    spots = place_labels([boxes[i] for i in order], [sizes[i] for i in order], frame,
                         avoid=boxes + list(avoid))
    tags: list[Rect] = [(0, 0, 0, 0)] * len(boxes)
    for i, r in zip(order, spots, strict=True):
        tags[i] = r
    pad = int(4 * scale)
    outlines, ntexts = [], []
    for n in numbers:
        members = [m for m in n.members if 0 <= m < len(boxes)]
        if len(n.text) < 2 or not members:
            continue
        rects = [boxes[m] for m in members] + [tags[m] for m in members]
        outlines.append((min(r[0] for r in rects) - pad, min(r[1] for r in rects) - pad,
                         max(r[2] for r in rects) + pad, max(r[3] for r in rects) + pad))
        ntexts.append(n.text)
    nscale = scale * 1.2
    ntags = place_labels(outlines, [text_size(t, nscale) for t in ntexts], frame,
                         avoid=boxes + tags + list(avoid))
    return Layout(boxes, tags, texts, outlines, ntags, ntexts)


def draw_readings(scene: np.ndarray, det: Detections, numbers: list[Number],
                  show_confidence: bool = False, avoid: Sequence[Rect] = (),
                  lay: Layout | None = None) -> np.ndarray:
    """Boxes and digit labels, then an outline and a text label for each multi-digit number;
    no label covers another label, a digit or anything in `avoid`. `lay`: a layout already
    made for this scene (by `scene_layout`), so it is not placed twice."""
    s = _scale(scene)
    if lay is None:
        lay = layout(det, numbers, (scene.shape[1], scene.shape[0]), s, show_confidence, avoid)
    for b in lay.boxes:
        cv2.rectangle(scene, b[:2], (b[2], b[3]), GREEN, _thick(s))
    for t, r in zip(lay.tag_texts, lay.tags, strict=True):
        _draw_label(scene, t, r, GREEN, s)
    for o in lay.outlines:
        cv2.rectangle(scene, o[:2], (o[2], o[3]), ORANGE, max(1, int(s)))
    for t, r in zip(lay.number_texts, lay.number_tags, strict=True):
        _draw_label(scene, t, r, ORANGE, s * 1.2)
    return scene


CROP_ROWS = 2  # the strip's rows: fixed, so the scene keeps one size for the whole run


def crops_strip(det: Detections, width: int, scale: float = 1.0) -> np.ndarray:
    """The 28x28 crops the model saw, left to right as on the page, each over its reading, on
    a dark strip `width` wide and always CROP_ROWS rows high (a video's frames keep one size;
    crops beyond them are counted in the last cell): shown below the frame, so it hides
    nothing of it.
    """
    side = int(56 * max(scale, 0.75))
    label_h = int(18 * max(scale, 0.75))
    fs = 0.45 * max(scale, 0.75)
    cell_w, cell_h = side + 6, side + label_h + 4
    per_row = max(1, width // cell_w)
    crops = det.data.get("crop", np.zeros((0, 28, 28), np.uint8))
    n = len(crops)
    strip = np.full((CROP_ROWS * cell_h + 4, width, 3), 40, np.uint8)
    if n == 0:
        cv2.putText(strip, "no crops", (8, min(cell_h, 40)), FONT, 0.5 * max(scale, 0.75),
                    GREY, 1, cv2.LINE_AA)
        return strip
    room = per_row * CROP_ROWS
    shown = n if n <= room else room - 1  # the last cell then says how many are left out
    order = np.lexsort((det.xyxy[:, 0], det.xyxy[:, 1] // 8))
    for k, i in enumerate(order[:shown]):
        r, c = divmod(k, per_row)
        x, y = 3 + c * cell_w, 4 + r * cell_h
        thumb = cv2.resize(crops[i], (side, side), interpolation=cv2.INTER_NEAREST)
        strip[y : y + side, x : x + side] = thumb[..., None]
        text = digit_text(det.digit[i], det.confidence[i], True)
        cv2.putText(strip, text, (x, y + side + label_h - 4), FONT, fs, WHITE, 1, cv2.LINE_AA)
    if shown < n:
        r, c = divmod(shown, per_row)
        x, y = 3 + c * cell_w, 4 + r * cell_h
        cv2.putText(strip, f"+{n - shown}", (x, y + side // 2), FONT, fs, GREY, 1,
                    cv2.LINE_AA)
    return strip


def draw_sheet(scene: np.ndarray, outline: np.ndarray | None) -> None:
    """Outline the sheet found (in place): what the detector took for the paper when it lies
    on a desk, a door or a hand. Ink is read within a few pixels of it, nothing further out."""
    if outline is not None and len(outline) >= 3:
        cv2.polylines(scene, [np.round(outline).astype(np.int32).reshape(-1, 1, 2)], True,
                      SHEET, _thick(_scale(scene)), cv2.LINE_AA)


def draw_crops(scene: np.ndarray, det: Detections) -> np.ndarray:
    """The scene over a strip of each row's crop (`data["crop"]`), what the model saw (a new,
    taller image)."""
    return np.vstack([scene, crops_strip(det, scene.shape[1], _scale(scene))])


def _panel(scene: np.ndarray, rows: list[tuple[str, str]], origin: tuple[int, int],
           s: float, title: str | None = None, right: bool = True, draw: bool = True) -> Rect:
    """Rows of 'name  value' (names left, values right-aligned, or in a column when not
    `right`; a row with no value is a line of its own) in white on a dark translucent panel
    at `origin`; its rect."""
    fs, th = 0.5 * s, max(1, int(1.2 * s))
    line_h, pad, gap = int(22 * s), int(8 * s), int(16 * s)

    def width(text: str) -> int:
        return cv2.getTextSize(text, FONT, fs, th)[0][0] if text else 0

    pairs = [(a, b) for a, b in rows if b]
    name_w = max((width(a) for a, _ in pairs), default=0)
    inner = max([name_w + gap + max((width(b) for _, b in pairs), default=0)]
                + [width(a) for a, b in rows if not b] + [width(title or "")])
    x0, y0 = origin
    x1 = min(x0 + inner + 2 * pad, scene.shape[1])
    y1 = min(y0 + line_h * (len(rows) + bool(title)) + int(10 * s), scene.shape[0])
    if x1 <= x0 or y1 <= y0 or not draw:
        return (x0, y0, max(x0, x1), max(y0, y1))
    roi = scene[y0:y1, x0:x1]
    roi[:] = (roi.astype(np.uint16) * 3 // 10).astype(np.uint8)  # dark, and see-through
    y = y0 + line_h
    if title:
        cv2.putText(scene, title, (x0 + pad, y), FONT, fs, WHITE, th, cv2.LINE_AA)
        y += line_h
    for a, b in rows:
        cv2.putText(scene, a, (x0 + pad, y), FONT, fs, GREY if b else WHITE, th, cv2.LINE_AA)
        if b:
            x = x1 - pad - width(b) if right else x0 + pad + name_w + gap
            cv2.putText(scene, b, (x, y), FONT, fs, WHITE, th, cv2.LINE_AA)
        y += line_h
    return (x0, y0, x1, y1)


def draw_overlay(scene: np.ndarray, fps: float | None, stages_ms: Mapping[str, float],
                 extra: Sequence[str] = ()) -> np.ndarray:
    """FPS, milliseconds of every stage and their total on a dark panel, top left; `extra`
    lines (e.g. 'PAUSED', 'REC') under them."""
    _overlay_panel(scene, fps, stages_ms, extra, draw=True)
    return scene


def _overlay_panel(scene: np.ndarray, fps: float | None, stages_ms: Mapping[str, float],
                   extra: Sequence[str], draw: bool) -> Rect:
    """The overlay's panel: drawn, or only where it would go."""
    s = _scale(scene)
    rows = [(k, f"{v:.1f} ms") for k, v in stages_ms.items()]
    if stages_ms:
        rows.append(("total", f"{sum(stages_ms.values()):.1f} ms"))
    rows += [(e, "") for e in extra]
    title = f"{fps:.1f} FPS" if fps else None
    return _panel(scene, rows, (int(6 * s), int(6 * s)), s, title, draw=draw)


def draw_help(scene: np.ndarray, keys: Sequence[tuple[str, str]]) -> np.ndarray:
    """The keys and what they do, on a dark panel in the middle of the scene."""
    s = _scale(scene)
    probe = np.zeros((scene.shape[0], scene.shape[1], 3), np.uint8)
    title = "keys (h hides this)"
    x0, y0, x1, y1 = _panel(probe, list(keys), (0, 0), s, title, right=False)
    _panel(scene, list(keys), (max(0, (scene.shape[1] - x1) // 2),
                               max(0, (scene.shape[0] - y1) // 2)), s, title, right=False)
    return scene


def draw_note(scene: np.ndarray, text: str) -> np.ndarray:
    """One line of `text` on a dark band along the bottom of the scene (e.g. 'end of video')."""
    s = _scale(scene)
    fs, th = 0.55 * s, max(1, int(1.2 * s))
    (tw, tht), base = cv2.getTextSize(text, FONT, fs, th)
    h = tht + base + int(14 * s)
    y0 = max(0, scene.shape[0] - h)
    roi = scene[y0:, :]
    roi[:] = (roi.astype(np.uint16) * 3 // 10).astype(np.uint8)
    x = max(4, (scene.shape[1] - tw) // 2)
    cv2.putText(scene, text, (x, scene.shape[0] - base - int(7 * s)), FONT, fs, WHITE, th,
                cv2.LINE_AA)
    return scene


def overlay_rect(scene: np.ndarray, fps: float | None, stages_ms: Mapping[str, float],
                 extra: Sequence[str] = ()) -> Rect:
    """Where `draw_overlay` would put its panel on `scene`, drawing nothing."""
    return _overlay_panel(scene, fps, stages_ms, extra, draw=False)


def scene_layout(scene: np.ndarray, result: FrameResult, show_confidence: bool = False,
                 avoid: Sequence[Rect] = ()) -> Layout:
    """The labels' layout of `result` on a scene like `scene`, to draw more than once."""
    return layout(result.detections, result.numbers, (scene.shape[1], scene.shape[0]),
                  _scale(scene), show_confidence, avoid)


def annotate(scene: np.ndarray, result: FrameResult, fps: float | None = None,
             show_crops: bool = False, overlay: bool = True,
             stages_ms: Mapping[str, float] | None = None, show_confidence: bool = False,
             extra: Sequence[str] = (), lay: Layout | None = None) -> np.ndarray:
    """Draw everything read in `result` onto `scene` (in place) and return it.

    `stages_ms` is what the overlay lists (default: the pipeline's own stages); `show_crops`
    returns the scene over a strip of the crops (a taller image); `lay` is the labels' layout
    when it was already made (`scene_layout`, avoiding the overlay's panel if it is drawn).
    """
    if scene.ndim == 2:
        scene = cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR)
    stages = result.stages_ms if stages_ms is None else stages_ms
    panel = [overlay_rect(scene, fps, stages, extra)] if overlay and lay is None else []
    draw_readings(scene, result.detections, result.numbers, show_confidence, avoid=panel,
                  lay=lay)
    if overlay:
        draw_overlay(scene, fps, stages, extra)
    if show_crops:
        draw_sheet(scene, result.sheet)
        scene = draw_crops(scene, result.raw if result.raw is not None else Detections.empty())
    return scene
