import warnings

import cv2
import numpy as np
import pytest

from livedigits.detect import (
    DetectorSettings,
    as_gray,
    background,
    detect,
    find_sheet,
    line_mask,
    other_cut,
    shrink,
    split_touching,
)
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


def test_a_piece_partly_inside_a_digits_box_is_joined_to_it():
    img = np.full((300, 300), 230, np.uint8)
    cv2.ellipse(img, (150, 135), (26, 24), 0, -150, 90, 20, 7)  # a 3's two bowls ...
    cv2.ellipse(img, (150, 185), (28, 26), 0, -90, 150, 20, 7)
    cv2.line(img, (102, 142), (132, 160), 20, 7)  # ... and a stroke lifted off, reaching in
    det = detect(img).detections
    assert det.xyxy.tolist() == [[98, 107, 183, 216]]


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
    assert det.data["whole"].tolist().count(True) == 1 and (det.data["split"] >= 0).all()
    halves = det[~det.data["whole"] & (det.data["cut"] == 0)].xyxy
    assert len(halves) == 2  # (a second way of cutting it may be offered too)
    assert halves[0, 2] <= halves[1, 0] + 3  # side by side, cut near the touching point
    assert set(det.data["cut"][det.data["whole"]].tolist()) == {-1}


def test_a_piece_cut_off_a_wide_blob_is_offered_only_if_it_is_digit_sized():
    # A 7 whose foot runs on into a flourish ending in a small hook, among digits: the blob
    # is wide, so it is offered split too, but the hook (a third of a digit tall) is no digit.
    img = page(digits=(("2", 80, 220), ("5", 150, 220), ("7", 250, 220), ("8", 400, 300)))
    cv2.line(img, (266, 218), (325, 218), 30, 5)
    cv2.line(img, (325, 218), (330, 203), 30, 5)
    det = detect(img).detections
    typical = float(np.median(det.heights[det.data["whole"]]))
    pieces = det[~det.data["whole"]]
    assert len(pieces) >= 1  # the 7 is still offered on its own
    assert (pieces.heights >= 0.4 * typical).all(), pieces.xyxy.tolist()


def _narrow_writing():
    """A writer whose digits are about 0.4 of their height wide: six apart, then a touching
    pair "45" and a touching "262" (printed wide, then squeezed to 55% of their width)."""
    wide = np.full((300, 1800), 225, np.uint8)
    for k, ch in enumerate("358790"):
        cv2.putText(wide, ch, (60 + 110 * k, 150), cv2.FONT_HERSHEY_SIMPLEX, 3, 30, 8)
    for x, text in ((800, "45"), (1200, "262")):
        for k, ch in enumerate(text):
            cv2.putText(wide, ch, (x + 48 * k, 150), cv2.FONT_HERSHEY_SIMPLEX, 3, 30, 8)
    return cv2.resize(wide, (990, 300), interpolation=cv2.INTER_AREA)


def test_touching_narrow_digits_are_cut_into_as_many_as_the_pages_digit_width_holds():
    det = detect(_narrow_writing()).detections
    lone = det[det.data["split"] < 0]
    assert len(lone) == 6
    width = float(np.median(lone.xywh[:, 2]))
    groups = [det[(det.data["split"] == g) & ~det.data["whole"] & (det.data["cut"] == 0)]
              for g in np.unique(det.data["split"][det.data["split"] >= 0])]
    # The pair is narrower than it is tall: only the page's digit width shows it is two.
    # (The pair may be offered cut a second way too, for a narrow 1: the model decides.)
    assert sorted(len(g) for g in groups) == [2, 3]
    for g in groups:
        assert (np.abs(g.xywh[:, 2] - width) <= 0.3 * width).all(), g.xyxy.tolist()


def _pen_pair(text, h=40):
    """A touching pair written with a thin pen, MNIST-like: a 1 is one slanted stroke, an
    open 4 an arm, a bar (overshooting to the left) and a stem. The 1 and the 4 touch where
    the bar meets the 1. Returns the blob (bool) and the column between the two digits."""
    img = np.zeros((h + 10, 80), np.uint8)

    def one(x, lean):
        cv2.line(img, (x + lean, 5), (x, 5 + h), 255, 2)

    def four(x, w=26):
        bar = 5 + int(0.62 * h)
        cv2.line(img, (x + int(0.45 * w), 5), (x, bar), 255, 2)
        cv2.line(img, (x - 4, bar), (x + w, bar), 255, 2)
        cv2.line(img, (x + int(0.7 * w), 5 + int(0.15 * h)), (x + int(0.7 * w), 5 + h), 255, 2)

    if text == "14":
        one(4, 4), four(11)
        between = 9
    else:  # "41": the bar runs on into the 1 after the stem
        four(8), one(36, -4)
        between = 34
    ys, xs = np.nonzero(img)
    return img[ys.min():ys.max() + 1, xs.min():xs.max() + 1] > 0, between - xs.min()


