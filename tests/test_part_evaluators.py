"""Combined corpus motions and the per-part evaluators that score timelines."""

from __future__ import annotations

import numpy as np
import pytest

from syncmotion.resources import resource_dir
from syncmotion_lab.corpus.combined import ARM_ACTIONS, LEGS_ACTIONS, combined_clip, draw_combined
from syncmotion_lab.eval.evaluator import load_evaluator
from syncmotion_lab.eval.metrics import foot_skating_ratio

MODELS = resource_dir("models")
TEST_SEED = 8100  # neither the evaluators' training draw (8000), their held-out draw (8001) nor the benchmark's (9000)


def test_a_combined_clip_moves_the_arm_only_inside_its_track():
    rng = np.random.default_rng(0)
    clip = combined_clip("walk", "wave", rng)
    plain = combined_clip("walk", "wave", np.random.default_rng(0))
    np.testing.assert_array_equal(clip.positions, plain.positions)  # the same draw, the same clip
    assert clip.arm_parts in (("left arm",), ("right arm",)) and 0 <= clip.arm_start < clip.arm_end <= len(clip.positions)
    assert clip.positions[:, 0, 2][-1] - clip.positions[:, 0, 2][0] > 1.0  # it walks somewhere
    assert foot_skating_ratio(clip.positions) < 0.3
    with pytest.raises(ValueError, match="combine a legs action"):
        combined_clip("wave", "walk", rng)


@pytest.mark.parametrize("group, actions", [("legs", LEGS_ACTIONS), ("arms", ARM_ACTIONS)])
def test_shipped_part_evaluators_recognise_a_fresh_draw(group, actions):
    evaluator = load_evaluator(MODELS / f"{group}_evaluator.safetensors")
    assert tuple(evaluator.actions) == actions
    clips = [draw_combined(TEST_SEED, i) for i in range(40)]
    spans = [c.positions[c.arm_start:c.arm_end] if group == "arms" else c.positions for c in clips]
    _, logits = evaluator.encode(spans)
    labels = [evaluator.action_index(c.arm if group == "arms" else c.legs) for c in clips]
    assert float(np.mean(logits.argmax(-1) == labels)) >= 0.9


def test_the_legs_evaluator_does_not_see_the_arms():
    evaluator = load_evaluator(MODELS / "legs_evaluator.safetensors")
    clip = draw_combined(TEST_SEED, 0)
    moved = clip.positions.copy()
    # Elbows and wrists: the shoulders would turn the facing frame, which every HumanML3D feature is measured in.
    arms = [18, 19, 20, 21]
    moved[:, arms] += np.random.default_rng(0).normal(0, 0.05, moved[:, arms].shape).astype(np.float32)
    np.testing.assert_allclose(evaluator.encode([clip.positions])[1], evaluator.encode([moved])[1], atol=1e-4)
