"""Evaluation figures for a digit model: accuracy, per-class accuracy, confusion, false accepts,
and the style-shift check (digits in styles training never sees).

Pure numpy on labels and probabilities, so the figures can be checked on a hand-made set;
`plot` renders the confusion matrix and the worst mistakes as a PNG with OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from livedigits.spec import NOT_A_DIGIT, NUM_CLASSES

CLASS_NAMES = [str(d) for d in range(10)] + ["none"]


@dataclass
class StyleShift:
    """Accuracy on the held-back styles, per pen family, and on real single-digit photos."""

    accuracy: float
    per_family: dict[str, float]
    n_digits: int
    real_correct: int
    real_total: int

    def to_json(self) -> dict:
        return {"accuracy": round(self.accuracy, 5),
                "per_family": {k: round(v, 5) for k, v in self.per_family.items()},
                "digits": self.n_digits,
                "real_single_digits": {"correct": self.real_correct, "total": self.real_total}}


def style_shift(y: np.ndarray, pred: np.ndarray, family: np.ndarray, real_y: np.ndarray,
                real_pred: np.ndarray) -> StyleShift:
    """Style-shift figures from labels and predicted classes (and each digit's pen family).

    >>> r = style_shift(np.array([1, 2]), np.array([1, 3]), np.array(["a", "b"]),
    ...                 np.array([4]), np.array([4]))
    >>> r.accuracy, r.per_family, r.real_correct
    (0.5, {'a': 1.0, 'b': 0.0}, 1)
    """
    ok = pred == y
    fams = {str(f): float(ok[family == f].mean()) for f in sorted(set(family.tolist()))}
    return StyleShift(float(ok.mean()) if len(y) else float("nan"), fams, int(len(y)),
                      int((real_pred == real_y).sum()), int(len(real_y)))


def false_accepts_by_kind(neg_pred: np.ndarray, kinds: list[str]) -> dict[str, float]:
    """Share of each kind of non-digit mark read as a digit.

    >>> false_accepts_by_kind(np.array([10, 3, 10]), ["dot", "dot", "sign"])
    {'dot': 0.5, 'sign': 0.0}
    """
    k = np.array(kinds)
    return {name: float((neg_pred[k == name] != NOT_A_DIGIT).mean())
            for name in sorted(set(kinds))}


@dataclass
class Report:
    """What `livedigits evaluate` prints."""

    accuracy: float
    per_class: list[float]
    confusion: np.ndarray  # (10, 11): true digit x predicted class
    false_accept_rate: float  # share of non-digit marks read as a digit
    n_digits: int
    n_negatives: int
    worst: list[int]  # indices of the most confident mistakes, worst first
    false_accept_by_kind: dict[str, float] = field(default_factory=dict)
    style_shift: StyleShift | None = None

    def to_json(self) -> dict:
        """The figures for machines; a figure with nothing to measure (no digits) is null."""
        def num(v: float) -> float | None:
            return None if np.isnan(v) else round(v, 5)

        return {
            "accuracy": num(self.accuracy),
            "per_class_accuracy": {str(d): num(a) for d, a in enumerate(self.per_class)},
            "confusion": self.confusion.tolist(),
            "negative_false_accept_rate": round(self.false_accept_rate, 5),
            "digits": self.n_digits,
            "negatives": self.n_negatives,
            "negative_false_accept_by_kind": {k: round(v, 5)
                                              for k, v in self.false_accept_by_kind.items()},
            "style_shift": self.style_shift.to_json() if self.style_shift else None,
        }


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, rows: int = 10,
                     cols: int = NUM_CLASSES) -> np.ndarray:
    """Counts of (true, predicted) pairs.

    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 10]), rows=2, cols=11)[1].tolist()
    [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    """
    m = np.zeros((rows, cols), np.int64)
    np.add.at(m, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return m


def evaluate(y_true: np.ndarray, probs: np.ndarray, neg_probs: np.ndarray,
             n_worst: int = 40) -> Report:
    """Figures from digit labels, the model's probabilities on them, and on non-digit marks."""
    pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, pred)
    totals = cm.sum(axis=1)
    per_class = [float(cm[d, d] / totals[d]) if totals[d] else float("nan") for d in range(10)]
    wrong = np.flatnonzero(pred != y_true)
    worst = wrong[np.argsort(-probs[wrong, pred[wrong]])][:n_worst].tolist()
    far = float((neg_probs.argmax(axis=1) != NOT_A_DIGIT).mean()) if len(neg_probs) else 0.0
    return Report(float((pred == y_true).mean()) if len(y_true) else float("nan"), per_class, cm,
                  far, int(len(y_true)), int(len(neg_probs)), worst)