@pytest.mark.parametrize("text", ["14", "41"])
def test_a_narrow_1_touching_a_wide_4_is_also_offered_cut_beside_the_1(text):
    blob, between = _pen_pair(text)
    first = split_touching(blob, 22.0)
    at = other_cut(blob, first[1][0])
    assert at is not None
    # the second cut leaves the 1 (with at most a stub of the 4's bar) on its own side
    one = blob[:, :at] if text == "14" else blob[:, at:]
    assert one.shape[1] <= 12 and abs(at - between) <= 8, (at, between)


def test_no_second_cut_leaves_a_sliver():
    blob = np.zeros((40, 30), bool)
    blob[:, 2:6] = True
    blob[:, 22:26] = True
    blob[:4, 2:26] = True  # two 1s joined at the top: the only cut is between them
    first = split_touching(blob, 14.0)
    at = other_cut(blob, first[1][0])
    assert at is None or 6 <= at <= 22


def test_split_touching_cuts_at_the_thinnest_column():
    blob = np.zeros((40, 60), bool)
    blob[:, 5:25] = True
    blob[:, 35:55] = True
    blob[18:22, 25:35] = True  # a thin bridge
    pieces = split_touching(blob)
    assert len(pieces) == 2 and 25 <= pieces[1][0] <= 35


# --- real paper: digits of any size, sheets on a surround, lines and grids, symbols -----------


def _big_seven(size=(300, 280), stroke=18):
    img = np.full(size, 200, np.uint8)
    cv2.line(img, (50, 40), (220, 40), 30, stroke)       # the bar, 60% of the width
    cv2.line(img, (220, 40), (120, 260), 30, stroke)     # the stem, 75% of the height
    cv2.line(img, (100, 150), (200, 150), 30, stroke)    # the crossing bar
    return img


def test_a_digit_filling_the_frame_is_one_digit():
    det = detect(_big_seven()).detections
    assert len(det) == 1
    x0, y0, x1, y1 = det.xyxy[0]
    assert y1 - y0 > 0.7 * 300 and x0 < 60 and x1 > 210  # all of it, bar and stem


def test_a_close_up_four_keeps_its_stem():
    img = np.full((400, 380), 190, np.uint8)
    cv2.ellipse(img, (150, 110), (60, 80), 0, 0, 180, 35, 6)  # the open top of a 4 ...
    cv2.line(img, (230, 40), (225, 360), 35, 6)              # ... and its long stem apart
    det = detect(img).detections
    assert det.xyxy[:, 3].max() - det.xyxy[:, 1].min() > 300  # the stem is read, not erased


def _textured_desk(shape, seed=0):
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.normal(0, 1, shape), (0, 0), 1.2)
    return np.clip(45 + 30 * grain / grain.std(), 0, 255).astype(np.uint8)


def _sheet_on_desk(digits=True):
    img = _textured_desk((600, 800))
    corners = np.array([[250, 150], [600, 190], [570, 450], [220, 420]], np.int32)
    cv2.fillPoly(img, [corners], 215)
    if digits:
        for text, x in (("3", 300), ("8", 380), ("5", 460)):
            cv2.putText(img, text, (x, 330), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 30, 4, cv2.LINE_AA)
    return img, corners


def test_a_sheet_on_a_dark_textured_desk_is_found_and_read_alone():
    img, corners = _sheet_on_desk()
    sheet = find_sheet(shrink(img))
    assert sheet is not None
    outline = sheet.astype(np.float64) * 8
    assert cv2.contourArea(outline.astype(np.float32)) > 0.7 * cv2.contourArea(corners)
    blobs = detect(img)
    det = blobs.detections
    assert len(det) == 3 and (det.xyxy[:, 0] > 250).all() and (det.xyxy[:, 2] < 600).all()
    assert blobs.sheet is not None  # reported in full-size pixels, for `--show-crops`
    inside = [cv2.pointPolygonTest(corners.reshape(-1, 1, 2).astype(np.float32),
                                   (float(x), float(y)), True) for x, y in blobs.sheet]
    assert min(inside) > 0 and max(inside) < 24  # just inside its edge (3 px at 1/8 size)


