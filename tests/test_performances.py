"""Corpus performances: long takes whose segments tile them, gaits that keep going, chains joined without a jump."""

from __future__ import annotations

import numpy as np
import pytest

from syncmotion.motion.skeleton import FOOT_JOINTS, PARENTS
from syncmotion_lab.corpus import FPS
from syncmotion_lab.corpus.performance import KINDS, corpus_performance, generate_performance
from syncmotion_lab.corpus.texts import TEMPLATES


def _stretch_speeds(positions: np.ndarray, seconds: float = 2.0) -> np.ndarray:
    speed = np.linalg.norm(np.diff(positions[:, 0, [0, 2]], axis=0), axis=-1) * FPS
    size = int(seconds * FPS)
    return speed[:len(speed) // size * size].reshape(-1, size).mean(1)


@pytest.mark.parametrize("kind", KINDS)
def test_segments_tile_the_take_and_the_body_stays_rigid_and_grounded(kind: str) -> None:
    for seed in range(3):
        performance = generate_performance(np.random.default_rng(seed), kind=kind, seconds=20.0)
        p = performance.positions.astype(np.float64)
        assert performance.kind == kind and np.isfinite(p).all() and len(p) >= 15 * FPS
        edges = [(s.start, s.end) for s in performance.segments]
        assert edges[0][0] == 0 and edges[-1][1] == len(p)
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(edges, edges[1:]))
        bones = np.linalg.norm(p[:, 1:] - p[:, list(PARENTS[1:])], axis=-1)
        assert (bones.std(0) < 2e-3).all(), "one person, bones of one length throughout"
        assert abs(p[:, FOOT_JOINTS, 1].min()) < 1e-5
        labels = performance.frame_labels()
        assert labels.shape == (len(p),) and labels[0] == 0 and labels[-1] == len(edges) - 1


def test_long_gaits_keep_their_pace_without_stopping() -> None:
    for seed in range(6):
        performance = generate_performance(np.random.default_rng(seed), kind="gait", seconds=40.0)
        inside = _stretch_speeds(performance.positions)[1:-1]
        segment_speeds = [s.params["speed"] for s in performance.segments]
        # Never slower than half the slowest asked-for speed between the first and the last stretch: no stop.
        assert inside.min() > 0.5 * min(segment_speeds), (seed, inside, segment_speeds)


def test_a_steady_walk_stretch_is_steady() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        performance = generate_performance(rng, kind="gait", seconds=30.0)
        if len(performance.segments) == 1:
            break
    inside = _stretch_speeds(performance.positions)[1:-1]
    assert inside.std() / inside.mean() < 0.05


def test_chained_clips_join_without_a_jump() -> None:
    for seed in range(6):
        performance = generate_performance(np.random.default_rng(seed), kind="chain", seconds=30.0)
        assert len(performance.segments) >= 2
        step = np.linalg.norm(np.diff(performance.positions, axis=0), axis=-1).max(1)
        for segment in performance.segments[1:]:
            joint = step[segment.start - 2:segment.start + 2]
            neighbours = np.concatenate([step[segment.start - 8:segment.start - 2], step[segment.start + 2:segment.start + 8]])
            # The blend between the two clips' poses moves no joint faster than the clips themselves do around it.
            assert joint.max() <= neighbours.max() + 0.005, (seed, segment.action, joint, neighbours)


def test_texts_come_from_the_split_asked_for() -> None:
    heldout = {template.split("{")[0] for templates in TEMPLATES.values() for template in templates[1]}
    for seed in range(5):
        train = generate_performance(np.random.default_rng(seed), "train")
        assert train.segments and all(s.text for s in train.segments)
    performance = generate_performance(np.random.default_rng(0), "heldout", kind="steady")
    assert any(performance.segments[0].text.startswith(prefix.strip()) for prefix in heldout if prefix.strip())


def test_performances_are_reproducible_by_index_and_bad_requests_are_refused() -> None:
    a, b = corpus_performance(0, 3), corpus_performance(0, 3)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert [s.text for s in a.segments] == [s.text for s in b.segments]
    with pytest.raises(ValueError, match="unknown performance kind"):
        generate_performance(np.random.default_rng(0), kind="dance")
    with pytest.raises(ValueError, match="lasts 4 to 60 s"):
        generate_performance(np.random.default_rng(0), seconds=90.0)
    with pytest.raises(ValueError, match="unknown split"):
        generate_performance(np.random.default_rng(0), "test")


def test_a_script_is_performed_segment_by_segment_in_order() -> None:
    from syncmotion_lab.corpus.performance import perform

    plan = [{"action": "walk", "params": {"speed": 1.0}, "seconds": 12.0},
            {"action": "run", "params": {"speed": 2.5}, "seconds": 10.0},
            {"action": "march", "params": {"tempo": 1.8, "lift": 0.3}, "seconds": 15.0},
            {"action": "wave", "params": {"hand": "right", "count": 3, "height": 0.5}, "seconds": 3.0}]
    performance = perform(plan, np.random.default_rng(0))
    assert [s.action for s in performance.segments] == ["walk", "run", "march", "wave"]
    lengths = [(s.end - s.start) / FPS for s in performance.segments]
    # Walk and run are one take, cut where the plan changes pace; the march is held as long as asked.
    assert abs(lengths[0] - 12.0) < 1.5 and abs(lengths[1] - 10.0) < 1.5 and abs(lengths[2] - 15.0) < 2.0
    run = performance.segments[1]
    speeds = _stretch_speeds(performance.positions[run.start:run.end], 1.0)
    assert np.median(speeds) > 2.0
