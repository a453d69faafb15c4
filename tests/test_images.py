"""Reading pictures: alpha, 16-bit, huge photos, reading order, and folders of images."""

import json

import cv2
import numpy as np
import pytest

from livedigits.pipeline import Pipeline, PipelineSettings
from tests.conftest import FakeClassifier, page, realworld_cases
from tests.helpers import invoke_run as invoke

REAL = realworld_cases()


def last_reading(res) -> str:
    return res.stdout.strip().splitlines()[-1].split(": ", 1)[1]


@pytest.fixture(scope="module")
def real_frame():
    if not REAL:
        pytest.skip("no ../shared/realworld/ beside the checkout")
    path, digits = REAL[1]
    return cv2.imread(str(path)), digits


def test_rgba_with_transparent_background_reads_like_paper(tmp_path, real_frame):
    img, digits = real_frame
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    ink = (grey < 90).astype(np.uint8)
    rgba = np.zeros((*grey.shape, 4), np.uint8)  # black ink, and nothing but alpha elsewhere
    rgba[..., 3] = ink * 255
    path = tmp_path / "num.png"
    cv2.imwrite(str(path), rgba)
    res = invoke(str(path))
    assert res.exit_code == 0, res.output
    assert last_reading(res) == digits


def test_16_bit_image(tmp_path, real_frame):
    img, digits = real_frame
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    res = invoke(str(path))
    assert res.exit_code == 0 and last_reading(res) == digits


def test_large_photo_reports_boxes_in_original_pixels(tmp_path, real_frame):
    img, digits = real_frame
    big = cv2.resize(img, None, fx=7, fy=7, interpolation=cv2.INTER_CUBIC)  # 4480x3360
    path, js = tmp_path / "photo.jpg", tmp_path / "photo.jsonl"
    cv2.imwrite(str(path), big)
    res = invoke(str(path), "--json", str(js))
    assert res.exit_code == 0 and last_reading(res) == digits
    rec = json.loads(js.read_text())
    small = Pipeline(FakeClassifier(), PipelineSettings(track=False)).process(img)
    big_boxes = np.array(sorted(d["box"] for d in rec["detections"]))
    small_boxes = np.array(sorted(small.detections.xywh.tolist())) * 7
    assert big_boxes.shape == small_boxes.shape
    assert np.abs(big_boxes - small_boxes).max() <= 7 * 4


def test_reading_order_on_a_page_with_two_rows():
    img = page(size=(480, 640), digits=(("5", 300, 380), ("1", 100, 150), ("2", 170, 150),
                                        ("9", 370, 380), ("3", 500, 150)), scale=3)
    result = Pipeline(FakeClassifier(fn=lambda c: int(c.sum()) % 10),
                      PipelineSettings(track=False)).process(img)
    from livedigits.numbers import read_text, reading_order

    order = reading_order(result.detections)
    ys = result.detections.centers[order, 1]
    xs = result.detections.centers[order, 0]
    assert list(ys[:3] < 250) == [True] * 3 and list(ys[3:] > 250) == [True] * 2
    assert list(xs[:3]) == sorted(xs[:3]) and list(xs[3:]) == sorted(xs[3:])
    assert len(read_text(result.detections).split()) == 3  # "12", "3" and "59"


def test_folder_run_reads_every_file_and_reports_bad_ones(tmp_path, real_frame):
    img, digits = real_frame
    folder = tmp_path / "pages"
    folder.mkdir()
    for i in (1, 2, 10):
        cv2.imwrite(str(folder / f"page{i}.png"), img)
    (folder / "page3.png").write_text("not an image")
    js, out = tmp_path / "all.jsonl", tmp_path / "annotated"
    res = invoke(str(folder), "--json", str(js), "--output", str(out))
    assert res.exit_code == 1
    assert "page3.png" in res.stderr and "1 of 4 files" in res.stderr
    recs = [json.loads(line) for line in js.read_text().splitlines()]
    assert [r["file"] for r in recs] == ["page1.png", "page2.png", "page10.png"]
    assert all("".join(n["text"] for n in r["numbers"]) == digits for r in recs)
    assert sorted(p.name for p in out.iterdir()) == ["page1.png", "page10.png", "page2.png"]
