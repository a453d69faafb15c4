import cv2
import numpy as np

from livedigits import styleshift
from livedigits.augment import restyle


def test_style_shift_set_is_fixed_and_covers_every_family(mnist):
    a = styleshift.style_shift_set(mnist.x_test, mnist.y_test, n=120)
    b = styleshift.style_shift_set(mnist.x_test, mnist.y_test, n=120)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert a.x.shape == (120, 28, 28) and a.x.dtype == np.uint8
    assert set(a.family) == set(styleshift.FAMILIES)
    assert (a.x.reshape(120, -1).max(axis=1) > 100).all()
    idx = np.linspace(0, len(mnist.x_test) - 1, 120).round().astype(int)
    assert np.array_equal(a.y, mnist.y_test[idx])  # labels are the test digits' own


def test_held_back_pens_differ_from_training_styles(mnist):
    digit = mnist.x_test[0]
    rng = np.random.default_rng(0)
    held = {styleshift.FAMILIES[i % 4]: styleshift.PENS[styleshift.FAMILIES[i % 4]](digit, rng)
            for i in range(4)}
    for name, mask in held.items():
        assert mask.shape == (styleshift.SIDE, styleshift.SIDE) and mask.max() == 255, name
    trained = {restyle(digit, np.random.default_rng(s)).tobytes() for s in range(30)}
    shifted = styleshift.style_shift_set(mnist.x_test[:1], mnist.y_test[:1], n=1)
    assert shifted.x[0].tobytes() not in trained


def test_realworld_singles_read_a_folder(tmp_path):
    page = np.full((300, 240, 3), 225, np.uint8)
    cv2.putText(page, "7", (70, 230), cv2.FONT_HERSHEY_SIMPLEX, 6, (40, 40, 40), 14)
    cv2.imwrite(str(tmp_path / "seven.png"), page)
    (tmp_path / "labels.csv").write_text(
        "file,digits,kind\nseven.png,7,single\nmissing.png,3,single\nother.png,12,photo\n")
    x, y, files = styleshift.realworld_singles(tmp_path)
    assert files == ["seven.png", "missing.png"] and y.tolist() == [7, 3]
    ys, xs = np.nonzero(x[0] > 100)
    assert 18 <= np.ptp(ys) + 1 <= 20 and x[1].max() == 0  # a missing file: an empty crop


def test_no_realworld_folder_gives_an_empty_set(tmp_path):
    x, y, files = styleshift.realworld_singles(None)
    assert x.shape == (0, 28, 28) and len(y) == 0 and files == []
    x, y, files = styleshift.realworld_singles(tmp_path)
    assert len(x) == 0
