import numpy as np
import pytest

from livedigits import negatives
from livedigits.augment import Mix, augment_batch, camera, classic
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


def test_negative_kinds_are_reported_and_all_drawn(mnist):
    kinds: list[str] = []
    neg = negatives.make_negatives(300, mnist.x_test, seed=11, kinds=kinds)
    assert len(kinds) == 300 and set(kinds) == set(negatives.KINDS)
    assert neg.dtype == np.uint8 and neg.shape == (300, 28, 28)
    assert (neg.reshape(300, -1).max(axis=1) > 0).all()


@pytest.mark.parametrize("kind", ["sign", "letter", "texture", "shadow", "grid", "comma"])
def test_new_kinds_are_deterministic_and_sized(kind, mnist):
    a = negatives.KINDS[kind](np.random.default_rng(7), mnist.x_test)
    b = negatives.KINDS[kind](np.random.default_rng(7), mnist.x_test)
    assert np.array_equal(a, b)
    assert a.dtype == np.uint8 and a.max() == 255 and min(a.shape) >= 20


def test_font_digits_and_restyled_digits(mnist):
    from livedigits.augment import font_digit, restyle

    for d in range(10):
        a = font_digit(d, np.random.default_rng(d))
        assert np.array_equal(a, font_digit(d, np.random.default_rng(d)))
        assert a.shape == (28, 28) and a.dtype == np.uint8 and (a > 60).sum() > 15
    for i, digit in enumerate(mnist.x_train[:40]):
        a = restyle(digit, np.random.default_rng(i))
        assert np.array_equal(a, restyle(digit, np.random.default_rng(i)))
        ys, xs = np.nonzero(a)
        assert (a > 60).sum() > 15 and np.ptp(ys) < 21 and np.ptp(xs) < 21  # MNIST's 20 px box


def test_augment_batch_is_deterministic_per_seed(mnist):
    x, y = mnist.x_train[:128], mnist.y_train[:128]
    a = augment_batch(x, y, np.random.default_rng(3), 0.15, x)
    b = augment_batch(x, y, np.random.default_rng(3), 0.15, x)
    c = augment_batch(x, y, np.random.default_rng(4), 0.15, x)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_mix_sets_the_share_of_each_kind(mnist):
    x, y = mnist.x_train[:200], mnist.y_train[:200]
    none = Mix(camera=0, classic=0, restyle=0, printed=0)
    xa, _ = augment_batch(x, y, np.random.default_rng(0), 0.0, x, none)
    assert np.array_equal(xa, x)  # nothing but plain MNIST
    xb, _ = augment_batch(x, y, np.random.default_rng(0), 0.0, x, Mix(1, 0, 0, 0))
    assert not (xb == x).all(axis=(1, 2)).any()  # every digit re-rendered by the camera
    assert Mix().plain(0.15) == pytest.approx(0.03)


def test_mix_is_parsed_over_the_defaults():
    mix = Mix.parse("camera=0.2, restyle=0.1", 0.15)
    assert (mix.camera, mix.classic, mix.restyle) == (0.2, 0.25, 0.1)
    assert mix.plain(0.15) == pytest.approx(0.26)
    for bad in ("pen=0.1", "camera", "camera=x", "camera=1.5", "camera=0.7"):
        with pytest.raises(ValueError):
            Mix.parse(bad, 0.15)


def test_no_negative_is_a_fair_one(mnist):
    marks = negatives.make_negatives(400, mnist.x_test, seed=11)
    assert not any(negatives.reads_as_one(m) for m in marks)
    ones = mnist.x_test[mnist.y_test == 1][:200]
    assert np.mean([negatives.reads_as_one(d) for d in ones]) > 0.8  # the rule finds real 1s
