"""The scorer on hand-made cases where every figure is known, and the `score` command."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from livedigits.errors import UserError
from livedigits.samples_cli import score as score_cmd
from livedigits.score import iou, load_predictions, load_truth, match, score

A, B = [10, 10, 20, 30], [34, 10, 20, 30]  # the two digits of the number "12"
FAR = [200, 200, 20, 30]


def truth(frames: int = 1, digits=((0, A, 1), (1, B, 2)), number: str | None = "12") -> dict:
    """Ground truth: the same digits (id, box, label) in every frame, all of number 0."""
    box = [A[0], A[1], B[0] + B[2] - A[0], A[3]]
    return {"name": "hand", "frames": frames, "ground_truth": [
        {"frame": f,
         "digits": [{"id": i, "box": b, "digit": d, "number": 0} for i, b, d in digits],
         "numbers": [{"id": 0, "text": number, "box": box}] if number else []}
        for f in range(frames)]}


def rec(frame: int, dets=(), numbers=()) -> dict:
    return {"frame": frame, "time": frame / 15,
            "detections": [{"box": b, "digit": d, "confidence": 0.9, "track": -1}
                           for b, d in dets],
            "numbers": [{"text": t, "box": b} for t, b in numbers]}


NUM_BOX = [10, 10, 44, 30]
CASES = {
    "perfect": ([rec(0, [(A, 1), (B, 2)], [("12", NUM_BOX)])], truth(),
                dict(recall=1.0, precision=1.0, label_accuracy=1.0, read_rate=1.0,
                     number_accuracy=1.0, flip_rate=None, false_per_frame=0.0)),
    "a miss": ([rec(0, [(A, 1)], [("1", A)])], truth(),
               dict(recall=0.5, precision=1.0, label_accuracy=1.0, read_rate=0.5,
                    number_accuracy=0.0, false_per_frame=0.0)),
    "a false detection": ([rec(0, [(A, 1), (B, 2), (FAR, 4)], [("12", NUM_BOX)])], truth(),
                          dict(recall=1.0, precision=2 / 3, read_rate=1.0, number_accuracy=1.0,
                               false_per_frame=1.0, false_detections=1)),
    "a wrong label": ([rec(0, [(A, 1), (B, 7)], [("17", NUM_BOX)])], truth(),
                      dict(recall=1.0, precision=1.0, label_accuracy=0.5, read_rate=0.5,
                           number_accuracy=0.0, numbers_digits_right=0)),
    "digits right, number split": ([rec(0, [(A, 1), (B, 2)], [("1", A), ("2", B)])], truth(),
                                   dict(read_rate=1.0, numbers_digits_right=1,
                                        number_accuracy=0.0)),
    "digits right, no number": ([rec(0, [(A, 1), (B, 2)])], truth(),
                                dict(read_rate=1.0, numbers_digits_right=1,
                                     number_accuracy=0.0)),
    "a flip": ([rec(0, [(A, 7)]), rec(1, [(A, 1)]), rec(2, [(A, 1)])],
               truth(3, digits=((0, A, 7),), number=None),
               dict(flips=1, flip_pairs=2, flip_rate=0.5, label_accuracy=1 / 3)),
    "a flip across a miss": ([rec(0, [(A, 7)]), rec(1), rec(2, [(A, 1)])],
                             truth(3, digits=((0, A, 7),), number=None),
                             dict(flips=1, flip_pairs=1, flip_rate=1.0, recall=2 / 3)),
    "steady": ([rec(f, [(A, 7)]) for f in range(4)], truth(4, digits=((0, A, 7),), number=None),
               dict(flips=0, flip_pairs=3, flip_rate=0.0)),
    "iou exactly 0.3 matches": ([rec(0, [([10, 10, 6, 30], 1)])],
                                truth(digits=((0, A, 1),), number=None),
                                dict(recall=1.0, false_per_frame=0.0)),
    "iou just under 0.3 does not": ([rec(0, [([10, 10, 5.9, 30], 1)])],
                                    truth(digits=((0, A, 1),), number=None),
                                    dict(recall=0.0, precision=0.0, false_per_frame=1.0,
                                         label_accuracy=None)),
    "blank page": ([rec(0, [(FAR, 1)]), rec(1, [(FAR, 1)])], truth(2, digits=(), number=None),
                   dict(recall=None, read_rate=None, precision=0.0, false_per_frame=1.0,
                        number_accuracy=None)),
    "blank page, nothing read": ([rec(0), rec(1)], truth(2, digits=(), number=None),
                                 dict(recall=None, precision=None, false_per_frame=0.0)),
    "a frame without a record": ([rec(0, [(A, 1), (B, 2)], [("12", NUM_BOX)])], truth(2),
                                 dict(missing_frames=1, recall=0.5, number_accuracy=0.5)),
    "one box on two digits": ([rec(0, [([10, 10, 44, 30], 1)])], truth(),
                              dict(matched=1, recall=0.5, false_per_frame=0.0)),
}


@pytest.mark.parametrize("case", CASES.keys())
def test_figures(case):
    pred, doc, expected = CASES[case]
    got = score(pred, doc).to_json()
    for key, want in expected.items():
        if want is None or isinstance(want, int):
            assert got[key] == want, key
        else:
            assert got[key] == pytest.approx(want, abs=1e-5), key


def test_iou_and_greedy_match():
    assert iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert iou([0, 0, 10, 10], [20, 0, 10, 10]) == 0.0
    assert iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)
    # The best pair wins; each box is used once.
    assert match([[0, 0, 10, 10], [4, 0, 10, 10]], [[4, 0, 10, 10]]) == [(1, 0)]
    assert match([[0, 0, 10, 10]], [[0, 0, 10, 10], [0, 0, 10, 9]]) == [(0, 0)]


def write(tmp_path, pred, doc):
    p, t = tmp_path / "pred.jsonl", tmp_path / "truth.json"
    p.write_text("".join(json.dumps(r) + "\n" for r in pred))
    t.write_text(json.dumps(doc))
    return str(p), str(t)


def test_cli_table_and_json(tmp_path):
    pred, doc, _ = CASES["a false detection"]
    p, t = write(tmp_path, pred, doc)
    table = CliRunner().invoke(score_cmd, [p, t])
    assert table.exit_code == 0, table.output
    assert "recall" in table.output and "100.00%" in table.output
    assert "66.67%" in table.output  # precision
    assert "1.000" in table.output  # false detections per frame
    out = CliRunner().invoke(score_cmd, [p, t, "--json"])
    assert out.exit_code == 0
    figures = json.loads(out.output)
    assert figures["name"] == "hand"
    assert figures["precision"] == pytest.approx(2 / 3, abs=1e-5)
    assert figures["false_detections"] == 1 and figures["flip_rate"] is None


def test_cli_iou_option(tmp_path):
    p, t = write(tmp_path, *CASES["iou exactly 0.3 matches"][:2])
    strict = json.loads(CliRunner().invoke(score_cmd, [p, t, "--json", "--iou", "0.5"]).output)
    assert strict["recall"] == 0.0


@pytest.mark.parametrize("which, content, needle", [
    ("pred", None, "predictions file not found"),
    ("truth", None, "ground-truth file not found"),
    ("pred", '{"frame": 0, "detections": []}\nnot json\n', ":2:"),
    ("pred", '{"frame": 0, "detections": [{"box": [1, 2, 3], "digit": 1}]}\n', ":1:"),
    ("pred", '{"detections": []}\n', ":1:"),
    ("truth", '{"frames": 1}', "not a livedigits ground-truth file"),
    ("truth", '{"ground_truth": [{"frame": 0, "digits": [{"box": [1, 2, 3, 4]}]}]}',
     "not a livedigits ground-truth file"),
])
def test_bad_input_is_one_user_error(tmp_path, which, content, needle):
    p, t = write(tmp_path, *CASES["perfect"][:2])
    target = tmp_path / ("pred.jsonl" if which == "pred" else "truth.json")
    if content is None:
        target.unlink()
    else:
        target.write_text(content)
    result = CliRunner().invoke(score_cmd, [p, t])
    assert isinstance(result.exception, UserError)
    message = str(result.exception)
    assert needle in message and "\n" not in message
    with pytest.raises(UserError):
        (load_predictions if which == "pred" else load_truth)(target)


def one_digit_truth(n_frames: int, size=(640, 480), digit: int = 7, digits: bool = True):
    gt = [{"frame": f, "numbers": [],
           "digits": [{"id": 0, "box": [10, 10, 20, 30], "digit": digit, "number": 0}]
           if digits else []} for f in range(n_frames)]
    return {"name": "t", "width": size[0], "height": size[1], "ground_truth": gt}


def preds(n_frames: int, digit: int = 7, boxes: int = 1, size=None):
    out = []
    for f in range(n_frames):
        rec = {"frame": f, "numbers": [],
               "detections": [{"box": [10 + 40 * k, 10, 20, 30], "digit": digit}
                              for k in range(boxes)]}
        if size is not None:
            rec["size"] = list(size)
        out.append(rec)
    return out


@pytest.mark.parametrize("pred, doc, needle", [
    (preds(12, size=(1280, 720)), one_digit_truth(12), "1280x720 video"),
    (preds(12, boxes=5), one_digit_truth(12, digits=False), "no digit in its 12 frames"),
    (preds(12, digit=3), one_digit_truth(12), "only 0 of the 12"),
])
def test_another_videos_truth_is_refused(tmp_path, pred, doc, needle):
    p, t = write(tmp_path, pred, doc)
    res = CliRunner().invoke(score_cmd, [p, t])
    assert isinstance(res.exception, UserError) and res.exit_code != 0
    assert needle in str(res.exception) and "does not match" in str(res.exception)


@pytest.mark.parametrize("pred, doc", [
    (preds(12, size=(640, 480)), one_digit_truth(12)),  # the same size
    (preds(12), one_digit_truth(12)),  # no size: a file of an older version
    (preds(12, boxes=2), one_digit_truth(12, digits=False)),  # a few false boxes on a blank
    (preds(9, digit=3), one_digit_truth(9)),  # too few matches to call it chance
])
def test_a_plausible_pairing_is_scored(tmp_path, pred, doc):
    p, t = write(tmp_path, pred, doc)
    res = CliRunner().invoke(score_cmd, [p, t])
    assert res.exit_code == 0, res.output


def test_size_is_read_back_or_refused(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(preds(1, size=(64, 48))[0]) + "\n")
    assert load_predictions(path)[0]["size"] == [64, 48]
    path.write_text('{"frame": 0, "detections": [], "size": [64]}\n')
    with pytest.raises(UserError, match=":1:"):
        load_predictions(path)
