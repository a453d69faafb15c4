"""The command line as a whole: every user mistake is one `livedigits: error:` line."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from livedigits.cli import main
from tests.conftest import MODEL
from tests.helpers import invoke_run, one_error_line


@pytest.mark.parametrize("args, words", [
    (["run"], ["Missing argument"]),
    (["run", "0", "--camera-size", "12x"], ["--camera-size"]),
    (["run", "0", "--camera-size", "0x0"], ["positive"]),
    (["evaluate", "--limit", "0"], ["--limit"]),
    (["train", "--data", "samples"], ["directory"]),
    (["nope"], ["No such command"]),
])
def test_usage_mistakes_are_one_line(args, words):
    one_error_line(CliRunner().invoke(main, args), *words)


def test_help_and_version_exit_zero():
    runner = CliRunner()
    for args in (["--help"], ["run", "--help"], ["--version"]):
        res = runner.invoke(main, args)
        assert res.exit_code == 0 and res.output


def test_score_on_a_binary_file(tmp_path):
    bad = tmp_path / "pred.jsonl"
    bad.write_bytes(b"\xff\xfe\x00binary")
    res = CliRunner().invoke(main, ["score", str(bad), "samples/plain_480p.json"])
    one_error_line(res, "not UTF-8")


def test_output_may_not_overwrite_the_input(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(Path("samples/plain_480p.mp4").read_bytes())
    size = video.stat().st_size
    for option in ("--output", "--json"):
        res = invoke_run(str(video), option, str(video))
        one_error_line(res, "overwrite the input")
    assert video.stat().st_size == size


def test_folder_output_that_is_a_file(tmp_path):
    folder, out = tmp_path / "imgs", tmp_path / "out.jsonl"
    folder.mkdir()
    (folder / "a.png").write_bytes(Path("samples/README.md").read_bytes())
    out.write_text("")
    res = invoke_run(str(folder), "--output", str(out))
    one_error_line(res, "is a file")


def test_benchmark_keeps_stdout_for_json_lines():
    res = CliRunner().invoke(main, ["run", "samples/plain_480p.mp4", "--benchmark",
                                    "--json", "-", "--max-frames", "3"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["frame"] == i for i, line in enumerate(lines))
    assert res.stderr.strip().splitlines()[-1].startswith("benchmark: ")


def test_quick_training_leaves_the_shipped_model_alone(quick_model):
    assert quick_model.shipped_untouched
    assert "livedigits-quick-" in str(quick_model.path) and quick_model.path.parent != MODEL.parent