def test_a_sheet_full_of_bold_writing_is_still_the_sheet():
    img = _textured_desk((600, 800))
    cv2.rectangle(img, (150, 120), (650, 480), 215, -1)
    for r, text in enumerate(("4006280887", "1380889536", "0736854407")):  # marker rows
        cv2.putText(img, text, (190, 220 + 80 * r), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 30, 5)
    assert find_sheet(shrink(img)) is not None  # the rows' steps cut it apart before
    det = detect(img).detections
    assert len(det) == 30
    assert ((det.xyxy[:, :2] >= [150, 120]) & (det.xyxy[:, 2:] <= [650, 480])).all()


def test_a_sheet_given_is_the_page_read():
    img = page(digits=(("3", 100, 200), ("8", 400, 200)))
    assert len(detect(img).detections) == 2
    given = np.array([[50, 100], [300, 100], [300, 300], [50, 300]], np.float64)
    blobs = detect(img, sheet=given)
    assert blobs.detections.xyxy[:, 2].max() <= 300 and len(blobs.detections) == 1
    assert np.abs(blobs.sheet - given).max() < 1e-9  # reported as given
    off = np.array([[-100, -100], [-50, -100], [-50, -50]], np.float64)  # off the frame
    assert len(detect(img, sheet=off).detections) == 0


def test_a_sheet_on_a_desk_in_a_small_frame_is_found_and_read_alone():
    img, corners = _sheet_on_desk()
    small = cv2.resize(img, (400, 300), interpolation=cv2.INTER_AREA)  # 1/8 size: 50 x 37
    blobs = detect(small)
    assert blobs.sheet is not None
    inside = [cv2.pointPolygonTest((corners / 2).reshape(-1, 1, 2).astype(np.float32),
                                   (float(x), float(y)), True) for x, y in blobs.sheet]
    assert min(inside) > 0 and max(inside) < 12
    assert len(blobs.detections) == 3


@pytest.mark.parametrize("edge", [150, 153, 157])  # the edge on and between 1/8 pixels
def test_a_digit_written_close_to_the_sheets_edge_is_read(edge):
    img = _textured_desk((600, 800))
    cv2.rectangle(img, (200, edge), (600, 450), 215, -1)
    # A 9 whose loop comes within 6 px of the sheet's top edge: not clipped, not dropped.
    cv2.putText(img, "9", (300, edge + 6 + 45), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 30, 4,
                cv2.LINE_AA)
    ys = np.nonzero((img[edge:450, 250:400] < 120).any(axis=1))[0] + edge
    assert ys.min() - edge <= 7
    det = detect(img).detections
    assert len(det) == 1 and det.heights[0] >= ys.max() - ys.min()


def test_the_desk_alone_and_paper_with_vignetting_have_no_sheet():
    assert find_sheet(shrink(_textured_desk((480, 640)))) is None
    assert detect(_textured_desk((480, 640))).sheet is None
    h, w = 480, 640
    yy, xx = np.mgrid[:h, :w]
    vignette = 1 - 0.25 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2) * 2  # 0.75
    paper = (page(digits=DIGITS).astype(np.float64) * vignette).astype(np.uint8)
    assert find_sheet(shrink(paper)) is None
    assert len(detect(paper).detections) == len(DIGITS)


def test_no_sheet_when_the_paper_fills_the_frame():
    assert find_sheet(shrink(page(digits=DIGITS))) is None


@pytest.mark.parametrize("level", [0, 128, 255])
def test_a_flat_frame_has_no_sheet_and_no_warning(level):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a lens cap on every frame must not fill the log
        assert find_sheet(shrink(np.full((240, 320), level, np.uint8))) is None


def _grid(size=(540, 540), cell=60, thickness=3, ink=30):
    img = np.full(size, 225, np.uint8)
    for k in range(0, 10):
        t = thickness + 2 * (k % 3 == 0)  # thicker box lines, as on a sudoku
        cv2.line(img, (0, 0 + k * cell), (size[1], k * cell), ink, t)
        cv2.line(img, (k * cell, 0), (k * cell, size[0]), ink, t)
    return img


