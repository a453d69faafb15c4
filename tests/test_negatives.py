import numpy as np
import pytest

from livedigits import negatives
from livedigits.augment import augment_batch, camera, classic
from livedigits.spec import NOT_A_DIGIT


@pytest.mark.parametrize("kind", sorted(negatives.KINDS))
def test_each_kind_draws_some_ink(kind):
    digits = np.zeros((2, 28, 28), np.uint8)
    digits[:, 4:24, 8:20] = 255
    rng = np.random.default_rng(3)
    img = negatives.KINDS[kind](rng, digits)
    assert img.dtype == np.uint8 and img.ndim == 2 and img.max() > 0


def test_negatives_are_deterministic_per_seed(mnist):
    a = negatives.make_negatives(50, mnist.x_test, seed=5)
    b = negatives.make_negatives(50, mnist.x_test, seed=5)
    c = negatives.make_negatives(50, mnist.x_test, seed=6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert (a.reshape(50, -1).max(axis=1) > 0).all()


def test_augment_batch_labels_and_shapes(mnist):
    rng = np.random.default_rng(0)
    x, y = mnist.x_train[:256], mnist.y_train[:256]
    xa, ya = augment_batch(x, y, rng, neg_fraction=0.2, neg_digits=x)
    assert xa.shape == x.shape and xa.dtype == np.uint8
    share = (ya == NOT_A_DIGIT).mean()
    assert 0.1 < share < 0.3
    keep = ya != NOT_A_DIGIT
    assert np.array_equal(ya[keep], y[keep])


@pytest.mark.parametrize("fn", [camera, classic])
def test_augmented_digit_keeps_its_ink(fn, mnist):
    rng = np.random.default_rng(1)
    for d in mnist.x_train[:50]:
        out = fn(d, rng)
        assert out.shape == (28, 28) and (out > 60).sum() > 15
