"""Scoring what the pipeline read (its JSON Lines) against a sample's exact ground truth.

Per frame, predictions are matched one-to-one to ground-truth digits, greedily by IoU, highest
first, keeping pairs with IoU >= 0.3. From the matches come recall, precision, label accuracy,
read rate, number accuracy, flip rate (how often a digit's reading changes while it is tracked)
and false detections per frame. Pure functions on plain dicts, so every figure can be checked
on a hand-made case; `load_predictions` and `load_truth` read the files.

>>> truth = {"frames": 1, "ground_truth": [{"frame": 0, "numbers": [],
...          "digits": [{"id": 0, "box": [0, 0, 10, 20], "digit": 7, "number": 0}]}]}
>>> pred = [{"frame": 0, "detections": [{"box": [1, 0, 10, 20], "digit": 7}], "numbers": []}]
>>> s = score(pred, truth); (s.recall, s.read_rate, s.false_per_frame)
(1.0, 1.0, 0.0)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livedigits.boxes import greedy_match, iou_matrix
from livedigits.errors import UserError

IOU_THRESHOLD = 0.3


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two [x, y, w, h] boxes; 0 when either is empty.

    >>> iou([0, 0, 10, 10], [0, 0, 3, 10])
    0.3
    """
    return float(iou_matrix(_xyxy([a]), _xyxy([b]))[0, 0])


def _xyxy(xywh: Sequence[Sequence[float]]) -> np.ndarray:
    boxes = np.asarray(xywh, np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def match(truth: Sequence[Sequence[float]], pred: Sequence[Sequence[float]],
          threshold: float = IOU_THRESHOLD) -> list[tuple[int, int]]:
    """One-to-one (truth index, prediction index) pairs, greedily by IoU, highest first.

    >>> match([[0, 0, 10, 10], [50, 0, 10, 10]], [[52, 0, 10, 10], [90, 0, 5, 5]])
    [(1, 0)]
    """
    return sorted(greedy_match(iou_matrix(_xyxy(truth), _xyxy(pred)), threshold))


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class Score:
    """The figures of one scored video; ratios are None where nothing could be counted."""

    frames: int
    missing_frames: int  # ground-truth frames with no prediction record (scored as empty)
    gt_digits: int
    predictions: int
    matched: int
    read_right: int
    gt_numbers: int
    numbers_digits_right: int  # every digit of the number found and read right
    numbers_right: int  # that, and a predicted number over it with the same text
    flip_pairs: int
    flips: int
    false_detections: int
    recall: float | None
    precision: float | None
    label_accuracy: float | None
    read_rate: float | None
    number_accuracy: float | None
    flip_rate: float | None
    false_per_frame: float | None

    def to_json(self) -> dict:
        """The figures as a JSON object, ratios rounded to 5 decimals (null = not defined)."""
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in asdict(self).items()}


def score(predictions: Sequence[dict], truth: dict,
          threshold: float = IOU_THRESHOLD) -> Score:
    """Score pipeline records (FrameResult.to_json dicts) against a ground-truth document.

    A ground-truth number counts as right when every digit of it is matched and read right
    and the predicted number whose box overlaps it best (IoU >= threshold, one-to-one) has
    the same text. Flips are counted per ground-truth digit id over the successive frames in
    which it is matched.
    """
    by_frame: dict[int, dict] = {}
    for record in predictions:
        by_frame[int(record["frame"])] = record
    gt_frames = sorted(truth["ground_truth"], key=lambda f: int(f["frame"]))
    n_gt = n_pred = n_match = n_right = n_num = n_num_digits = n_num_right = 0
    false = missing = 0
    last_label: dict[int, int] = {}
    flips = pairs = 0
    for frame in gt_frames:
        rec: dict | None = by_frame.get(int(frame["frame"]))
        if rec is None:
            missing += 1
            rec = {"detections": [], "numbers": []}
        dets = rec.get("detections", [])
        gts = frame["digits"]
        found = match([g["box"] for g in gts], [d["box"] for d in dets], threshold)
        n_gt += len(gts)
        n_pred += len(dets)
        n_match += len(found)
        false += len(dets) - len(found)
        right_ids = set()
        for i, j in found:
            gid, label = int(gts[i]["id"]), int(dets[j]["digit"])
            if label == int(gts[i]["digit"]):
                n_right += 1
                right_ids.add(gid)
            if gid in last_label:
                pairs += 1
                flips += last_label[gid] != label
            last_label[gid] = label
        gt_nums = frame.get("numbers", [])
        pred_nums = rec.get("numbers", [])
        num_pairs = dict(match([n["box"] for n in gt_nums], [n["box"] for n in pred_nums],
                               threshold))
        for k, num in enumerate(gt_nums):
            n_num += 1
            members = [int(g["id"]) for g in gts if int(g["number"]) == int(num["id"])]
            if members and all(m in right_ids for m in members):
                n_num_digits += 1
                if k in num_pairs and str(pred_nums[num_pairs[k]]["text"]) == str(num["text"]):
                    n_num_right += 1
    n_frames = len(gt_frames)
    return Score(
        frames=n_frames, missing_frames=missing, gt_digits=n_gt, predictions=n_pred,
        matched=n_match, read_right=n_right, gt_numbers=n_num,
        numbers_digits_right=n_num_digits, numbers_right=n_num_right, flip_pairs=pairs,
        flips=flips, false_detections=false, recall=_ratio(n_match, n_gt),
        precision=_ratio(n_match, n_pred), label_accuracy=_ratio(n_right, n_match),
        read_rate=_ratio(n_right, n_gt), number_accuracy=_ratio(n_num_right, n_num),
        flip_rate=_ratio(flips, pairs), false_per_frame=_ratio(false, n_frames),
    )


