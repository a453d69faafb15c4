"""The benchmark script: a quick run's table, JSON and plot, the seed crops, the backends.

No timing is asserted: the machine these run on is shared and noisy.
"""

import contextlib
import io
import json

import cv2
import numpy as np
import pytest

from benchmarks.bench import (
    child,
    main,
    render_page,
    seed_crops,
    seed_read,
)
from tests.conftest import page

STAGE_KEYS = {"detect", "preprocess", "infer", "track", "numbers"}


def _positive(fig: dict) -> bool:
    return 0 < fig["min"] <= fig["median"] <= fig["max"] and fig["n"] >= 1


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = main(["--quick", "--frames", "8", "--curve-frames", "6", "--json",
                       str(out / "b.json"), "--plot", str(out / "b.png")])
    return result, buf.getvalue(), out


def test_quick_run_prints_the_table(quick):
    _, text, _ = quick
    lines = text.splitlines()
    assert lines[0].startswith("machine: ") and "cores" in lines[0]
    header = next(i for i, line in enumerate(lines) if line.startswith("input"))
    for col in ("decode fps", "pipeline fps", "x ceil", "with TF fps", "x TF", "seed ms/frame",
                "x seed"):
        assert col in lines[header]
    assert lines[header + 2].startswith("plain_480p") and "640x480" in lines[header + 2]
    assert any(line.lstrip().startswith("digits/frame") for line in lines)
    assert any(line.startswith("growth from 1 to 20 digits/frame") for line in lines)
    assert any(line.startswith("target curve_growth") for line in lines)


def test_quick_run_json_is_complete_and_consistent(quick):
    result, _, out = quick
    js = json.loads((out / "b.json").read_text())
    assert js == json.loads(json.dumps(result))
    m = js["machine"]
    assert m["cpu"] and m["cores"] >= 1 and m["tf_device"] and m["onnx_device"]
    assert js["settings"]["reps"] == 1 and js["settings"]["frames"] == 8
    e = js["inputs"]["plain_480p"]
    assert e["size"] == [640, 480] and e["frames"] == 8 and e["digits_per_frame"] > 0
    for key in ("decode", "pipeline", "pipeline_tf"):
        assert _positive(e[key]["fps"]) and _positive(e[key]["ms_per_frame"])
        assert e[key]["ms_per_frame"]["median"] == pytest.approx(
            1000 / e[key]["fps"]["median"], rel=0.01)
    assert set(e["pipeline"]["stages_ms"]) >= STAGE_KEYS
    assert e["seed"]["frames"] == 1 and _positive(e["seed"]["ms_per_frame"])
    assert e["seed"]["crops_per_frame"]["median"] > 0
    r = e["ratios"]
    pipe = e["pipeline"]["fps"]["median"]
    # ratios are rounded to 3 decimals: a small one (a busy machine) is off by up to 5e-4
    assert r["x_ceiling"] == pytest.approx(pipe / e["decode"]["fps"]["median"], rel=0.01,
                                           abs=5e-4)
    assert r["runtime_vs_tf"] == pytest.approx(
        pipe / e["pipeline_tf"]["fps"]["median"], rel=0.01, abs=5e-4)
    assert r["x_seed"] == pytest.approx(
        e["seed"]["ms_per_frame"]["median"] / e["pipeline"]["ms_per_frame"]["median"], rel=0.01)
    assert [c["digits"] for c in js["curve"]] == [1, 20]
    for c in js["curve"]:
        assert _positive(c["fps"]) and _positive(c["ms_per_frame"]) and c["read"] >= 1
        assert set(c["stages_ms"]) >= STAGE_KEYS and _positive(c["seed"]["ms_per_frame"])
    assert js["curve_growth"] == pytest.approx(
        js["curve"][-1]["ms_per_frame"]["median"] / js["curve"][0]["ms_per_frame"]["median"],
        rel=0.01)
    t = js["targets"]["curve_growth"]
    complete = all(c["complete"] for c in js["curve"])
    assert t["value"] == js["curve_growth"]
    assert t["met"] == (t["value"] < t["target"] and complete)
    for backend in ("onnx", "tf"):
        assert set(js["classifier_ms"][backend]) == {"1", "8", "24", "32", "100"}
        assert all(_positive(v) for v in js["classifier_ms"][backend].values())
    b32 = js["targets"]["batch32_ms"]
    assert b32["value"] == js["classifier_ms"]["onnx"]["32"]["median"]
    assert b32["met"] == (b32["value"] <= 3.0)
    st = js["startup"]
    assert _positive(st["photo"]["onnx"]["wall_s"]) and _positive(st["photo"]["onnx"]["peak_mib"])
    assert 0 < st["first_frame"]["onnx"]["s"]["median"] < st["video"]["onnx"]["wall_s"] + 1
    for k in ("photo_s", "photo_mib", "first_frame_s", "live_mib"):
        t = js["targets"][k]
        assert t["met"] == (t["value"] <= t["target"])


def test_quick_run_plot_is_a_png(quick):
    _, _, out = quick
    img = cv2.imread(str(out / "b.png"))
    assert img is not None and img.ndim == 3 and min(img.shape[:2]) > 100
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 3  # lines drawn, not a blank image


def test_seed_crops_squash_a_blob_to_18x18_inside_28x28():
    frame = np.full((100, 200, 3), 230, np.uint8)
    frame[20:80, 50:70] = 10  # a 20x60 dark bar: the seed squashes it, aspect lost
    frame[40:45, 120:180] = 100  # lighter than the fixed threshold 75: not ink for the seed
    boxes, crops = seed_crops(frame)
    assert boxes.tolist() == [[50, 20, 20, 60]]
    assert crops.shape == (1, 28, 28) and crops.dtype == np.uint8
    crop = crops[0]
    assert (crop[5:23, 5:23] == 255).all()  # the whole 18x18 square is ink
    crop[5:23, 5:23] = 0
    assert not crop.any()  # and the 5-pixel border is black


def test_seed_read_calls_predict_once_per_crop():
    class CountingModel:
        def __init__(self):
            self.shapes = []

        def predict(self, x, verbose=0):
            self.shapes.append(x.shape)
            return np.eye(11, dtype=np.float32)[[3]]

    frame = cv2.cvtColor(page(digits=(("7", 100, 200), ("3", 160, 200), ("1", 300, 200))),
                         cv2.COLOR_GRAY2BGR)
    model = CountingModel()
    boxes, labels = seed_read(frame, model)
    assert len(boxes) == 3 and labels.tolist() == [3, 3, 3]
    assert model.shapes == [(1, 28, 28, 1)] * 3


def test_both_backends_read_a_rendered_page_alike(classifier, tf_classifier):
    from livedigits.detect import detect
    from livedigits.preprocess import to_mnist

    crops = np.stack([to_mnist(m) for m in detect(render_page(12, seed=3)).detections.data["mask"]])
    assert len(crops) >= 8
    a, b = classifier.predict(crops), tf_classifier.predict(crops)
    assert a.digit.tolist() == b.digit.tolist()
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)


def test_child_reports_its_own_time_and_memory(tmp_path):
    out = child(["--help"], tmp_path)
    assert out["exit"] == 0 and 0 < out["wall_s"] < 60 and 10 < out["peak_mib"] < 2000
    assert 0 < out["cpu_s"] < 120
    flag = tmp_path / "flag"
    flag.touch()
    out = child(["run", "0", "--no-display"], tmp_path, done=flag.exists)
    assert out["until_s"] <= out["wall_s"]
