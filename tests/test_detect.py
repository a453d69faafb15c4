import cv2
import numpy as np
import pytest

from livedigits.detect import DetectorSettings, as_gray, background, detect, split_touching
from tests.conftest import page

DIGITS = (("2", 80, 220), ("5", 150, 220), ("7", 400, 300), ("4", 470, 300))


def _boxes_cover(det, points) -> bool:
    """Every (x, y) point lies inside some detected box."""
    return all(any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in det.xyxy)
               for x, y in points)


def _centres():
    return [(x + 30, y - 30) for _, x, y in DIGITS]


def _shadowed(img):
    h, w = img.shape
    ramp = np.linspace(0.35, 1.0, w)[None, :] * np.linspace(1.0, 0.7, h)[:, None]
    return (img * ramp).astype(np.uint8)


def _with_lines(img):
    img = img.copy()
    for y in range(40, img.shape[0], 60):
        cv2.line(img, (0, y), (img.shape[1], y), 150, 2)
    cv2.line(img, (40, 0), (40, img.shape[0]), 120, 2)  # the margin line
    return img


def _with_specks(img, seed=0):
    img = img.copy()
    rng = np.random.default_rng(seed)
    for x, y in rng.integers(10, 470, (40, 2)):
        cv2.circle(img, (int(x) + 80, int(y)), 1, 40, -1)
    return img


def _noisy(img, seed=0):
    noise = np.random.default_rng(seed).normal(0, 8, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("make", [lambda p: p, _shadowed, _with_lines, _with_specks, _noisy],
                         ids=["plain", "shadow", "ruled+margin", "specks", "noise"])
def test_finds_each_digit_once(make):
    det = detect(make(page(digits=DIGITS))).detections
    assert len(det) == len(DIGITS)
    assert _boxes_cover(det, _centres())


def test_blank_and_distractors_give_nothing():
    img = _with_specks(_with_lines(np.full((480, 640), 220, np.uint8)))
    cv2.circle(img, (300, 300), 14, 30, -1)          # a blot
    cv2.line(img, (100, 400), (500, 420), 20, 12)   # a pen-like bar
    assert len(detect(img).detections) == 0


def test_digit_touching_the_border_is_dropped():
    img = page(digits=(("8", -20, 200), ("3", 300, 200)))
    det = detect(img).detections
    assert len(det) == 1 and det.xyxy[0, 0] > 250


def test_light_ink_on_dark_board_is_found_automatically():
    board = page(digits=DIGITS, background=40, ink=220)
    blobs = detect(board)
    assert blobs.inverted and len(blobs.detections) == len(DIGITS)
    assert len(detect(board, DetectorSettings(invert=False)).detections) == 0


def test_pieces_of_one_digit_are_joined():
    img = np.full((300, 300), 230, np.uint8)
    cv2.line(img, (100, 100), (100, 160), 20, 8)   # a 5 drawn in two strokes:
    cv2.line(img, (100, 100), (140, 100), 20, 8)   # stem and flag ...
    cv2.ellipse(img, (115, 190), (28, 26), 0, -120, 150, 20, 8)  # ... and the belly apart
    det = detect(img).detections
    assert len(det) == 1
    x0, y0, x1, y1 = det.xyxy[0]
    assert y0 <= 100 and y1 >= 210


def test_masks_hold_only_their_own_ink():
    img = np.full((300, 300), 230, np.uint8)
    a = np.array([[100, 100], [100, 200], [150, 200]], np.int32)  # an L ...
    b = np.array([[140, 100], [170, 100], [170, 200]], np.int32)  # ... whose box B's hook enters
    cv2.polylines(img, [a, b], False, 20, 5)
    blobs = detect(img)
    assert len(blobs.detections.data["mask"]) == 2
    left = int(np.argmin(blobs.detections.xyxy[:, 0]))
    x0, y0, x1, y1 = blobs.detections.xyxy[left]
    mask = blobs.detections.data["mask"][left]
    assert mask.shape == (y1 - y0, x1 - x0)
    hook = mask[: 8, 140 - x0 :]  # where B's hook crosses A's box
    assert hook.max() == 0 and mask.max() == 255


@pytest.mark.parametrize("frame", [
    np.zeros((1, 1), np.uint8), np.zeros((1, 500, 3), np.uint8), np.zeros((5, 5), np.uint16),
    np.full((100, 100), 255, np.uint8), np.zeros((100, 100, 4), np.uint8),
    np.random.default_rng(0).random((120, 160)).astype(np.float32),
    np.random.default_rng(1).integers(0, 65535, (64, 64, 3)).astype(np.uint16),
])
def test_odd_frames_never_raise(frame):
    det = detect(frame).detections
    assert len(det) <= 50


def test_background_keeps_the_paper_and_drops_the_ink():
    img = _shadowed(page(digits=DIGITS))
    small, bg = background(img)
    assert small.shape == bg.shape == (60, 80)
    ink_small, ink_bg = small[20:28, 10:20], bg[20:28, 10:20]  # around the first digit
    assert ink_small.min() < ink_bg.min() - 40  # no ink left in it, ...
    assert bg[:, :20].mean() < bg[:, -20:].mean() - 40  # ... but the shadow is


def test_as_gray_shapes():
    assert as_gray(np.zeros((30, 40, 3), np.uint8)).shape == (30, 40)
    assert as_gray(np.zeros((30, 40, 1), np.uint8)).shape == (30, 40)


def test_touching_digits_are_offered_whole_and_split():
    img = np.full((300, 400), 230, np.uint8)
    cv2.putText(img, "0", (100, 200), cv2.FONT_HERSHEY_SIMPLEX, 3, 20, 7)
    cv2.putText(img, "0", (140, 200), cv2.FONT_HERSHEY_SIMPLEX, 3, 20, 7)  # touches the first
    det = detect(img).detections
    assert len(det) == 3
    assert det.data["whole"].tolist().count(True) == 1 and (det.data["split"] >= 0).all()
    halves = det[~det.data["whole"]].xyxy
    assert halves[0, 2] <= halves[1, 0] + 3  # side by side, cut near the touching point


def test_split_touching_cuts_at_the_thinnest_column():
    blob = np.zeros((40, 60), bool)
    blob[:, 5:25] = True
    blob[:, 35:55] = True
    blob[18:22, 25:35] = True  # a thin bridge
    pieces = split_touching(blob)
    assert len(pieces) == 2 and 25 <= pieces[1][0] <= 35
