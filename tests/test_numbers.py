import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livedigits.detections import Detections
from livedigits.numbers import (
    group_lines,
    line_angles,
    page_rows,
    read_numbers,
    read_page,
    read_text,
    reading_order,
)


def boxes_at(centres, w=20, h=40) -> np.ndarray:
    """Boxes of size w x h (scalars or per box) centred on the given (x, y) points."""
    c = np.asarray(centres, np.float64).reshape(-1, 2)
    half = np.c_[np.broadcast_to(w, len(c)), np.broadcast_to(h, len(c))] / 2
    return np.rint(np.c_[c - half, c + half]).astype(np.int32)


def page(centres, digits=None, w=20, h=40, shuffle=True) -> tuple[Detections, np.ndarray]:
    """Detections in a shuffled row order, and for each written digit its row in them."""
    n = len(centres)
    perm = np.random.default_rng(n).permutation(n) if shuffle else np.arange(n)
    digits = np.arange(n) % 10 if digits is None else np.asarray(digits)
    det = Detections(boxes_at(centres, w, h)[perm], digit=digits[perm])
    return det, np.argsort(perm)  # row of written digit k


def row(x0, y, n, step=30):
    return [(x0 + k * step, y) for k in range(n)]


def rotated_row(n, angle_deg, step=90.0, origin=(100, 100)):
    t = np.radians(angle_deg)
    return [(origin[0] + k * step * np.cos(t), origin[1] + k * step * np.sin(t)) for k in range(n)]


@pytest.mark.parametrize("name, centres, digits, texts", [
    ("row of 4", row(100, 100, 4), [2, 0, 2, 1], ["2021"]),
    ("big gap splits", row(100, 100, 2) + row(300, 100, 3), [4, 2, 1, 0, 5], ["42", "105"]),
    ("three numbers", row(50, 60, 4) + row(250, 60, 1) + row(400, 60, 2),
     [2, 0, 2, 1, 7, 4, 5], ["2021", "7", "45"]),
    ("two rows", row(100, 200, 3) + row(100, 100, 2), [1, 2, 3, 4, 5], ["45", "123"]),
    ("tight rows", row(100, 100, 3, step=45) + row(100, 160, 3, step=45),
     [1, 2, 3, 4, 5, 6], ["123", "456"]),
    ("single", [(50, 50)], [8], ["8"]),
    ("empty", [], [], []),
])
def test_read_numbers(name, centres, digits, texts):
    det, _ = page(centres, digits)
    numbers = read_numbers(det)
    assert [n.text for n in numbers] == texts, name
    assert sorted(i for n in numbers for i in n.members) == list(range(len(det)))
    for n in numbers:
        boxes = det.xyxy[n.members]
        assert n.xyxy == (*boxes[:, :2].min(0).tolist(), *boxes[:, 2:].max(0).tolist())
        assert "".join(str(d) for d in det.digit[n.members]) == n.text


@pytest.mark.parametrize("angle", [-30.0, -10.0, 0.0, 15.0, 35.0, 45.0])
def test_a_rotated_row_is_one_line_along_its_angle(angle):
    # axis-aligned boxes of tilted 60 x 90 digits, as a detector sees them
    t = np.radians(abs(angle))
    w, h = 60 * np.cos(t) + 90 * np.sin(t), 60 * np.sin(t) + 90 * np.cos(t)
    det, written = page(rotated_row(6, angle), w=w, h=h)
    lines = group_lines(det)
    assert len(lines) == 1
    assert lines[0].members.tolist() == written.tolist()
    assert lines[0].angle == pytest.approx(angle, abs=5)
    assert line_angles(det) == pytest.approx(np.full(6, lines[0].angle))
    assert [n.text for n in read_numbers(det)] == ["012345"]


