"""`pip install .` (not editable) gives a `livedigits` that reads with its shipped model from any
folder. The fresh venv borrows this environment's dependencies through a .pth line, so the
test downloads nothing (no TensorFlow), and is built from a copy of the project's files."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import cv2

from tests.conftest import ROOT, page

PROJECT_FILES = ("setup.cfg", "pyproject.toml", "README.md", "livedigits", "models")


def test_pip_install_reads_from_another_folder(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in PROJECT_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, src / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.check_output(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        text=True).strip())
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    res = subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps",
                          "--no-build-isolation", "--no-index", str(src)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    shutil.rmtree(src)  # the installed package must not lean on the source tree

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cv2.imwrite(str(elsewhere / "photo.png"), page())
    res = subprocess.run([venv / "bin" / "livedigits", "run", "photo.png", "--no-display",
                          "--json", "read.jsonl"], cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    record = json.loads((elsewhere / "read.jsonl").read_text())
    assert sorted(d["digit"] for d in record["detections"]) == [3, 7]
    assert "photo.png: 73" in res.stdout  # in reading order
    where = subprocess.check_output(
        [venv / "bin" / "python", "-c",
         "import livedigits.classify as c; print(c.DEFAULT_EXPORT)"],
        cwd=elsewhere, env=env, text=True).strip()
    assert where.startswith(str(site)) and Path(where).is_file()
