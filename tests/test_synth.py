"""The synthetic video generator, its ground truth, the committed samples and `synth`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from livedigits import synth
from livedigits.errors import UserError
from livedigits.samples_cli import synth as synth_cmd
from tests.conftest import read_video

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
SMALL = synth.SynthSettings(width=320, height=240, fps=10, seconds=0.5, seed=3, numbers=3,
                            digits_per_number=(1, 3), digit_height=(24.0, 40.0),
                            motion_blur=0.5, sheet=1.4, smudges=1)
# The camera wanders far, so that digits near the edge leave the frame now and then.
WANDER = dataclasses.replace(SMALL, seed=5, numbers=5, drift=0.2, seconds=2.0)


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.x_test, mnist.y_test


@pytest.fixture(scope="module")
def wander(digits):
    return synth.build_scene(WANDER, *digits)


def test_same_seed_same_frames_and_truth(digits):
    a, b = synth.build_scene(SMALL, *digits), synth.build_scene(SMALL, *digits)
    assert len(a.digits) >= 2
    # Frames do not depend on the order they are rendered in.
    later_first = [synth.render_frame(b, i) for i in reversed(range(SMALL.frames))][::-1]
    for i in range(SMALL.frames):
        assert np.array_equal(synth.render_frame(a, i), later_first[i])
        assert synth.ground_truth(a, i) == synth.ground_truth(b, i)
    other = synth.build_scene(dataclasses.replace(SMALL, seed=4), *digits)
    assert not np.array_equal(synth.render_frame(other, 0), synth.render_frame(a, 0))


def test_frames_move_and_motion_blur_happens(digits):
    scene = synth.build_scene(SMALL, *digits)
    f0, f4 = synth.render_frame(scene, 0), synth.render_frame(scene, 4)
    assert f0.shape == (240, 320, 3) and f0.dtype == np.uint8
    assert np.abs(f0.astype(int) - f4.astype(int)).mean() > 1.0
    assert scene.motion_frames  # 50% of 5 frames with this seed


def test_boxes_inside_frame_cover_the_ink_and_are_tight(wander):
    s = WANDER
    counts = []
    for i in range(0, s.frames, 4):
        truth = synth.ground_truth(wander, i)
        counts.append(len(truth["digits"]))
        boxes, inside = synth.digit_boxes(wander, i)
        ink = synth.ink_mask(wander, i)
        covered = np.zeros(ink.shape, bool)
        for x, y, w, h in boxes:
            covered[max(y, 0): max(y + h, 0), max(x, 0): max(x + w, 0)] = True
        assert not ((ink > 0.5) & ~covered).any(), f"ink outside every box in frame {i}"
        for d in truth["digits"]:
            x, y, w, h = d["box"]
            assert x >= 0 and y >= 0 and x + w <= s.width and y + h <= s.height
            ys, xs = np.nonzero(ink[y: y + h, x: x + w] > 0.2)
            assert ys.size, "a visible digit with no ink"
            # Tight: the ink reaches within 2 px of every side of its box.
            assert xs.min() <= 2 and ys.min() <= 2
            assert xs.max() >= w - 3 and ys.max() >= h - 3
        assert len(truth["digits"]) == int(inside.sum())
    assert min(counts) < len(wander.digits), "expected some digits to leave the frame"
    assert max(counts) > 0


def test_numbers_are_whole_and_read_left_to_right(wander):
    for i in range(0, WANDER.frames, 5):
        truth = synth.ground_truth(wander, i)
        visible = {d["id"]: d for d in truth["digits"]}
        for num in truth["numbers"]:
            members = wander.numbers[num["id"]]
            assert all(m in visible for m in members)
            ordered = sorted(members, key=lambda m: visible[m]["box"][0])
            assert num["text"] == "".join(str(visible[m]["digit"]) for m in ordered)


def test_uses_mnist_test_digits_only(tmp_path, mnist):
    rng = np.random.default_rng(0)
    scenes = []
    for k in range(2):
        path = tmp_path / f"m{k}.npz"
        # Training splits that differ completely; the test split is the same real digits.
        np.savez(path, x_train=rng.integers(0, 256, (50, 28, 28), np.uint8),
                 y_train=rng.integers(0, 10, 50), x_test=mnist.x_test[:300],
                 y_test=mnist.y_test[:300])
        x, y = synth.load_test_digits(path)
        scenes.append(synth.build_scene(SMALL, x, y))
    a, b = scenes
    assert np.array_equal(synth.render_frame(a, 0), synth.render_frame(b, 0))
    for d in a.digits:
        assert 0 <= d.mnist_index < 300 and d.digit == mnist.y_test[d.mnist_index]


def test_digit_heights_in_range(wander, digits):
    crowded = synth.build_scene(synth.SAMPLES["crowded_720p"], *digits)
    for scene in (wander, crowded):
        for i in (0, scene.settings.frames // 2, scene.settings.frames - 1):
            heights = [d["box"][3] for d in synth.ground_truth(scene, i)["digits"]]
            assert heights and min(heights) >= 18 and max(heights) <= 80


def test_blank_scene_has_no_digits(digits):
    scene = synth.build_scene(synth.SAMPLES["blank_720p"], *digits)
    assert scene.digits == [] and scene.numbers == []
    truth = synth.ground_truth(scene, 0)
    assert truth["digits"] == [] and truth["numbers"] == []


def committed() -> list[Path]:
    return sorted(SAMPLES_DIR.glob("*.json"))


def test_committed_samples_are_complete_and_small():
    names = {p.stem for p in committed()}
    assert set(synth.SAMPLES) <= names
    total = sum(p.stat().st_size for p in SAMPLES_DIR.iterdir() if p.is_file())
    assert total < 10_000_000


@pytest.mark.parametrize("path", committed(), ids=lambda p: p.stem)
def test_committed_ground_truth(path):
    doc = json.loads(path.read_text())
    assert doc["frames"] == len(doc["ground_truth"]) and 5 <= doc["frames"] / doc["fps"] <= 10
    assert doc["generator"]["seed"] == doc["generator"]["settings"]["seed"]
    labels: dict[int, int] = {}
    per_frame = []
    for frame in doc["ground_truth"]:
        per_frame.append(len(frame["digits"]))
        for d in frame["digits"]:
            x, y, w, h = d["box"]
            assert x >= 0 and y >= 0 and x + w <= doc["width"] and y + h <= doc["height"]
            assert 18 <= h <= 80
            assert labels.setdefault(d["id"], d["digit"]) == d["digit"], "an id changed digit"
    if path.stem.startswith("blank"):
        assert max(per_frame) == 0
    elif path.stem.startswith("crowded"):
        assert min(per_frame) >= 30
    else:
        assert min(per_frame) > 0
    cap = cv2.VideoCapture(str(path.with_suffix(".mp4")))
    try:
        ok, frame = cap.read()
        assert ok and frame.shape == (doc["height"], doc["width"], 3)
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == doc["frames"]
    finally:
        cap.release()


def test_synth_command_writes_a_readable_video(tmp_path, monkeypatch, mnist):
    from livedigits.data import default_mnist_path

    monkeypatch.setitem(synth.SAMPLES, "tiny", SMALL)
    result = CliRunner().invoke(synth_cmd, ["--out", str(tmp_path), "--only", "tiny",
                                            "--data", str(default_mnist_path())])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "tiny.json").read_text())
    assert doc["frames"] == SMALL.frames and doc["generator"]["settings"]["width"] == 320
    assert "--only tiny" in doc["generator"]["command"]
    assert len(read_video(tmp_path / "tiny.mp4")[0]) == SMALL.frames


def test_synth_command_bad_input(tmp_path):
    result = CliRunner().invoke(synth_cmd, ["--out", str(tmp_path), "--only", "nope"])
    assert isinstance(result.exception, UserError) and "nope" in str(result.exception)
    result = CliRunner().invoke(synth_cmd, ["--out", str(tmp_path), "--only", "blank_720p",
                                            "--data", str(tmp_path / "missing.npz")])
    assert isinstance(result.exception, UserError)
    assert "not found" in str(result.exception)
