"""Annotation on arrays: labels never cover each other or a digit, the stats panel, crops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from livedigits.annotate import (
    annotate,
    crops_strip,
    digit_text,
    draw_overlay,
    layout,
    overlaps,
    place_labels,
)
from livedigits.detections import Detections, FrameResult, Number


def close_numbers(n_numbers: int = 3, digits: int = 4, w: int = 18, h: int = 30, gap: int = 2,
                  row_gap: int = 6) -> tuple[Detections, list[Number]]:
    """Numbers of `digits` digits packed `gap` px apart, rows `row_gap` px apart."""
    boxes, numbers = [], []
    rng = np.random.default_rng(0)
    for r in range(n_numbers):
        members = []
        y = 40 + r * (h + row_gap)
        for k in range(digits):
            x = 30 + k * (w + gap)
            members.append(len(boxes))
            boxes.append([x, y, x + w, y + h])
        numbers.append(Number("".join(str(int(d)) for d in rng.integers(0, 10, digits)),
                              (30, y, 30 + digits * (w + gap), y + h), members))
    n = len(boxes)
    det = Detections(np.array(boxes), rng.integers(0, 10, n), rng.uniform(0.6, 0.99, n))
    return det, numbers


def assert_disjoint(rects, others=()) -> None:
    for a, b in itertools.combinations(rects, 2):
        assert not overlaps(a, b), (a, b)
    for a in rects:
        for b in others:
            assert not overlaps(a, b), (a, b)


@pytest.mark.parametrize("show_confidence", [False, True])
@pytest.mark.parametrize("gap,row_gap", [(2, 6), (0, 0), (6, 30)])
def test_labels_never_overlap_on_close_numbers(show_confidence, gap, row_gap):
    det, numbers = close_numbers(gap=gap, row_gap=row_gap)
    lay = layout(det, numbers, (640, 480), 1.0, show_confidence)
    assert len(lay.tags) == len(det) and len(lay.number_tags) == len(numbers)
    # no digit label covers another label or any digit; no number label covers either
    assert_disjoint(lay.tags, lay.boxes)
    assert_disjoint(lay.number_tags, lay.boxes + lay.tags)
    for r in lay.tags + lay.number_tags:
        assert 0 <= r[0] < r[2] <= 640 and 0 <= r[1] < r[3] <= 480


def test_number_outline_holds_its_digits_and_their_labels():
    det, numbers = close_numbers(n_numbers=1, gap=6)
    lay = layout(det, numbers, (640, 480), 1.0)
    (o,) = lay.outlines
    for m in numbers[0].members:
        for r in (lay.boxes[m], lay.tags[m]):
            assert o[0] < r[0] and o[1] < r[1] and r[2] < o[2] and r[3] < o[3]


def test_a_lone_label_goes_right_above_its_digit():
    (r,) = place_labels([(100, 100, 120, 130)], [(14, 16)], (640, 480))
    assert r == (100, 82, 114, 98)


def test_labels_stay_inside_the_frame_at_its_edges():
    spots = place_labels([(0, 0, 20, 30), (620, 450, 640, 480)], [(30, 16), (30, 16)],
                         (640, 480))
    for x0, y0, x1, y1 in spots:
        assert x0 >= 0 and x1 <= 640 and y0 >= 0 and y1 <= 480


def test_confidence_only_when_asked():
    assert digit_text(9, 0.953) == "9"
    assert digit_text(9, 0.953, True) == "9 .95"


def test_overlay_is_a_dark_panel_listing_every_stage():
    scene = np.full((480, 640, 3), 250, np.uint8)  # white paper: white text alone would vanish
    stages = {k: 1.0 for k in ("read", "detect", "preprocess", "infer", "track", "numbers",
                               "draw", "write")}
    draw_overlay(scene, 30.0, stages)
    panel = scene[8:200, 8:100]
    assert np.median(panel) < 120  # darkened: white text on it is readable
    assert scene[300:, 300:].min() == 250  # nothing drawn outside the corner
    # taller with more stages: each stage has its own line
    few = np.full((480, 640, 3), 250, np.uint8)
    draw_overlay(few, 30.0, dict(list(stages.items())[:3]))
    rows_dark = lambda img: int((img[:, 20] < 120).sum())  # noqa: E731
    assert rows_dark(scene) > rows_dark(few) + 4 * 15


def test_crops_go_in_a_strip_below_the_frame_and_hide_nothing():
    det, numbers = close_numbers(n_numbers=1)
    crops = np.full((len(det), 28, 28), 255, np.uint8)
    frame = np.full((480, 640, 3), 200, np.uint8)
    result = FrameResult(0, 0.0, det, numbers, raw=det.with_data(crop=crops))
    plain = annotate(frame.copy(), result, overlay=False)
    shown = annotate(frame.copy(), result, overlay=False, show_crops=True)
    assert shown.shape[0] > 480 and shown.shape[1] == 640
    assert np.array_equal(shown[:480], plain)  # the frame itself is untouched by the crops
    strip = crops_strip(det.with_data(crop=crops), 640)
    assert (strip == 255).sum() >= len(det) * 56 * 56  # every crop, at twice its size


def test_the_sheet_read_is_outlined_with_the_crops_only():
    det, numbers = close_numbers(n_numbers=1)
    outline = np.array([[100.0, 100.0], [500.0, 110.0], [480.0, 400.0], [90.0, 380.0]])
    frame = np.full((480, 640, 3), 40, np.uint8)
    result = FrameResult(0, 0.0, det, numbers, raw=det, sheet=outline)
    plain = annotate(frame.copy(), result, overlay=False)
    shown = annotate(frame.copy(), result, overlay=False, show_crops=True)[:480]
    changed = np.any(shown != plain, axis=2)
    assert changed[300, 80:100].any() and changed[105, 300]  # on the left and top edges
    assert not changed[250, 300] and not changed[20, 20]  # not inside, not far outside
    assert np.array_equal(annotate(frame.copy(), FrameResult(0, 0.0, det, numbers, raw=det),
                                   overlay=False, show_crops=True)[:480], plain)


def test_the_crops_strip_keeps_one_height_however_many_crops():
    det, _ = close_numbers(n_numbers=10, digits=5)
    det = det.with_data(crop=np.full((len(det), 28, 28), 255, np.uint8))
    strips = [crops_strip(det[np.arange(k)], 320) for k in (0, 3, 10, len(det))]
    assert len({s.shape for s in strips}) == 1  # a video's frames keep one size
    per_row = 320 // (56 + 6)
    white = lambda s: int((s == 255).all(axis=2).sum())  # noqa: E731
    assert white(strips[1]) >= 3 * 56 * 56  # few crops: each shown
    assert white(strips[2]) >= 2 * per_row * 56 * 56 - 56 * 56  # full: all rows used


def test_overlay_writes_fps_and_stages_in_the_corner():
    scene = np.full((240, 320, 3), 128, np.uint8)
    draw_overlay(scene, 30.0, {"detect": 3.0, "infer": 2.0})
    changed = (scene != 128).any(axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.any() and ys.max() < 120 and xs.min() < 20


def test_labels_keep_clear_of_the_stats_panel():
    det = Detections(np.array([[20, 30, 40, 80], [60, 30, 80, 80]]), digit=[1, 9],
                     confidence=[0.9, 0.9])
    panel = (0, 0, 200, 150)
    lay = layout(det, [Number("19", (20, 30, 80, 80), [0, 1])], (640, 480), 1.0,
                 avoid=[panel])
    assert_disjoint(lay.tags + lay.number_tags, [panel])
