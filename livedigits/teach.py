"""`livedigits teach`: learn one writer's hand from a sheet of the digits 0-9 written in rows.

The user writes 0 1 2 ... 9 on each of a few rows; the labels follow from the layout. The
sheet is read with the live pipeline's own detector and crops, checked (every row there,
ten digits in each), shown for review, and the last rows are held back to measure the
base model and the personal one on the user's own hand. The fine-tuning itself is
`train.fine_tune` (this module never imports TensorFlow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from livedigits import strokes
from livedigits.errors import UserError
from livedigits.pipeline import PipelineSettings, detect_scaled
from livedigits.preprocess import make_crops

DIGITS_PER_ROW = 10
ROW_GAP = 0.6  # a box whose centre is this many digit heights below a row starts a new one


class SheetError(UserError):
    """The sheet cannot be read as the layout says; the message says what to rewrite."""


@dataclass
class Sheet:
    """The digits read from a teaching sheet, row by row, left to right."""

    crops: np.ndarray  # (N, 28, 28) uint8, as the live pipeline makes them
    labels: np.ndarray  # (N,) the digit the layout puts there
    rows: np.ndarray  # (N,) row index from 0
    boxes: np.ndarray  # (N, 4) x0 y0 x1 y1 in the image

    def take(self, keep: np.ndarray) -> Sheet:
        """The samples where `keep` (mask or indices) says so."""
        return Sheet(self.crops[keep], self.labels[keep], self.rows[keep], self.boxes[keep])


def layout(rows: int, holdout: int) -> str:
    """What to write, as the command prints it."""
    line = " ".join(str(d) for d in range(DIGITS_PER_ROW))
    out = [f"Write the digits 0 to 9 in order on {rows} rows, in your usual hand, with a dark",
           "pen on plain paper. Leave a gap between digits and a blank line between rows:", ""]
    for r in range(rows):
        note = "   (held back: measures the model on your hand)" if r >= rows - holdout else ""
        out.append(f"  row {r + 1}:  {line}{note}")
    out += ["", "Then show the whole sheet to the camera, or pass a photo or video of it."]
    return "\n".join(out)


def group_rows(boxes: np.ndarray) -> list[np.ndarray]:
    """Indices of the boxes in each row, rows top to bottom, each left to right.

    >>> b = np.array([[50, 0, 60, 20], [0, 2, 10, 22], [0, 60, 10, 80]])
    >>> [r.tolist() for r in group_rows(b)]
    [[1, 0], [2]]
    """
    if len(boxes) == 0:
        return []
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    h = float(np.median(boxes[:, 3] - boxes[:, 1]))
    order = np.argsort(cy, kind="stable")
    rows: list[list[int]] = [[int(order[0])]]
    for i in order[1:]:
        if cy[i] - np.mean(cy[rows[-1]]) > ROW_GAP * h:
            rows.append([])
        rows[-1].append(int(i))
    return [np.array(sorted(r, key=lambda i: boxes[i, 0])) for r in rows]


def read_sheet(image: np.ndarray, rows: int,
               settings: PipelineSettings | None = None) -> Sheet:
    """The samples of a teaching sheet; SheetError says what is wrong with a sheet that does
    not match the layout (no writing, rows missing or extra, a row without ten digits)."""
    s = settings or PipelineSettings()
    det = detect_scaled(image, s.detector, s.max_side).detections
    if len(det):
        split, whole = np.asarray(det.data["split"]), np.asarray(det.data["whole"])
        det = det[(split < 0) | whole]  # a wide blob is read whole, not in pieces
    boxes = det.xyxy
    if len(boxes) == 0:
        raise SheetError("no handwriting found: write the digits 0 to 9 on each row with a "
                         "dark pen on plain paper, and show the whole sheet")
    found = group_rows(boxes)
    if len(found) != rows:
        what = "other writing or marks are on the sheet, or rows are too close" if (
            len(found) > rows) else "part of the sheet is out of view, or rows are missing"
        raise SheetError(f"found {len(found)} rows of digits, expected {rows} ({what}): write "
                         f"{rows} rows of 0 to 9 with a blank line between rows and show the "
                         "whole sheet")
    for r, idx in enumerate(found):
        if len(idx) != DIGITS_PER_ROW:
            fix = ("digits may touch: leave a clear gap between them" if len(idx) < 10
                   else "remove anything else on that line")
            raise SheetError(f"row {r + 1} has {len(idx)} digits, expected 10 (0 to 9 in "
                             f"order): rewrite row {r + 1} ({fix})")
    order = np.concatenate(found)
    masks = [det.data["mask"][int(i)] for i in order]
    crops = make_crops(masks, np.zeros(len(masks)))
    labels = np.tile(np.arange(DIGITS_PER_ROW), rows)
    row_of = np.repeat(np.arange(rows), DIGITS_PER_ROW)
    return Sheet(crops, labels, row_of, boxes[order])


def sheet_from_source(spec: str, rows: int, timeout_s: float = 30.0,
                      show: bool = False) -> Sheet:
    """Read the sheet from a photo, the first frame of a video that reads, or a camera or
    stream (shown in a window when `show`: it takes the sheet once three frames in a row read
    completely, or at space; q or Esc stops). The last problem seen is the error."""
    import time

    from livedigits.sources import open_source
    from livedigits.window import window_open

    problem = "no frames"
    streak = 0
    last: Sheet | None = None
    t0 = time.perf_counter()
    win = "livedigits teach"
    with open_source(spec) as src:
        live = src.info.live
        for frame in src:
            try:
                last = read_sheet(frame.image, rows)
                streak += 1
            except SheetError as e:
                problem, streak = str(e), 0
            if not live and last is not None:
                return last
            if live:
                if show:
                    view = frame.image.copy()
                    text = "sheet read, hold still" if streak else problem[:90]
                    cv2.putText(view, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                                (0, 0, 255), 2, cv2.LINE_AA)
                    cv2.imshow(win, view)
                    key = cv2.waitKey(1) & 0xFF
                    if key in (ord("q"), 27) or not window_open(win):
                        cv2.destroyWindow(win)
                        raise UserError("stopped before a sheet was read")
                    if key == ord(" ") and last is not None:
                        streak = 3
                if streak >= 3 and last is not None:
                    if show:
                        cv2.destroyWindow(win)
                    return last
                if time.perf_counter() - t0 > timeout_s:
                    break
    where = "the camera" if live else spec
    raise SheetError(f"could not read the sheet from {where}: {problem}")


def contact_sheet(sheet: Sheet, dropped: set[int], holdout_from: int,
                  predicted: np.ndarray | None = None) -> np.ndarray:
    """A BGR picture of the samples, one sheet row per row, each with its index; dropped ones
    crossed out, held-back rows tinted. What the review window and PNG show."""
    cell, rows = 64, int(sheet.rows.max()) + 1 if len(sheet.rows) else 0
    board = np.full((rows * cell, DIGITS_PER_ROW * cell, 3), 255, np.uint8)
    for i, (crop, r) in enumerate(zip(sheet.crops, sheet.rows, strict=True)):
        c = i - int(np.flatnonzero(sheet.rows == r)[0])
        tile = cv2.cvtColor(cv2.resize(255 - crop, (44, 44)), cv2.COLOR_GRAY2BGR)
        if r >= holdout_from:
            tile = (tile * np.array([1.0, 0.93, 0.85])).astype(np.uint8)
        y, x = int(r) * cell, c * cell
        board[y + 16 : y + 60, x + 10 : x + 54] = tile
        note = str(i) if predicted is None else f"{i}:{int(predicted[i]) % 10}"
        cv2.putText(board, note, (x + 4, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1,
                    cv2.LINE_AA)
        if i in dropped:
            cv2.line(board, (x + 8, y + 16), (x + 56, y + 60), (0, 0, 255), 3)
            cv2.line(board, (x + 56, y + 16), (x + 8, y + 60), (0, 0, 255), 3)
    return board


def review_in_window(sheet: Sheet, dropped: set[int], holdout_from: int) -> set[int]:
    """Show the samples; a click drops or restores one, Enter or space accepts, q or Esc
    stops the session."""
    from livedigits.window import window_open

    win = "livedigits teach: click bad samples, Enter to accept"
    chosen = set(dropped)

    def click(event, x, y, flags, param):
        if event == cv2.EVENT_LBUTTONDOWN:
            r, c = y // 64, x // 64
            idx = np.flatnonzero(sheet.rows == r)
            if c < len(idx):
                chosen.symmetric_difference_update({int(idx[c])})

    cv2.namedWindow(win)
    cv2.setMouseCallback(win, click)
    while True:
        cv2.imshow(win, contact_sheet(sheet, chosen, holdout_from))
        key = cv2.waitKey(30) & 0xFF
        if key in (13, 10, ord(" ")):
            break
        if key in (ord("q"), 27) or not window_open(win):
            cv2.destroyWindow(win)
            raise UserError("stopped at the review; nothing was trained")
    cv2.destroyWindow(win)
    return chosen


def parse_drop(text: str | None, n: int) -> set[int]:
    """`--drop 3,17,20-22` as a set of sample indices, each checked against `n`.

    >>> sorted(parse_drop("3, 17,20-22", 30))
    [3, 17, 20, 21, 22]
    """
    out: set[int] = set()
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        try:
            a, _, b = part.partition("-")
            lo, hi = int(a), int(b or a)
        except ValueError:
            raise UserError(f"--drop takes sample numbers like 3,17,20-22, not {part!r}") from None
        if not 0 <= lo <= hi < n:
            raise UserError(f"--drop {part}: samples are numbered 0 to {n - 1}")
        out.update(range(lo, hi + 1))
    return out


# ------------------------------------------------------------------ a rendered sheet (tests)

# A blocky hand, like a calculator's digits drawn with a pen, with a footed 1 and a crossed
# 7: strokes in a unit box.
BOXY: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]],
    1: [[(0.15, 0.2), (0.5, 0), (0.5, 1)], [(0.1, 1), (0.9, 1)]],
    2: [[(0, 0), (1, 0), (1, 0.5), (0, 0.5), (0, 1), (1, 1)]],
    3: [[(0, 0), (1, 0), (1, 1), (0, 1)], [(0.15, 0.5), (1, 0.5)]],
    4: [[(0, 0), (0, 0.55), (1, 0.55)], [(1, 0), (1, 1)]],
    5: [[(1, 0), (0, 0), (0, 0.5), (1, 0.5), (1, 1), (0, 1)]],
    6: [[(1, 0), (0, 0), (0, 1), (1, 1), (1, 0.5), (0, 0.5)]],
    7: [[(0, 0), (1, 0), (1, 1)], [(0.6, 0.5), (1.35, 0.5)]],
    8: [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)], [(0, 0.5), (1, 0.5)]],
    9: [[(1, 0.5), (0, 0.5), (0, 0), (1, 0), (1, 1), (0, 1)]],
}


def render_sheet(rows: int, seed: int, height: int = 56,
                 hand: dict[int, list[list[tuple[float, float]]]] | None = None,
                 skip: Callable[[int, int], bool] | None = None) -> np.ndarray:
    """A photo-like BGR image of a filled-in teaching sheet in a blocky hand with a heavy
    pen (`hand`: other glyphs; `skip(row, digit)`: leave that digit out, for bad sheets)."""
    rng = np.random.default_rng(seed)
    glyphs = hand or BOXY
    gap = int(height * 1.5)
    w, h = 60 + DIGITS_PER_ROW * gap, 60 + rows * int(height * 1.9)
    ink = np.zeros((h, w), np.uint8)
    for r in range(rows):
        for d in range(DIGITS_PER_ROW):
            if skip is not None and skip(r, d):
                continue
            dh = height * rng.uniform(0.85, 1.1)
            dw = dh * rng.uniform(0.5, 0.65)
            x0 = 40 + d * gap + rng.uniform(-4, 4)
            y0 = 40 + r * height * 1.9 + rng.uniform(-4, 4)
            paths = [np.array(s, np.float32) * (dw, dh) + (x0, y0) for s in glyphs[d]]
            paths = [p + rng.normal(0, 0.05 * dh, 2).astype(np.float32) for p in paths]
            paths = strokes.jitter(strokes.densify(paths, 3.0), rng, height * 0.02)
            pen = strokes.Pen(width=height * rng.uniform(0.13, 0.17), corner=1.5)
            ink |= strokes.draw(paths, (h, w), pen, rng)
    paper = np.full((h, w), 228, np.float32) + rng.normal(0, 3, (h, w))
    paper -= np.linspace(0, 20, w)[None, :]  # uneven light
    page = paper * (1 - cv2.GaussianBlur(ink, (0, 0), 1.0)[..., None][..., 0] / 255.0 * 0.8)
    return cv2.cvtColor(np.clip(page, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


# ------------------------------------------------------------------------- the session


@dataclass
class TeachOptions:
    source: str
    name: str
    rows: int = 6
    holdout: int = 2
    drop: str | None = None
    interactive: bool = False  # a review window (only with a display)
    steps: int = 150
    base: str | None = None  # model path or personal name; None: the shipped model
    data: str | None = None
    force: bool = False
    timeout_s: float = 30.0
    seed: int = 0


def _accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float((pred == labels).mean()) if len(labels) else float("nan")


def teach(opts: TeachOptions, say: Callable[[str], None]) -> dict:
    """The whole session after the layout: read the sheet, review, fine-tune, measure, save.
    Returns the personal model's metadata."""
    import datetime as dt
    import hashlib
    import json
    import time

    from livedigits import personal
    from livedigits.classify import DEFAULT_MODEL, Classifier

    name = personal.check_name(opts.name)
    if not 1 <= opts.holdout < opts.rows:
        raise UserError(f"--holdout must be at least 1 and less than --rows ({opts.rows})")
    out_dir = personal.models_dir()
    target = out_dir / f"{name}.keras"
    if target.exists() and not opts.force:
        raise UserError(f"a personal model named {name!r} exists ({target}): pick another "
                        "--name or pass --force to replace it")
    base_path = personal.resolve_model(opts.base) or DEFAULT_MODEL
    base = Classifier(base_path, warm_up=False)

    sheet = sheet_from_source(opts.source, opts.rows, opts.timeout_s, show=opts.interactive)
    held_from = opts.rows - opts.holdout
    base_pred = base.predict(sheet.crops).digit
    dropped = parse_drop(opts.drop, len(sheet.labels))
    if opts.interactive:
        dropped = review_in_window(sheet, dropped, held_from)
    out_dir.mkdir(parents=True, exist_ok=True)
    review_png = out_dir / f"{name}-samples.png"
    cv2.imwrite(str(review_png), contact_sheet(sheet, dropped, held_from, base_pred))
    say(f"read {len(sheet.labels)} samples ({held_from} rows to learn from, {opts.holdout} "
        f"held back); the base model reads {int((base_pred == sheet.labels).sum())} as "
        f"written; samples: {review_png}")
    misread = [f"{i} ({sheet.labels[i]} read as "
               f"{'not a digit' if base_pred[i] == 10 else base_pred[i]})"
               for i in np.flatnonzero(base_pred != sheet.labels)]
    if misread:
        more = f" and {len(misread) - 12} more" if len(misread) > 12 else ""
        say("base model misreads: " + ", ".join(misread[:12]) + more)
    if dropped:
        say(f"dropped: {', '.join(str(i) for i in sorted(dropped))}")
    keep = np.array([i not in dropped for i in range(len(sheet.labels))])
    learn = sheet.take(keep & (sheet.rows < held_from))
    held = sheet.take(keep & (sheet.rows >= held_from))
    if len(learn.labels) < DIGITS_PER_ROW or len(held.labels) == 0:
        raise UserError("too few samples left after dropping: write the sheet again")

    from livedigits import train as trainer
    from livedigits.data import load_data

    mnist = load_data(opts.data)
    settings = trainer.FineTuneSettings(steps=opts.steps, seed=opts.seed)
    t0 = time.perf_counter()
    last = [0.0]

    def progress(step: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 5 or step == total:
            last[0] = now
            say(f"learning your hand: step {step}/{total} ({now - t0:.0f} s)")

    tuned = trainer.fine_tune(base.model, learn.crops, learn.labels, mnist, settings, progress)
    seconds = time.perf_counter() - t0
    tuned.save(target)
    mine = Classifier(target, warm_up=False)
    check_x, check_y = mnist.x_test[:2000], mnist.y_test[:2000]
    figures = {
        "held_back_before": _accuracy(base.predict(held.crops).digit, held.labels),
        "held_back_after": _accuracy(mine.predict(held.crops).digit, held.labels),
        "mnist_check_before": _accuracy(base.predict(check_x).digit, check_y),
        "mnist_check_after": _accuracy(mine.predict(check_x).digit, check_y),
    }
    meta = {
        "name": name,
        "kind": "personal",
        "base_model": str(base_path),
        "base_sha256": hashlib.sha256(base_path.read_bytes()).hexdigest(),
        "sheet": {"source": str(opts.source), "rows": opts.rows, "holdout_rows": opts.holdout,
                  "samples": int(len(sheet.labels)), "learned_from": int(len(learn.labels)),
                  "held_back": int(len(held.labels)), "dropped": sorted(dropped)},
        **{k: round(v, 5) for k, v in figures.items()},
        "mnist_check_digits": int(len(check_y)),
        "training_seconds": round(seconds, 1),
        "settings": {"steps": settings.steps, "batch_size": settings.batch_size,
                     "user_share": settings.user_share, "learning_rate": settings.learning_rate,
                     "seed": settings.seed},
        "machine": trainer.machine(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    from livedigits.export import export_onnx

    meta["onnx"] = export_onnx(target)  # what `run` and `draw` read by default
    say(f"held-back rows read right: base model {figures['held_back_before']:.1%}, yours "
        f"{figures['held_back_after']:.1%} ({len(held.labels)} samples); MNIST check "
        f"{figures['mnist_check_before']:.2%} -> {figures['mnist_check_after']:.2%}; "
        f"{seconds:.0f} s")
    say(f"saved {target}: use it with `livedigits run 0 --model {name}` or "
        f"`livedigits draw --model {name}`")
    return meta