def test_the_real_rotated_webcam_row():
    # boxes the detector finds on ../shared/realworld img-20210114-124240.png (237845 at ~35 deg)
    centres = [(102, 103), (196, 162), (297, 206), (373, 268), (448, 345), (526, 390)]
    sizes = [(94, 98), (72, 82), (57, 95), (75, 84), (60, 91), (84, 77)]
    w, h = np.array(sizes, np.float64).T
    det, written = page(centres, [2, 3, 7, 8, 4, 5], w=w, h=h)
    (line,) = group_lines(det)
    assert line.members.tolist() == written.tolist()
    assert line.angle == pytest.approx(35, abs=5)
    assert read_text(det) == "237845"


@pytest.mark.parametrize("heights, lines", [
    ([40, 60, 40, 50], 1),  # within a factor 2: one line
    # handwriting: a 7 with a long descender and a 0 written as a small o stay on the line
    ([30, 30, 70, 30, 10, 30], 1),
    ([40, 160, 40, 40], 3),  # a digit four times bigger is not part of the small ones' line
])
def test_mixed_sizes(heights, lines):
    centres = [(100 + 35 * k, 100) for k in range(len(heights))]
    det, _ = page(centres, w=20, h=np.array(heights))
    assert len(group_lines(det)) == lines


@pytest.mark.parametrize("centres, expected", [
    (row(100, 100, 4), [0, 1, 2, 3]),
    (row(100, 300, 2) + row(100, 100, 2) + row(100, 200, 2), [2, 3, 4, 5, 0, 1]),
    # a wavy baseline is still one row: vertical extents overlap
    ([(100, 100), (130, 110), (160, 95), (300, 105), (330, 100)], [0, 1, 2, 3, 4]),
    # numbers far apart on one row: separate lines, but read left to right
    (row(500, 100, 1) + row(100, 102, 2) + row(300, 98, 1), [1, 2, 3, 0]),
])
def test_reading_order(centres, expected):
    det, written = page(centres)
    assert reading_order(det).tolist() == written[expected].tolist()


def test_read_text_separates_numbers_with_spaces():
    det, _ = page(row(50, 60, 4) + row(250, 60, 1) + row(400, 60, 2) + row(50, 160, 3),
                  [2, 0, 2, 1, 7, 4, 5, 9, 9, 1])
    assert read_text(det) == "2021 7 45 991"


@pytest.mark.parametrize("digits, texts", [
    ([1, 2, -1, 4], ["12", "4"]),  # an unread mark is in no number; its place is a gap
    ([-1, 2, 3, 10], ["23"]),  # rejected (10) and unread (-1) at the ends
    ([-1, -1, -1, -1], []),
])
def test_non_digits_are_not_part_of_numbers(digits, texts):
    det, written = page(row(100, 100, 4), digits)
    numbers = read_numbers(det)
    assert [n.text for n in numbers] == texts
    members = {i for n in numbers for i in n.members}
    assert members == {int(written[k]) for k, d in enumerate(digits) if 0 <= d <= 9}


def test_singletons_get_angle_zero_and_lines_their_own():
    det, written = page(rotated_row(3, 30.0, step=45) + [(600, 400)])
    angles = line_angles(det)
    assert angles[written[3]] == 0.0
    assert angles[written[:3]] == pytest.approx(np.full(3, 30.0), abs=2)


def test_empty():
    det = Detections.empty()
    assert group_lines(det) == [] and read_numbers(det) == [] and read_text(det) == ""
    assert reading_order(det).shape == (0,) and line_angles(det).shape == (0,)


def test_many_digits_fast_and_right():
    # 12 rows of 20 digits: 240 detections
    det, written = page([c for y in range(12) for c in row(30, 40 + 80 * y, 20)])
    t = time.perf_counter()
    order = reading_order(det)
    assert time.perf_counter() - t < 0.5
    assert order.tolist() == written.tolist()
    assert len(read_numbers(det)) == 12


box_st = st.tuples(st.integers(0, 600), st.integers(0, 400), st.integers(0, 80),
                   st.integers(0, 120))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(box_st, st.integers(-1, 10)), max_size=40))