def mismatch(predictions: Sequence[dict], truth: dict, result: Score) -> str | None:
    """Why these predictions cannot be of the video this truth describes, or None: frames it
    does not have, another frame size (written by `run --json`), boxes outside its frame,
    many boxes where it has no digit at all, next to no box on a digit, or the boxes on its
    digits reading them no better than chance (under 30% right).

    >>> truth = {"width": 64, "height": 48, "ground_truth": [{"frame": 0, "digits": []}]}
    >>> mismatch([{"frame": 5, "detections": []}], truth, score([], truth))
    'predictions go up to frame 5, the truth has frames 0-0'
    """
    frames = [int(f["frame"]) for f in truth["ground_truth"]]
    last = max((int(r["frame"]) for r in predictions), default=-1)
    if frames and last > max(frames):
        return (f"predictions go up to frame {last}, the truth has frames "
                f"{min(frames)}-{max(frames)}")
    w, h = truth.get("width"), truth.get("height")
    sizes = {tuple(r["size"]) for r in predictions if r.get("size")}
    if w and h and sizes - {(int(w), int(h))}:
        pw, ph = sorted(sizes - {(int(w), int(h))})[0]
        return f"the predictions are of a {pw}x{ph} video, the truth's is {w}x{h}"
    if w and h:
        slack = 2
        for r in predictions:
            for d in r.get("detections", []):
                x, y, bw, bh = d["box"]
                if x + bw > w + slack or y + bh > h + slack:
                    return (f"frame {r['frame']} has a box {[int(v) for v in d['box']]} outside "
                            f"the truth's {w}x{h} frame")
    if result.gt_digits == 0 and result.predictions >= max(20, 3 * result.frames):
        return (f"the truth has no digit in its {result.frames} frames, the predictions "
                f"{result.predictions} boxes ({result.predictions / max(result.frames, 1):.1f} "
                "a frame)")
    if result.matched >= 10 and (result.label_accuracy or 0.0) < 0.3:
        return (f"only {result.read_right} of the {result.matched} predicted boxes on a true "
                "digit read it right (chance is 10%)")
    if result.gt_digits >= 20 and result.predictions >= 20 and (
            result.matched <= 0.05 * min(result.gt_digits, result.predictions)):
        return (f"only {result.matched} of {result.predictions} predicted boxes lie on any of "
                f"the {result.gt_digits} true digits")
    return None


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2%}"


def format_table(s: Score, name: str = "") -> str:
    """A readable summary of a Score, one figure per line with its counts.

    >>> print(format_table(score([], {"ground_truth": [{"frame": 0, "digits": []}]})))
    ... # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
    frames                  1  (1 without a prediction record)
    ...
    """
    fpf = "n/a" if s.false_per_frame is None else f"{s.false_per_frame:.3f}"
    lines = [f"scored {name}"] if name else []
    lines += [
        f"frames            {s.frames:>8}"
        + (f"  ({s.missing_frames} without a prediction record)" if s.missing_frames else ""),
        f"recall            {_pct(s.recall):>8}  ({s.matched} of {s.gt_digits} digits found)",
        f"precision         {_pct(s.precision):>8}  ({s.matched} of {s.predictions} boxes "
        "are digits)",
        f"label accuracy    {_pct(s.label_accuracy):>8}  ({s.read_right} of {s.matched} found "
        "digits read right)",
        f"read rate         {_pct(s.read_rate):>8}  ({s.read_right} of {s.gt_digits} digits "
        "found and read right)",
        f"number accuracy   {_pct(s.number_accuracy):>8}  ({s.numbers_right} of {s.gt_numbers} "
        f"numbers read exactly; {s.numbers_digits_right} with every digit right)",
        f"flip rate         {_pct(s.flip_rate):>8}  ({s.flips} label changes in {s.flip_pairs} "
        "successive matches)",
        f"false per frame   {fpf:>8}  ({s.false_detections} boxes on no digit)",
    ]
    return "\n".join(lines)


def load_predictions(path: str | Path) -> list[dict]:
    """Read the pipeline's JSON Lines (one FrameResult.to_json record a line); UserError if bad."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"predictions file not found: {path}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not a JSON Lines file (not UTF-8 text); pass the file "
                        "`livedigits run --json` wrote") from e
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            frame = int(rec["frame"])
            dets: list[dict[str, Any]] = [
                {"box": [float(v) for v in d["box"]], "digit": int(d["digit"])}
                for d in rec.get("detections", [])]
            nums = [{"box": [float(v) for v in n_["box"]], "text": str(n_["text"])}
                    for n_ in rec.get("numbers", [])]
            if any(len(b["box"]) != 4 for b in dets + nums):
                raise ValueError("a box is not [x, y, w, h]")
            size = rec.get("size")  # [width, height]; absent in files of older versions
            if size is not None and (len(size) != 2 or not all(int(v) > 0 for v in size)):
                raise ValueError("size is not [width, height]")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise UserError(f"{path}:{n}: not a livedigits JSON Lines record "
                            f"({type(e).__name__}: {e})") from e
        out.append({"frame": frame, "detections": dets, "numbers": nums,
                    **({"size": [int(v) for v in size]} if size is not None else {})})
    return out


def load_truth(path: str | Path) -> dict:
    """Read a sample's ground truth (samples/NAME.json); UserError if missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"ground-truth file not found: {path}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for f in doc["ground_truth"]:
            int(f["frame"])
            for d in f["digits"]:
                if len(d["box"]) != 4:
                    raise ValueError("a box is not [x, y, w, h]")
                int(d["id"]), int(d["digit"]), int(d["number"])
            for n_ in f.get("numbers", []):
                int(n_["id"]), str(n_["text"]), len(n_["box"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: not a livedigits ground-truth file "
                        f"({type(e).__name__}: {e})") from e
    return doc
