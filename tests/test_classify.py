import json

import numpy as np
import pytest
from click.testing import CliRunner

from livedigits.classify import BUCKETS, bucket
from livedigits.cli import main
from livedigits.errors import UserError
from tests.conftest import MODEL


def test_shipped_model_metadata_matches_the_file():
    meta = json.loads(MODEL.with_suffix(".json").read_text())
    assert meta["size_bytes"] == MODEL.stat().st_size <= 2_000_000
    assert meta["mnist_test_accuracy"] >= 0.996
    assert len(meta["classes"]) == 11


def test_shipped_model_is_the_one_its_metadata_describes(classifier, tf_classifier, mnist):
    meta = json.loads(MODEL.with_suffix(".json").read_text())
    assert tf_classifier.model.count_params() == meta["parameters"]
    assert meta["data"]["sha256"] == mnist.sha256
    pred = classifier.predict(mnist.x_test)  # the figure it claims, measured again
    assert (pred.digit == mnist.y_test).mean() == pytest.approx(meta["mnist_test_accuracy"],
                                                                abs=1e-4)


def test_shipped_model_reads_mnist(classifier, mnist):
    pred = classifier.predict(mnist.x_test[:2000])
    assert (pred.digit == mnist.y_test[:2000]).mean() >= 0.99
    assert pred.confidence.shape == (2000,) and 0 < pred.confidence.min() <= 1


# The kinds of mark the shipped model was trained to refuse; the later kinds (hand-drawn signs
# and letters, textures, commas, shadows, grids) it was not, see the README's model section.
SHIPPED_KINDS = {"line", "crossing", "dot", "smudge", "pen", "text", "cut_digit", "touching"}


def test_not_a_digit_class_rejects_generated_marks(classifier, mnist):
    from livedigits.negatives import make_negatives

    kinds: list[str] = []
    neg = make_negatives(1000, mnist.x_test, seed=424242, kinds=kinds)
    refused = classifier.predict(neg).digit == 10
    trained = np.isin(kinds, list(SHIPPED_KINDS))
    assert refused[trained].mean() >= 0.95
    assert refused.mean() >= 0.85  # a floor on all kinds: 89% when measured


def test_empty_batch_makes_no_call(classifier):
    pred = classifier.predict(np.zeros((0, 28, 28), np.uint8))
    assert pred.digit.shape == (0,)


@pytest.mark.parametrize("n, expected", [(1, 8), (8, 8), (9, 16), (22, 24), (32, 32),
                                         (33, 64), (100, 128), (500, 128)])
def test_buckets(n, expected):
    assert bucket(n) == expected and expected in BUCKETS


def test_padding_never_retraces(tf_classifier):
    traces = tf_classifier._fn.experimental_get_tracing_count()
    for n in (1, 5, 20, 100, 300):
        assert len(tf_classifier.predict(np.zeros((n, 28, 28), np.uint8)).digit) == n
    assert tf_classifier._fn.experimental_get_tracing_count() == traces


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"PK\x03\x04garbage",
                                     b"\x08\x07garbage"])
@pytest.mark.parametrize("loader, suffix, message", [
    ("load_model", ".keras", "not a Keras model"),
    ("OnnxClassifier", ".onnx", "not an ONNX model"),
])
def test_model_file_of_the_wrong_kind(tmp_path, content, loader, suffix, message):
    import livedigits.classify as classify

    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        getattr(classify, loader)(path)


def test_evaluate_cli_table_and_json(tmp_path, mnist):
    res = CliRunner().invoke(main, ["evaluate", "--limit", "500", "--data", mnist.source,
                                    "--json"])
    assert res.exit_code == 0, res.output
    js = json.loads(res.output.strip().splitlines()[-1])
    assert js["digits"] == 500 and js["accuracy"] > 0.98
    shift = js["style_shift"]
    assert shift["digits"] == 500 and 0.8 < shift["accuracy"] <= 1
    assert set(shift["per_family"]) == {"nib", "skip", "blot", "tablet"}
    assert set(js["negative_false_accept_by_kind"]) >= {"sign", "letter", "texture"}
    plot = tmp_path / "cm.png"
    figures = tmp_path / "figures.json"
    res = CliRunner().invoke(main, ["evaluate", "--limit", "300", "--data", mnist.source,
                                    "--plot", str(plot), "--json", str(figures)])
    assert res.exit_code == 0 and "confusion" in res.stdout and plot.stat().st_size > 1000
    assert json.loads(figures.read_text())["digits"] == 300
    assert res.stderr.splitlines() == [f"wrote {figures}", f"wrote {plot}"]


def test_evaluate_with_a_bad_model_is_one_line(tmp_path):
    bad = tmp_path / "m.keras"
    bad.write_text("hello")
    res = CliRunner().invoke(main, ["evaluate", "--model", str(bad)])
    assert res.exit_code == 2 and "not a Keras model" in res.output
