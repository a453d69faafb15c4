"""The annotators draw on plain arrays: boxes and labels, numbers, the crops, the overlay."""

import numpy as np

from livedigits.annotate import annotate, draw_crops, draw_overlay
from livedigits.detections import Detections, FrameResult, Number


def result_with_crops() -> FrameResult:
    det = Detections(np.array([[100, 100, 140, 160]]), digit=[7], confidence=[0.9],
                     track_id=[1])
    crop = np.zeros((1, 28, 28), np.uint8)
    crop[0, 4:24, 12:16] = 255
    return FrameResult(0, 0.0, det, [Number("7", (100, 100, 140, 160), [0])],
                       raw=det.with_data(crop=crop), stages_ms={"detect": 3.0, "infer": 2.0})


def test_draw_crops_puts_the_crop_beside_its_box():
    scene = np.zeros((300, 300, 3), np.uint8)
    draw_crops(scene, result_with_crops().raw)
    assert scene[:, :141].max() == 0  # nothing on or left of the box
    assert scene[100:128, 142:170].max() == 255  # the crop, at least 28 px, right of it
    untouched = np.zeros_like(scene)
    assert (draw_crops(untouched, Detections(np.array([[0, 0, 5, 5]]))) == 0).all()  # no crops


def test_overlay_writes_fps_and_stages_in_the_corner():
    scene = np.full((240, 320, 3), 128, np.uint8)
    draw_overlay(scene, 30.0, {"detect": 3.0, "infer": 2.0})
    changed = (scene != 128).any(axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.any() and ys.max() < 120 and xs.min() < 20


def test_annotate_draws_boxes_and_optionally_crops_and_overlay():
    res = result_with_crops()
    plain = annotate(np.full((300, 300, 3), 200, np.uint8), res, overlay=False)
    with_crops = annotate(np.full((300, 300, 3), 200, np.uint8), res, show_crops=True,
                          overlay=False)
    assert (plain[100, 100:140] != 200).any()  # the box's top edge
    assert (plain[100:128, 142:170] == 200).all() and (with_crops[100:128, 142:170] != 200).any()
    grey = annotate(np.full((300, 300), 200, np.uint8), res, fps=25.0)
    assert grey.shape == (300, 300, 3) and (grey[:40, :100] != 200).any()
