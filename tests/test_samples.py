"""Regression: the real pipeline over every shipped sample, scored against its ground truth.

The figures measured when the pipeline last changed on purpose are committed in
`tests/sample_metrics.json`; a change that reads worse than that by more than the tolerance fails
here. Re-measure after an intended change with `python -m tests.test_samples --update`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from livedigits.score import load_truth, score

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
METRICS = Path(__file__).with_name("sample_metrics.json")
HIGHER = ("recall", "precision", "label_accuracy", "read_rate", "number_accuracy")
LOWER = ("flip_rate", "false_per_frame")
TOLERANCE = {"ratio": 0.015, "flip_rate": 0.005, "false_per_frame": 0.02}


def measure(name: str, clf) -> dict:
    """Run the pipeline as `livedigits run` does over one sample; return the scorer's figures."""
    from livedigits.pipeline import Pipeline, PipelineSettings
    from livedigits.sources import open_source

    pipeline = Pipeline(clf, PipelineSettings())
    with open_source(str(SAMPLES / f"{name}.mp4")) as source:
        records = [pipeline.process(f.image, f.index, f.time).to_json() for f in source]
    return score(records, load_truth(SAMPLES / f"{name}.json")).to_json()


def _table() -> dict:
    return json.loads(METRICS.read_text())


@pytest.mark.parametrize("name", sorted(_table()["samples"]))
def test_sample_reads_at_least_as_well_as_recorded(name, classifier):
    recorded = _table()["samples"][name]
    got = measure(name, classifier)
    for key in HIGHER:
        if recorded.get(key) is not None:
            assert got[key] >= recorded[key] - TOLERANCE["ratio"], (key, got[key], recorded[key])
    for key in LOWER:
        if recorded.get(key) is not None:
            assert got[key] <= recorded[key] + TOLERANCE[key], (key, got[key], recorded[key])


def test_blank_paper_reads_nothing(classifier):
    got = measure("blank_720p", classifier)
    assert got["false_per_frame"] <= 0.01  # at most one false digit per 100 frames


def test_every_sample_has_recorded_figures():
    names = {p.stem for p in SAMPLES.glob("*.mp4")}
    assert names == set(_table()["samples"])


if __name__ == "__main__" and "--update" in sys.argv:
    from livedigits.classify import open_classifier

    clf = open_classifier()  # what `livedigits run` reads with
    table = {"tolerance": TOLERANCE, "samples": {}}
    for mp4 in sorted(SAMPLES.glob("*.mp4")):
        figures = measure(mp4.stem, clf)
        table["samples"][mp4.stem] = {k: figures[k] for k in HIGHER + LOWER}
        print(mp4.stem, table["samples"][mp4.stem], flush=True)
    METRICS.write_text(json.dumps(table, indent=2) + "\n")
