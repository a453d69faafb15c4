"""The command line as a whole: every user mistake is one `livedigits: error:` line."""

import json
from pathlib import Path

import cv2
import numpy as np
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
    (["train", "--mix", "pen=0.2"], ["--mix", "unknown kind"]),
    (["train", "--mix", "camera=0.9"], ["--mix", "more than 1"]),
    (["train", "--mix", "camera"], ["KIND=SHARE"]),
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


def test_command_list_is_not_cut_and_every_command_has_an_example():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"]).output
    commands = sorted(main.commands)
    listing = top.split("Commands:", 1)[1]
    for name in commands:
        line = next(x for x in listing.splitlines() if x.strip().startswith(name + " "))
        assert not line.rstrip().endswith("..."), line  # click cuts long first sentences
        assert f"livedigits {name}" in top  # an example of every command at the top
        sub = runner.invoke(main, [name, "--help"]).output
        assert f"livedigits {name} " in sub.split("Options:")[0], name  # its own example


def test_every_option_is_described():
    import click

    for name, cmd in main.commands.items():
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden:
                assert p.help, f"{name} {p.opts[0]} has no help"


def test_synth_names_its_samples_in_help():
    from livedigits.synth import SAMPLES

    out = " ".join(CliRunner().invoke(main, ["synth", "--help"]).output.split())
    assert all(n in out for n in SAMPLES)


def test_synth_refuses_to_overwrite_the_shipped_samples():
    before = Path("samples/plain_480p.mp4").stat().st_mtime_ns
    one_error_line(CliRunner().invoke(main, ["synth", "--only", "plain_480p"]),
                   "shipped sample", "--force")
    one_error_line(CliRunner().invoke(main, ["synth", "--output", "samples", "--only",
                                             "plain_480p"]), "shipped sample")
    assert Path("samples/plain_480p.mp4").stat().st_mtime_ns == before


def test_old_out_is_still_accepted(tmp_path):
    missing = str(tmp_path / "missing.npz")
    for args in (["train", "--out", str(tmp_path), "--data", missing],
                 ["synth", "--out", str(tmp_path), "--only", "blank_720p", "--data", missing]):
        one_error_line(CliRunner().invoke(main, args), "not found")  # parsed; data looked for


def test_score_json_to_a_file_and_to_stdout(tmp_path):
    from tests.test_score import CASES, write

    p, t = write(tmp_path, *CASES["a false detection"][:2])
    out = tmp_path / "s.json"
    res = CliRunner().invoke(main, ["score", p, t, "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "recall" in res.stdout  # the table still goes to the terminal
    assert json.loads(out.read_text())["false_detections"] == 1
    assert res.stderr.strip() == f"wrote {out}"
    dash = CliRunner().invoke(main, ["score", p, t, "--json", "-"])
    assert json.loads(dash.stdout)["false_detections"] == 1


def test_score_against_the_wrong_truth_is_an_error(tmp_path):
    pred = tmp_path / "plain.jsonl"
    res = CliRunner().invoke(main, ["run", "samples/plain_480p.mp4", "--no-display", "--json",
                                    str(pred), "--max-frames", "20"])
    assert res.exit_code == 0, res.output
    ok = CliRunner().invoke(main, ["score", str(pred), "samples/plain_480p.json"])
    assert ok.exit_code == 0, ok.output
    for other in ("samples/ruled_720p.json", "samples/hard_720p.json",
                  "samples/board_720p.json", "samples/blank_720p.json"):
        res = CliRunner().invoke(main, ["score", str(pred), other])
        one_error_line(res, "does not match", other)


def test_list_cameras_without_any(monkeypatch):
    from livedigits import cameras

    monkeypatch.setattr(cameras, "list_cameras", lambda: [])
    res = CliRunner().invoke(main, ["run", "--list-cameras"])
    assert res.exit_code == 0 and "no camera opens" in res.output


def test_list_cameras_lists_what_opens(monkeypatch):
    import numpy as np

    from livedigits import cameras

    class Cap:
        def __init__(self, i):
            self.i = i

        def isOpened(self):  # noqa: N802
            return self.i == 1

        def read(self):
            return True, np.zeros((480, 640, 3), np.uint8)

        def release(self):
            pass

    monkeypatch.setattr(cameras.sys, "platform", "test")
    found = cameras.list_cameras(opener=Cap)
    assert [(c.index, c.size) for c in found] == [(1, (640, 480))]
    assert cameras.format_cameras(found).startswith("1  ")


def test_closed_stdout_pipe_is_quiet(tmp_path):
    import subprocess
    import sys

    cmd = (f"{sys.executable} -m livedigits run samples/plain_480p.mp4 --no-display --json - "
           "| head -n 2")
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True,
                          text=True, timeout=300)
    assert len(proc.stdout.splitlines()) == 2
    assert "error" not in proc.stderr.lower() and "Traceback" not in proc.stderr
    assert "Broken pipe" not in proc.stderr


def test_run_help_lists_the_window_keys():
    from livedigits.window import KEYS

    out = CliRunner().invoke(main, ["run", "--help"]).output
    keys_block = out.split("Keys in the window", 1)[1].split("Examples:", 1)[0]
    for key, _ in KEYS:
        assert key in keys_block, key
    assert max(len(line) for line in out.splitlines()) <= 80


def test_help_fits_80_columns():
    for args in ([], *([c] for c in main.commands)):
        out = CliRunner().invoke(main, [*args, "--help"]).output
        assert max(len(line) for line in out.splitlines()) <= 80, args


@pytest.mark.parametrize("source, output, words", [
    ("folder", "out.mp4", ("names a file", "folder")),
    ("folder", "out.png", ("names a file",)),
    ("image", "out.mp4", ("an image is written as an image",)),
    ("video", "out.png", ("video extension",)),
    ("video", "out.gif", ("video extension",)),
])
def test_output_of_the_wrong_kind_is_refused_before_the_model_loads(tmp_path, monkeypatch,
                                                                     source, output, words):
    from livedigits import run as run_mod

    def no_model(path):
        raise AssertionError("the model loaded before the output was checked")

    monkeypatch.setattr(run_mod, "load_classifier", no_model)
    folder = tmp_path / "imgs"
    folder.mkdir()
    image = folder / "a.png"
    cv2.imwrite(str(image), np.full((40, 40), 255, np.uint8))
    src = {"folder": folder, "image": image, "video": Path("samples/plain_480p.mp4")}[source]
    res = invoke_run(str(src), "--output", str(tmp_path / output))
    one_error_line(res, *words)
    assert not (tmp_path / output).exists()