def test_a_printed_grid_is_ignored_and_its_digits_read():
    img = _grid()
    cells = [(1, 1), (2, 4), (5, 2), (7, 7), (4, 6)]
    for r, c in cells:
        cv2.putText(img, str(r), (c * 60 + 14, r * 60 + 48), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 30,
                    4, cv2.LINE_AA)
    img = cv2.copyMakeBorder(img, 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=225)
    det = detect(img).detections
    assert len(det) == len(cells)
    assert (det.heights < 60).all()  # digits, never a cell or the grid


def test_a_digit_crossing_a_printed_line_stays_whole():
    img = np.full((400, 600), 225, np.uint8)
    for y in (135, 215, 295):
        cv2.line(img, (0, y), (600, y), 30, 4)  # lines as dark as the pen
    cv2.putText(img, "8", (250, 250), cv2.FONT_HERSHEY_SIMPLEX, 3, 30, 6, cv2.LINE_AA)
    det = detect(img).detections
    assert len(det) == 1 and det.heights[0] > 60  # one 8, across the line at y=215


@pytest.mark.parametrize("symbol", ["minus", "equals", "dot", "underline"])
def test_symbols_that_are_not_digits_by_shape_are_dropped(symbol):
    img = np.full((300, 400), 225, np.uint8)
    if symbol == "minus":
        cv2.line(img, (150, 150), (230, 150), 30, 8)
    elif symbol == "equals":
        cv2.line(img, (150, 135), (230, 135), 30, 8)
        cv2.line(img, (150, 165), (230, 165), 30, 8)
    elif symbol == "dot":
        cv2.circle(img, (200, 150), 12, 30, -1)
    else:
        cv2.line(img, (60, 200), (340, 204), 30, 5)
    assert len(detect(img).detections) == 0


def test_a_large_thin_pen_four_is_one_mark():
    img = np.full((1000, 760), 170, np.uint8)
    cv2.ellipse(img, (300, 260), (110, 200), 0, 0, 180, 30, 5)  # the open top of a 4 ...
    cv2.line(img, (430, 120), (425, 880), 30, 5)                # ... its stem, a small gap apart
    det = detect(img).detections
    whole = det.xyxy[:, 2] - det.xyxy[:, 0] > 200
    assert whole.any()  # offered as one mark (sparse, but a thin pen's strokes are)


@pytest.mark.parametrize("gap", [2, 3, 5])
def test_digits_written_a_few_pixels_apart_stay_apart(gap):
    # Blobs are found at half size, where a gap this narrow may close: the full-size ink
    # decides, as it would at full size.
    img = np.full((200, 300), 230, np.uint8)
    cv2.line(img, (100, 60), (100, 130), 20, 3)  # a 1, its ink in columns 98-102 ...
    cv2.ellipse(img, (122 + gap, 95), (17, 34), 0, 0, 360, 20, 3)  # ... then a 0
    start = 103 + gap  # where the 0's ink begins: `gap` columns of paper between them
    assert img[:, start].min() < 100 and img[:, 103:start].min() == 230
    det = detect(img).detections
    assert len(det) == 2, det.xyxy
    left, right = sorted(det.xyxy.tolist())
    assert left[2] == 103 and right[0] == start


def test_a_one_pixel_stroke_is_found_and_its_crop_keeps_full_size_detail():
    img = np.full((240, 320), 235, np.uint8)
    pts = np.array([[140, 80], [180, 80], [155, 150]], np.int32)  # a 7 in a one-pixel pen
    cv2.polylines(img, [pts], False, 60, 1)
    det = detect(img).detections
    assert len(det) == 1
    mask = det.data["mask"][0]
    assert mask.shape == (71, 41)  # the 7's own extent, to the pixel
    assert (mask > 0).sum(axis=1).max() >= 35  # the bar is whole ...
    assert np.median((mask[5:-5] > 0).sum(axis=1)) <= 3  # ... and the stem one stroke thin


def test_marks_that_only_the_halving_joins_come_apart():
    # A 1 and, below and right of it, another: at full size their nearest pixels are two
    # columns apart; at half size those pixels fall in neighbouring blocks of one row.
    img = np.full((220, 200), 230, np.uint8)
    img[40:100, 90:94] = 20
    img[100:160, 96:100] = 20
    det = detect(img).detections
    assert sorted(det.xyxy.tolist()) == [[90, 40, 94, 100], [96, 100, 100, 160]]