def test_any_page_partitions_into_lines_and_numbers(items):
    boxes = [(x, y, x + w, y + h) for (x, y, w, h), _ in items]
    det = Detections(np.array(boxes, np.int32).reshape(-1, 4), digit=[d for _, d in items])
    lines = group_lines(det)
    assert sorted(np.concatenate([ln.members for ln in lines] + [[]]).tolist()) == list(
        range(len(det)))
    assert sorted(reading_order(det).tolist()) == list(range(len(det)))
    centers = det.centers
    for ln in lines:
        # Members run along the line's direction (a fitted line's order and its angle agree).
        t = np.radians(ln.angle)
        along = centers[ln.members] @ np.array([np.cos(t), np.sin(t)])
        assert -180 < ln.angle <= 180 and np.all(np.diff(along) >= -1.0)
    valid = [i for i, (_, d) in enumerate(items) if 0 <= d <= 9]
    assert sorted(i for n in read_numbers(det) for i in n.members) == valid


@pytest.mark.parametrize("name, boxes, digits, texts", [
    # A writer who leaves a digit's height between every digit still wrote one number.
    ("wide even spacing", [[0, 0, 20, 40], [60, 0, 80, 40], [122, 0, 142, 40],
                           [180, 0, 200, 40]], [2, 0, 1, 9], ["2019"]),
    # One gap far wider than the line's others ends the number.
    ("one wide gap", [[0, 0, 20, 40], [28, 0, 48, 40], [56, 0, 76, 40], [120, 0, 140, 40],
                      [148, 0, 168, 40]], [2, 0, 1, 9, 7], ["201", "97"]),
    # A digit well below the line's baseline is apart, and so is one far to the right.
    ("lower and far", [[0, 0, 20, 40], [26, 0, 46, 40], [52, 26, 72, 66],
                       [260, 0, 280, 40]], [4, 2, 3, 5], ["42", "3", "5"]),
    # Slanted rows keep working: a row tilted 30 degrees with tight gaps is one number.
    ("slanted", [[int(k * 26 * 0.866), int(k * 26 * 0.5), int(k * 26 * 0.866) + 20,
                  int(k * 26 * 0.5) + 40] for k in range(4)], [1, 2, 3, 4], ["1234"]),
])
def test_number_spacing(name, boxes, digits, texts):
    det = Detections(boxes, digit=digits)
    assert [n.text for n in read_numbers(det)] == texts, name


def test_a_small_o_on_a_tilted_row_is_read_in_place_but_not_turned():
    centres = rotated_row(5, 20.0, step=50.0)
    heights = np.array([40.0, 40.0, 14.0, 40.0, 40.0])  # the middle one a 0 written small
    det, written = page(centres, [1, 2, 0, 3, 4], w=20, h=heights)
    assert read_text(det) == "12034"  # one line, in order
    angles = line_angles(det)[written]
    assert angles[[0, 1, 3, 4]] == pytest.approx(20.0, abs=3)  # the digits are turned ...
    assert angles[2] == 0.0  # ... the small mark, far smaller than its neighbours, is not


def test_the_real_sudoku_rows_in_perspective_stay_apart():
    # boxes the detector finds on the last four rows of ../shared/realworld's sudoku photo
    # (01_03_iphone_14_1.jpg), a digit each: the rows slope up to the right, the last one has
    # gaps, and the end of each row reaches as high as the middle of the row above
    rows = [
        [([687, 1746, 794, 1907], 6), ([1185, 1699, 1379, 1943], 9), ([1462, 1661, 1613, 1875], 5),
         ([1693, 1693, 1867, 1911], 4), ([1933, 1673, 2060, 1861], 1),
         ([2157, 1669, 2262, 1853], 8), ([2381, 1693, 2458, 1818], 2),
         ([2585, 1687, 2657, 1814], 3)],
        [([661, 1951, 855, 2206], 8), ([982, 1998, 1060, 2151], 1), ([1212, 1970, 1347, 2151], 3),
         ([1447, 1925, 1629, 2129], 2), ([1732, 1945, 1818, 2085], 7),
         ([1917, 1927, 2076, 2105], 4), ([2137, 1901, 2246, 2074], 5),
         ([2347, 1863, 2492, 2064], 8), ([2578, 1907, 2653, 2030], 9)],
        [([669, 2256, 792, 2449], 9), ([923, 2232, 1125, 2431], 2), ([1193, 2181, 1375, 2431], 4),
         ([1498, 2210, 1570, 2351], 1), ([1724, 2183, 1806, 2322], 6),
         ([1935, 2137, 2056, 2322], 5), ([2165, 2149, 2244, 2282], 3),
         ([2359, 2101, 2441, 2282], 8), ([2544, 2070, 2681, 2298], 7)],
        [([958, 2502, 1036, 2595], 1), ([1248, 2482, 1333, 2595], 5),
         ([1490, 2453, 1577, 2595], 8), ([1683, 2393, 1804, 2595], 3),
         ([1949, 2399, 2028, 2532], 9), ([2117, 2333, 2274, 2576], 2),
         ([2274, 2298, 2476, 2556], 4), ([2572, 2335, 2627, 2455], 1)],
    ]
    boxes, digits = zip(*(cell for row in rows for cell in row), strict=True)
    det = Detections(list(boxes), digit=list(digits))
    assert ["".join(n.text for n in row) for row in read_page(det)] == [
        "".join(str(d) for _, d in row) for row in rows]


