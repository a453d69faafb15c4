import cv2
import numpy as np
import pytest

from livedigits import strokes


def test_thinning_leaves_a_one_pixel_line():
    m = np.zeros((20, 60), np.uint8)
    m[7:13, 5:55] = 1
    skel = strokes.thin(m)
    assert skel.dtype == np.uint8 and set(np.unique(skel)) <= {0, 1}
    cols = skel[:, 10:50].sum(axis=0)
    assert (cols == 1).all()  # one pixel thick along the bar
    assert (skel <= m).all()  # only ever removes ink


def test_thinning_keeps_a_ring_closed():
    m = np.zeros((60, 60), np.uint8)
    cv2.circle(m, (30, 30), 20, 1, 5)
    skel = strokes.thin(m)
    n, _ = cv2.connectedComponents(skel)
    holes, _ = cv2.connectedComponents(1 - skel, connectivity=4)
    assert n - 1 == 1 and holes - 1 == 2  # one piece, still enclosing its hole


def test_trace_and_draw_cover_the_digit(mnist):
    digit = mnist.x_train[0]
    paths, side = strokes.digit_strokes(digit)
    assert side == 56 and paths and all(p.shape[1] == 2 for p in paths)
    pts = np.concatenate(paths)
    assert pts.min() >= 0 and pts.max() < 56
    rng = np.random.default_rng(0)
    mask = strokes.draw(paths, (56, 56), strokes.Pen(4.0, 0.3, 1.5), rng)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    big = cv2.resize(digit, (56, 56)) > 100
    assert (mask[big] > 0).mean() > 0.6  # the redrawn digit lies on the original's ink


@pytest.mark.parametrize("pen", [strokes.Pen(3), strokes.Pen(9, 0.5, 6.0)])
def test_draw_is_deterministic_with_a_seed(pen):
    paths = [np.array([[10, 10], [40, 15], [30, 50], [12, 44]], np.float32)]
    a = strokes.draw(paths, (64, 64), pen, np.random.default_rng(1))
    b = strokes.draw(paths, (64, 64), pen, np.random.default_rng(1))
    assert np.array_equal(a, b) and a.any()


def test_heavier_pens_draw_more_ink():
    paths = [np.array([[10, 10], [50, 50]], np.float32)]
    rng = np.random.default_rng(0)
    thin = strokes.draw(paths, (64, 64), strokes.Pen(2), rng)
    heavy = strokes.draw(paths, (64, 64), strokes.Pen(10), rng)
    assert (heavy > 0).sum() > 3 * (thin > 0).sum()


def test_nib_width_follows_direction():
    along = [np.array([[10, 32], [54, 32]], np.float32)]  # horizontal stroke
    across = [np.array([[32, 10], [32, 54]], np.float32)]  # vertical stroke
    # A nib held horizontally: vertical strokes are broad, horizontal ones hairlines.
    a = strokes.nib(along, (64, 64), 12, 0.0, 0.15)
    b = strokes.nib(across, (64, 64), 12, 0.0, 0.15)
    assert (b > 0).sum() > 3 * (a > 0).sum() > 0