def format_table(r: Report) -> str:
    """A readable report: headline figures, per-class accuracy and the confusion matrix."""
    lines = [
        f"MNIST test accuracy      {r.accuracy:.4%}  ({r.n_digits} digits)",
        f"negative false accepts   {r.false_accept_rate:.2%}  ({r.n_negatives} non-digit marks)",
    ]
    if r.false_accept_by_kind:
        lines.append("  by kind: " + "  ".join(
            f"{k}:{v:.1%}" for k, v in r.false_accept_by_kind.items()))
    if r.style_shift is not None:
        ss = r.style_shift
        lines.append(f"style-shift accuracy     {ss.accuracy:.2%}  ({ss.n_digits} digits in "
                     "held-back pen styles: " + ", ".join(
                         f"{k} {v:.1%}" for k, v in ss.per_family.items()) + ")")
        if ss.real_total:
            lines.append(f"real single-digit photos {ss.real_correct} of {ss.real_total} read")
    lines += [
        "",
        "per-class accuracy",
        "  " + "  ".join(f"{d}:{a:.2%}" for d, a in enumerate(r.per_class)),
        "",
        "confusion (rows: true digit, columns: predicted)",
        "     " + "".join(f"{c:>6}" for c in CLASS_NAMES),
    ]
    lines += [f"{d:>5}" + "".join(f"{v:>6}" for v in row) for d, row in enumerate(r.confusion)]
    return "\n".join(lines)


def plot(r: Report, images: np.ndarray, y_true: np.ndarray, probs: np.ndarray,
         path: str) -> bool:
    """Write a PNG: the confusion matrix (log-shaded) beside a grid of the worst mistakes."""
    cell = 44
    cm = r.confusion.astype(np.float64)
    shade = np.log1p(cm) / max(np.log1p(cm).max(), 1e-9)
    h, w = cell * (cm.shape[0] + 1), cell * (cm.shape[1] + 1)
    board = np.full((h, w, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for j, name in enumerate(CLASS_NAMES):
        cv2.putText(board, name, (cell * (j + 1) + 6, 28), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for i in range(cm.shape[0]):
        cv2.putText(board, str(i), (16, cell * (i + 1) + 28), font, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
        for j in range(cm.shape[1]):
            v = int(255 - 200 * shade[i, j])
            x, y = cell * (j + 1), cell * (i + 1)
            color = (v, v, 255) if i != j else (v, 255, v)
            cv2.rectangle(board, (x, y), (x + cell - 2, y + cell - 2), color, -1)
            cv2.putText(board, str(int(cm[i, j])), (x + 3, y + 27), font, 0.38, (0, 0, 0), 1,
                        cv2.LINE_AA)
    tiles = []
    for idx in r.worst:
        t = cv2.cvtColor(cv2.resize(images[idx], (56, 56)), cv2.COLOR_GRAY2BGR)
        t = cv2.copyMakeBorder(t, 14, 2, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        label = f"{y_true[idx]}->{CLASS_NAMES[int(probs[idx].argmax())]}"
        cv2.putText(t, label, (2, 11), font, 0.35, (0, 0, 200), 1, cv2.LINE_AA)
        tiles.append(t)
    cols = 8
    if tiles:
        while len(tiles) % cols:
            tiles.append(np.full_like(tiles[0], 255))
        grid = np.vstack([np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)])
        gh = max(h, grid.shape[0])
        left = np.full((gh, w, 3), 255, np.uint8)
        left[:h] = board
        right = np.full((gh, grid.shape[1], 3), 255, np.uint8)
        right[: grid.shape[0]] = grid
        board = np.hstack([left, right])
    return bool(cv2.imwrite(path, board))