def test_a_small_o_between_two_tall_digits_is_read_in_its_place():
    # 2.bmp's "...7906": a 9 and a 6 with long strokes, 40 and 47 px, and between them, a
    # little raised, a 0 written as an o 10 px tall: too small to link, read in place anyway
    boxes = [[455, 280, 471, 329], [478, 277, 490, 315], [493, 289, 504, 299],
             [507, 265, 524, 312]]
    det = Detections(boxes, digit=[7, 9, 0, 6])
    assert "".join(n.text for row in read_page(det) for n in row) == "7906"


@pytest.mark.parametrize("tail", [(20, 24), (29, 35), (38, 46)])
def test_steep_rows_stay_whole_past_a_long_tailed_digit(tail):
    # Three rows of eight digits on a sheet lying at 40 degrees; one digit of the first row is
    # a 9 whose tail runs down the page, which in the image is down and to the left.
    t = np.radians(40.0)
    u, v = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
    boxes = []
    for r in range(3):
        for k in range(8):
            cx, cy = np.array([200.0, 100.0]) + 26 * k * u + 75 * r * v
            left, down = tail if (r, k) == (0, 4) else (0, 0)
            boxes.append([cx - 11 - left, cy - 13, cx + 11, cy + 13 + down])
    det = Detections(np.round(boxes).astype(int))
    rows = page_rows(det)
    assert [[ln.members.tolist() for ln in row] for row in rows] == [
        [list(range(8 * r, 8 * r + 8))] for r in range(3)]
    assert all(ln.angle == pytest.approx(40.0, abs=3) for row in rows for ln in row)


@pytest.mark.parametrize("angle", [-12.0, -6.0, 8.0, 12.0])
def test_single_digits_far_apart_on_a_turned_page_are_read_row_by_row(angle):
    # A keypad of single digits four heights apart (a real photo's "012/345/678/9"), turned:
    # too far apart to chain, each row's slope comes from the digits' nearest neighbours.
    t = np.radians(angle)
    u, v = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
    boxes = []
    for k in range(10):
        cx, cy = np.array([400.0, 300.0]) + 160 * (k % 3) * u + 190 * (k // 3) * v
        boxes.append([cx - 15, cy - 20, cx + 15, cy + 20])
    det = Detections(np.round(boxes).astype(int), digit=list(range(10)))
    assert ["".join(n.text for n in row) for row in read_page(det)] == ["012", "345", "678", "9"]


def test_scattered_digits_keep_the_page_level():
    # Digits strewn about with no common slope: rows as they stand, top to bottom.
    boxes = [[100, 100, 130, 140], [300, 160, 330, 200], [520, 90, 550, 130],
             [120, 400, 150, 440], [330, 330, 360, 370], [540, 430, 570, 470]]
    det = Detections(boxes, digit=[1, 2, 3, 4, 5, 6])
    assert ["".join(n.text for n in row) for row in read_page(det)] == ["13", "2", "5", "4", "6"]
