import numpy as np
import pytest

from livedigits.preprocess import MNIST_SIZE, make_crops, to_mnist, to_model_input


def _centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[: img.shape[0], : img.shape[1]]
    total = img.sum()
    return float((ys * img).sum() / total), float((xs * img).sum() / total)


@pytest.mark.parametrize(
    "shape, box",
    [((200, 40), (10, 190, 12, 30)),    # a tall '1'
     ((60, 300), (20, 40, 10, 290)),    # a wide bar
     ((50, 50), (5, 45, 5, 45)),        # a square blob
     ((12, 9), (1, 11, 2, 8))],         # a tiny digit is scaled up
)
def test_longest_side_fits_20px_and_mass_is_centred(shape, box):
    ink = np.zeros(shape, np.uint8)
    y0, y1, x0, x1 = box
    ink[y0:y1, x0:x1] = 255
    out = to_mnist(ink)
    assert out.shape == (MNIST_SIZE, MNIST_SIZE) and out.dtype == np.uint8
    ys, xs = np.nonzero(out > 30)
    assert max(np.ptp(ys) + 1, np.ptp(xs) + 1) in (19, 20, 21)
    cy, cx = _centre_of_mass(out.astype(np.float64))
    assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0


def test_aspect_ratio_is_kept():
    ink = np.zeros((100, 50), np.uint8)
    ink[:, :] = 255
    ys, xs = np.nonzero(to_mnist(ink) > 127)
    assert np.ptp(ys) + 1 == 20 and np.ptp(xs) + 1 == 10


@pytest.mark.parametrize("ink", [np.zeros((0, 0), np.uint8), np.zeros((30, 30), np.uint8),
                                 np.zeros((3, 4, 5), np.uint8)])
def test_empty_or_odd_input_gives_blank(ink):
    assert not to_mnist(ink).any()


@pytest.mark.parametrize("angle", [0.0, 8.0, 20.0])
def test_an_empty_mask_on_a_sloping_line_gives_a_blank_crop(angle):
    crops = make_crops([np.zeros((0, 0), np.uint8), np.zeros((0, 7), np.uint8)],
                       np.array([angle, angle]))
    assert crops.shape == (2, MNIST_SIZE, MNIST_SIZE) and not crops.any()


def test_mnist_digit_is_nearly_unchanged(mnist):
    """An MNIST digit is already normalised this way: the function must be close to identity."""
    diffs = [np.abs(to_mnist(d).astype(int) - d.astype(int)).mean() for d in mnist.x_test[:200]]
    assert np.median(diffs) < 12


def test_model_input_scaling():
    x = to_model_input(np.full((2, 28, 28), 255, np.uint8))
    assert x.shape == (2, 28, 28, 1) and x.dtype == np.float32 and x.max() == 1.0
