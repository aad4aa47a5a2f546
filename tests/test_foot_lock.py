"""Foot locking: planted feet stop sliding, legs keep their bone lengths and never stretch, nothing else moves."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from syncmotion.cli import main
from syncmotion.motion.foot_lock import LEGS, contact_spans, lock_feet
from syncmotion_lab.eval.metrics import skating_steps

FPS = 20.0


def sliding_stance(frames: int = 40, slide: float = 0.8) -> np.ndarray:
    """A body whose pelvis walks forward at 0.5 m/s; the left foot rests but slides at `slide` m/s, the right one swings high."""
    rng = np.random.default_rng(0)
    positions = rng.normal(0.0, 0.05, (frames, 22, 3)) + np.array([0.0, 1.2, 0.0])  # arms, spine, head: anywhere up
    t = np.arange(frames) / FPS
    pelvis_z = 0.5 * t
    for side, (hip, knee, ankle, toe) in zip((1.0, -1.0), LEGS):
        x = 0.1 * side
        positions[:, hip] = np.stack([np.full(frames, x), np.full(frames, 0.9), pelvis_z], axis=1)
        if side > 0:  # planted (sliding) foot, knee between hip and ankle, bent forward
            foot_z = slide * t
            positions[:, ankle] = np.stack([np.full(frames, x), np.full(frames, 0.08), foot_z], axis=1)
            positions[:, toe] = np.stack([np.full(frames, x), np.full(frames, 0.02), foot_z + 0.14], axis=1)
        else:  # swinging foot, well above the floor
            positions[:, ankle] = np.stack([np.full(frames, x), np.full(frames, 0.35), pelvis_z + 0.2], axis=1)
            positions[:, toe] = np.stack([np.full(frames, x), np.full(frames, 0.3), pelvis_z + 0.34], axis=1)
        positions[:, knee] = (positions[:, hip] + positions[:, ankle]) / 2 + np.array([0.0, 0.0, 0.25])
    positions[:, 0] = np.stack([np.zeros(frames), np.full(frames, 0.95), pelvis_z], axis=1)
    return positions.astype(np.float32)


def bone(positions: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(positions[:, a] - positions[:, b], axis=1)


def test_a_sliding_planted_foot_stands_still_and_the_leg_keeps_its_bones() -> None:
    before = sliding_stance(frames=20)  # short enough for the leg to reach the foot's mean place from every frame
    after = lock_feet(before, FPS)
    hip, knee, ankle, toe = LEGS[0]
    assert contact_spans(before[:, [ankle, toe]], FPS) == [(0, 20)]
    assert skating_steps(before).mean() > 0.2
    # Held where it rested on average: the foot no longer moves while the hips walk on.
    step = np.linalg.norm(np.diff(after[:, toe, [0, 2]], axis=0), axis=1) * FPS
    assert step.max() < 1e-4 and skating_steps(after).mean() == 0.0
    for a, b in ((hip, knee), (knee, ankle), (ankle, toe)):
        np.testing.assert_allclose(bone(after, a, b), bone(before, a, b), atol=1e-5)
    # Only the locked leg's knee, ankle and toe move; the swinging foot and the rest of the body stay as they were.
    untouched = [j for j in range(22) if j not in (knee, ankle, toe)]
    np.testing.assert_array_equal(after[:, untouched], before[:, untouched])


def test_a_hip_that_runs_away_pulls_the_foot_along_and_never_stretches_the_leg() -> None:
    before = sliding_stance(frames=60, slide=0.5)  # the foot slides along under the hips: held at its mean, 0.75 m off
    after = lock_feet(before, FPS)
    hip, knee, ankle, _ = LEGS[0]
    reach = bone(before, hip, knee) + bone(before, knee, ankle)
    assert np.all(bone(after, hip, ankle) <= reach + 1e-5)
    assert np.isclose(bone(after, hip, ankle), 0.999 * reach, atol=1e-4).any()  # the leg was at full reach somewhere
    np.testing.assert_allclose(bone(after, hip, knee), bone(before, hip, knee), atol=1e-5)


def test_a_pinned_frame_keeps_its_pose_and_its_span_is_held_where_the_foot_stands_there() -> None:
    before = sliding_stance(frames=20)
    hip, knee, ankle, toe = LEGS[0]
    free = lock_feet(before, FPS)
    after = lock_feet(before, FPS, pinned=[12])
    np.testing.assert_array_equal(after[12], before[12])  # a key pose as guidance met it
    # The foot still stands still through its contact, at its place on the pinned frame, not its mean place.
    step = np.linalg.norm(np.diff(after[:, toe, [0, 2]], axis=0), axis=1) * FPS
    assert step.max() < 1e-4
    np.testing.assert_allclose(after[:, toe, [0, 2]], np.broadcast_to(before[12, toe, [0, 2]], (20, 2)), atol=1e-5)
    assert np.abs(free[12] - before[12]).max() > 0.05  # without the pin the key's leg would have moved
    # A pin outside any contact leaves the locking elsewhere as it was, fading in over the frames around it.
    flying = before.copy()
    flying[8:, :, 1] += 1.0  # the foot rests for 8 frames, then the body jumps
    plain, pinned = lock_feet(flying, FPS), lock_feet(flying, FPS, pinned=[10])
    np.testing.assert_array_equal(pinned[10], flying[10])
    np.testing.assert_array_equal(pinned[:5], plain[:5])
    assert np.abs(plain[9] - flying[9]).max() > 0 and np.abs(pinned[9] - flying[9]).max() < np.abs(plain[9] - flying[9]).max()


def test_feet_in_the_air_are_left_alone() -> None:
    flying = sliding_stance()
    flying[:, :, 1] += 1.0  # a jump: both feet far above the floor
    np.testing.assert_array_equal(lock_feet(flying, FPS), flying)


def test_the_motion_command_locks_feet_when_asked_and_says_so(tmp_path, tiny_embedded) -> None:
    metas = {}
    for name, flag in (("free", "--no-foot-lock"), ("locked", "--foot-lock")):
        result = CliRunner().invoke(main, ["motion", "--text", "a person walks", "--seconds", "2", "--model", str(tiny_embedded),
                                           "--steps", "2", "--formats", "json", flag, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        metas[name] = json.loads((tmp_path / name / "motion.json").read_text())
    assert "foot_lock" not in metas["free"]["meta"] and metas["locked"]["meta"]["foot_lock"] is True
    free, locked = np.array(metas["free"]["positions"]), np.array(metas["locked"]["positions"])
    hips_and_up = [j for j in range(22) if j not in (4, 5, 7, 8, 10, 11)]
    np.testing.assert_allclose(locked[:, hips_and_up], free[:, hips_and_up], atol=1e-6)


def test_a_root_path_locks_feet_unless_told_not_to(tmp_path, tiny_embedded) -> None:
    script = tmp_path / "path.txt"
    script.write_text("@path 0s 0 0, 2s 1 0\na person walks forward | 2s\n")
    metas = {}
    for name, flags in (("auto", []), ("off", ["--no-foot-lock"])):
        result = CliRunner().invoke(main, ["motion", str(script), "--model", str(tiny_embedded), "--steps", "2",
                                           "--formats", "json", *flags, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        metas[name] = json.loads((tmp_path / name / "motion.json").read_text())["meta"]
    assert metas["auto"].get("foot_lock") is True and "foot_lock" not in metas["off"]


def test_smoothing_after_locking_takes_out_the_release_jolt_and_keeps_the_foot_still() -> None:
    from syncmotion.motion.finish import finish_positions
    from syncmotion.motion.smooth import smooth_positions

    positions = sliding_stance(frames=40, slide=0.8)
    hip, knee, ankle, toe = LEGS[0]
    # The left foot rests (sliding) for 20 frames, then lifts and swings forward.
    positions[:, [ankle, toe], 1] += (np.clip((np.arange(40) - 20) / 5, 0, None) * 0.1)[:, None]
    positions[20:, [ankle, toe], 2] += (np.arange(20) * 0.06)[:, None]
    finished = finish_positions(positions, FPS, smooth=5, foot_lock=True)
    locked_last = lock_feet(smooth_positions(positions, 5), FPS)

    def foot_jerk(motion: np.ndarray) -> float:
        return float(np.abs(np.diff(motion[:, [ankle, toe]], 3, axis=0)).sum(-1).max())

    assert foot_jerk(finished) < 0.7 * foot_jerk(locked_last)
    step = np.linalg.norm(np.diff(finished[:, toe, [0, 2]], axis=0), axis=1) * FPS
    assert step[:15].max() < 1e-4  # still while it rests (the last frames of the rest blend into the lift)
    assert skating_steps(finished).mean() < 0.5 * skating_steps(positions).mean()
    np.testing.assert_array_equal(finish_positions(positions, FPS, smooth=5, foot_lock=False), smooth_positions(positions, 5))
