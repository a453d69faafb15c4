"""Stateless drawing: each annotator takes a scene and what was read, and returns the scene.

`annotate(scene, result)` draws in place (the scene is the frame we own) and returns it; with
`show_crops` it returns a taller image, the frame over a strip of the crops the model saw.
Labels are placed so that none covers another label or a digit (`place_labels`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from livedigits.detections import Detections, FrameResult, Number

GREEN = (60, 200, 60)
ORANGE = (0, 160, 255)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GREY = (170, 170, 170)
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


def _candidates(box: Rect, w: int, h: int, frame: tuple[int, int], steps: int,
                gap: int) -> np.ndarray:
    """Where a w x h label may go for `box`, best first, as rows of x0 y0 x1 y1: above, below,
    beside, then stacked further above and below; each held inside the frame."""
    x0, y0, x1, y1 = box
    k = np.arange(1, steps + 1)
    xs = np.concatenate([[x0, x0, x1 + gap, x0 - gap - w], np.full(2 * steps, x0)])
    ys = np.concatenate([[y0 - gap - h, y1 + gap, y0, y0],
                         np.stack([y0 - gap - h - k * (h + gap),
                                   y1 + gap + k * (h + gap)], 1).ravel()])
    xs = np.clip(xs, 0, max(frame[0] - w, 0))
    ys = np.clip(ys, 0, max(frame[1] - h, 0))
    return np.stack([xs, ys, xs + w, ys + h], 1).astype(np.int64)


def _covers(spots: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """For each spot (K, 4), how many of `rects` (M, 4) it overlaps."""
    if not len(rects):
        return np.zeros(len(spots), np.int64)
    a, b = spots[:, None, :], rects[None, :, :]
    hit = ((a[..., 0] < b[..., 2]) & (b[..., 0] < a[..., 2])
           & (a[..., 1] < b[..., 3]) & (b[..., 1] < a[..., 3]))
    return hit.sum(axis=1)


def place_labels(anchors: Sequence[Rect], sizes: Sequence[tuple[int, int]],
                 frame: tuple[int, int], avoid: Sequence[Rect] = (), gap: int = 2) -> list[Rect]:
    """A rectangle for each label (size w, h) next to its anchor box, none overlapping another
    label or anything in `avoid` (digit boxes); where the frame is too full for that, the spot
    that covers the fewest labels.

    >>> place_labels([(10, 40, 30, 70), (32, 40, 52, 70)], [(40, 16), (40, 16)], (200, 200))
    [(10, 22, 50, 38), (32, 72, 72, 88)]
    """
    placed = np.zeros((len(anchors), 4), np.int64)
    obstacles = np.asarray(avoid, np.int64).reshape(-1, 4)
    steps = len(anchors) + 2  # enough rows that every label can find a free one
    for i, (box, (w, h)) in enumerate(zip(anchors, sizes, strict=True)):
        spots = _candidates(as_rect(box), w, h, frame, steps, gap)
        labels, others = _covers(spots, placed[:i]), _covers(spots, obstacles)
        free = np.flatnonzero((labels == 0) & (others == 0))
        placed[i] = spots[free[0] if len(free) else np.lexsort((others, labels))[0]]
    return [as_rect(r) for r in placed]


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
                  show_confidence: bool = False, avoid: Sequence[Rect] = ()) -> np.ndarray:
    """Boxes and digit labels, then an outline and a text label for each multi-digit number;
    no label covers another label, a digit or anything in `avoid`."""
    s = _scale(scene)
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


def draw_digits(scene: np.ndarray, det: Detections, show_confidence: bool = False
                ) -> np.ndarray:
    """A box and a label for each detection (the digit; its confidence too when asked)."""
    return draw_readings(scene, det, [], show_confidence)


def crops_strip(det: Detections, width: int, scale: float = 1.0) -> np.ndarray:
    """The 28x28 crops the model saw, left to right as on the page, each over its reading, on
    a dark strip `width` wide (as many rows as needed): shown below the frame, so it hides
    nothing of it.
    """
    side = int(56 * max(scale, 0.75))
    label_h = int(18 * max(scale, 0.75))
    cell_w, cell_h = side + 6, side + label_h + 4
    per_row = max(1, width // cell_w)
    crops = det.data.get("crop", np.zeros((0, 28, 28), np.uint8))
    n = len(crops)
    rows = max(1, -(-n // per_row))
    strip = np.full((rows * cell_h + 4, width, 3), 40, np.uint8)
    if n == 0:
        cv2.putText(strip, "no crops", (8, min(cell_h, 40)), FONT, 0.5 * max(scale, 0.75),
                    GREY, 1, cv2.LINE_AA)
        return strip
    order = np.lexsort((det.xyxy[:, 0], det.xyxy[:, 1] // 8))
    for k, i in enumerate(order):
        r, c = divmod(k, per_row)
        x, y = 3 + c * cell_w, 4 + r * cell_h
        thumb = cv2.resize(crops[i], (side, side), interpolation=cv2.INTER_NEAREST)
        strip[y : y + side, x : x + side] = thumb[..., None]
        text = digit_text(det.digit[i], det.confidence[i], True)
        cv2.putText(strip, text, (x, y + side + label_h - 4), FONT, 0.45 * max(scale, 0.75),
                    WHITE, 1, cv2.LINE_AA)
    return strip


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


def annotate(scene: np.ndarray, result: FrameResult, fps: float | None = None,
             show_crops: bool = False, overlay: bool = True,
             stages_ms: Mapping[str, float] | None = None, show_confidence: bool = False,
             extra: Sequence[str] = ()) -> np.ndarray:
    """Draw everything read in `result` onto `scene` (in place) and return it.

    `stages_ms` is what the overlay lists (default: the pipeline's own stages); `show_crops`
    returns the scene over a strip of the crops (a taller image).
    """
    if scene.ndim == 2:
        scene = cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR)
    stages = result.stages_ms if stages_ms is None else stages_ms
    panel = [_overlay_panel(scene, fps, stages, extra, draw=False)] if overlay else []
    draw_readings(scene, result.detections, result.numbers, show_confidence, avoid=panel)
    if overlay:
        draw_overlay(scene, fps, stages, extra)
    if show_crops:
        scene = draw_crops(scene, result.raw if result.raw is not None else Detections.empty())
    return scene
