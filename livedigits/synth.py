"""Synthetic webcam videos of handwritten digits on paper, with exact ground truth.

A scene is a still "world" (a desk, a sheet of paper or a board, MNIST *test* digits inked on
it as pen strokes, and distractors that are not digits) seen by a hand-held camera: every frame
warps the world through its own homography, then adds uneven light, a moving shadow,
vignetting, a colour cast, focus blur, an occasional motion blur and sensor noise. Because the
geometry is known, each digit's box is its ink outline projected through the same homography.

Pure numpy and OpenCV, and deterministic: a frame depends only on the settings, the seed, the
digits and its index, so frames can be rendered in any order and re-made byte for byte.

>>> x, y = load_test_digits(default_mnist_path())                    # doctest: +SKIP
>>> scene = build_scene(SAMPLES["plain_480p"], x, y)                  # doctest: +SKIP
>>> frame, truth = render_frame(scene, 0), ground_truth(scene, 0)     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from livedigits.data import default_mnist_path, load_mnist

__all__ = ["SAMPLES", "Digit", "Scene", "SynthSettings", "build_scene", "default_mnist_path",
           "digit_boxes", "ground_truth", "ink_mask", "load_test_digits", "render_frame",
           "write_sample"]

# Letters only: printed digits would be digits the ground truth does not list.
PRINTED_WORDS = ["Name", "Class", "Notes", "Homework", "Exercise", "page", "Date", "Total",
                 "Answers", "Check", "see above", "Maths", "Results", "draft", "keep"]
INKS_PAPER = [((32, 30, 34), 4), ((140, 62, 28), 3), ((105, 38, 22), 2), ((42, 40, 160), 1),
              ((88, 88, 92), 1)]  # BGR and weight: black, ballpoint blue, navy, red, pencil
INKS_BOARD = [((236, 240, 240), 4), ((170, 228, 236), 1)]  # white and yellow chalk


@dataclass(frozen=True)
class SynthSettings:
    """Everything that shapes one synthetic video; the JSON ground truth records all of it."""

    width: int = 1280
    height: int = 720
    fps: float = 15.0
    seconds: float = 6.0
    seed: int = 0
    surface: str = "paper"  # "paper" (dark ink) or "board" (light chalk on a dark board)
    ruled: bool = False  # ruled lines and a red margin line
    sheet: float = 1.4  # sheet size relative to the view: > 1 fills the frame, < 1 shows desk
    numbers: int = 6  # 0 = a blank sheet with distractors only
    digits_per_number: tuple[int, int] = (1, 4)
    digit_height: tuple[float, float] = (26.0, 60.0)  # world px; about frame px at zoom 1
    light: float = 1.0  # overall exposure
    light_gradient: float = 0.2  # uneven light across the frame
    shadow: float = 0.25  # depth of the moving shadow, 0 = none
    vignette: float = 0.3
    noise: float = 2.0  # sensor noise, grey levels (sigma); above ~2 mp4v files balloon
    focus: tuple[float, float] = (0.3, 0.9)  # Gaussian blur sigma, varies slowly
    motion_blur: float = 0.04  # chance that a frame is motion blurred
    drift: float = 0.025  # camera wander, fraction of the frame size
    rotation: float = 2.5  # camera roll amplitude, degrees
    tilt: float = 0.04  # perspective keystone amplitude
    zoom: float = 0.04  # distance change amplitude (relative)
    printed_text: bool = True
    pen: bool = True
    smudges: int = 2

    @property
    def frames(self) -> int:
        return int(round(self.fps * self.seconds))

    def to_json(self) -> dict:
        """The settings as plain JSON values (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


SAMPLES: dict[str, SynthSettings] = {
    "plain_480p": SynthSettings(width=640, height=480, seed=11, numbers=6, sheet=1.5,
                                digit_height=(26.0, 54.0), printed_text=False, smudges=1),
    "ruled_720p": SynthSettings(seed=12, ruled=True, numbers=9, digits_per_number=(1, 4),
                                digit_height=(30.0, 44.0)),
    "desk_1080p": SynthSettings(width=1920, height=1080, seed=13, sheet=0.72, numbers=7,
                                digit_height=(24.0, 60.0), rotation=3.0),
    "hard_720p": SynthSettings(seed=14, numbers=6, light=0.5, light_gradient=0.35, shadow=0.6,
                               noise=2.5, focus=(0.6, 1.8), motion_blur=0.2, drift=0.06,
                               rotation=4.0, tilt=0.06, digit_height=(28.0, 58.0)),
    "crowded_720p": SynthSettings(seed=15, numbers=15, digits_per_number=(2, 4),
                                  digit_height=(24.0, 34.0), smudges=1, pen=False),
    "blank_720p": SynthSettings(seed=16, numbers=0, ruled=True, smudges=4),
    "board_720p": SynthSettings(seed=17, surface="board", numbers=6, printed_text=False,
                                digit_height=(30.0, 62.0), smudges=5, vignette=0.4),
}


@dataclass
class Digit:
    """One inked digit: its label, number, MNIST test index and ink outline in world pixels."""

    id: int
    digit: int
    number: int
    mnist_index: int
    hull: np.ndarray  # (K, 2) float32 world points (pixel-centre coordinates) enclosing the ink


@dataclass
class Scene:
    """A built world plus what the camera needs to film it; made by `build_scene`."""

    settings: SynthSettings
    world: np.ndarray  # (H, W, 3) float32 BGR, 0..255
    digit_alpha: np.ndarray  # (H, W) float32: the digits' ink coverage alone, for checks
    digits: list[Digit]
    numbers: list[list[int]]  # digit ids of each number, left to right
    camera: dict[str, np.ndarray]  # per-motion frequencies and phases
    cast: np.ndarray  # per-channel colour gains
    motion_frames: frozenset[int] = field(default_factory=frozenset)


def load_test_digits(path: str | Path | None) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST *test* split (images, labels) from an npz: the training split is never used,
    so a model trained on it is scored on digits it has not seen.

    Raises data.DataError with a one-line reason when the file is missing or malformed.
    """
    if path is None:
        from livedigits.data import DataError

        raise DataError("no mnist.npz found: pass --data PATH or set LIVEDIGITS_MNIST")
    m = load_mnist(path)
    return m.x_test, m.y_test


def _weighted(rng: np.random.Generator, items: list[tuple[tuple[int, int, int], int]]):
    w = np.array([n for _, n in items], np.float64)
    return items[int(rng.choice(len(items), p=w / w.sum()))][0]


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Low-frequency noise, about zero mean and unit spread, with blobs about `cell` px wide."""
    h, w = shape
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _ink_stroke(rng: np.random.Generator, image: np.ndarray, height: float,
                chalk: bool) -> np.ndarray:
    """An MNIST digit as a pen stroke coverage map (float32 0..1), `height` px tall."""
    ys, xs = np.nonzero(image > 40)
    crop = image[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.float32)
    ch, cw = crop.shape
    h = max(4, int(round(height)))
    w = max(3, int(round(h * cw / ch)))
    pad = int(np.ceil(0.3 * h)) + 3
    big = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    big[pad: pad + h, pad: pad + w] = cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC)
    # A little slant and rotation, so one writer's digits are not all MNIST-upright.
    angle, shear = rng.uniform(-7, 7), rng.uniform(-0.15, 0.15)
    m = cv2.getRotationMatrix2D((big.shape[1] / 2, big.shape[0] / 2), angle, 1.0)
    m[0, 1] += shear
    m[0, 2] -= shear * big.shape[0] / 2
    big = cv2.warpAffine(big, m, (big.shape[1], big.shape[0]), flags=cv2.INTER_LINEAR)
    big = cv2.GaussianBlur(big, (0, 0), max(0.6, h / 40))
    # The threshold sets the stroke width: low = a fat marker, high = a thin ballpoint.
    mask = (big > rng.uniform(70, 165)).astype(np.float32)
    extra = int(rng.integers(0, 3)) if h > 40 else 0
    if extra:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                          (2 * extra + 1, 2 * extra + 1)))
    alpha = cv2.GaussianBlur(mask, (0, 0), 0.7)
    grain = 1.0 - (0.45 if chalk else 0.12) * rng.random(alpha.shape, np.float32)
    return np.clip(alpha * grain * rng.uniform(0.85, 1.0), 0.0, 1.0)


