import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livedigits.detections import Detections
from livedigits.track import Tracker


def frame(boxes, digits=None, confs=None) -> Detections:
    n = len(boxes)
    return Detections(np.array(boxes, np.int32).reshape(-1, 4),
                      digit=[7] * n if digits is None else digits,
                      confidence=[0.9] * n if confs is None else confs)


def box(x, y, w=20, h=40):
    return [round(x), round(y), round(x) + w, round(y) + h]


@pytest.mark.parametrize("digits, confs, expected", [
    ([7, 7, 1, 7, 7], [0.9] * 5, [7, 7, 7, 7]),  # a flicker is outvoted
    ([1, 7, 7, 7], [0.95, 0.4, 0.4, 0.4], [1, 1, 7]),  # weighted: 0.8 < 0.95 < 1.2
    ([3, 5, 5, 3, 3], [0.9] * 5, [5, 5, 3, 3]),  # equal weight: the newest label wins
])
def test_label_votes(digits, confs, expected):
    t = Tracker(min_hits=2)
    out = [t.update(frame([box(100, 100)], [d], [c])) for d, c in zip(digits, confs, strict=True)]
    assert [o.digit.tolist() for o in out] == [[]] + [[e] for e in expected]
    assert len({int(o.track_id[0]) for o in out[1:]}) == 1


def test_vote_support_is_winning_weight_over_readings():
    t = Tracker(min_hits=1, window=4)
    for d in [7, 7, 1, 7]:
        out = t.update(frame([box(10, 10)], [d], [0.8]))
    assert out.confidence[0] == pytest.approx(3 * 0.8 / 4)
    for _ in range(4):  # the window forgets the 1
        out = t.update(frame([box(10, 10)], [7], [0.8]))
    assert out.confidence[0] == pytest.approx(0.8)


@pytest.mark.parametrize("max_age", [1, 3, 5])
def test_a_vanished_track_is_dropped_after_max_age(max_age):
    t = Tracker(max_age=max_age, min_hits=1)
    first = t.update(frame([box(100, 100)])).track_id[0]
    for _ in range(max_age - 1):
        assert len(t.update(Detections.empty())) == 0
    assert len(t) == 1
    assert t.update(frame([box(100, 100)])).track_id[0] == first  # back in time: same id
    for _ in range(max_age):
        t.update(Detections.empty())
    assert len(t) == 0
    assert t.update(frame([box(100, 100)])).track_id[0] > first  # too late: a new track


@pytest.mark.parametrize("min_hits", [1, 2, 4])
def test_confirmed_after_min_hits(min_hits):
    t = Tracker(min_hits=min_hits)
    sizes = [len(t.update(frame([box(50, 50), box(150, 50)]))) for _ in range(min_hits + 2)]
    assert sizes == [0] * (min_hits - 1) + [2, 2, 2]


@pytest.mark.parametrize("n, step, speed", [
    (1, 0, 0.0), (1, 0, 3.0), (1, 0, 15.0), (1, 0, 25.0),  # 25 px/frame: no overlap at all
    (4, 30, 2.0), (4, 30, 8.0), (4, 30, -12.0),  # a row of neighbours panning
])
def test_ids_stay_stable_while_the_camera_moves(n, step, speed):
    t = Tracker(min_hits=2)
    rng = np.random.default_rng(0)
    ids = None
    for k in range(60):
        jitter = rng.integers(-1, 2, 2)
        boxes = [box(200 + i * step + speed * k + jitter[0], 100 + 0.3 * speed * k + jitter[1])
                 for i in range(n)]
        out = t.update(frame(boxes))
        if k == 0:
            continue
        order = np.argsort(out.xyxy[:, 0])
        if ids is None:
            ids = out.track_id[order].tolist()
        assert out.track_id[order].tolist() == ids
        # the smoothed box keeps up with the motion
        assert np.abs(out.xyxy[order] - np.array(boxes)).max() <= 3 + abs(speed) * (k < 10)
    assert len(t) == n


@pytest.mark.parametrize("dy", [0, 20, 45])
def test_crossing_boxes_keep_their_ids(dy):
    t = Tracker(min_hits=2)
    seen = []
    for k in range(40):
        a, b = box(100 + 5 * k, 100), box(300 - 5 * k, 100 + dy)
        out = t.update(frame([a, b], [1, 2]))
        if len(out):
            seen.append(dict(zip(out.track_id.tolist(), out.digit.tolist(), strict=True)))
    assert len(seen) == 39 and all(s == seen[0] for s in seen)
    assert sorted(seen[0].values()) == [1, 2]


def test_memory_is_bounded_under_random_detections():
    t = Tracker(max_age=5, min_hits=2, window=15)
    rng = np.random.default_rng(1)
    last_id = -1
    for _ in range(10_000):
        n = int(rng.integers(0, 8))
        xy = rng.integers(0, 600, (n, 2))
        wh = rng.integers(0, 60, (n, 2))
        out = t.update(frame(np.c_[xy, xy + wh], rng.integers(0, 11, n).tolist(),
                             rng.random(n).tolist()))
        assert len(t) <= 5 * 7 + 7
        if len(out):
            last_id = max(last_id, int(out.track_id.max()))
    assert all(len(tr.votes) <= 15 for tr in t.tracks)
    assert last_id > 1000  # ids keep increasing, never reused