def _row_with_a_small_mark(mark):
    """Four digits 30 px tall in a thin pen and, between them, a small mark 11 px tall."""
    img = np.full((240, 420), 225, np.uint8)
    for text, x in (("3", 40), ("5", 100), ("2", 230), ("8", 290)):
        cv2.putText(img, text, (x, 140), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 30, 2, cv2.LINE_AA)
    if mark == "o":
        cv2.ellipse(img, (175, 136), (4, 4), 0, 0, 360, 30, 2, cv2.LINE_AA)
    elif mark == "dot":
        cv2.ellipse(img, (175, 136), (4, 4), 0, 0, 360, 30, -1, cv2.LINE_AA)
    return img


def test_a_zero_written_as_a_small_o_among_digits_is_kept():
    det = detect(_row_with_a_small_mark("o")).detections
    assert len(det) == 5
    small = det[det.heights < 20]
    assert len(small) == 1 and small.xyxy[0, 0] < 175 < small.xyxy[0, 2]


@pytest.mark.parametrize("hole, kept", [((12, 2), True), ((1, 1), False)])
def test_a_small_loops_hole_is_kept_where_a_pinhole_is_closed(hole, kept):
    img = _row_with_a_small_mark(None)
    img[118:136, 171:179] = 30  # a narrow o, 18 px tall, round a hole 2 px wide (or a pinhole)
    img[121:121 + hole[0], 174:174 + hole[1]] = 225
    det = detect(img).detections
    mask = det[det.heights < 25].data["mask"][0]
    assert mask.shape == (18, 8) and (mask[3:3 + hole[0], 3:3 + hole[1]] == 0).all() == kept


def test_a_dot_of_the_same_size_is_still_dropped():
    assert len(detect(_row_with_a_small_mark("dot")).detections) == 4
    assert len(detect(_row_with_a_small_mark(None)).detections) == 4


def test_digits_in_cells_one_above_the_other_joined_across_the_line_are_cut_apart():
    img = _grid()
    for r, c in [(1, 1), (2, 4), (5, 2), (7, 7), (4, 6), (6, 1), (8, 3), (1, 7), (6, 5)]:
        cv2.putText(img, str(r), (c * 60 + 14, r * 60 + 48), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 30,
                    4, cv2.LINE_AA)
    # a handwritten 7 whose stem runs onto the line below its cell, and a 1 below it that
    # starts on that line: the stroke bridged across the line joins them
    x, y = 3 * 60, 2 * 60
    cv2.line(img, (x + 18, y + 14), (x + 42, y + 14), 30, 4)
    cv2.line(img, (x + 42, y + 14), (x + 30, y + 60), 30, 4)
    cv2.line(img, (x + 30, y + 60), (x + 30, y + 106), 30, 4)
    img = cv2.copyMakeBorder(img, 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=225)
    det = detect(img).detections
    assert len(det) == 11 and (det.heights < 60).all()  # two marks, one per cell
    column = det[(det.xyxy[:, 0] < 30 + x + 45) & (det.xyxy[:, 2] > 30 + x + 15)
                 & (det.xyxy[:, 3] < 30 + y + 130)]
    assert len(column) == 2  # the 7 above the line, the 1 below it
    assert sorted(column.xyxy[:, 1]) == pytest.approx([30 + y + 12, 30 + y + 60], abs=4)


def test_a_digit_inside_the_box_of_a_long_tailed_neighbour_stays_its_own():
    # On a steep row the next digit sits within the box of a 9 whose tail sweeps down-left
    # under it; their inks never touch, so they are two digits, not pieces of one.
    img = np.full((360, 480), 225, np.uint8)
    cv2.circle(img, (200, 150), 14, 30, 3, cv2.LINE_AA)
    cv2.line(img, (213, 152), (130, 265), 30, 3, cv2.LINE_AA)
    for text, x in (("8", 138), ("3", 300), ("5", 360)):
        cv2.putText(img, text, (x, 188), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 30, 3, cv2.LINE_AA)
    det = detect(img).detections
    assert len(det) == 4
    eight = det[(det.xyxy[:, 0] > 130) & (det.xyxy[:, 2] < 170)]
    assert len(eight) == 1 and eight.heights[0] < 40


def test_a_digit_just_below_the_top_edge_is_kept():
    # The half-size closing must not spread a blob into the frame's top row (and so drop it
    # as cut by the edge): one pixel of paper above it is enough, as at the left edge.
    img = np.full((120, 160), 225, np.uint8)
    img[2:42, 60:66] = 20
    img[2:6, 60:80] = 20  # a 7-like mark two rows below the top
    assert detect(img).detections.xyxy.tolist() == [[60, 2, 80, 42]]
    left = np.full((120, 160), 225, np.uint8)
    left[40:80, 2:8] = 20
    assert detect(left).detections.xyxy.tolist() == [[2, 40, 8, 80]]


