"""`livedigits batch`: same results as `run`, resumable, failures and dead workers contained."""

from __future__ import annotations

import ast
import csv
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from livedigits import batch
from livedigits.batch import BatchOptions, Input, Layout, ReadSettings, expand_sources, run_batch
from livedigits.errors import UserError
from livedigits.sinks import VideoSink
from tests import batch_fakes
from tests.conftest import page, read_video
from tests.helpers import invoke, invoke_run, one_error_line, read_jsonl
from tests.streaming import free_port

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "plain_480p.mp4"


def clip(path: Path, text: str = "47", frames: int = 6) -> Path:
    """A small video of a page with `text` on it, drifting a pixel a frame."""
    with VideoSink(path, 10, (320, 240)) as sink:
        for i in range(frames):
            digits = [(ch, 60 + 50 * k + i, 150) for k, ch in enumerate(text)]
            sink.write(cv2.cvtColor(page((240, 320), digits, scale=2.5), cv2.COLOR_GRAY2BGR))
    return path


def fake(tmp_path: Path, sources, **kw) -> batch.BatchReport:
    """A batch with the fake classifier into tmp_path/out, without a progress bar."""
    kw.setdefault("classifier_factory", batch_fakes.fake_classifier)
    return run_batch(BatchOptions([str(s) for s in sources], tmp_path / "out", progress=False,
                                  **kw))


def rows(out: Path) -> dict[str, dict]:
    with open(out / "summary.csv", newline="") as f:
        return {Path(r["input"]).name: r for r in csv.DictReader(f)}


def outputs(out: Path) -> dict[str, bytes]:
    """Every finished JSON Lines file under `out`, by name."""
    return {p.name: p.read_bytes() for p in out.glob("*.jsonl")}


