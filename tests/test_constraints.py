"""Keys and root paths: parsing, refusals, the engine's guidance, and motions that meet them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from syncmotion.backends.embedded import load_embedded
from syncmotion.cli import main
from diffusers import DDIMScheduler

from syncmotion.engine import Independent, sample, temporal_windows
from syncmotion.engine.guidance import Guided, gradient_guidance, hold
from syncmotion.motion.constraints import ConstraintError, parse_span, path_errors, pose_error
from syncmotion.motion.io import save_json
from syncmotion.motion.script import parse_script
from syncmotion.motion.types import Motion
from syncmotion.pipelines.constrained_motion import generate_constrained, script_constraints
from syncmotion.pipelines.long_motion import LongMotionSettings


@pytest.fixture()
def pose_file(tmp_path):
    """A motion file whose frame 3 is a pose with the arms raised, 2 m from the origin."""
    from syncmotion.motion.skeleton import BONE_LENGTHS, PARENTS, REST_DIRECTIONS

    joints = np.zeros((22, 3))
    for joint in range(1, 22):
        joints[joint] = joints[PARENTS[joint]] + np.array(REST_DIRECTIONS[joint]) * BONE_LENGTHS[joint]
    joints[:, 1] -= joints[:, 1].min()
    raised = joints.copy()
    raised[[18, 19, 20, 21], 1] += 0.6
    frames = np.stack([joints] * 3 + [raised] * 3).astype(np.float32) + np.array([2.0, 0, 0], dtype=np.float32)
    path = tmp_path / "poses" / "raised.json"
    path.parent.mkdir()
    save_json(Motion(frames), path)
    return path


def test_script_keys_and_paths_are_read_with_their_files(tmp_path, pose_file):
    (tmp_path / "route.csv").write_text("time,x,z\n0s,0,0\n2s,1,0\n4s,1,2\n")
    script_path = tmp_path / "s.txt"
    script_path.write_text("@key 1s poses/raised.json:4\na person walks | 3s\n@path route.csv\na person waves | 2s\n")
    script = parse_script(script_path)
    assert [name for name, _, _ in script.constraints] == ["key", "path"] and script.num_frames == 100
    constraints = script_constraints(script)
    assert constraints.keys[0].frame == 20 and constraints.keys[0].local.shape == (22, 3)
    # The pose is read relative to its root: where the file stood does not matter.
    assert abs(constraints.keys[0].local[0, 0]) < 1e-6 and constraints.keys[0].local[20, 1] > 0.9
    assert constraints.path.frames.tolist() == [0, 40, 80] and constraints.path.points[-1].tolist() == [1, 2]


@pytest.mark.parametrize("line, message", [
    ("@key 9s poses/raised.json", "outside the motion"),
    ("@key 1s poses/missing.json", "no motion file"),
    ("@key 1s poses/raised.json:40", "pose frame must be"),
    ("@key 1s notes.txt", "unknown motion file type"),
    ("@path 0s 0 0, 1s 20 0", "20 m/s"),
    ("@path 0s 0 0, 1s 1", "a waypoint is 'TIME X Z'"),
    ("@path 2s 0 0, 1s 1 0", "must increase"),
    ("@path 0s 0 0, 6s 1 0", "outside the motion"),
    ("@path 0s 0 0", "at least two waypoints"),
])
def test_bad_constraints_are_refused_in_one_line(tmp_path, pose_file, tiny_embedded, line, message):
    (tmp_path / "notes.txt").write_text("not a motion")
    script_path = tmp_path / "s.txt"
    script_path.write_text(f"{line}\na person walks | 5s\n")
    with pytest.raises(ConstraintError, match=message):
        script_constraints(parse_script(script_path))
    result = CliRunner().invoke(main, ["motion", str(script_path), "--model", str(tiny_embedded), "--out", str(tmp_path / "o")])
    said = [row for row in result.output.splitlines() if row.strip()]
    assert result.exit_code == 1 and len(said) == 1 and message in said[0] and not (tmp_path / "o").exists()


def test_spans_in_seconds_or_frames():
    assert parse_span("10s-14s", 20, 600) == (200, 280) and parse_span("200f-280f", 20, 600) == (200, 280)
    assert parse_span("0-1.5", 20, 600) == (0, 30)
    with pytest.raises(ConstraintError, match="ends after the motion"):
        parse_span("25s-31s", 20, 600)


def test_polyak_guidance_meets_a_linear_constraint_in_one_step():
    layout = temporal_windows(30, 12, 4)
    x0 = torch.randn(2, layout.num_windows, 3, 12, generator=torch.Generator().manual_seed(0))
    state = type("State", (), {"layout": layout})()

    def one(canvas: torch.Tensor) -> torch.Tensor:
        return (canvas[:, 1, 10] - 2.0) ** 2

    def two(canvas: torch.Tensor) -> torch.Tensor:
        return one(canvas) + (canvas[:, 0, 20] + 1.0) ** 2

    for spread in (0.0, 3.0):
        merged = layout.merge(gradient_guidance(one, strength=1.0, spread=spread)(x0, state), "crossfade")
        torch.testing.assert_close(merged[:, 1, 10], torch.full((2,), 2.0), atol=1e-4, rtol=0)
        # Half the strength, half the way; several residuals take a few steps.
        half = layout.merge(gradient_guidance(one, strength=0.5, spread=spread)(x0, state), "crossfade")
        torch.testing.assert_close(half[:, 1, 10], (layout.merge(x0, "crossfade")[:, 1, 10] + 2.0) / 2, atol=1e-4, rtol=0)
        both = layout.merge(gradient_guidance(two, 1.0, iterations=30, spread=spread)(x0, state), "crossfade")
        assert float(two(both).max()) < 1e-4
    # Spread out, the same constraint moves the neighbours of frame 10 along with it.
    smooth = layout.merge(gradient_guidance(one, 1.0, spread=3.0)(x0, state), "crossfade") - layout.merge(x0, "crossfade")
    sharp = layout.merge(gradient_guidance(one, 1.0)(x0, state), "crossfade") - layout.merge(x0, "crossfade")
    assert smooth[:, 1, 8].abs().min() > 0.1 and sharp[:, 1, 8].abs().max() < 1e-6


class ShrinkingDenoiser:
    """A toy model whose ε is a fixed fraction of its input."""

    prediction_type = "epsilon"

    def __call__(self, x: torch.Tensor, t: torch.Tensor, conds: list) -> torch.Tensor:
        return 0.5 * x


def test_hold_keeps_known_content_and_guided_keeps_the_inner_strategy():
    layout = temporal_windows(30, 12, 4)
    known = torch.randn(1, 2, 30)
    keep = torch.zeros(1, 1, 30)
    keep[..., :10] = 1
    result = sample(ShrinkingDenoiser(), DDIMScheduler(clip_sample=False), layout, [0] * layout.num_windows, latent_shape=(2,),
                    strategy=Guided(Independent(), [hold(known, keep)]), steps=5,
                    generator=torch.Generator().manual_seed(1), stitch="crossfade", progress=False)
    torch.testing.assert_close(result.canvas[..., :10], known[..., :10], atol=1e-5, rtol=0)
    assert Guided(Independent(), []).name == "independent"


def test_generated_motion_passes_through_keys_and_follows_a_path(tmp_path, tiny_embedded, pose_file):
    backend = load_embedded(tiny_embedded)
    text = (f"@key 1s {pose_file}:4\n@key 3s {pose_file}:0\n@path 0s 1 1, 2s 1 2, 4s 2 3\n"
            "a person walks | 3s\na person walks backward | 2s\n")
    script = parse_script(text)
    motion = generate_constrained(script, backend, LongMotionSettings(seed=0, smooth=0), progress=False)[0]
    constraints = script_constraints(script)
    free = generate_constrained(parse_script("a person walks | 3s\na person walks backward | 2s\n"), backend,
                                LongMotionSettings(seed=0, smooth=0), progress=False)[0]
    # A random 4-step model: the guidance must still halve the distance to each key; the path is held exactly.
    for key in constraints.keys:
        assert pose_error(motion.positions[key.frame], key) < 0.5 * pose_error(free.positions[key.frame], key)
    assert path_errors(motion, constraints.path).max() < 0.01 < path_errors(free, constraints.path)[1:].min()
    assert [entry["frame"] for entry in motion.meta["constraints"]["path"]] == [0, 40, 80]


def test_command_line_keys_and_paths(tmp_path, tiny_embedded, pose_file):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", "--text", "a person walks", "--seconds", "3", "--model", str(tiny_embedded),
                                       "--key", f"1s {pose_file}:4", "--path", "0s 0 0, 2.5s 2 0", "--out", str(out),
                                       "--formats", "json"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["motion", "--text", "a person walks", "--seconds", "3", "--model", str(tiny_embedded),
                                       "--key", f"4s {pose_file}", "--out", str(tmp_path / "o2")])
    assert result.exit_code == 1 and "--key: key time 4s is outside the motion" in result.output


def test_keys_and_paths_with_an_mdm_checkpoint(tmp_path, pose_file):
    """The official MDM layout (tiny, random) takes --key and --path like the embedded model."""
    import json

    from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
    from syncmotion.motion.io import load_motion
    from syncmotion_lab.tiny_models.tiny_mdm import save_clip_text_model, save_identity_meta, save_official_checkpoint

    torch.manual_seed(1)
    args = {"arch": "trans_enc", "dataset": "humanml", "latent_dim": 16, "layers": 1, "cond_mask_prob": 0.1,
            "noise_schedule": "cosine", "diffusion_steps": 1000, "text_encoder_type": "clip", "sigma_small": True}
    checkpoint = save_official_checkpoint(tmp_path / "mdm", args, MDMNetwork(MDMConfig(latent_dim=16, layers=1)))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", "--text", "a person walks", "--seconds", "4", "--model", str(checkpoint),
                                       "--meta", str(save_identity_meta(tmp_path / "meta")),
                                       "--clip", str(save_clip_text_model(tmp_path / "clip")), "--steps", "3",
                                       "--key", f"2s {pose_file}:4", "--path", "0s 1 1, 4s 2 3", "--out", str(out),
                                       "--formats", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "motion.json").read_text())
    assert [entry["frame"] for entry in document["meta"]["constraints"]["path"]] == [0, 79]
    assert max(entry["error_m"] for entry in document["meta"]["constraints"]["path"]) < 0.01
    positions = load_motion(out / "motion.json").positions
    assert np.abs(positions[0, 0, [0, 2]] - [1, 1]).max() < 0.01
