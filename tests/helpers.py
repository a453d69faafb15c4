"""Helpers shared by the test modules: run the CLI, read its JSON Lines, check its errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from livedigits.cli import main


def invoke(*args: str, classifier=None) -> Result:
    """`livedigits ARGS` in-process; `classifier` (if given) replaces the shipped model."""
    obj = {"classifier": classifier} if classifier is not None else None
    return CliRunner().invoke(main, list(args), obj=obj)


def invoke_run(*args: str, classifier=None) -> Result:
    """`livedigits run ARGS --no-display` in-process (see `invoke`)."""
    return invoke("run", *args, "--no-display", classifier=classifier)


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON Lines file, which must hold complete lines only."""
    text = Path(path).read_text() if Path(path).exists() else ""
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def one_error_line(res: Result, *words: str) -> None:
    """The run failed with exactly one `livedigits: error:` line naming each of `words`."""
    assert res.exit_code != 0
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("livedigits: error:"), res.output
    for w in words:
        assert w in lines[0]


def error_lines(err: str) -> list[str]:
    """The `livedigits: error` lines of a stderr that must hold no traceback."""
    assert "Traceback" not in err, err
    return [ln for ln in err.splitlines() if ln.startswith("livedigits: error")]
