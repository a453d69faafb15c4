"""The Python API on a sample image, a video and an array."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import livedigits
from livedigits.errors import UserError
from tests.conftest import MODEL, realworld_cases

REAL = realworld_cases()
SAMPLE = "samples/plain_480p.mp4"


@pytest.fixture(scope="module")
def reader():
    return livedigits.Reader(MODEL)


@pytest.mark.skipif(not REAL, reason="no ../shared/realworld/ beside the checkout")
def test_read_a_real_photo_by_path_and_as_an_array(reader):
    path, digits = REAL[0]
    r = reader.read(path)
    assert r.text.replace(" ", "") == digits
    assert len(r.digits) == len(digits)
    h, w = cv2.imread(str(path)).shape[:2]
    for d in r.digits:
        x, y, bw, bh = d.box
        assert 0 <= x < x + bw <= w and 0 <= y < y + bh <= h
        assert 0.6 <= d.confidence <= 1 and d.track is None
    # every digit of a number is one of the digits read, inside the number's box
    for n in r.numbers:
        assert "".join(str(d.digit) for d in n.digits) == n.text
        nx, ny, nw, nh = n.box
        for d in n.digits:
            assert nx <= d.box[0] and d.box[0] + d.box[2] <= nx + nw
    same = reader.read(cv2.imread(str(path)))
    assert same.text == r.text and same.name == "" and r.name == str(path)
    assert r.to_json()["file"] == path.name  # as run writes it: the name, no folder
    assert r.to_json()["size"] == [w, h] and r.text == r.result.text


def test_stream_gives_a_reading_per_frame_with_tracks(reader):
    frames = list(reader.stream(SAMPLE, max_frames=6))
    assert [f.frame for f in frames] == list(range(6))
    assert frames[0].digits == []  # a digit is reported from its second frame
    assert frames[-1].digits and all(d.track is not None for d in frames[-1].digits)
    assert frames[-1].text


def test_a_blank_array_reads_nothing_and_draw_keeps_the_size(reader):
    blank = np.full((120, 200), 230, np.uint8)
    r = reader.read(blank)
    assert r.digits == [] and r.numbers == [] and r.text == ""
    assert reader.draw(blank, r).shape == (120, 200, 3)


def test_user_mistakes_raise_one_line_user_errors(reader, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        reader.read(tmp_path / "missing.png")
    with pytest.raises(UserError, match="no such file"):
        next(reader.stream(tmp_path / "missing.mp4"))


def test_opencv_stays_quiet_when_the_user_loaded_it_first():
    """OpenCV read its log settings when the user's `import cv2` ran, before livedigits set
    them; the Reader silences it anyway, in a fresh interpreter as a user's program is."""
    import os
    import subprocess
    import sys

    code = ("import cv2, livedigits; livedigits.Reader(); "
            "print(cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_SILENT)")
    env = {k: v for k, v in os.environ.items()
           if k not in ("LIVEDIGITS_DEBUG", "OPENCV_LOG_LEVEL")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.strip() == "True", out.stderr


def test_an_empty_array_is_a_user_error_and_draw_takes_a_path(reader, tmp_path):
    for bad in (np.zeros((0, 0), np.uint8), np.zeros((5,), np.uint8)):
        with pytest.raises(UserError, match="not an image"):
            reader.read(bad)
    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), np.full((60, 80), 230, np.uint8))
    r = reader.read(path)
    assert reader.draw(path, r).shape == (60, 80, 3)


def test_stream_of_a_folder_warns_of_each_file_it_skips(reader, tmp_path):
    page = np.full((60, 80, 3), 230, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), page)
    (tmp_path / "b.png").write_bytes(b"not an image")
    cv2.imwrite(str(tmp_path / "c.png"), page)
    with pytest.warns(UserWarning, match="b.png") as caught:
        names = [r.name for r in reader.stream(tmp_path)]
    assert [n.rsplit("/", 1)[-1] for n in names] == ["a.png", "c.png"]
    assert len([w for w in caught if "skipped" in str(w.message)]) == 1
