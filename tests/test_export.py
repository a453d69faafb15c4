"""The ONNX export: parity with Keras, the export step, and a read path without TensorFlow."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner

from livedigits.cli import main
from livedigits.errors import UserError
from tests.conftest import EXPORT, MODEL, ROOT, page


def test_shipped_export_matches_keras_on_mnist(classifier, tf_classifier, mnist):
    """The committed .onnx reads the MNIST test set as the .keras does."""
    onnx, keras = classifier.predict(mnist.x_test), tf_classifier.predict(mnist.x_test)
    assert len(onnx.digit) == 10_000
    assert (onnx.digit == keras.digit).all()
    assert np.abs(onnx.probs - keras.probs).max() < 1e-4


def test_shipped_export_is_of_the_shipped_model():
    from livedigits.classify import file_sha256

    meta = json.loads(MODEL.with_suffix(".json").read_text())
    props = ort.InferenceSession(str(EXPORT)).get_modelmeta().custom_metadata_map
    assert props["livedigits.source_sha256"] == file_sha256(MODEL)
    assert meta["export"]["source_sha256"] == file_sha256(MODEL)
    assert meta["export"]["file"] == EXPORT.name and meta["export"]["max_abs_diff"] < 1e-4
    assert len(json.loads(props["livedigits.classes"])) == 11


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A copy of the shipped model with its metadata, exported by `livedigits export`."""
    out = tmp_path_factory.mktemp("export")
    for suffix in (".keras", ".json"):
        shutil.copy(MODEL.with_suffix(suffix), out / f"m{suffix}")
    res = CliRunner().invoke(main, ["export", str(out / "m.keras")])
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output
    return out


def test_export_writes_the_onnx_beside_and_records_it(exported):
    from livedigits.classify import OnnxClassifier, open_classifier

    meta = json.loads((exported / "m.json").read_text())
    assert meta["export"]["file"] == "m.onnx" and meta["export"]["source"] == "m.keras"
    assert meta["export"]["size_bytes"] == (exported / "m.onnx").stat().st_size
    assert meta["mnist_test_accuracy"] > 0.99  # the model's own figures are kept
    crops = np.stack([np.eye(28, dtype=np.uint8) * 255, np.zeros((28, 28), np.uint8)])
    from_keras_path = open_classifier(exported / "m.keras").predict(crops)
    from_onnx_path = OnnxClassifier(exported / "m.onnx").predict(crops)
    np.testing.assert_array_equal(from_keras_path.probs, from_onnx_path.probs)


def test_an_export_older_than_its_model_is_refused(exported, tmp_path):
    from livedigits.classify import OnnxClassifier

    shutil.copy(exported / "m.onnx", tmp_path / "m.onnx")
    data = (exported / "m.keras").read_bytes()
    (tmp_path / "m.keras").write_bytes(data + b"\0")  # "retrained": another file
    with pytest.raises(UserError, match="exported from another version"):
        OnnxClassifier(tmp_path / "m.onnx")


def test_export_of_a_file_that_is_no_model_is_one_line(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_text("hello")
    res = CliRunner().invoke(main, ["export", str(bad)])
    assert res.exit_code == 2 and "not a Keras model" in res.output
    assert not (tmp_path / "bad.onnx").exists() and not list(tmp_path.glob("*.part"))


def test_backend_choice():
    from livedigits.classify import open_classifier

    with pytest.raises(UserError, match="unknown backend"):
        open_classifier(backend="torch")


# Reads an image, a video and a folder through the CLI's code path, the drawing app's and the
# Python API's, scores a labelled photo, then says which TensorFlow and Keras modules got
# imported.
NO_TF = """
import sys
from livedigits.cli import main
import livedigits.draw, livedigits.score, livedigits.synth
from livedigits import Reader
from livedigits.classify import open_classifier
from livedigits.draw import DrawApp

DrawApp(open_classifier(), size=(320, 160))
assert Reader().read(IMAGE).digits
for args in ARGS:
    try:
        main(args, prog_name="livedigits")
    except SystemExit as e:
        assert not e.code, e.code
print("LOADED", sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
"""


def test_the_read_path_never_imports_tensorflow(tmp_path):
    import cv2

    folder = tmp_path / "pages"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), page())
    (folder / "labels.csv").write_text("file,digits,kind\na.png,1,photo\n")
    args = [["run", str(folder / "a.png"), "--json", str(tmp_path / "a.jsonl")],
            ["run", str(ROOT / "samples" / "plain_480p.mp4"), "--max-frames", "3",
             "--output", str(tmp_path / "v.mp4")],
            ["run", str(folder), "--json", str(tmp_path / "f.jsonl")],
            ["score-photos", str(folder / "labels.csv"), "--model", str(EXPORT),
             "--json", str(tmp_path / "s.json")]]
    args = [a + ["--no-display"] if a[0] == "run" else a for a in args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = NO_TF.replace("ARGS", repr(args)).replace("IMAGE", repr(str(folder / "a.png")))
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "LOADED []" in res.stdout
    assert json.loads((tmp_path / "a.jsonl").read_text())["detections"]  # it did read
    assert (tmp_path / "v.mp4").stat().st_size > 0
    assert json.loads((tmp_path / "s.json").read_text())["photos"][0]["read"]  # it did score


def test_train_writes_the_export_beside_the_model(quick_model, mnist):
    from livedigits.classify import Classifier, open_classifier

    meta = json.loads(quick_model.path.with_suffix(".json").read_text())
    assert meta["export"]["file"] == quick_model.path.with_suffix(".onnx").name
    assert meta["mnist_test_accuracy"] > 0  # the trainer's own figures are kept beside it
    onnx = open_classifier(quick_model.path).predict(mnist.x_test[:300])
    keras = Classifier(quick_model.path, warm_up=False).predict(mnist.x_test[:300])
    assert (onnx.digit == keras.digit).all()
    assert np.abs(onnx.probs - keras.probs).max() < 1e-4