@pytest.fixture()
def clips(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    return [clip(folder / f"{name}.mp4", text) for name, text in
            (("a", "47"), ("b", "123"), ("c", "9"))]


# ------------------------------------------------------------------------------ inputs


def test_expand_sources_folders_globs_lists_urls(tmp_path):
    (tmp_path / "v" / "sub").mkdir(parents=True)
    for name in ("v/one.mp4", "v/two.avi", "v/notes.txt.bak", "v/sub/deep.mp4", "x/three.mov"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    out = tmp_path / "v" / "results"
    out.mkdir()
    (out / "own.mp4").write_bytes(b"x")
    (tmp_path / "list.txt").write_text("# lectures\nx/three.mov\n\nrtsp://cam.local/live\n"
                                       "v/one.mp4\n")
    got = expand_sources([str(tmp_path / "v"), str(tmp_path / "list.txt"),
                          str(tmp_path / "x" / "*.mov"), str(tmp_path / "nothing*.mp4"),
                          str(tmp_path / "missing.mp4")], out_dir=out)
    names = [Path(i.spec).name if "://" not in i.spec else i.spec for i in got]
    assert names == ["one.mp4", "two.avi", "three.mov", "rtsp://cam.local/live",
                     "nothing*.mp4", "missing.mp4"]  # each once, own outputs left out
    assert [i.error is not None for i in got] == [False] * 4 + [True, True]
    deep = expand_sources([str(tmp_path / "v")], out_dir=out, recursive=True)
    assert {Path(i.spec).name for i in deep} == {"one.mp4", "two.avi", "deep.mp4"}


def test_same_file_names_in_two_folders_do_not_collide(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = clip(tmp_path / "a" / "clip.mp4", "47"), clip(tmp_path / "b" / "clip.mp4", "5")
    report = fake(tmp_path, [first, second])
    assert [r.status for r in report.results] == ["ok", "ok"]
    names = [r.output for r in report.results]
    assert len(set(names)) == 2 and all(n.startswith("clip-") for n in names)
    assert report.exit_code == 0


# ------------------------------------------------------------------------ same as `run`


def test_results_identical_to_run(tmp_path, classifier):
    """JSON Lines and annotated video byte for byte those of `livedigits run`, for a real
    sample with the real model, and for an image."""
    still = tmp_path / "page.png"
    cv2.imwrite(str(still), page(digits=(("2", 100, 200), ("5", 160, 200))))
    report = run_batch(BatchOptions(
        [str(SAMPLE), str(still)], tmp_path / "out", progress=False,
        settings=ReadSettings(max_frames=12, video=True),
        classifier_factory=lambda model, threads: classifier))
    assert [r.status for r in report.results] == ["ok", "ok"]
    for src, result, ext in ((SAMPLE, report.results[0], ".mp4"),
                             (still, report.results[1], ".png")):
        js, out = tmp_path / f"run-{src.stem}.jsonl", tmp_path / f"run-{src.stem}{ext}"
        res = invoke_run(str(src), "--json", str(js), "--output", str(out), "--max-frames", "12",
                         classifier=classifier)
        assert res.exit_code == 0, res.output
        got = tmp_path / "out" / result.output
        assert got.read_bytes() == js.read_bytes()
        recs = read_jsonl(js)
        assert result.frames == len(recs) and result.digits == sum(
            len(r["detections"]) for r in recs)
        assert result.numbers == len({n["text"] for r in recs for n in r["numbers"]})
        assert got.with_suffix(ext).read_bytes() == out.read_bytes()
    assert report.results[0].frames == 12 and report.results[0].digits > 100


# ------------------------------------------------------------------------------ resuming


def test_resume_skips_complete_and_redoes_partial(tmp_path, clips):
    out = tmp_path / "out"
    first = fake(tmp_path, clips)
    assert [r.status for r in first.results] == ["ok"] * 3
    clean = outputs(out)
    lay = Layout(out)
    a, b, c = (Input(str(p), batch.output_name(str(p))) for p in clips)
    stamp = {p: p.stat().st_mtime_ns for p in (lay.jsonl(a), lay.jsonl(c))}
    # b as a crash would leave it: its mark gone, a half file in .partial, a stale final one.
    lay.done(b).unlink()
    lay.temporary(lay.jsonl(b)).write_text('{"frame": 0}\n{"fra')
    second = fake(tmp_path, clips)
    assert [r.status for r in second.results] == ["done", "ok", "done"]
    assert {p: p.stat().st_mtime_ns for p in stamp} == stamp  # not touched
    assert outputs(out) == clean
    assert not any((out / ".partial").glob("*.jsonl"))
    assert rows(out)["a.mp4"]["status"] == "done" and rows(out)["a.mp4"]["frames"] == "6"
    # Another setting that shapes the results, or --force: read again.
    assert [r.status for r in fake(tmp_path, clips[:1], force=True).results] == ["ok"]
    redo = fake(tmp_path, clips, settings=ReadSettings(min_confidence=0.5))
    assert [r.status for r in redo.results] == ["ok"] * 3


def stop_at_b(source, jsonl, video, settings, classifier):
    """A reader that is interrupted (Ctrl-C) halfway through b."""
    if Path(source).name == "b.mp4":
        jsonl.write_text('{"frame": 0}\n')
        raise KeyboardInterrupt
    return batch.read_input(source, jsonl, video, settings, classifier)


def test_ctrl_c_keeps_finished_inputs_and_nothing_half_written(tmp_path, clips):
    out = tmp_path / "out"
    report = fake(tmp_path, clips, reader=stop_at_b)
    assert report.stopped and report.exit_code == 1
    assert [r.status for r in report.results] == ["ok", "stopped", "stopped"]
    assert [p.name.split("-")[0] for p in out.glob("*.jsonl")] == ["a"]
    assert rows(out)["b.mp4"]["status"] == "stopped"
    again = fake(tmp_path, clips)
    assert [r.status for r in again.results] == ["done", "ok", "ok"]


# ------------------------------------------------------------------------------ failures


def test_bad_inputs_in_the_middle_lose_nothing_else(tmp_path, clips):
    corrupt = tmp_path / "videos" / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    stream = f"http://127.0.0.1:{free_port()}/video.mjpg"
    fake(tmp_path / "alone", clips)
    clean = outputs(tmp_path / "alone" / "out")
    report = fake(tmp_path, [clips[0], corrupt, tmp_path / "missing.mp4", stream, *clips[1:]],
                  settings=ReadSettings(retries=0))
    status = {Path(r.input).name: r.status for r in report.results}
    assert status == {"a.mp4": "ok", "corrupt.mp4": "failed", "missing.mp4": "failed",
                      "video.mjpg": "failed", "b.mp4": "ok", "c.mp4": "ok"}
    assert outputs(tmp_path / "out") == clean
    table = rows(tmp_path / "out")
    assert "corrupt.mp4" in table["corrupt.mp4"]["error"]
    assert "no such file" in table["missing.mp4"]["error"]
    assert table["video.mjpg"]["error"] and report.exit_code == 1


def test_worker_processes_contain_a_dying_worker(tmp_path, clips, monkeypatch):
    """--jobs 2: a worker that dies on an input takes only that input (tried once more);
    each worker's runtimes are pinned to cores/jobs threads."""
    die, once = clip(tmp_path / "videos" / "die.mp4"), clip(tmp_path / "videos" / "once.mp4")
    fake(tmp_path / "alone", clips)
    record = tmp_path / "workers.jsonl"
    monkeypatch.setenv(batch_fakes.RECORD, str(record))
    report = fake(tmp_path, [clips[0], die, clips[1], once, clips[2]], jobs=2,
                  reader=batch_fakes.read_or_die)
    status = {Path(r.input).name: r for r in report.results}
    assert {k: r.status for k, r in status.items()} == {
        "a.mp4": "ok", "die.mp4": "failed", "b.mp4": "ok", "once.mp4": "ok", "c.mp4": "ok"}
    assert "died 2 times (exit code 3)" in status["die.mp4"].error
    got = outputs(tmp_path / "out")
    assert {k: v for k, v in got.items() if not k.startswith("once")} == outputs(
        tmp_path / "alone" / "out")
    threads = max(1, batch.usable_cores() // 2)
    workers = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(workers) >= 3  # two, and new ones for the work left after a death
    assert all({k: w[k] for k in ("threads", "cv2", "omp")} == {
        "threads": threads, "cv2": threads, "omp": str(threads)} for w in workers)


def test_workers_that_die_as_they_start_end_the_batch(tmp_path, clips):
    with pytest.raises(UserError, match="die as they start .exit code 5"):
        fake(tmp_path, clips, jobs=2, classifier_factory=batch_fakes.dying_classifier)


CTRL_C = """
import signal
import sys
# As in a terminal: a shell that starts a job in the background (CI, nohup ... &) hands it
# SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
signal.signal(signal.SIGINT, signal.default_int_handler)
from pathlib import Path
from livedigits.batch import BatchOptions, run_batch
from tests import batch_fakes
report = run_batch(BatchOptions(sys.argv[2:], Path(sys.argv[1]), jobs=2, progress=False,
                                classifier_factory=batch_fakes.fake_classifier,
                                reader=batch_fakes.read_slowly))
print([r.status for r in report.results])
sys.exit(report.exit_code)
"""


def test_ctrl_c_stops_worker_processes_cleanly(tmp_path, clips, monkeypatch):
    """Ctrl-C in a terminal (SIGINT to the whole process group) during --jobs 2: the batch
    ends at once, its workers with it; finished inputs are whole and nothing half-written is
    under a final name."""
    import signal
    import subprocess
    import time

    record = tmp_path / "workers.jsonl"
    monkeypatch.setenv(batch_fakes.RECORD, str(record))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    slow = clip(tmp_path / "videos" / "slow.mp4")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C, str(out), str(clips[0]), str(slow),
                             *map(str, clips[1:])], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lay = Layout(out)
    a, s = (Input(str(p), batch.output_name(str(p))) for p in (clips[0], slow))
    deadline = time.monotonic() + 60
    while not (lay.done(a).exists() and lay.temporary(lay.jsonl(s)).exists()):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read()
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    statuses = ast.literal_eval(output.strip().splitlines()[-1])  # the list printed
    assert proc.returncode == 1 and "Traceback" not in output
    assert statuses[0] == "ok" and statuses[1] == "stopped"
    assert lay.jsonl(a).exists() and not lay.jsonl(s).exists()
    assert rows(out)["slow.mp4"]["status"] == "stopped"
    time.sleep(0.5)
    for pid in (json.loads(line)["pid"] for line in record.read_text().splitlines()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # every worker gone


def test_dask_task_gives_up_on_an_input_that_killed_two_workers(tmp_path, clips):
    lay = Layout(tmp_path / "out")
    inp = Input(str(clips[0]), batch.output_name(str(clips[0])))
    lay.reset(inp)
    for _ in range(2):  # two workers started it and died
        lay.note_start(inp)
    res = batch.dask_task(inp, str(tmp_path / "out"), ReadSettings(),
                          batch_fakes.fake_classifier, batch.read_input)
    assert res.status == "failed" and "died 2 times" in res.error
    lay.reset(inp)
    res = batch.dask_task(inp, str(tmp_path / "out"), ReadSettings(),
                          batch_fakes.fake_classifier, batch.read_input)
    assert res.status == "ok" and res.frames == 6


# ---------------------------------------------------------------------------------- Dask


def test_local_cluster_with_a_killed_worker_and_a_corrupt_input(tmp_path, clips):
    pytest.importorskip("dask.distributed")
    corrupt = tmp_path / "videos" / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(3000))
    once = clip(tmp_path / "videos" / "once.mp4")
    fake(tmp_path / "alone", clips)
    report = fake(tmp_path, [clips[0], corrupt, once, *clips[1:]], scheduler="local", jobs=2,
                  reader=batch_fakes.read_or_die,
                  cluster_kwargs={"memory_limit": "512MiB"})
    status = {Path(r.input).name: r.status for r in report.results}
    assert status == {"a.mp4": "ok", "corrupt.mp4": "failed", "once.mp4": "ok",
                      "b.mp4": "ok", "c.mp4": "ok"}
    assert (tmp_path / "videos" / "once.died").exists()  # its first worker did die
    got = outputs(tmp_path / "out")
    assert {k: v for k, v in got.items() if not k.startswith("once")} == outputs(
        tmp_path / "alone" / "out")
    assert report.exit_code == 1


def test_scheduler_without_dask_is_one_line(tmp_path, monkeypatch, clips):
    monkeypatch.setitem(sys.modules, "dask", None)  # import dask... raises ImportError
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    res = invoke("batch", str(clips[0]), "-o", str(tmp_path / "o"), "--scheduler", "local")
    assert res.exit_code == 2
    one_error_line(res, "--scheduler needs Dask", "livedigits[cluster]")


# ----------------------------------------------------------------------------------- CLI


def test_cli_records_failures_and_exits_1(tmp_path):
    out = tmp_path / "out"
    res = invoke("batch", str(tmp_path / "missing.mp4"), "--output", str(out))
    assert res.exit_code == 1, res.output
    assert "failed" in res.output and "Traceback" not in res.output
    with open(out / "summary.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["input", "status", "frames", "fps", "digits", "numbers",
                              "seconds", "error", "output"]
    assert table[0]["status"] == "failed" and "no such file" in table[0]["error"]


@pytest.mark.parametrize("args, words", [
    (["batch", "x.mp4"], ["--output"]),
    (["batch", "--output", "o"], ["SOURCES"]),
    (["batch", "x.mp4", "-o", "o", "--jobs", "0"], ["--jobs"]),
])
def test_usage_mistakes_are_one_line(args, words):
    res = invoke(*args)
    assert res.exit_code == 2
    one_error_line(res, *words)


def test_out_that_is_a_file(tmp_path, clips):
    (tmp_path / "f").write_text("x")
    one_error_line(invoke("batch", str(clips[0]), "--out", str(tmp_path / "f")),  # old name
                   "is a file")


def test_outputs_are_readable_videos(tmp_path, clips):
    report = fake(tmp_path, clips[:1], settings=ReadSettings(video=True))
    name = report.results[0].output.replace(".jsonl", ".mp4")
    frames, fps = read_video(tmp_path / "out" / name)
    assert len(frames) == 6 and fps == pytest.approx(10)
    assert not np.array_equal(frames[0], read_video(clips[0])[0][0])  # boxes drawn
