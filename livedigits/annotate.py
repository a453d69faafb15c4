"""Stateless drawing: each annotator takes a scene and what was read, and returns the scene.

`annotate(scene, result)` draws in place (the scene is the frame we own) and returns it.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from livedigits.detections import Detections, FrameResult, Number

GREEN = (60, 200, 60)
ORANGE = (0, 160, 255)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _scale(scene: np.ndarray) -> float:
    """Text and line size that stays readable from 480p to 4K."""
    return max(0.5, scene.shape[0] / 720)


def _label(scene: np.ndarray, text: str, org: tuple[int, int], color, scale: float) -> None:
    (tw, th), base = cv2.getTextSize(text, FONT, 0.6 * scale, max(1, int(2 * scale)))
    x, y = int(org[0]), int(max(th + base, org[1]))
    cv2.rectangle(scene, (x, y - th - base), (x + tw + 4, y), color, -1)
    cv2.putText(scene, text, (x + 2, y - base // 2), FONT, 0.6 * scale, BLACK,
                max(1, int(2 * scale)), cv2.LINE_AA)


def draw_digits(scene: np.ndarray, det: Detections) -> np.ndarray:
    """A box and a 'digit confidence' label for each detection."""
    s = _scale(scene)
    for (x0, y0, x1, y1), dig, conf in zip(det.xyxy, det.digit, det.confidence, strict=True):
        cv2.rectangle(scene, (int(x0), int(y0)), (int(x1), int(y1)), GREEN, max(1, int(2 * s)))
        _label(scene, f"{dig} {conf:.2f}" if conf < 0.995 else f"{dig}", (x0, y0 - 2), GREEN, s)
    return scene


def draw_numbers(scene: np.ndarray, numbers: list[Number]) -> np.ndarray:
    """An outline and the text under each multi-digit number."""
    s = _scale(scene)
    for n in numbers:
        if len(n.text) < 2:
            continue
        x0, y0, x1, y1 = (int(v) for v in n.xyxy)
        pad = int(6 * s)
        cv2.rectangle(scene, (x0 - pad, y0 - pad), (x1 + pad, y1 + pad), ORANGE, max(1, int(s)))
        _label(scene, n.text, (x0 - pad, y1 + pad + int(22 * s)), ORANGE, s * 1.2)
    return scene


def draw_crops(scene: np.ndarray, det: Detections) -> np.ndarray:
    """Each row's normalised 28x28 crop (`data["crop"]`) beside its box: what the model
    really saw (debugging)."""
    if "crop" not in det.data:
        return scene
    h, w = scene.shape[:2]
    for (x0, y0, x1, _), crop in zip(det.xyxy, det.data["crop"], strict=True):
        side = int(np.clip((x1 - x0) // 2, 28, 84))
        thumb = cv2.cvtColor(cv2.resize(crop, (side, side), interpolation=cv2.INTER_NEAREST),
                             cv2.COLOR_GRAY2BGR)
        tx, ty = int(min(max(x1 + 2, 0), w - side)), int(min(max(y0, 0), h - side))
        if tx >= 0 and ty >= 0:
            scene[ty : ty + side, tx : tx + side] = thumb
    return scene


def draw_overlay(scene: np.ndarray, fps: float | None,
                 stages_ms: Mapping[str, float]) -> np.ndarray:
    """FPS and per-stage milliseconds in the top-left corner."""
    s = _scale(scene)
    lines = ([f"{fps:5.1f} FPS"] if fps else []) + [
        f"{k} {v:5.1f} ms" for k, v in stages_ms.items()]
    for i, text in enumerate(lines):
        y = int((22 + 20 * i) * s)
        cv2.putText(scene, text, (8, y), FONT, 0.55 * s, BLACK, max(2, int(4 * s)), cv2.LINE_AA)
        cv2.putText(scene, text, (8, y), FONT, 0.55 * s, WHITE, max(1, int(1.5 * s)),
                    cv2.LINE_AA)
    return scene


def annotate(scene: np.ndarray, result: FrameResult, fps: float | None = None,
             show_crops: bool = False, overlay: bool = True) -> np.ndarray:
    """Draw everything read in `result` onto `scene` (in place) and return it."""
    if scene.ndim == 2:
        scene = cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR)
    if show_crops and result.raw is not None:
        draw_crops(scene, result.raw)
    draw_digits(scene, result.detections)
    draw_numbers(scene, result.numbers)
    if overlay:
        draw_overlay(scene, fps, result.stages_ms)
    return scene