def _photographed_lines(bow=0):
    """Printed lines as a phone photographs them: pen-dark in the middle, blurred pale at
    the edges (most of each line's ink is paler than the pen), bowed by `bow` px across the
    page by the lens; a 6, a 5 and a 9 hang from the middle line, touching it."""
    lines = np.zeros((400, 640), np.uint8)
    xs = np.arange(640)
    for y in (100, 200, 300):
        mid = np.round(y + bow * (1 - ((xs - 320) / 320) ** 2)).astype(int)
        for x in xs:
            lines[mid[x] - 2:mid[x] + 3, x] = 255
    soft = cv2.GaussianBlur(lines.astype(np.float32) / 255, (0, 0), 3.0)
    img = (225 - 195 * np.clip(1.25 * soft, 0, 1)).astype(np.uint8)
    for ch, x in (("6", 150), ("5", 300), ("9", 450)):
        cv2.putText(img, ch, (x, 247), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 30, 6, cv2.LINE_AA)
    return img


@pytest.mark.parametrize("bow", [0, 6])
def test_a_photographed_printed_line_is_taken_out_whole_beside_the_digits_touching_it(bow):
    det = detect(_photographed_lines(bow)).detections
    whole = det[det.data["whole"]]
    assert len(whole) == 3, det.xyxy.tolist()
    # no piece of the line left on a digit: each box is the digit's own, below the line
    assert (whole.xywh[:, 2] < 42).all() and (whole.xyxy[:, 1] >= 205).all(), whole.xyxy.tolist()


def test_a_blot_on_a_printed_line_does_not_cut_it_and_leave_a_stub_on_the_digit():
    # A marker 1 stands on a printed line near its end, its foot a blot of ink: the short
    # piece of line beyond the blot is still that line, taken out, not a bar on the 1.
    img = np.full((480, 640), 225, np.uint8)
    cv2.line(img, (40, 300), (600, 300), 30, 5)
    cv2.line(img, (542, 200), (536, 298), 30, 7)
    cv2.ellipse(img, (538, 296), (17, 13), 0, 0, 360, 30, -1)
    for ch, x in (("2", 100), ("5", 300)):
        cv2.putText(img, ch, (x, 290), cv2.FONT_HERSHEY_SIMPLEX, 3, 30, 7, cv2.LINE_AA)
    det = detect(img).detections
    assert len(det) == 3
    one = det[det.xyxy[:, 0] > 450]
    assert len(one) == 1 and one.xyxy[0, 2] <= 560, one.xyxy.tolist()  # the blot's edge: 555


def test_a_printed_lines_band_runs_on_through_a_blot_on_it_and_no_further():
    # At half size, as `line_mask` sees the ink: a pen-dark line, a blot of ink sitting on
    # it (a marker stroke's foot). The line's rows are taken out across the blot too; the
    # blot's ink above and below the line stays (strokes crossing it are bridged later).
    ink = np.zeros((120, 320), np.uint8)
    ink[60:64, 10:310] = 255
    ink[52:72, 204:220] = 255  # the blot, 16 px wide, centred on the line
    lines, _, band = line_mask(ink, ink)
    assert band >= 4
    assert lines[60:64, 204:220].all()  # the line's rows, through the blot
    assert not lines[52:57, 204:220].any() and not lines[67:72, 204:220].any()


def test_a_printed_lines_band_spares_a_stroke_lying_along_it():
    # At half size: a photographed pen-dark line, a 3-row dark core in a pale blurred
    # fringe, and a 7's bar lying along it just below, touching its core. The line goes
    # (its pale fringe is no stroke either): the bar's rows below the core stay.
    faint = np.zeros((120, 320), np.uint8)
    faint[58:65, 10:310] = 255
    strong = np.zeros_like(faint)
    strong[60:63, 10:310] = 255
    faint[63:66, 100:160] = strong[63:66, 100:160] = 255  # the bar
    lines, _, band = line_mask(faint, strong)
    assert band >= 3 and lines[60:63, 20:300].all()  # the core, all along, bar or not
    assert not lines[64:66, 100:160].any()  # the bar's own rows below it
