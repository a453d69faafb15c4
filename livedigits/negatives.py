"""Generated marks that are not digits, for the model's "not a digit" class.

The detector hands the classifier everything digit-sized that it finds: bits of ruled lines,
dots and commas, smudges, a pen on the page, printed letters, a digit cut by the frame edge,
two digits that touch, hand-drawn maths signs (+ - x / =) and letters, textures (wood grain,
fabric, paper fibre, noise), shadows and the sheet's edge, the corners of a grid. Each
generator draws one such mark at camera-like resolution; `make_negatives` normalises them with
the same `to_mnist` the live pipeline uses.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from livedigits import strokes
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


FLAT = 35  # degrees from horizontal: a straight bar any steeper is a fair '1'


def _flat_angle(rng: np.random.Generator) -> float:
    """An angle within FLAT degrees of horizontal: a steeper bar would be a fair '1'."""
    return float(np.deg2rad(rng.uniform(-FLAT, FLAT)))


def reads_as_one(img: np.ndarray) -> bool:
    """Whether a 28x28 mark is a single straight bar steeper than FLAT: any reader takes it
    for a '1', whatever drew it (a fibre, a grain line, a cut stroke), so it is no negative.

    >>> bar = np.zeros((28, 28), np.uint8); bar[4:24, 12:15] = 255
    >>> reads_as_one(bar), reads_as_one(bar.T)
    (True, False)
    """
    ys, xs = np.nonzero(img > 80)
    if ys.size < 2:
        return False
    (small, big), axes = np.linalg.eigh(np.cov(np.stack([xs, ys]).astype(np.float64)))
    if big <= 0 or small > 0.06 * big:  # thicker or more bent than a bar (width < ~1/4 length)
        return False
    vx, vy = axes[:, 1]
    return bool(np.degrees(np.arctan2(abs(vy), abs(vx))) > FLAT)


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


# Hand-drawn signs and letters as strokes in a unit box (x right, y down); a one-point
# stroke is a dot.
SIGNS: dict[str, list[list[tuple[float, float]]]] = {
    "+": [[(0.5, 0.1), (0.5, 0.9)], [(0.1, 0.5), (0.9, 0.5)]],
    "-": [[(0.05, 0.5), (0.95, 0.5)]],
    "x": [[(0.15, 0.15), (0.85, 0.85)], [(0.85, 0.15), (0.15, 0.85)]],
    "/": [[(0.1, 0.5), (0.9, 0.5)], [(0.5, 0.2)], [(0.5, 0.8)]],
    "=": [[(0.1, 0.38), (0.9, 0.38)], [(0.1, 0.62), (0.9, 0.62)]],
}
HAND_LETTERS: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0.1, 0.95), (0.5, 0.05), (0.9, 0.95)], [(0.28, 0.6), (0.72, 0.6)]],
    "E": [[(0.85, 0.05), (0.15, 0.05), (0.15, 0.95), (0.85, 0.95)], [(0.15, 0.5), (0.7, 0.5)]],
    "F": [[(0.85, 0.05), (0.15, 0.05), (0.15, 0.95)], [(0.15, 0.5), (0.7, 0.5)]],
    "H": [[(0.15, 0.05), (0.15, 0.95)], [(0.85, 0.05), (0.85, 0.95)],
          [(0.15, 0.5), (0.85, 0.5)]],
    "K": [[(0.2, 0.05), (0.2, 0.95)], [(0.85, 0.05), (0.2, 0.6)], [(0.4, 0.45), (0.85, 0.95)]],
    "M": [[(0.1, 0.95), (0.15, 0.05), (0.5, 0.6), (0.85, 0.05), (0.9, 0.95)]],
    "N": [[(0.15, 0.95), (0.15, 0.05), (0.85, 0.95), (0.85, 0.05)]],
    "W": [[(0.05, 0.05), (0.28, 0.95), (0.5, 0.4), (0.72, 0.95), (0.95, 0.05)]],
    "m": [[(0.05, 0.95), (0.05, 0.3), (0.2, 0.15), (0.35, 0.25), (0.38, 0.95)],
          [(0.38, 0.3), (0.55, 0.15), (0.7, 0.25), (0.72, 0.95)]],
}


def hand_drawn(rng: np.random.Generator, glyph: list[list[tuple[float, float]]],
               size: tuple[float, float]) -> np.ndarray:
    """One glyph drawn by hand: wobbly strokes, a little tilt, a random pen, on a canvas."""
    w, h = size
    paths = [np.array(s, np.float32) * (w, h) + (CANVAS - w) / 2 for s in glyph]
    paths = [p + rng.normal(0, 0.04 * max(w, h), 2).astype(np.float32) for p in paths]
    a = np.deg2rad(rng.uniform(-15, 15))
    m = cv2.getRotationMatrix2D((CANVAS / 2, CANVAS / 2), float(np.rad2deg(a)), 1.0)
    paths = strokes.transform(strokes.densify(paths, 3.0), m.astype(np.float32))
    paths = strokes.jitter(paths, rng, rng.uniform(0.5, 2.5))
    pen = strokes.Pen(rng.uniform(2, 9), rng.uniform(0, 0.4), rng.uniform(0, 2))
    return strokes.draw(paths, (CANVAS, CANVAS), pen, rng)


def maths_sign(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A hand-drawn + - x / (the divide sign) or =."""
    glyph = SIGNS[list(SIGNS)[int(rng.integers(len(SIGNS)))]]
    side = rng.uniform(40, 70)
    return hand_drawn(rng, glyph, (side * rng.uniform(0.8, 1.2), side))