def _hull(alpha: np.ndarray, ox: float, oy: float) -> np.ndarray:
    """Convex outline of the visible ink (alpha > 0.3), pixel-edge corners, offset by (ox, oy)."""
    ys, xs = np.nonzero(alpha > 0.3)
    pts = np.concatenate([np.stack([xs + dx, ys + dy], 1) for dx in (-0.5, 0.5)
                          for dy in (-0.5, 0.5)]).astype(np.float32)
    hull = cv2.convexHull(pts).reshape(-1, 2)
    return hull + np.array([ox, oy], np.float32)


def _free(rect: tuple[float, float, float, float], taken: list[tuple]) -> bool:
    x0, y0, x1, y1 = rect
    return all(x1 <= a0 or x0 >= a1 or y1 <= b0 or y0 >= b1 for a0, b0, a1, b1 in taken)


def _paper(rng: np.random.Generator, s: SynthSettings, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if s.surface == "board":
        base = np.array([rng.uniform(40, 58), rng.uniform(52, 70), rng.uniform(38, 50)])
        tex = 1.0 + 0.08 * _smooth_noise(rng, shape, 90) + 0.04 * _smooth_noise(rng, shape, 8)
    else:
        base = np.array([rng.uniform(226, 240), rng.uniform(230, 242), rng.uniform(232, 246)])
        tex = 1.0 + 0.015 * _smooth_noise(rng, shape, 120) + 0.005 * _smooth_noise(rng, shape, 3)
    return (tex[..., None] * base[None, None, :].astype(np.float32)).astype(np.float32)


def _desk(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    base = np.array([rng.uniform(40, 70), rng.uniform(70, 100), rng.uniform(110, 140)],
                    np.float32)  # wood, BGR
    grain = cv2.resize(rng.standard_normal((h, 6)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    tex = 1.0 + 0.08 * grain + 0.06 * _smooth_noise(rng, shape, 150)
    return tex[..., None] * base[None, None, :]


def _draw_pen(rng: np.random.Generator, img: np.ndarray, rect: tuple[int, int, int, int],
              board: bool) -> None:
    """A pen (or a stick of chalk) lying in `rect`, with its soft shadow."""
    x0, y0, x1, y1 = rect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    length = (x1 - x0) * 0.9
    thick = max(6.0, (y1 - y0) * 0.35)
    angle = rng.uniform(-20, 20)
    body = (235, 238, 240) if board else _weighted(rng, [((150, 70, 30), 1), ((40, 40, 40), 1),
                                                         ((40, 40, 170), 1)])
    shadow = np.zeros(img.shape[:2], np.float32)
    box = cv2.boxPoints(((cx + thick * 0.3, cy + thick * 0.4), (length, thick), angle))
    cv2.fillConvexPoly(shadow, box.astype(np.int32), 1.0, cv2.LINE_AA)
    shadow = cv2.GaussianBlur(shadow, (0, 0), thick * 0.4)
    img *= (1.0 - 0.35 * shadow)[..., None]
    box = cv2.boxPoints(((cx, cy), (length, thick), angle)).astype(np.int32)
    cv2.fillConvexPoly(img, box, body, cv2.LINE_AA)
    if not board:
        rad = np.deg2rad(angle)
        d = np.array([np.cos(rad), np.sin(rad)])
        cap_c = np.array([cx, cy]) + d * length * 0.38
        cap = cv2.boxPoints(((float(cap_c[0]), float(cap_c[1])), (length * 0.24, thick * 1.1),
                             angle)).astype(np.int32)
        cv2.fillConvexPoly(img, cap, tuple(0.6 * v for v in body), cv2.LINE_AA)
        tip = np.array([cx, cy]) - d * length / 2
        cv2.circle(img, tuple(int(v) for v in tip), max(2, int(thick / 3)), (60, 60, 60), -1,
                   cv2.LINE_AA)
        hl = cv2.boxPoints(((cx, cy - thick * 0.2 * np.cos(rad)), (length * 0.7, thick * 0.15),
                            angle)).astype(np.int32)
        cv2.fillConvexPoly(img, hl, tuple(min(255, v + 70) for v in body), cv2.LINE_AA)


def build_scene(settings: SynthSettings, x_test: np.ndarray, y_test: np.ndarray) -> Scene:
    """Lay out the sheet, digits and distractors for `settings`; deterministic in its seed.

    Takes the MNIST test split only (see `load_test_digits`).
    """
    s = settings
    rng = np.random.default_rng(s.seed)
    vw, vh = s.width, s.height
    world_w, world_h = int(vw * 1.5), int(vh * 1.5)
    shape = (world_h, world_w)
    board = s.surface == "board"
    sw, sh = int(vw * s.sheet), int(vh * s.sheet * (1.0 if s.sheet >= 1 else 1.25))
    sheet = _paper(rng, s, (sh, sw))
    unit = vh / 720  # line widths and text sizes follow the resolution
    taken: list[tuple] = []
    # Where digits may go: inside the sheet and inside the central part of the view, so most
    # stay in frame as the camera wanders; the ones near an edge sometimes leave it.
    ox, oy = (sw - vw) / 2, (sh - vh) / 2
    area = [max(0.04 * sw, ox + 0.07 * vw), max(0.05 * sh, oy + 0.09 * vh),
            min(0.96 * sw, ox + 0.93 * vw), min(0.95 * sh, oy + 0.91 * vh)]
    if s.ruled and not board:
        spacing = max(s.digit_height[1] * 1.3, 34 * unit)
        first = area[1] + rng.uniform(0, spacing)
        for y in np.arange(first % spacing, sh, spacing):
            cv2.line(sheet, (0, int(y)), (sw, int(y)), (222, 196, 160), max(1, round(1.5 * unit)),
                     cv2.LINE_AA)
        margin = area[0] + 0.06 * vw
        cv2.line(sheet, (int(margin), 0), (int(margin), sh), (120, 120, 225),
                 max(1, round(2 * unit)), cv2.LINE_AA)
        taken.append((margin - 20 * unit, 0, margin + 20 * unit, sh))
        lines = np.arange(first % spacing, sh, spacing)
    else:
        lines = np.zeros(0)
    if s.printed_text and not board:
        for k in range(int(rng.integers(2, 5))):
            text = " ".join(rng.choice(PRINTED_WORDS, int(rng.integers(1, 4)), replace=False))
            scale = rng.uniform(0.35, 0.55) * unit
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            for _ in range(50):
                tx = rng.uniform(area[0], area[2] - tw)
                ty = area[1] + 8 if k == 0 else rng.uniform(area[1] + th, area[3])
                rect = (tx - 6, ty - th - 6, tx + tw + 6, ty + 8)
                if _free(rect, taken):
                    mask = np.zeros((sh, sw), np.uint8)  # putText draws on 8-bit images only
                    cv2.putText(mask, text, (int(tx), int(ty)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                                255, max(1, round(unit)), cv2.LINE_AA)
                    cover_ = mask.astype(np.float32)[..., None] / 255.0
                    sheet += cover_ * (np.array([55, 55, 55], np.float32) - sheet)
                    taken.append(rect)
                    break
    for _ in range(s.smudges):
        sx, sy = rng.uniform(area[0], area[2]), rng.uniform(area[1], area[3])
        ax, ay = rng.uniform(12, 45) * unit, rng.uniform(6, 25) * unit
        blob = np.zeros((sh, sw), np.float32)
        cv2.ellipse(blob, ((float(sx), float(sy)), (float(2 * ax), float(2 * ay)),
                           float(rng.uniform(0, 180))), 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), 0.5 * ay + 2) * rng.uniform(0.12, 0.3)
        colour = np.array([230, 230, 225] if board else [70, 75, 80], np.float32)
        sheet += blob[..., None] * (colour - sheet)
        taken.append((sx - ax, sy - ay, sx + ax, sy + ay))
    if s.pen:
        pl, pt = (0.22 if not board else 0.1) * vw, 32 * unit
        for _ in range(100):
            px, py = rng.uniform(area[0], area[2] - pl), rng.uniform(area[1], area[3] - pt)
            rect = (px, py, px + pl, py + pt)
            if _free(rect, taken):
                x0, y0, x1, y1 = (int(v) for v in rect)
                _draw_pen(rng, sheet, (x0, y0, x1, y1), board)
                tilt_room = 0.2 * pl  # the pen is drawn turned by up to 20 degrees
                taken.append((px - 10, py - tilt_room, px + pl + 10, py + pt + tilt_room))
                break

    digit_alpha = np.zeros((sh, sw), np.float32)
    inks = INKS_BOARD if board else INKS_PAPER
    order = rng.permutation(len(x_test))
    next_image = 0
    placed: list[tuple[int, int, np.ndarray, int, int]] = []
    numbers: list[list[int]] = []
    for _ in range(s.numbers):
        n = int(rng.integers(s.digits_per_number[0], s.digits_per_number[1] + 1))
        h0 = rng.uniform(*s.digit_height)
        ink = np.array(_weighted(rng, inks), np.float32)
        strokes = []
        for _ in range(n):
            idx = int(order[next_image])
            next_image += 1
            hh = float(np.clip(h0 * rng.uniform(0.92, 1.08), *s.digit_height))
            strokes.append((idx, _ink_stroke(rng, x_test[idx], hh, board), hh))
        gaps = [rng.uniform(0.1, 0.3) * h0 for _ in range(n - 1)]
        width = sum(_ink_w(a) for _, a, _ in strokes) + sum(gaps)
        for _ in range(300):
            x = rng.uniform(area[0], area[2] - width)
            if len(lines):
                candidates = lines[(lines - h0 > area[1]) & (lines < area[3])]
                if not len(candidates):
                    break
                base = float(rng.choice(candidates)) - rng.uniform(2, 6) * unit
            else:
                base = rng.uniform(area[1] + h0, area[3])
            # Numbers keep well apart (much more than the gaps inside one) so grouping is clear.
            rect = (x - 1.4 * h0, base - h0 - 0.6 * h0, x + width + 1.4 * h0, base + 0.6 * h0)
            if _free(rect, taken):
                taken.append(rect)
                break
        else:
            continue
        ids = []
        cx = x
        for k, (idx, a, hh) in enumerate(strokes):
            ys, xs = np.nonzero(a > 0.3)
            left = cx - xs.min()
            top = base - ys.max() + rng.uniform(-0.05, 0.05) * hh
            ix, iy = int(round(left)), int(round(top))
            _stamp(sheet, digit_alpha, a, ix, iy, ink)
            placed.append((len(numbers), idx, a, ix, iy))
            ids.append(len(placed) - 1)
            cx += _ink_w(a) + (gaps[k] if k < n - 1 else 0)
        numbers.append(ids)

    # The sheet lies on the desk slightly turned; digits move with it.
    angle = rng.uniform(-4, 4) if s.sheet < 1 else rng.uniform(-2, 2)
    centre = (world_w / 2 + rng.uniform(-0.02, 0.02) * vw,
              world_h / 2 + rng.uniform(-0.02, 0.02) * vh)
    a = cv2.getRotationMatrix2D((sw / 2, sh / 2), angle, 1.0)
    a[:, 2] += (centre[0] - sw / 2, centre[1] - sh / 2)
    world = _desk(rng, shape)
    cover = cv2.warpAffine(np.ones((sh, sw), np.float32), a, (world_w, world_h),
                           flags=cv2.INTER_LINEAR)
    drop = cv2.GaussianBlur(np.roll(cover, (int(6 * unit), int(4 * unit)), (0, 1)), (0, 0),
                            8 * unit)
    world *= (1.0 - 0.45 * drop)[..., None]
    paper = cv2.warpAffine(sheet, a, (world_w, world_h), flags=cv2.INTER_LINEAR)
    world = world * (1.0 - cover[..., None]) + paper * cover[..., None]
    world_alpha = cv2.warpAffine(digit_alpha, a, (world_w, world_h), flags=cv2.INTER_LINEAR)

    digits = []
    for i, (num, idx, al, ix, iy) in enumerate(placed):
        hull = _hull(al, ix, iy)
        hull = cv2.transform(hull.reshape(-1, 1, 2), a).reshape(-1, 2)
        digits.append(Digit(i, int(y_test[idx]), num, idx, hull.astype(np.float32)))

    n = s.frames
    camera = {k: rng.uniform(0, 2 * np.pi, 2) for k in ("x", "y", "roll", "zoom", "tx", "ty")}
    camera["freq"] = rng.uniform(0.06, 0.14, 6)
    camera["fast"] = rng.uniform(0.3, 0.6, 6)
    camera["shadow"] = rng.uniform(-1, 1, 4)
    camera["light"] = rng.uniform(0, 2 * np.pi, 2)
    cast = np.array([rng.uniform(0.88, 1.08), rng.uniform(0.95, 1.04),
                     rng.uniform(0.92, 1.12)], np.float32)
    motion = frozenset(int(i) for i in np.flatnonzero(rng.random(n) < s.motion_blur))
    return Scene(s, world.astype(np.float32), world_alpha, digits, numbers, camera, cast, motion)


def _ink_w(alpha: np.ndarray) -> float:
    xs = np.nonzero((alpha > 0.3).any(axis=0))[0]
    return float(xs.max() - xs.min() + 1)


def _stamp(sheet: np.ndarray, layer: np.ndarray, alpha: np.ndarray, x: int, y: int,
           ink: np.ndarray) -> None:
    """Composite ink with coverage `alpha` at (x, y) onto the sheet and the digits-only layer."""
    h, w = alpha.shape
    region = sheet[y: y + h, x: x + w]
    a = alpha[: region.shape[0], : region.shape[1]]
    region += a[..., None] * (ink - region)
    layer[y: y + a.shape[0], x: x + a.shape[1]] = np.maximum(
        layer[y: y + a.shape[0], x: x + a.shape[1]], a)


def homography(scene: Scene, index: int) -> np.ndarray:
    """World -> frame homography of frame `index`: slow drift, roll, zoom and keystone."""
    s, c = scene.settings, scene.camera
    t = index / s.fps
    f, g = c["freq"], c["fast"]

    def wave(k: int, key: str) -> float:
        # A slow sway plus a faster, smaller hand tremor.
        p = c[key]
        return float(0.8 * np.sin(2 * np.pi * f[k] * t + p[0]) +
                     0.2 * np.sin(2 * np.pi * g[k] * t + p[1]))

    ww, wh = scene.world.shape[1], scene.world.shape[0]
    cx = ww / 2 + s.drift * s.width * wave(0, "x")
    cy = wh / 2 + s.drift * s.height * wave(1, "y")
    zoom = 1.0 + s.zoom * wave(3, "zoom")
    tx, ty = s.tilt * wave(4, "tx"), s.tilt * wave(5, "ty")
    hw, hh = s.width / 2 / zoom, s.height / 2 / zoom
    quad = np.array([[-hw * (1 - ty), -hh * (1 - tx)], [hw * (1 - ty), -hh * (1 + tx)],
                       [hw * (1 + ty), hh * (1 + tx)], [-hw * (1 + ty), hh * (1 - tx)]], np.float32)
    roll = np.deg2rad(s.rotation * wave(2, "roll"))
    rot = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]], np.float32)
    quad = quad @ rot.T + np.array([cx, cy], np.float32)
    w, h = s.width, s.height
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]],
                       np.float32)
    return cv2.getPerspectiveTransform(quad, corners)


