"""Box primitives shared by the tracker and the scorer: overlap and one-to-one matching."""

from __future__ import annotations

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every `a` box with every `b` box, both (N, 4) x0 y0 x1 y1;
    0 where the boxes do not overlap or are empty.

    >>> iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 3, 10], [20, 0, 30, 10]]))
    array([[0.3, 0. ]])
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    return _iou(a[:, None], b[None, :])


def paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of each `a` box with the `b` box in the same row (both (N, 4)).

    >>> paired_iou(np.array([[0, 0, 10, 10], [0, 0, 4, 4]]),
    ...            np.array([[0, 0, 3, 10], [9, 9, 12, 12]]))
    array([0.3, 0. ])
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    if len(a) != len(b):
        raise ValueError(f"paired_iou needs as many boxes in each: {len(a)} and {len(b)}")
    return _iou(a, b)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes `a` and `b` (float, last axis x0 y0 x1 y1), broadcast against each other."""
    wh = np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.prod(np.clip(a[..., 2:] - a[..., :2], 0.0, None), axis=-1)
    area_b = np.prod(np.clip(b[..., 2:] - b[..., :2], 0.0, None), axis=-1)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def greedy_match(score: np.ndarray, min_score: float = -np.inf) -> list[tuple[int, int]]:
    """One-to-one (row, column) pairs, best score first (ties: lower row, then column), among
    finite scores >= `min_score`. Greedy, not optimal: simple, and right when matches are clear.

    >>> greedy_match(np.array([[0.9, 0.8], [0.85, 0.1]]), min_score=0.3)
    [(0, 0)]
    """
    score = np.asarray(score, np.float64)
    ri, ci = np.nonzero(np.isfinite(score) & (score >= min_score))
    order = np.argsort(-score[ri, ci], kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    pairs = []
    for k in order.tolist():
        r, c = int(ri[k]), int(ci[k])
        if r not in used_r and c not in used_c:
            used_r.add(r)
            used_c.add(c)
            pairs.append((r, c))
    return pairs
