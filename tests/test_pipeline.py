import cv2
import numpy as np
import pytest

from livedigits.detect import DetectorSettings
from livedigits.detections import Detections
from livedigits.numbers import line_angles, page_tilt
from livedigits.pipeline import Pipeline, PipelineSettings, detect_page, detect_scaled, level
from livedigits.preprocess import make_crops, upright
from tests.conftest import FakeClassifier, page

ROW = (("2", 80, 220), ("0", 150, 220), ("2", 220, 220), ("1", 290, 220))


def test_one_batched_call_per_frame_and_none_for_empty_frames():
    fake = FakeClassifier(digit=4)
    p = Pipeline(fake, PipelineSettings(track=False))
    result = p.process(page(digits=ROW))
    assert fake.calls == [4]
    assert result.detections.digit.tolist() == [4, 4, 4, 4]
    assert [n.text for n in result.numbers] == ["4444"]
    p.process(np.full((480, 640), 220, np.uint8))
    assert fake.calls == [4]  # nothing to read: no model call at all


@pytest.mark.parametrize("digit, confidence, kept", [
    (3, 0.99, 4), (3, 0.3, 0), (10, 0.99, 0)])
def test_rejected_and_unsure_crops_are_dropped(digit, confidence, kept):
    p = Pipeline(FakeClassifier(digit, confidence), PipelineSettings(track=False))
    assert len(p.process(page(digits=ROW)).detections) == kept


def test_stages_are_timed():
    result = Pipeline(FakeClassifier(), PipelineSettings(track=False)).process(page(digits=ROW))
    assert {"detect", "preprocess", "infer", "track", "numbers"} <= set(result.stages_ms)
    assert all(v >= 0 for v in result.stages_ms.values())


def test_tracking_confirms_before_reporting():
    p = Pipeline(FakeClassifier(5), PipelineSettings(track=True, min_hits=2))
    img = page(digits=ROW)
    first, second = p.process(img, 0), p.process(img, 1)
    assert len(first.detections) == 0 and len(second.detections) == 4
    assert (second.detections.track_id >= 0).all()


def test_upright_turns_a_tilted_stroke_back():
    mask = np.zeros((100, 100), np.uint8)
    cv2.line(mask, (20, 20), (80, 62), 255, 5)  # a bar tilted 35 degrees, like its row
    turned = upright(mask, 35.0)
    ys, xs = np.nonzero(turned)
    assert np.ptp(ys) < 0.3 * np.ptp(xs)  # now nearly horizontal
    assert upright(mask, 3.0) is mask and upright(mask, 80.0) is mask


def test_make_crops_shapes():
    masks = [np.full((30, 10), 255, np.uint8), np.full((10, 30), 255, np.uint8)]
    crops = make_crops(masks, np.zeros(2))
    assert crops.shape == (2, 28, 28) and crops.max() == 255


def test_to_json_schema():
    from livedigits.detections import FrameResult, Number

    det = Detections(np.array([[10, 20, 30, 60]]), digit=[7], confidence=[0.91], track_id=[3])
    js = FrameResult(4, 0.5, det, [Number("7", (10, 20, 30, 60), [0])]).to_json()
    assert js == {"frame": 4, "time": 0.5,
                  "detections": [{"box": [10, 20, 20, 40], "digit": 7, "confidence": 0.91,
                                  "track": 3}],
                  "numbers": [{"text": "7", "box": [10, 20, 20, 40]}]}


@pytest.mark.parametrize("whole_ok, expect", [
    (True, [True, True, False, False]),    # read as one wide digit: the pieces go
    (False, [True, False, True, True]),    # rejected whole: two digits that touch
])
def test_resolve_splits(whole_ok, expect):
    from livedigits.pipeline import resolve_splits

    split = np.array([-1, 2, 2, 2])
    whole = np.array([False, True, False, False])
    accepted = np.array([True, whole_ok, True, True])
    assert resolve_splits(split, whole, accepted).tolist() == expect


@pytest.mark.parametrize("second, expect", [
    # the first way cut through the 4 ("not a digit" and a 4), the second beside the 1
    ([True, True], [False, False, False, True, True]),
    # the second way reads one piece only: a sliver read as a 1 never wins
    ([True, False], [False, False, True, False, False]),
])
def test_resolve_splits_takes_the_way_of_cutting_the_model_reads_best(second, expect):
    from livedigits.pipeline import resolve_splits

    split = np.array([5, 5, 5, 5, 5])
    whole = np.array([True, False, False, False, False])
    cut = np.array([-1, 0, 0, 1, 1])
    accepted = np.array([False, False, True, *second])
    assert resolve_splits(split, whole, accepted, cut).tolist() == expect