def test_reset_and_empty_frames():
    t = Tracker(min_hits=1)
    first = t.update(frame([box(0, 0)]))
    out = t.update(Detections.empty())
    assert len(out) == 0 and out.xyxy.shape == (0, 4)
    t.reset()
    assert len(t) == 0
    assert t.update(frame([box(0, 0)])).track_id[0] > first.track_id[0]


def test_input_is_left_alone():
    t = Tracker(min_hits=1)
    det = frame([box(10, 10), box(100, 10)], [3, 4])
    t.update(det)
    out = t.update(det)
    assert det.track_id.tolist() == [-1, -1] and out.track_id.tolist() == [0, 1]


@pytest.mark.parametrize("kwargs", [{"max_age": 0}, {"min_hits": 0}, {"window": 0}])
def test_bad_settings(kwargs):
    with pytest.raises(ValueError):
        Tracker(**kwargs)


boxes_st = st.lists(
    st.tuples(st.integers(-50, 700), st.integers(-50, 500), st.integers(0, 80),
              st.integers(0, 120), st.integers(-1, 10), st.floats(0, 1)),
    max_size=12)


@settings(max_examples=40, deadline=None)
@given(st.lists(boxes_st, min_size=1, max_size=12), st.integers(1, 4), st.integers(1, 3))
def test_update_returns_only_matched_confirmed_tracks(frames, min_hits, max_age):
    t = Tracker(max_age=max_age, min_hits=min_hits, window=4)
    for rows in frames:
        det = Detections(np.array([(x, y, x + w, y + h) for x, y, w, h, _, _ in rows],
                                  np.int32).reshape(-1, 4),
                         digit=[r[4] for r in rows], confidence=[r[5] for r in rows])
        out = t.update(det)
        live = {tr.id for tr in t.tracks if tr.misses == 0 and tr.hits >= min_hits}
        ids = out.track_id.tolist()
        assert len(ids) == len(set(ids)) == len(live) <= len(det)
        assert set(ids) == live
        assert ((out.confidence >= 0) & (out.confidence <= 1)).all()
        assert len(t) <= len(det) + max_age * 12


def _grid(n: int, dx: int = 0) -> Detections:
    """`n` digit boxes in a row, 40 px apart, shifted by dx."""
    boxes = [[10 + 40 * i + dx, 10, 40 + 40 * i + dx, 50] for i in range(n)]
    return Detections(boxes, digit=[i % 10 for i in range(n)], confidence=[0.99] * n)


def test_plan_reads_new_and_unsettled_boxes_and_rechecks_settled_ones_in_turn():
    from livedigits.track import SETTLE_READINGS

    t = Tracker(min_hits=2)
    det = _grid(10)
    plan = t.plan(det.xyxy, budget=3)
    assert plan.read.all() and plan.rechecks == 0  # no tracks yet: read everything
    for _ in range(SETTLE_READINGS):
        t.update(det)
    seen = np.zeros(10, int)
    for _ in range(8):
        plan = t.plan(det.xyxy, budget=3)
        assert plan.read.sum() == 3 and plan.rechecks == 3
        skipped = ~plan.read
        assert plan.digit[skipped].tolist() == det.digit[skipped].tolist()  # the tracks' vote
        assert (plan.confidence[skipped] > 0.9).all()
        seen += plan.read
        out = t.update(Detections(det.xyxy, digit=np.where(plan.read, det.digit, plan.digit),
                                  confidence=np.where(plan.read, det.confidence,
                                                      plan.confidence)), plan.read)
        assert out.digit.tolist() == det.digit.tolist()
    assert seen.min() >= 2  # in turn: every settled track re-read within ceil(10 / 3) frames
    assert all(len(tr.votes) == SETTLE_READINGS + s for tr, s in zip(t.tracks, seen,
                                                                       strict=True))


def test_plan_reads_every_box_of_an_unsettled_track():
    t = Tracker(min_hits=2)
    det = _grid(4)
    flicker = Detections(det.xyxy, digit=[9, 9, 9, 9], confidence=[0.99] * 4)
    for k in range(6):
        t.update(det if k % 2 else flicker)  # readings disagree: never settled
    plan = t.plan(det.xyxy, budget=0)
    assert plan.read.all()
    assert t.plan(det.xyxy, budget=0, eligible=np.zeros(4, bool)).read.all()


def test_plan_reads_a_settled_digit_whose_box_changed_shape():
    # A blob that merged a settled digit with part of its neighbour (or lost half of it) is
    # not that digit any more: its track's reading does not stand for it.
    from livedigits.track import SETTLE_READINGS

    t = Tracker(min_hits=2)
    det = _grid(4)
    for _ in range(SETTLE_READINGS):
        t.update(det)
    assert not t.plan(det.xyxy, budget=0).read.any()  # all settled, none read
    merged = det.xyxy.copy()
    merged[0, 2] = merged[0, 0] + 2.5 * (merged[0, 2] - merged[0, 0])  # 2.5x as wide
    plan = t.plan(merged, budget=0)
    assert plan.read.tolist() == [True, False, False, False]


def test_an_unread_row_moves_its_track_but_adds_no_vote():
    t = Tracker(min_hits=1)
    det = _grid(1)
    t.update(det)
    t.update(_grid(1, dx=4), read=np.array([False]))
    (track,) = t.tracks
    assert len(track.votes) == 1 and track.unread == 1 and track.last[0] == 14
