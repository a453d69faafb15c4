import numpy as np
import pytest

from livedigits.boxes import iou_matrix, paired_iou


def test_paired_iou_is_each_row_with_its_own_box():
    rng = np.random.default_rng(0)
    xy = rng.integers(0, 50, (40, 2, 2))
    a = np.c_[xy[:, 0], xy[:, 0] + rng.integers(0, 20, (40, 2))]  # some boxes empty
    b = np.c_[xy[:, 1], xy[:, 1] + rng.integers(0, 20, (40, 2))]
    np.testing.assert_allclose(paired_iou(a, b), np.diagonal(iou_matrix(a, b)))
    assert paired_iou(a, a)[(a[:, 2:] > a[:, :2]).all(axis=1)].min() == 1.0
    assert paired_iou(np.zeros((0, 4)), np.zeros((0, 4))).shape == (0,)
    with pytest.raises(ValueError, match="as many"):
        paired_iou(np.zeros((3, 4)), np.zeros((1, 4)))
