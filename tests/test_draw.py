"""The drawing canvas and app without a window: strokes in, digits and numbers out."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from livedigits.draw import MAX_BRUSH, MIN_BRUSH, Canvas, DrawApp, run_draw
from livedigits.errors import UserError
from tests.conftest import FakeClassifier

DOWN, MOVE, UP = cv2.EVENT_LBUTTONDOWN, cv2.EVENT_MOUSEMOVE, cv2.EVENT_LBUTTONUP
LEFT = cv2.EVENT_FLAG_LBUTTON


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 28) -> list:
    """An oval drawn the way people write a 0: from the top, anticlockwise, closing a bit past."""
    return [(cx - rx * math.sin(2 * math.pi * i / n), cy - ry * math.cos(2 * math.pi * i / n))
            for i in range(n + 2)]


# Each digit as strokes in a unit box (x right, y down), in the order a hand draws them.
STROKES = {
    "1": [[(0.35, 0.18), (0.6, 0.0), (0.6, 1.0)]],  # flag, then the stem
    "7": [[(0.1, 0.02), (0.9, 0.0), (0.35, 1.0)]],
    "0": [_ellipse(0.5, 0.5, 0.42, 0.5)],
    "4": [[(0.55, 0.0), (0.05, 0.65), (0.95, 0.65)], [(0.72, 0.3), (0.7, 1.0)]],
}


def _drag(app: DrawApp, points: list) -> None:
    """One stroke as the mouse reports it: press, a move every few pixels, release."""
    dense = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        steps = max(1, int(math.hypot(x1 - x0, y1 - y0) // 6))
        dense += [(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)
                  for k in range(1, steps + 1)]
    xy = [(round(x), round(y)) for x, y in dense]
    app.handle_mouse(DOWN, *xy[0], LEFT)
    for p in xy[1:]:
        app.handle_mouse(MOVE, *p, LEFT)
    app.handle_mouse(UP, *xy[-1], 0)


def write(app: DrawApp, text: str, x: float = 60, y: float = 140, height: float = 150) -> None:
    """Draw `text` (digits and spaces) with the mouse, left to right from (x, y)."""
    width, gap = 0.6 * height, 0.25 * height
    for ch in text:
        if ch == " ":
            x += 0.9 * height
            continue
        for stroke in STROKES[ch]:
            _drag(app, [(x + u * width, y + v * height) for u, v in stroke])
        x += width + gap


@pytest.fixture
def fake():
    return FakeClassifier(digit=3)


@pytest.fixture
def app(fake):
    return DrawApp(fake, clock=lambda: 0.0)


@pytest.mark.parametrize("text", ["1", "7", "0", "4", "17", "40", "17 40", "7014"])
def test_drawn_digits_are_read_by_the_shipped_model(classifier, text):
    a = DrawApp(classifier)
    write(a, text)
    result = a.refresh(now=1.0)
    assert "".join(map(str, result.detections.digit[np.argsort(result.detections.xyxy[:, 0])])) \
        == text.replace(" ", "")
    assert a.read_text() == text
    assert a.status_text().startswith(f"read: {text}   |")


def test_two_rows_read_in_page_order(classifier):
    a = DrawApp(classifier)
    write(a, "17", y=40)
    write(a, "4 0", y=260, height=140)
    a.refresh(now=1.0)
    assert a.read_text() == "17 4 0"
    assert [n.text for n in a.result.numbers] == ["17", "4", "0"]


def test_stroke_renders_black_round_capped_ink_on_white():
    c = Canvas(200, 100, brush=20)
    assert c.render().shape == (100, 200, 3) and c.render().dtype == np.uint8
    assert (c.render() == 255).all()
    c.begin(50, 50)
    c.extend(150, 50)
    c.end()
    img = c.render()
    assert (img[50, 50:151] == 0).all()
    assert (img[50, 42] == 0).all() and (img[50, 158] == 0).all()  # round caps reach past the ends
    assert (img[42, 42] == 255).all()  # ... but round, not square
    assert (img[:, 170:] == 255).all() and (img[:30] == 255).all()


def test_a_click_leaves_a_dot_and_drags_are_kept_on_the_paper():
    c = Canvas(200, 100, brush=10)
    c.begin(20, 20)
    c.end()
    assert (c.render()[20, 20] == 0).all()
    c.begin(100, 50)
    c.extend(500, 50)  # dragged out of the window
    assert c.strokes[-1].points[-1] == (199, 50)


def test_undo_removes_exactly_the_last_stroke():
    c = Canvas(300, 200)
    c.begin(30, 30)
    c.extend(30, 150)
    c.end()
    before = c.render()
    c.begin(20, 100)
    c.extend(280, 100)
    c.end()
    assert not np.array_equal(c.render(), before)
    c.undo()
    assert np.array_equal(c.render(), before)
    assert len(c.strokes) == 1
    c.undo()
    c.undo()  # nothing left to undo: no error
    assert (c.render() == 255).all()


def test_clear_empties_the_canvas():
    c = Canvas(300, 200)
    for x in (50, 150, 250):
        c.begin(x, 30)
        c.extend(x, 170)
        c.end()
    c.clear()
    assert c.empty and (c.render() == 255).all()


def test_version_counts_changes_only():
    c = Canvas(300, 200)
    v = c.version
    c.extend(10, 10)  # no open stroke
    c.undo()
    c.clear()
    c.set_brush(30)  # changes future strokes, not the drawing
    assert c.version == v
    c.begin(10, 10)
    c.extend(10, 10)  # the mouse did not move
    assert c.version == v + 1
    c.extend(10, 40)
    assert c.version == v + 2


def test_brush_size_sets_stroke_width_and_is_clamped():
    def width(brush: int) -> int:
        c = Canvas(300, 200)
        c.set_brush(brush)
        c.begin(150, 20)
        c.extend(150, 180)
        c.end()
        return int((c.render()[100, :, 0] < 128).sum())

    assert abs(width(10) - 10) <= 1 and abs(width(30) - 30) <= 1
    assert width(1000) == width(MAX_BRUSH) and width(0) == width(MIN_BRUSH)
    assert Canvas(brush=-5).brush == MIN_BRUSH and Canvas().set_brush(99) == MAX_BRUSH

    c = Canvas(300, 200, brush=10)  # earlier strokes keep their own size
    c.begin(100, 20)
    c.extend(100, 180)
    c.set_brush(40)
    c.begin(200, 20)
    c.extend(200, 180)
    row = c.render()[100, :, 0] < 128
    assert abs(int(row[:150].sum()) - 10) <= 1 and abs(int(row[150:].sum()) - 40) <= 1


def test_keys(app):
    c = app.canvas
    write(app, "17")
    assert len(c.strokes) == 2
    assert app.handle_key(ord("u")) and len(c.strokes) == 1
    assert app.handle_key(ord("c")) and c.empty
    b = c.brush
    assert app.handle_key(ord("+")) and c.brush > b
    assert app.handle_key(ord("=")) and c.brush > b + 1
    assert app.handle_key(ord("-")) and app.handle_key(ord("-")) and c.brush == b
    for _ in range(100):
        app.handle_key(ord("-"))
    assert c.brush == MIN_BRUSH
    write(app, "4")
    version = c.version
    assert app.handle_key(-1) and app.handle_key(ord("x")) and app.handle_key(ord("x") | 0x10000)
    assert c.version == version  # unknown keys change nothing
    assert app.handle_key(ord("q")) is False
    assert app.handle_key(27) is False
    assert app.handle_key(ord("q") | 0x100000) is False  # waitKey may set modifier bits
    assert not c.empty  # quitting leaves the drawing alone


def test_mouse_draws_only_with_the_left_button_held(app):
    c = app.canvas
    app.handle_mouse(MOVE, 10, 10, 0)
    app.handle_mouse(MOVE, 50, 50, 0)
    assert c.empty
    app.handle_mouse(DOWN, 10, 10, LEFT)
    app.handle_mouse(MOVE, 50, 10, LEFT)
    app.handle_mouse(MOVE, 90, 10, LEFT)
    app.handle_mouse(UP, 90, 10, 0)
    app.handle_mouse(MOVE, 200, 200, 0)
    assert [s.points for s in c.strokes] == [[(10, 10), (50, 10), (90, 10)]]
    app.handle_mouse(DOWN, 100, c.height + 5, LEFT)  # a click on the status bar
    assert len(c.strokes) == 1
    app.handle_mouse(MOVE, 100, 100, LEFT)  # dragged up onto the paper
    app.handle_mouse(MOVE, 100, 140, 0)  # released outside: the next move has no button
    app.handle_mouse(MOVE, 100, 180, 0)
    assert len(c.strokes) == 2 and c.strokes[-1].points == [(100, 100)] and not c.drawing


def test_refresh_reads_each_change_once_at_most_every_interval(fake):
    now = [0.0]
    a = DrawApp(fake, interval=0.1, clock=lambda: now[0])
    a.refresh()
    assert fake.calls == []  # a blank canvas needs no model
    write(a, "1")
    now[0] = 1.0
    first = a.refresh()
    assert fake.calls == [1] and len(first.detections) == 1
    for t in (1.05, 1.5, 3.0):
        now[0] = t
        assert a.refresh() is first
    assert fake.calls == [1]  # nothing changed: no more calls

    write(a, "7", x=300)
    second = a.refresh()
    assert len(second.detections) == 2
    assert fake.calls == [1, 2]  # one batched call for both digits

    write(a, "0", x=500)
    now[0] = 3.05  # changed, but the last read is too recent
    assert a.refresh() is second and a.stale
    assert fake.calls == [1, 2]
    now[0] = 3.1
    assert len(a.refresh().detections) == 3 and not a.stale
    assert fake.calls == [1, 2, 3]

    a.handle_key(ord("c"))
    now[0] = 4.0
    assert len(a.refresh().detections) == 0 and a.read_text() == ""
    assert fake.calls == [1, 2, 3]


def test_many_changes_between_refreshes_make_one_call(fake):
    a = DrawApp(fake, clock=lambda: 0.0)
    write(a, "40")  # dozens of mouse moves
    assert a.canvas.version > 20
    a.refresh(now=1.0)
    a.refresh(now=2.0)
    assert fake.calls == [2]


def test_save_writes_the_clean_drawing_as_png(tmp_path, classifier):
    a = DrawApp(classifier, save_dir=tmp_path / "new", clock=lambda: 0.0)
    write(a, "7")
    a.refresh(now=1.0)
    assert a.handle_key(ord("s"))
    assert a.handle_key(ord("s"))  # twice in one second: two files
    files = sorted((tmp_path / "new").glob("*.png"))
    assert len(files) == 2 and files[0].name != files[1].name
    img = cv2.imread(str(files[0]))
    assert img is not None and np.array_equal(img, a.canvas.render())  # no boxes drawn on it
    assert a.status_text().startswith("saved ")


def test_save_failure_keeps_the_app_running(tmp_path, fake):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    a = DrawApp(fake, save_dir=blocker, clock=lambda: 0.0)
    write(a, "1")
    assert a.handle_key(ord("s")) is True
    assert "cannot save" in a.status_text() and not a.canvas.empty


def test_view_is_the_annotated_canvas_over_a_status_bar(classifier):
    a = DrawApp(classifier, size=(640, 360))
    write(a, "40", x=40, y=60)
    a.refresh(now=1.0)
    v = a.view()
    assert v.shape[1] == 640 and v.shape[0] > 360 and v.dtype == np.uint8
    ink = a.canvas.render()
    green = (v[:360, :, 1] > 150) & (v[:360, :, 0] < 120)  # the boxes are drawn on the view ...
    assert green.sum() > 100
    assert not ((ink[:, :, 1] > 150) & (ink[:, :, 0] < 120)).any()  # ... not on the drawing


def test_run_draw_without_a_display_says_so(monkeypatch, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(UserError, match="no display: `livedigits draw` needs a window"):
        run_draw(tmp_path / "no-model.keras", (960, 480), tmp_path)
