"""Procedural motion corpus: determinism, shapes, physical plausibility of the motions, texts."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from syncmotion.motion.skeleton import FOOT_JOINTS, PARENTS
from syncmotion_lab.corpus import ACTIONS, FPS, generate_clip, sample_clip, sample_params, texts
from syncmotion_lab.corpus.store import read_corpus
from syncmotion_lab.corpus.texts import TEMPLATES, describe, paraphrase

AIRBORNE = {"run", "jump_in_place", "jump_forward", "hop", "jumping_jacks"}
STEPPING = ("walk", "walk_backward", "walk_turn", "side_step", "turn", "march", "spin", "run")


def _clips(action: str, seeds: range = range(3)) -> list:
    return [generate_clip(action, None, np.random.default_rng(seed)) for seed in seeds]


def _bones(positions: np.ndarray) -> np.ndarray:
    return np.linalg.norm(positions[:, 1:] - positions[:, list(PARENTS[1:])], axis=-1)


def test_at_least_24_actions() -> None:
    assert len(ACTIONS) >= 24


def test_same_seed_same_clip_and_other_seed_differs() -> None:
    a = sample_clip(np.random.default_rng(7))
    b = sample_clip(np.random.default_rng(7))
    c = generate_clip(a.action, None, np.random.default_rng(8))
    assert a.action == b.action and a.text == b.text and a.params == b.params
    np.testing.assert_array_equal(a.positions, b.positions)
    assert c.positions.shape != a.positions.shape or not np.allclose(c.positions, a.positions)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_is_finite_grounded_rigid_and_still_at_the_ends(action: str) -> None:
    for clip in _clips(action):
        p = clip.positions.astype(np.float64)
        assert p.dtype == np.float64 and clip.positions.dtype == np.float32
        assert p.ndim == 3 and p.shape[1:] == (22, 3) and 40 <= len(p) <= 196
        assert np.isfinite(p).all()
        lowest_foot = p[:, FOOT_JOINTS, 1].min(1)
        assert abs(lowest_foot.min()) < 1e-5, "the lowest foot must touch the floor"
        assert p[:, :, 1].min() > -0.02, "no joint may sink into the floor"
        if action not in AIRBORNE:
            assert lowest_foot.max() < 0.03, "some foot must stay on the floor"
        bones = _bones(p)
        assert (bones.std(0) < 1e-4).all(), "bone lengths must not change over time"
        speed = np.linalg.norm(np.diff(p, axis=0), axis=-1) * FPS
        assert speed[:3].max() < 0.05 and speed[-3:].max() < 0.05, "clips start and end at rest"
        # Starts at a neutral stand facing +z: the head above the pelvis, the toes ahead of the ankles.
        assert p[0, 15, 1] > p[0, 0, 1] + 0.4
        assert (p[0, [10, 11], 2] > p[0, [7, 8], 2]).all()


@pytest.mark.parametrize("action", STEPPING)
def test_planted_feet_do_not_slide(action: str) -> None:
    for clip in _clips(action):
        ankles = clip.positions[:, [7, 8]].astype(np.float64)
        planted = ankles[:, :, 1] < ankles[:, :, 1].min() + 0.01
        planted = planted[1:] & planted[:-1]
        speed = np.linalg.norm(np.diff(ankles[:, :, [0, 2]], axis=0), axis=-1) * FPS
        assert planted.any()
        assert speed[planted].mean() < 0.03 and np.percentile(speed[planted], 95) < 0.1


def test_walks_go_the_way_they_say() -> None:
    forward = generate_clip("walk", {"speed": 1.2, "seconds": 5.0}, np.random.default_rng(0)).positions
    backward = generate_clip("walk_backward", None, np.random.default_rng(0)).positions
    left = generate_clip("side_step", {"direction": "left", "count": 3}, np.random.default_rng(0)).positions
    turn = generate_clip("turn", {"direction": "left", "angle": 90.0}, np.random.default_rng(0)).positions
    assert forward[-1, 0, 2] - forward[0, 0, 2] > 2.0
    assert backward[-1, 0, 2] - backward[0, 0, 2] < -0.5
    assert left[-1, 0, 0] - left[0, 0, 0] > 0.5  # +x is the body's left
    across = turn[-1, 1] - turn[-1, 2]  # right hip -> left hip; facing +x after a left quarter turn
    assert abs(across[2]) > 0.1 and across[2] < 0  # left hip now toward -z
    fast = generate_clip("walk", {"speed": 1.6, "seconds": 6.0}, np.random.default_rng(1)).positions
    slow = generate_clip("walk", {"speed": 0.6, "seconds": 6.0}, np.random.default_rng(1)).positions
    assert (fast[-1, 0, 2] - fast[0, 0, 2]) / len(fast) > 1.5 * (slow[-1, 0, 2] - slow[0, 0, 2]) / len(slow)


def test_knees_bend_forward_in_a_squat() -> None:
    p = generate_clip("squat", {"count": 1, "depth": 0.4}, np.random.default_rng(0)).positions
    deepest = p[:, 0, 1].argmin()
    assert p[0, 0, 1] - p[deepest, 0, 1] > 0.3
    for hip, knee, ankle in ((1, 4, 7), (2, 5, 8)):
        assert p[deepest, knee, 2] > p[deepest, hip, 2] and p[deepest, knee, 2] > p[deepest, ankle, 2]


def test_hand_and_count_parameters_show_in_the_motion() -> None:
    left = generate_clip("wave", {"hand": "left", "count": 3}, np.random.default_rng(0)).positions
    right = generate_clip("wave", {"hand": "right", "count": 3}, np.random.default_rng(0)).positions
    assert left[:, 20, 1].max() > left[:, 21, 1].max() + 0.3
    assert right[:, 21, 1].max() > right[:, 20, 1].max() + 0.3
    jumps = generate_clip("jump_in_place", {"count": 3, "height": 0.3}, np.random.default_rng(0)).positions
    airborne = jumps[:, FOOT_JOINTS, 1].min(1) > 0.1
    assert np.count_nonzero(np.diff(airborne.astype(int)) == 1) == 3


def test_heldout_paraphrases_never_appear_in_training() -> None:
    for action, (train, heldout) in TEMPLATES.items():
        assert action in ACTIONS and len(train) >= 5 and len(heldout) >= 2
        assert not set(train) & set(heldout)
    rng = np.random.default_rng(0)
    for _ in range(200):
        clip = sample_clip(rng, "heldout")
        assert clip.text in _all_fillings(clip.action, clip.params, "heldout")
        assert not set(texts(clip.action, clip.params, "train")) & set(texts(clip.action, clip.params, "heldout"))


# The stemmed words that the held-out paraphrases shared with the training ones when the held-out set was written.
# Training wordings added later must not bring in any other held-out word ("bounces", "genuflects", "figure"...),
# or the benchmark would no longer measure new wordings.
SHARED_WITH_HELDOUT = frozenset(
    "ahead all arm around back balanc bend both bow by circl clap curv doe feet foot forward four from get hand head "
    "high hop jack jump kick knee leg make move overhead place rais reach rise rotat run seat side sideway spot squat "
    "stand step stroll take then togeth turn wait walk wave way without".split())


def test_training_wordings_use_no_word_only_the_heldout_ones_use() -> None:
    from syncmotion.backends.text_prototypes import motion_words

    def stems(split: int) -> set[str]:
        return {word for train_heldout in TEMPLATES.values() for template in train_heldout[split]
                for word in motion_words(re.sub(r"\{\w+\}", " ", template))}

    assert stems(0) & stems(1) <= SHARED_WITH_HELDOUT
    assert {"figur", "genuflect", "bounc"} <= stems(1)


def _all_fillings(action: str, params: dict, split: str) -> set[str]:
    rng = np.random.default_rng(1)
    return {describe(action, params, split, rng) for _ in range(300)}


def test_texts_agree_with_parameters() -> None:
    rng = np.random.default_rng(0)
    slow = {describe("walk", {"speed": 0.65, "seconds": 4.0}, "eval", rng) for _ in range(200)}
    fast = {describe("walk", {"speed": 1.55, "seconds": 4.0}, "eval", rng) for _ in range(200)}
    assert not any("quick" in t or "brisk" in t or "fast" in t for t in slow)
    assert not any("slow" in t or "leisurely" in t for t in fast)
    waves = {describe("wave", {"hand": "left", "count": 2, "height": 0.5}, "train", rng) for _ in range(100)}
    assert not any("right" in t for t in waves) and any("left" in t for t in waves)
    claps = {describe("clap", {"count": 2, "tempo": 1.0}, "train", rng) for _ in range(100)}
    assert not any("three" in t for t in claps) and any("twice" in t or "two" in t for t in claps)


def test_bad_input_is_refused_with_a_clear_message() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown action"):
        generate_clip("fly", None, rng)
    with pytest.raises(ValueError, match="no parameter"):
        generate_clip("walk", {"speedd": 1.0}, rng)
    with pytest.raises(ValueError, match="outside"):
        generate_clip("walk", {"speed": 9.0}, rng)
    with pytest.raises(ValueError, match="not one of"):
        generate_clip("wave", {"hand": "middle"}, rng)
    with pytest.raises(ValueError, match="split"):
        sample_clip(rng, "test")


def test_make_corpus_writes_a_ragged_npz(tmp_path) -> None:
    out = tmp_path / "corpus.npz"
    result = subprocess.run([sys.executable, "tools/make_corpus.py", "--num", "12", "--seed", "3", "--out", str(out)],
                            capture_output=True, text=True, check=True)
    assert "clips/s" in result.stdout
    with np.load(out) as data:
        assert data["offsets"][-1] == len(data["positions"]) and len(data["offsets"]) == 13
    corpus = read_corpus(out)
    assert len(corpus) == len(corpus.texts) == len(corpus.actions) == len(corpus.params) == 12
    assert corpus.meta["seed"] == 3 and corpus.meta["split"] == "train"
    for i in (0, 11):
        expected = sample_clip(np.random.default_rng([3, i]))
        np.testing.assert_array_equal(corpus.positions[i], expected.positions)
        assert corpus.clip(i).params == expected.params and corpus.texts[i] == expected.text
    if corpus.features is not None:
        assert len(corpus.features) == 12 and corpus.features[0].shape[1] == 263
        assert corpus.mean.shape == corpus.std.shape == (263,)
    bad = subprocess.run([sys.executable, "tools/make_corpus.py", "--num", "2", "--out", str(tmp_path / "x.txt")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "npz" in bad.stderr and not (tmp_path / "x.txt").exists()
    with pytest.raises(FileNotFoundError, match="make_corpus"):
        read_corpus(tmp_path / "missing.npz")


def test_paraphrase_fills_the_template_asked_for() -> None:
    rng = np.random.default_rng(0)
    params = sample_params("side_step", rng)
    for index in range(len(TEMPLATES["side_step"][0])):
        text = paraphrase("side_step", index, params, "train", rng)
        assert text.startswith(TEMPLATES["side_step"][0][index].split("{")[0].rstrip())
        assert "{" not in text and params["direction"] in text
    with pytest.raises(ValueError, match="unknown text split"):
        paraphrase("walk", 0, sample_params("walk", rng), "test", rng)