def test_resolve_splits_keeps_the_first_way_when_the_second_reads_no_more_digits():
    from livedigits.pipeline import resolve_splits

    split, whole = np.array([1, 1, 1, 1, 1]), np.array([True, False, False, False, False])
    cut = np.array([-1, 0, 0, 1, 1])
    accepted = np.array([False, True, True, True, True])  # both ways read two digits
    assert resolve_splits(split, whole, accepted, cut).tolist() == [
        False, True, True, False, False]


def test_finish_leaves_the_prepared_frame_as_it_was():
    p = Pipeline(FakeClassifier(4), PipelineSettings(track=False))
    prepared = p.prepare(page(digits=ROW))
    before = prepared.detections.digit.copy()
    result = p.finish(prepared)
    assert (prepared.detections.digit == before).all() and (before == -1).all()
    assert result.detections.digit.tolist() == [4, 4, 4, 4]


def test_each_read_digit_keeps_its_own_crop():
    result = Pipeline(FakeClassifier(), PipelineSettings(track=False)).process(page(digits=ROW))
    raw = result.raw
    assert raw.data["crop"].shape == (len(raw), 28, 28) and len(raw.data["mask"]) == len(raw)
    for (x0, y0, x1, y1), mask in zip(raw.xyxy, raw.data["mask"], strict=True):
        assert mask.shape == (y1 - y0, x1 - x0)


def test_detections_data_is_sliced_with_the_rows():
    d = Detections(np.array([[0, 0, 10, 20], [30, 0, 40, 20], [50, 0, 60, 20]]),
                   digit=[7, 1, 4]).with_data(crop=np.arange(3) * 10, name=["a", "b", "c"])
    kept = d[np.array([True, False, True])]
    assert kept.data["crop"].tolist() == [0, 20] and kept.data["name"] == ["a", "c"]
    assert d[1].data["name"] == ["b"] and d[::2].digit.tolist() == [7, 4]
    with pytest.raises(ValueError):
        Detections(np.zeros((2, 4)), data={"crop": [1]})


