"""Generated marks that are not digits, for the model's "not a digit" class.

The detector hands the classifier everything digit-sized that it finds: bits of ruled lines,
dots, smudges, a pen on the page, printed letters, a digit cut by the frame edge, two digits
that touch. Each generator draws one such mark at camera-like resolution; `make_negatives`
normalises them with the same `to_mnist` the live pipeline uses.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from livedigits.preprocess import to_mnist

EVAL_NEG_SEED = 20_211_114  # the held-out negative set: its own seed, MNIST *test* digits

CANVAS = 96
# Letters that cannot be mistaken for a digit in any common handwriting.
LETTERS = "AFHKMNRTUVWXakmnrtuvwx"
FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)

Kind = Callable[[np.random.Generator, np.ndarray], np.ndarray]


def _canvas() -> np.ndarray:
    return np.zeros((CANVAS, CANVAS), np.uint8)


def _flat_angle(rng: np.random.Generator) -> float:
    """An angle within 35 degrees of horizontal: a steeper bar would be a fair '1'."""
    return float(np.deg2rad(rng.uniform(-35, 35)))


def line_fragment(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A piece of a ruled or drawn line, straight or slightly bowed."""
    img = _canvas()
    a = _flat_angle(rng)
    length = rng.uniform(40, 90)
    c = np.array([CANVAS / 2, CANVAS / 2])
    d = np.array([np.cos(a), np.sin(a)]) * length / 2
    bow = rng.uniform(-6, 6)
    n = np.array([-np.sin(a), np.cos(a)]) * bow
    pts = np.array([c - d, c + n, c + d], np.int32).reshape(-1, 1, 2)
    cv2.polylines(img, [pts], False, 255, int(rng.integers(1, 6)), cv2.LINE_AA)
    return img


def crossing_lines(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A ruled line crossed by a margin line: a plus, a T or an L."""
    img = _canvas()
    t = int(rng.integers(1, 5))
    y = int(rng.integers(30, 66))
    x = int(rng.integers(30, 66))
    kind = rng.integers(3)
    x0, x1 = (0, CANVAS) if kind == 0 else (x - int(rng.integers(0, 5)), CANVAS)
    cv2.line(img, (x0, y), (x1, y), 255, t)
    y0, y1 = (0, CANVAS) if kind != 2 else (0, y)
    cv2.line(img, (x, y0), (x, y1), 255, t)
    return img


def dot(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A filled dot or speck, round or a little irregular."""
    img = _canvas()
    axes = (int(rng.integers(4, 30)), int(rng.integers(4, 30)))
    cv2.ellipse(img, (48, 48), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    return img


def smudge(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A smear of ink or shadow: a blurred random blob, thresholded."""
    noise = rng.random((12, 12)).astype(np.float32)
    blob = cv2.resize(noise, (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[:CANVAS, :CANVAS]
    fall = np.exp(-(((yy - 48) / 30.0) ** 2 + ((xx - 48) / rng.uniform(25, 45)) ** 2))
    img = (blob * fall > rng.uniform(0.35, 0.55)).astype(np.uint8) * 255
    return img


def pen(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A pen lying on the paper: a long thick body with a tapered tip, filled or outlined."""
    img = _canvas()
    a = _flat_angle(rng)
    length, width = rng.uniform(70, 94), rng.uniform(8, 16)
    body = np.array(
        [[-length / 2, -width / 2], [length / 3, -width / 2], [length / 2, 0],
         [length / 3, width / 2], [-length / 2, width / 2]]
    )
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = (body @ rot.T + CANVAS / 2).astype(np.int32)
    if rng.random() < 0.5:
        cv2.fillPoly(img, [pts], 255, cv2.LINE_AA)
    else:
        cv2.polylines(img, [pts], True, 255, int(rng.integers(2, 5)), cv2.LINE_AA)
    return img


def printed_text(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """One to three printed letters that look like no digit."""
    img = np.zeros((CANVAS, CANVAS * 2), np.uint8)
    n = int(rng.integers(1, 4))
    text = "".join(rng.choice(list(LETTERS), n))
    font = FONTS[int(rng.integers(len(FONTS)))]
    cv2.putText(img, text, (8, 70), font, rng.uniform(1.4, 2.2), 255,
                int(rng.integers(1, 5)), cv2.LINE_AA)
    return img


def cut_digit(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A digit cut by the frame edge, of which only a part too small to read is left."""
    for _ in range(10):
        d = cv2.resize(digits[int(rng.integers(len(digits)))], (CANVAS, CANVAS))
        keep = rng.uniform(0.25, 0.5)
        side = int(rng.integers(4))
        cut = int(CANVAS * keep)
        part = [d[:cut], d[-cut:], d[:, :cut], d[:, -cut:]][side]
        ys, xs = np.nonzero(part > 80)
        # A tall thin remnant reads as a fair '1'; that is not a negative.
        if ys.size and (np.ptp(ys) + 1) < 2.2 * (np.ptp(xs) + 1):
            return part
    return line_fragment(rng, digits)


def touching_digits(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """Two digits written so close that their ink touches: one blob, two digits."""
    a, b = (digits[int(i)] for i in rng.integers(len(digits), size=2))
    overlap = int(rng.integers(4, 10))
    img = np.zeros((28, 56 - overlap), np.uint8)
    img[:, :28] = a
    img[:, 28 - overlap :] = np.maximum(img[:, 28 - overlap :], b)
    return img


KINDS: dict[str, Kind] = {
    "line": line_fragment,
    "crossing": crossing_lines,
    "dot": dot,
    "smudge": smudge,
    "pen": pen,
    "text": printed_text,
    "cut_digit": cut_digit,
    "touching": touching_digits,
}


def make_negative(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """One random non-digit mark as a 28x28 uint8 MNIST-like image."""
    kind = KINDS[list(KINDS)[int(rng.integers(len(KINDS)))]]
    return to_mnist(kind(rng, digits))


def make_negatives(n: int, digits: np.ndarray, seed: int) -> np.ndarray:
    """`n` non-digit marks (N, 28, 28) uint8; `digits` feeds the cut and touching kinds.

    >>> digits = np.zeros((1, 28, 28), np.uint8); digits[0, 4:24, 12:16] = 255
    >>> make_negatives(3, digits, seed=0).shape
    (3, 28, 28)
    """
    rng = np.random.default_rng(seed)
    out = np.empty((n, 28, 28), np.uint8)
    for i in range(n):
        out[i] = make_negative(rng, digits)
    return out


def eval_negatives(x_test: np.ndarray, n: int = 5000) -> np.ndarray:
    """The held-out negative set: never trained on (its own seed, built from MNIST test
    digits), for the false-accept rate of `train` and `evaluate`."""
    return make_negatives(n, x_test, seed=EVAL_NEG_SEED)
