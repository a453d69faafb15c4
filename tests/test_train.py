import json

import numpy as np
import pytest
from click.testing import CliRunner

from livedigits.cli import main


def test_quick_training_writes_loadable_model_and_metadata(quick_model, mnist):
    from livedigits.classify import Classifier

    meta = json.loads(quick_model.path.with_suffix(".json").read_text())
    for key in ("mnist_test_accuracy", "negative_false_accept_rate", "parameters", "size_bytes",
                "training_seconds", "machine", "data", "settings", "keras_version",
                "tensorflow_version", "date"):
        assert key in meta
    assert meta["data"]["sha256"] == mnist.sha256 and meta["settings"]["quick"] is True
    assert quick_model.path.stat().st_size == meta["size_bytes"]
    clf = Classifier(quick_model.path)
    pred = clf.predict(mnist.x_test[:300])
    assert (pred.digit == mnist.y_test[:300]).mean() > 0.3  # one short epoch learns something


def test_training_can_continue_from_a_model(quick_model, mnist, tmp_path):
    from livedigits.data import sha256

    res = CliRunner().invoke(main, ["train", "--quick", "--data", mnist.source, "--out",
                                    str(tmp_path), "--init", str(quick_model.path),
                                    "--mix", "restyle=0.1"])
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "livedigits.json").read_text())
    assert meta["init"]["sha256"] == sha256(quick_model.path)
    assert meta["init"]["mnist_test_accuracy"] is not None  # the chain it came from
    assert meta["settings"]["learning_rate"] == 3e-4 and 0 <= meta["style_shift_accuracy"] <= 1
    assert meta["settings"]["mix"]["restyle"] == 0.1 and meta["settings"]["mix"]["camera"] == 0.3
    res = CliRunner().invoke(main, ["train", "--quick", "--init", str(mnist.source)])
    assert res.exit_code == 2 and "not a Keras model" in res.output


def test_batchnorm_folding_keeps_the_function():
    import keras

    from livedigits.train import build_model, fold_batchnorm

    model = build_model()
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([g * rng.uniform(0.5, 1.5, g.shape), b + rng.normal(0, 0.05, b.shape),
                               m + rng.normal(0, 0.01, m.shape), v * rng.uniform(1, 2, v.shape)])
    folded = fold_batchnorm(model)
    x = rng.random((8, 28, 28, 1)).astype("float32")
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    np.testing.assert_allclose(model(x, training=False), folded(x), atol=1e-5)


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    (b"this is not a zip", "cannot read"),
])
def test_bad_data_file_is_one_clean_line(tmp_path, content, message):
    path = tmp_path / "mnist.npz"
    if content is not None:
        path.write_bytes(content)
    res = CliRunner().invoke(main, ["train", "--quick", "--data", str(path), "--out",
                                    str(tmp_path)])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def test_npz_without_mnist_keys_is_rejected(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    res = CliRunner().invoke(main, ["train", "--quick", "--data", str(path)])
    assert res.exit_code == 2 and "missing x_train" in res.output