def hand_letter(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A hand-drawn letter that no common hand would take for a digit."""
    glyph = HAND_LETTERS[list(HAND_LETTERS)[int(rng.integers(len(HAND_LETTERS)))]]
    h = rng.uniform(45, 75)
    return hand_drawn(rng, glyph, (h * rng.uniform(0.6, 1.0), h))


def comma(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A comma or full stop: a round head with a short tail, or none. The tail stays short, so
    the mark never becomes a filled-in 9."""
    img = _canvas()
    r = int(rng.integers(6, 14))
    cv2.circle(img, (48, 40), r, 255, -1, cv2.LINE_AA)
    if rng.random() < 0.7:
        tail = np.array([[48 + r, 40], [48 - r * 0.2, 40 + 1.5 * r], [48 - r * 0.3, 40]],
                        np.int32)
        cv2.fillConvexPoly(img, tail, 255, cv2.LINE_AA)
    return img


def _window(rng: np.random.Generator, field: np.ndarray) -> np.ndarray:
    """A random digit-sized window of a larger binary field (a crop the detector might make)."""
    h, w = field.shape
    ch, cw = int(rng.integers(40, 80)), int(rng.integers(30, 80))
    y, x = int(rng.integers(0, h - ch)), int(rng.integers(0, w - cw))
    return field[y : y + ch, x : x + cw]


def texture(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A patch of a textured surface where the detector finds ink: wood grain, woven fabric,
    paper fibres or fine noise."""
    side = 2 * CANVAS
    yy, xx = np.mgrid[:side, :side].astype(np.float32)
    kind = int(rng.integers(4))
    if kind == 0:  # wood grain: wavy bands, mostly along one direction
        a = _flat_angle(rng)
        u = -np.sin(a) * xx + np.cos(a) * yy
        u += strokes.smooth_field(rng, (side, side), 4) * rng.uniform(4, 12)
        v = np.sin(2 * np.pi * u / rng.uniform(7, 16))
        img = (v > rng.uniform(0.5, 0.85)).astype(np.uint8) * 255
    elif kind == 1:  # woven fabric: a checker of threads
        p = rng.uniform(5, 10)
        v = np.sin(2 * np.pi * xx / p) * np.sin(2 * np.pi * yy / p)
        v += 0.3 * strokes.smooth_field(rng, (side, side), 12)
        img = (v > rng.uniform(0.3, 0.6)).astype(np.uint8) * 255
    elif kind == 2:  # paper fibres: short thin curved hairs
        img = np.zeros((side, side), np.uint8)
        for _ in range(int(rng.integers(10, 30))):
            c = rng.uniform(0, side, 2)
            a = rng.uniform(0, np.pi)
            length = rng.uniform(10, 40)
            d = np.array([np.cos(a), np.sin(a)]) * length / 2
            bend = rng.normal(0, 4, 2)
            pts = np.array([c - d, c + bend, c + d], np.int32)
            cv2.polylines(img, [pts], False, 255, int(rng.integers(1, 3)), cv2.LINE_AA)
    else:  # fine noise, as a rough surface under grazing light
        v = strokes.smooth_field(rng, (side, side), int(rng.integers(20, 50)))
        img = (v > rng.uniform(0.8, 1.5)).astype(np.uint8) * 255
    out = _window(rng, img)
    return out if out.any() else smudge(rng, digits)


def shadow_edge(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """The edge of a shadow or of the sheet: a filled region with a smooth border, or a
    corner of the page."""
    yy, xx = np.mgrid[:CANVAS, :CANVAS].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    u = np.cos(a) * (xx - 48) + np.sin(a) * (yy - 48)
    u += strokes.smooth_field(rng, (CANVAS, CANVAS), 3) * rng.uniform(0, 8)
    region = u > rng.uniform(-20, 20)
    if rng.random() < 0.4:  # a corner: two edges
        b = a + rng.uniform(np.pi / 3, 2 * np.pi / 3)
        region &= (np.cos(b) * (xx - 48) + np.sin(b) * (yy - 48)) > rng.uniform(-20, 10)
    img = region.astype(np.uint8) * 255
    return img if img.any() else dot(rng, digits)


def grid_corner(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """A piece of squared paper or a table's grid: a few thin crossing lines."""
    img = _canvas()
    t = int(rng.integers(1, 4))
    step = int(rng.integers(18, 40))
    x0, y0 = int(rng.integers(5, 30)), int(rng.integers(5, 30))
    # At least two lines each way: one line each way would be a 7 or an L.
    x_end = x0 + step * int(rng.integers(1, 4)) + int(rng.integers(1, step))
    y_end = y0 + step * int(rng.integers(1, 4)) + int(rng.integers(1, step))
    for x in range(x0, x_end, step):
        cv2.line(img, (x, y0), (x, y_end), 255, t)
    for y in range(y0, y_end, step):
        cv2.line(img, (x0, y), (x_end, y), 255, t)
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
    "sign": maths_sign,
    "letter": hand_letter,
    "comma": comma,
    "texture": texture,
    "shadow": shadow_edge,
    "grid": grid_corner,
}


def make_negative(rng: np.random.Generator, digits: np.ndarray,
                  kinds: list[str] | None = None) -> np.ndarray:
    """One random non-digit mark as a 28x28 uint8 MNIST-like image; its kind's name is
    appended to `kinds` when given."""
    name = list(KINDS)[int(rng.integers(len(KINDS)))]
    if kinds is not None:
        kinds.append(name)
    for _ in range(10):
        img = to_mnist(KINDS[name](rng, digits))
        if not reads_as_one(img):
            break
    return img


def make_negatives(n: int, digits: np.ndarray, seed: int,
                   kinds: list[str] | None = None) -> np.ndarray:
    """`n` non-digit marks (N, 28, 28) uint8; `digits` feeds the cut and touching kinds;
    `kinds`, when given, receives each mark's kind.

    >>> digits = np.zeros((1, 28, 28), np.uint8); digits[0, 4:24, 12:16] = 255
    >>> make_negatives(3, digits, seed=0).shape
    (3, 28, 28)
    """
    rng = np.random.default_rng(seed)
    out = np.empty((n, 28, 28), np.uint8)
    for i in range(n):
        out[i] = make_negative(rng, digits, kinds)
    return out


def eval_negatives(x_test: np.ndarray, n: int = 5000,
                   kinds: list[str] | None = None) -> np.ndarray:
    """The held-out negative set: never trained on (its own seed, built from MNIST test
    digits), for the false-accept rate of `train` and `evaluate`; `kinds`, when given,
    receives each mark's kind."""
    return make_negatives(n, x_test, seed=EVAL_NEG_SEED, kinds=kinds)
