import numpy as np
import pytest

from livedigits.evaluate import confusion_matrix, evaluate, format_table, plot


def _onehot(labels, n=11, conf=0.9):
    p = np.full((len(labels), n), (1 - conf) / (n - 1), np.float32)
    p[np.arange(len(labels)), labels] = conf
    return p


def test_figures_on_a_hand_made_set():
    y = np.array([0, 0, 1, 1, 2, 3])
    pred = np.array([0, 0, 1, 7, 2, 10])  # one 1 read as 7, one 3 rejected as not-a-digit
    neg = _onehot(np.array([10, 10, 10, 4]))  # one of four marks accepted as a 4
    r = evaluate(y, _onehot(pred), neg)
    assert r.accuracy == pytest.approx(4 / 6)
    assert r.per_class[:4] == [1.0, 0.5, 1.0, 0.0]
    assert np.isnan(r.per_class[5])
    assert r.confusion[1, 7] == 1 and r.confusion[3, 10] == 1 and r.confusion.sum() == 6
    assert r.false_accept_rate == pytest.approx(0.25)
    assert sorted(r.worst) == [3, 5]
    table = format_table(r)
    assert "66.6667%" in table and "25.00%" in table
    js = r.to_json()
    assert js["per_class_accuracy"]["1"] == 0.5 and js["negatives"] == 4


def test_confusion_counts_repeated_pairs():
    m = confusion_matrix(np.array([2, 2, 2]), np.array([5, 5, 2]))
    assert m[2, 5] == 2 and m[2, 2] == 1 and m.sum() == 3


def test_plot_writes_png(tmp_path):
    y = np.array([0, 1, 2, 3])
    r = evaluate(y, _onehot(np.array([0, 7, 2, 3])), _onehot(np.array([10])))
    images = np.random.default_rng(0).integers(0, 255, (4, 28, 28)).astype(np.uint8)
    out = tmp_path / "cm.png"
    assert plot(r, images, y, _onehot(np.array([0, 7, 2, 3])), str(out))
    import cv2

    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 400 and img.shape[1] > 500


def test_evaluate_runs_without_the_trainer(mnist):
    """`livedigits evaluate` loads MNIST and the negatives without importing the trainer."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['livedigits.train'] = None  # importing it now fails\n"
            "from livedigits.cli import main\n"
            f"main(['evaluate', '--limit', '50', '--json', '--data', {mnist.source!r}])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert '"accuracy"' in res.stdout