def _many(n: int) -> tuple:
    return tuple((str(i % 10), 40 + 60 * (i % 10), 60 + 70 * (i // 10)) for i in range(n))


def test_settled_digits_are_reread_in_turn_within_the_budget():
    img = page(size=(480, 680), digits=_many(30), scale=1.6)
    fake = FakeClassifier(digit=4)
    p = Pipeline(fake, PipelineSettings(read_budget=5))
    everyone = Pipeline(FakeClassifier(digit=4), PipelineSettings(read_budget=None))
    for k in range(20):
        a, b = p.process(img, k), everyone.process(img, k)
        assert a.detections.track_id.tolist() == b.detections.track_id.tolist()
        assert a.detections.digit.tolist() == b.detections.digit.tolist()
    n = fake.calls[0]
    assert n >= 25 and fake.calls[:5] == [n] * 5  # every digit read until settled
    assert fake.calls[-10:] == [5] * 10  # then the budget, in turn
    assert len(a.detections) == n


def test_no_budget_for_stills():
    fake = FakeClassifier(digit=4)
    p = Pipeline(fake, PipelineSettings(track=False, read_budget=1))
    for k in range(8):
        p.process(page(digits=ROW), k)
    assert fake.calls == [4] * 8


def _steep_rows(tilt=38.0, size=(640, 640)):
    """A page of three rows of printed digits written in touching pairs ("40 06 28 ..."),
    turned so its rows slope down `tilt` degrees; and each digit's centre on it."""
    sheet = np.full(size, 225, np.uint8)
    centres = []
    for r, text in enumerate(("4006280887", "1380889536", "0736854407")):
        y = 200 + 70 * r
        for k, ch in enumerate(text):
            x = 100 + 19 * k + 8 * (k // 2)  # pairs touch; a small gap between pairs
            cv2.putText(sheet, ch, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.1, 30, 3)
            centres.append((x + 12, y - 15))
    m = cv2.getRotationMatrix2D((size[1] / 2, size[0] / 2), -tilt, 1.0)
    turned = cv2.warpAffine(sheet, m, size[::-1], borderValue=225)
    return turned, np.array(centres) @ m[:, :2].T + m[:, 2]


def _hit(xyxy, centres, tol=6.0):
    """Which centres have a box centred within `tol` px of them."""
    mid = (xyxy[:, :2] + xyxy[:, 2:]) / 2.0
    return np.hypot(*(centres[:, None] - mid[None]).transpose(2, 0, 1)).min(axis=1) < tol


def test_a_page_with_steep_rows_is_levelled_so_touching_digits_are_cut_between_them():
    img, centres = _steep_rows()
    s = DetectorSettings()
    assert np.mean(_hit(detect_scaled(img, s, 2000).detections.xyxy, centres)) < 0.5  # upright cuts
    blobs, angles = detect_page(img, s, 2000)
    det = blobs.detections
    assert np.mean(_hit(det.xyxy, centres)) >= 0.8
    assert np.abs(angles).max() < 8.0  # the masks are upright already: not turned again
    # Boxes come back in the image's pixels, each holding its own (tilted) ink.
    ink = img < 128
    assert all(ink[y0:y1, x0:x1].any() for x0, y0, x1, y1 in det.xyxy)
    assert (det.xyxy[:, 2:] <= img.shape[::-1]).all() and (det.xyxy >= 0).all()


def test_an_upright_or_slightly_tilted_page_is_read_as_it_is():
    for tilt in (0.0, 10.0):
        img, _ = _steep_rows(tilt)
        s = DetectorSettings()
        plain = detect_scaled(img, s, 2000).detections
        blobs, angles = detect_page(img, s, 2000)
        assert blobs.detections.xyxy.tolist() == plain.xyxy.tolist()
        assert angles.tolist() == line_angles(plain).tolist()


def test_level_maps_back_to_the_image():
    img = np.zeros((100, 200), np.uint8)
    img[30, 50] = 255
    turned, back = level(img, 40.0)
    assert turned.shape[0] > 100 and turned.shape[1] > 150  # the whole image fits
    y, x = np.unravel_index(int(np.argmax(turned)), turned.shape)
    assert np.allclose(back @ [x, y, 1.0], [50, 30], atol=1.0)


def test_small_digits_on_a_steep_page_are_not_lost_to_the_larger_levelled_canvas():
    # Digits 14 px tall on a 1280 x 960 frame, just above the least height for that frame;
    # the levelled canvas is taller, but the least height stays the frame's.
    sheet = np.full((960, 1280), 225, np.uint8)
    for r in range(3):
        for k in range(8):
            cv2.putText(sheet, str((k + r) % 10), (500 + 19 * k, 400 + 45 * r),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.65, 30, 2)
    s = DetectorSettings()
    upright = len(detect_scaled(sheet, s, 2000).detections)
    m = cv2.getRotationMatrix2D((640, 480), -38, 1.0)
    blobs, _ = detect_page(cv2.warpAffine(sheet, m, (1280, 960), borderValue=225), s, 2000)
    assert upright >= 18 and len(blobs.detections) >= 0.9 * upright


def _wood(rng, size, base, lines, shade):
    """A frame of wood grain: `lines` darker streaks (grey levels `shade`) on grey `base`,
    running in a random direction."""
    h, w = size
    wood = np.full((2 * h, 2 * w), base, np.uint8)
    for y in rng.integers(0, 2 * h, lines).tolist():
        cv2.line(wood, (0, y), (2 * w, y + int(rng.integers(-60, 60))),
                 int(rng.integers(*shade)), int(rng.integers(1, 4)))
    turn = cv2.getRotationMatrix2D((w, h), float(rng.uniform(-90, 90)), 1.0)
    return cv2.warpAffine(wood, turn, (2 * w, 2 * h))[h // 2:h // 2 + h, w // 2:w // 2 + w].copy()


def _grained_board(seed, tilt, size=(720, 1280)):
    """Three rows of printed digits turned `tilt` degrees on a light board whose wood grain
    runs in a random direction and fills the frame (no sheet to find)."""
    rng = np.random.default_rng(seed)
    h, w = size
    img = _wood(rng, size, 180, 200, (110, 160))
    ink = np.zeros(size, np.uint8)
    for r in range(3):
        for k in range(8):
            cv2.putText(ink, str((3 * k + r) % 10), (w // 2 - 200 + 50 * k, h // 2 - 60 + 80 * r),
                        cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 4)
    ink = cv2.warpAffine(ink, cv2.getRotationMatrix2D((w / 2, h / 2), -tilt, 1.0), (w, h))
    img[ink > 127] = 30
    return img


@pytest.mark.parametrize("seed, tilt", [(2, 25.0), (5, 40.0)])
def test_nothing_is_found_in_the_corners_the_levelling_turn_uncovers(seed, tilt):
    # The levelled canvas repeats the frame's edge into its corners: grain crossing the edge
    # is drawn out there into marks that lie outside the frame (once clipped, boxes of no size).
    img = _grained_board(seed, tilt)
    assert abs(page_tilt(detect_scaled(img, DetectorSettings(), 2000).detections)) >= 15.0
    det = detect_page(img, DetectorSettings(), 2000)[0].detections
    assert len(det) > 0
    assert (det.xyxy[:, 2:] > det.xyxy[:, :2]).all(), det.xyxy.tolist()
    assert (det.xyxy >= 0).all() and (det.xyxy[:, 2:] <= img.shape[::-1]).all()


def _sheet_on_grain(seed, tilt, share, size=(720, 1280)):
    """Three rows of printed digits on a sheet turned `tilt` degrees, covering `share` of a
    frame of dark wood grain that runs in a random direction; and which pixels are the sheet."""
    rng = np.random.default_rng(seed)
    h, w = size
    wood = _wood(rng, size, 90, 150, (40, 80))
    sh, sw = int(np.sqrt(share * h * w / 1.6)), int(np.sqrt(share * h * w * 1.6))
    sheet = np.full((sh, sw), 225, np.uint8)
    for r in range(3):
        for k in range(8):
            at = (sw // 8 + sw // 14 * k, sh // 3 + sh // 5 * r)
            cv2.putText(sheet, str((3 * k + r) % 10), at, cv2.FONT_HERSHEY_SIMPLEX, sh / 300, 30,
                        max(2, sh // 120))
    m = cv2.getRotationMatrix2D((sw / 2, sh / 2), -tilt, 1.0)
    m[:, 2] += (w - sw) / 2, (h - sh) / 2
    on = cv2.warpAffine(np.full((sh, sw), 255, np.uint8), m, (w, h)) > 127
    return np.where(on, cv2.warpAffine(sheet, m, (w, h)), wood), on


@pytest.mark.parametrize("seed, tilt, share", [(0, 40.0, 0.15), (4, 40.0, 0.6), (0, 25.0, 0.6)])
def test_a_steep_sheet_on_a_desk_is_read_inside_the_sheet_once_levelled(seed, tilt, share):
    # The levelled canvas is larger than the frame and repeats its edge into the corners: the
    # sheet may no longer stand out on it, and the desk's grain would be read.
    img, on = _sheet_on_grain(seed, tilt, share)
    s = DetectorSettings()
    upright = detect_scaled(img, s, 2000)
    assert upright.sheet is not None and page_tilt(upright.detections) >= 15.0
    blobs = detect_page(img, s, 2000)[0]
    x, y = np.minimum(blobs.detections.centers.astype(int), [img.shape[1] - 1, img.shape[0] - 1]).T
    assert on[y, x].all(), blobs.detections.xyxy[~on[y, x]].tolist()
    assert (blobs.detections.data["split"] < 0).sum() >= 20  # the 24 digits stand apart
    assert blobs.sheet is not None


def test_a_large_steep_photo_is_levelled_on_a_copy_the_size_it_is_read_at(monkeypatch):
    import livedigits.pipeline as pipeline

    sizes = []

    def spy(image, tilt):
        sizes.append(image.shape[:2])
        return level(image, tilt)

    monkeypatch.setattr(pipeline, "level", spy)
    img, centres = _steep_rows()
    big = cv2.resize(img, (2560, 2560), interpolation=cv2.INTER_LINEAR)
    det = detect_page(big, DetectorSettings(), 1000)[0].detections
    assert sizes and max(max(s) for s in sizes) <= 1000  # not the full 2560 px
    # Boxes still come back in the photo's pixels, centred on its digits.
    assert np.mean(_hit(det.xyxy, centres * 4.0, tol=24.0)) >= 0.8
    assert (det.xyxy >= 0).all() and (det.xyxy[:, 2:] <= 2560).all()