def digit_boxes(scene: Scene, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Every digit's box (N, 4) int [x, y, w, h] in frame `index`, and whether it is fully in
    the frame (only those count as visible)."""
    hmat = homography(scene, index)
    s = scene.settings
    boxes = np.zeros((len(scene.digits), 4), np.int64)
    inside = np.zeros(len(scene.digits), bool)
    for i, d in enumerate(scene.digits):
        # Pixel-centre coordinates in, pixel-edge coordinates (+0.5) out, then round outwards.
        p = cv2.perspectiveTransform(d.hull.reshape(-1, 1, 2), hmat).reshape(-1, 2) + 0.5
        x0, y0 = np.floor(p.min(axis=0)).astype(int)
        x1, y1 = np.ceil(p.max(axis=0)).astype(int)
        boxes[i] = (x0, y0, x1 - x0, y1 - y0)
        inside[i] = x0 >= 0 and y0 >= 0 and x1 <= s.width and y1 <= s.height
    return boxes, inside


def ground_truth(scene: Scene, index: int) -> dict:
    """The ground-truth record of frame `index`: visible digits and fully visible numbers.

    >>> ground_truth(scene, 0)                                          # doctest: +SKIP
    {'frame': 0, 'digits': [{'id': 0, 'box': [412, 230, 31, 47], 'digit': 7, 'number': 0}],
     'numbers': [{'id': 0, 'text': '7', 'box': [412, 230, 31, 47]}]}
    """
    boxes, inside = digit_boxes(scene, index)
    digits = [{"id": d.id, "box": [int(v) for v in boxes[d.id]], "digit": d.digit,
               "number": d.number} for d in scene.digits if inside[d.id]]
    numbers = []
    for k, ids in enumerate(scene.numbers):
        if ids and all(inside[i] for i in ids):
            b = boxes[ids]
            x0, y0 = b[:, 0].min(), b[:, 1].min()
            x1, y1 = (b[:, 0] + b[:, 2]).max(), (b[:, 1] + b[:, 3]).max()
            text = "".join(str(scene.digits[i].digit) for i in ids)
            numbers.append({"id": k, "text": text,
                            "box": [int(x0), int(y0), int(x1 - x0), int(y1 - y0)]})
    return {"frame": index, "digits": digits, "numbers": numbers}


def ink_mask(scene: Scene, index: int) -> np.ndarray:
    """The digits' ink coverage (float32 0..1) as seen in frame `index`, without any effects;
    tests use it to check that the ground-truth boxes cover the ink."""
    s = scene.settings
    return cv2.warpPerspective(scene.digit_alpha, homography(scene, index), (s.width, s.height),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def _light_field(scene: Scene, index: int, w: int, h: int) -> np.ndarray:
    """Uneven light x vignetting x moving shadow, at (h, w); multiplies the image."""
    s, c = scene.settings, scene.camera
    t = index / s.fps
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = xx / (w - 1) * 2 - 1, yy / (h - 1) * 2 - 1
    a = c["light"][0] + 0.15 * t
    field_ = s.light * (1.0 + s.light_gradient * 0.5 * (np.cos(a) * nx + np.sin(a) * ny))
    field_ *= 1.0 - s.vignette * 0.5 * (nx * nx + ny * ny)
    if s.shadow > 0:
        # An arm's shadow sweeping slowly across the sheet over the whole clip.
        p = t / max(s.seconds, 1e-6)
        sx, sy, ex, ey = c["shadow"]
        cx = (sx + (ex - sx) * p) * 0.9
        cy = (sy + (ey - sy) * p) * 0.9
        d2 = ((nx - cx) / 0.55) ** 2 + ((ny - cy) / 0.9) ** 2
        field_ *= 1.0 - s.shadow / (1.0 + np.exp((d2 - 1.0) * 6.0))
    return field_


def render_frame(scene: Scene, index: int) -> np.ndarray:
    """Frame `index` of the video as BGR uint8 (height, width, 3); deterministic.

    >>> render_frame(scene, 0).shape                                    # doctest: +SKIP
    (720, 1280, 3)
    """
    s = scene.settings
    w, h = s.width, s.height
    rng = np.random.default_rng([s.seed, 7919, index])
    img = cv2.warpPerspective(scene.world, homography(scene, index), (w, h),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    small = _light_field(scene, index, max(8, w // 16), max(8, h // 16))
    light = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    img *= light[..., None] * scene.cast[None, None, :]
    t = index / s.fps
    lo, hi = s.focus
    sigma = lo + (hi - lo) * 0.5 * (1 + np.sin(2 * np.pi * 0.13 * t + scene.camera["x"][1]))
    sigma *= h / 720
    if sigma > 0.25:
        img = cv2.GaussianBlur(img, (0, 0), float(sigma))
    if index in scene.motion_frames:
        length = int(rng.integers(9, 23) * h / 720) | 1
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5),
                                      float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        img = cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))
    noise = rng.standard_normal((h, w, 1), np.float32) * s.noise
    noise = noise + rng.standard_normal((h, w, 3), np.float32) * (0.4 * s.noise)
    img += noise
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def write_sample(name: str, settings: SynthSettings, x_test: np.ndarray, y_test: np.ndarray,
                 out_dir: Path, command: str = "",
                 progress: Callable[[Iterator[int]], Iterator[int]] | None = None) -> dict:
    """Render one sample to OUT/NAME.mp4 and its ground truth to OUT/NAME.json; returns a summary.

    >>> write_sample("plain_480p", SAMPLES["plain_480p"], x, y, Path("samples"))  # doctest: +SKIP
    {'name': 'plain_480p', 'frames': 90, 'bytes': 812345, 'digits_per_frame': 12.0, ...}
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scene = build_scene(settings, x_test, y_test)
    video = out_dir / f"{name}.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"mp4v"), settings.fps,
                             (settings.width, settings.height))
    if not writer.isOpened():
        raise OSError(f"cannot write {video}: OpenCV has no MPEG-4 encoder here")
    truth = []
    frames: Iterator[int] = iter(range(settings.frames))
    if progress is not None:
        frames = progress(frames)
    try:
        for i in frames:
            writer.write(render_frame(scene, i))
            truth.append(ground_truth(scene, i))
    finally:
        writer.release()
    doc = {"name": name, "width": settings.width, "height": settings.height,
           "fps": settings.fps, "frames": settings.frames,
           "generator": {"seed": settings.seed, "settings": settings.to_json(),
                         "command": command or f"livedigits synth --out {out_dir} --only {name}"},
           "ground_truth": truth}
    (out_dir / f"{name}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    per_frame = [len(f["digits"]) for f in truth]
    return {"name": name, "frames": settings.frames, "bytes": video.stat().st_size,
            "digits_per_frame": float(np.mean(per_frame)) if per_frame else 0.0,
            "digits_min": min(per_frame, default=0), "digits_max": max(per_frame, default=0),
            "numbers": len(scene.numbers)}
