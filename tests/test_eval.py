"""The evaluator, the long-motion metrics, the benchmark set and the long-motion benchmark tool."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
import pytest
import torch

from syncmotion.motion.features import canonicalize, facing_angle, rotate_y
from syncmotion.motion.script import parse_script
from syncmotion_lab.corpus import ACTIONS, corpus_clip
from syncmotion_lab.eval import load_evaluator, metrics, motion_inputs
from syncmotion_lab.eval.benchset import draw_segments, join_end_to_end, load_index, load_scripts, real_clip
from syncmotion_lab.eval.evaluator import Evaluator, MotionEncoder
from syncmotion_lab.eval.scoring import LongMotion, make_reference, per_action, score_long_motions

ROOT = Path(__file__).resolve().parent.parent
# A corpus draw neither the embedded model (0), the evaluator (1000, 1001) nor the benchmark (4000-6999) uses.
TEST_SEED = 7000


def _clip(i: int) -> np.ndarray:
    return corpus_clip(TEST_SEED, i).positions


def test_top_k_accuracy_counts_labels_among_the_largest():
    logits = np.array([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 2.0, 0.0]])
    assert metrics.top_k_accuracy(logits, [0, 0, 1], 1) == pytest.approx(2 / 3)
    assert metrics.top_k_accuracy(logits, [0, 2, 2], 1) == pytest.approx(1 / 3)
    assert metrics.top_k_accuracy(logits, [0, 2, 2], 2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="labels"):
        metrics.top_k_accuracy(logits, [0, 1], 1)


def test_frechet_distance_of_shifted_and_scaled_gaussians():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, 2.0, 0.0])
    # Equal covariances: FID is the squared distance of the means.
    assert metrics.frechet_distance(a, a + shift) == pytest.approx(5.0, rel=1e-6)
    # N(0, I) against N(0, 4I) in 3 dims: Tr(I + 4I - 2*2I) = 3.
    assert metrics.frechet_distance(rng.standard_normal((50000, 3)), 2 * rng.standard_normal((50000, 3))) == pytest.approx(3.0, rel=0.03)


def test_diversity_of_equidistant_points():
    simplex = np.eye(5) * 3.0  # every pair at distance 3 * sqrt(2)
    assert metrics.diversity(simplex, pairs=None) == pytest.approx(3 * np.sqrt(2))
    assert metrics.diversity(simplex, pairs=50, rng=np.random.default_rng(1)) == pytest.approx(3 * np.sqrt(2))
    assert metrics.diversity(np.zeros((4, 2))) == 0.0


def _feet_on_floor(frames: int) -> np.ndarray:
    positions = np.zeros((frames, 22, 3))
    positions[:, :, 1] = 1.0
    positions[:, list(metrics.FOOT_JOINTS), 1] = 0.02
    return positions


def test_foot_skating_ratio_counts_low_sliding_feet():
    positions = _feet_on_floor(11)
    assert metrics.foot_skating_ratio(positions) == 0.0
    # One foot slides 5 cm per frame (1 m/s) on the floor during the first 4 of 10 frame steps.
    positions[1:5, 10, 0] = 0.05 * np.arange(1, 5)
    positions[5:, 10, 0] = 0.2
    assert metrics.foot_skating_ratio(positions) == pytest.approx(0.4)
    # The same slide in the air (20 cm up) is not skating; a slow slide (1 cm per frame = 0.2 m/s) neither.
    lifted = positions.copy()
    lifted[:, 10, 1] = 0.2
    assert metrics.foot_skating_ratio(lifted) == 0.0
    slow = _feet_on_floor(11)
    slow[:, 11, 2] = 0.01 * np.arange(11)
    assert metrics.foot_skating_ratio(slow) == 0.0


def test_jerk_is_zero_for_quadratic_motion_and_peaks_at_a_step():
    t = np.arange(40, dtype=float)
    positions = np.zeros((40, 22, 3))
    positions[:, :, 0] = 0.01 * t[:, None] ** 2  # constant acceleration: no jerk
    assert np.allclose(metrics.jerk_curve(positions), 0.0)
    cubic = np.zeros((40, 22, 3))
    cubic[:, 3, 1] = t ** 3 / 6  # third difference 1 on one coordinate of one joint
    assert np.allclose(metrics.jerk_curve(cubic), 1.0)
    step = np.zeros((40, 22, 3))
    step[20:, 5, :] = 0.1  # a 10 cm jump of one joint in x, y and z at frame 20
    curve = metrics.jerk_curve(step)
    # Third differences of a step are (1, -2, 1) x 0.1 per coordinate, L1 over 3 coordinates.
    assert curve[17:20] == pytest.approx([0.3, 0.6, 0.3])
    assert np.count_nonzero(curve) == 3


def test_peak_jerk_and_area_under_jerk_over_transition_windows():
    step = np.zeros((100, 22, 3))
    step[50:, 0, 0] = 0.1
    windows = metrics.transition_windows(step, [50, 5, 90])  # 5 and 90 are too near the ends for 60 frames
    assert len(windows) == 1 and windows[0].shape == (60, 22, 3)
    curve = metrics.mean_transition_jerk(windows + [np.zeros((60, 22, 3))])
    assert curve.shape == (57,)
    assert metrics.peak_jerk(curve) == pytest.approx(0.2 / 2)
    assert metrics.area_under_jerk(curve, 0.0) == pytest.approx((0.1 + 0.2 + 0.1) / 2)
    assert metrics.area_under_jerk(np.full(57, 0.02), 0.01) == pytest.approx(0.57)
    assert metrics.mean_jerk([np.zeros((10, 22, 3))]) == 0.0


def test_cut_segments_names_bad_ranges():
    positions = np.zeros((30, 22, 3))
    assert [len(s) for s in metrics.cut_segments(positions, [(0, 10), (10, 30)])] == [10, 20]
    with pytest.raises(ValueError, match="outside"):
        metrics.cut_segments(positions, [(20, 31)])


def test_evaluator_inputs_ignore_start_position_and_heading():
    clip = _clip(0)
    moved = rotate_y(torch.from_numpy(clip), torch.tensor(1.2)).numpy() + np.array([3.0, 0.0, -2.0], dtype=np.float32)
    assert np.abs(motion_inputs(moved) - motion_inputs(clip)).max() < 1e-3
    assert np.abs(canonicalize(moved) - clip).max() < 1e-3
    with pytest.raises(ValueError, match="at least"):
        motion_inputs(clip[:3])


def test_evaluator_round_trip_and_clear_errors(tmp_path):
    network = MotionEncoder(num_classes=3, width=8, feature_dim=4)
    evaluator = Evaluator(network, torch.zeros(133), torch.ones(133), ["a", "b", "c"], {"note": "test"})
    path = tmp_path / "ev.safetensors"
    evaluator.save(path)
    loaded = load_evaluator(path)
    clips = [_clip(1), _clip(2)[:30]]
    for mine, theirs in zip(evaluator.encode(clips), loaded.encode(clips)):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)
    assert evaluator.encode(clips)[0].shape == (2, 4) and loaded.info == {"note": "test"}
    # A clip alone and in a padded batch gives the same features (padding is masked out).
    np.testing.assert_allclose(evaluator.encode(clips[1:])[0], evaluator.encode(clips)[0][1:], atol=1e-5)
    with pytest.raises(FileNotFoundError, match="train_evaluator"):
        load_evaluator(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="does not know"):
        loaded.action_index("fly")


def test_shipped_evaluator_classifies_a_fresh_corpus_draw():
    evaluator = load_evaluator()
    assert evaluator.actions == sorted(ACTIONS)
    assert (ROOT / "models" / "evaluator.safetensors").stat().st_size < 2_000_000
    clips = [corpus_clip(TEST_SEED, i) for i in range(200)]
    _, logits = evaluator.encode([c.positions for c in clips])
    labels = [evaluator.action_index(c.action) for c in clips]
    assert metrics.top_k_accuracy(logits, labels, 1) > 0.9
    assert metrics.top_k_accuracy(logits, labels, 3) > 0.97


def test_bench_scripts_match_their_index_and_use_heldout_texts():
    index = load_index()
    assert len(index["scripts"]) >= 30
    from syncmotion_lab.corpus.texts import TEMPLATES

    for name, segments in index["scripts"].items():
        script = parse_script(ROOT / "sequences" / "bench" / name)
        assert 3 <= len(segments) <= 6
        assert [s.end - s.start for s in script.segments] == [s["frames"] for s in segments]
        for segment, parsed in zip(segments, script.segments):
            assert parsed.text == segment["text"]
            # Slot words (pace, counts) vary; the words before the first slot identify the template.
            heldout = [t.split("{")[0].strip() for t in TEMPLATES[segment["action"]][1]]
            assert any(segment["text"].startswith(prefix) for prefix in heldout), segment["text"]
    assert draw_segments(0) == index["scripts"]["bench_00.txt"]


def test_join_end_to_end_continues_position_and_heading():
    a, b = _clip(3), _clip(4)
    joined = join_end_to_end([a, b])
    assert len(joined) == len(a) + len(b)
    np.testing.assert_allclose(joined[len(a), 0, [0, 2]], a[-1, 0, [0, 2]], atol=1e-5)
    headings = facing_angle(torch.from_numpy(joined[[len(a) - 1, len(a)]])[None])[0]
    assert abs(float(torch.remainder(headings[1] - headings[0] + torch.pi, 2 * torch.pi) - torch.pi)) < 1e-4


def test_scoring_real_motion_against_itself():
    evaluator = load_evaluator()
    segments = load_index()["scripts"]["bench_01.txt"]
    clips = [real_clip(s, 11, 1) for s in segments]
    ends = np.cumsum([len(c) for c in clips])
    motion = LongMotion(join_end_to_end(clips), list(zip([0, *ends[:-1]], ends)), [s["action"] for s in segments])
    reference = make_reference(evaluator, clips + [real_clip(s, 12, 1) for s in segments])
    scores, curve, predictions = score_long_motions(evaluator, [motion], reference)
    assert scores["top1"] >= 0.75 and scores["top3"] == 1.0
    assert [asked for asked, _ in predictions] == motion.actions
    assert np.mean([asked == made for asked, made in predictions]) == pytest.approx(scores["top1"])
    assert curve.shape == (57,) and scores["peak_jerk"] == pytest.approx(curve.max())
    with pytest.raises(ValueError, match="one action per segment"):
        score_long_motions(evaluator, [LongMotion(motion.positions, motion.ranges, ["walk"])], reference)


def test_per_action_counts_hits_and_the_actions_made_instead():
    summary = per_action([("walk", "walk"), ("walk", "run"), ("kick", "wave"), ("walk", "run")])
    assert summary["walk"] == {"top1": pytest.approx(1 / 3), "segments": 3, "made_instead": {"run": 2}}
    assert summary["kick"] == {"top1": 0.0, "segments": 1, "made_instead": {"wave": 1}}


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stand_in_backend():
    """A random tiny MDM with hashed text vectors and corpus feature statistics: runs the tool, says nothing of quality."""
    from syncmotion.backends.mdm import MotionBackend, diffusion_scheduler
    from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
    from syncmotion.motion.features import Normalizer, joints_to_features

    torch.manual_seed(0)
    network = MDMNetwork(MDMConfig(latent_dim=16, ff_size=32, layers=1, heads=2, text_dim=8)).eval()
    features = np.concatenate([joints_to_features(_clip(i)) for i in range(5)])

    def encode(texts):
        return torch.stack([torch.randn(8, generator=torch.Generator().manual_seed(sum(map(ord, t)))) for t in texts])

    return MotionBackend(network=network, text_encoder=encode,
                         normalizer=Normalizer(features.mean(0), np.maximum(features.std(0), 1e-3)),
                         scheduler=diffusion_scheduler("cosine", 1000), window=60, name="stand-in", default_steps=2, model_steps=2)


def test_bench_tool_runs_every_row_with_a_stand_in_backend(tmp_path, monkeypatch):
    tool = _tool("bench_long_motion")
    scripts = load_scripts(ROOT / "sequences" / "bench", 2)
    result = tool.run_benchmark(scripts, load_evaluator(), _stand_in_backend(),
                                ["independent", "syncsde:2", "doubletake", "syncsde:2:dpm3"], 2,
                                {"steps": 2, "overlap": 10, "guidance": 2.5}, progress=False)
    assert list(result["rows"]) == ["real corpus", "independent", "syncsde:2", "doubletake", "syncsde:2:dpm3"]
    # The solver row samples with its own steps: 3 model calls per window where the others make 2.
    assert result["rows"]["syncsde:2:dpm3"]["calls_per_second"] == pytest.approx(1.5 * result["rows"]["syncsde:2"]["calls_per_second"])
    # The second take adds model calls and window evaluations for every transition.
    for column in ("calls_per_second", "evaluations_per_second"):
        assert result["rows"]["doubletake"][column] > result["rows"]["independent"][column]
    for name in ("independent", "syncsde:2", "doubletake"):
        row = result["rows"][name]
        assert set(row["metrics"]) == set(tool.METRICS) and row["calls_per_second"] > 0 and row["wall_per_second"] > 0
        assert row["evaluations_per_second"] >= row["calls_per_second"]
        assert len(row["curve"]) == 57 and row["metrics"]["fid"]["std"] > 0  # the samples differ
    assert result["rows"]["real corpus"]["metrics"]["top1"]["mean"] > 0.7
    segments = 2 * sum(len(segs) for _, _, segs in scripts)
    for row in result["rows"].values():
        assert sum(entry["segments"] for entry in row["per_action"].values()) == segments
    real = result["rows"]["real corpus"]
    hits = sum(entry["top1"] * entry["segments"] for entry in real["per_action"].values())
    assert hits / segments == pytest.approx(real["metrics"]["top1"]["mean"])
    lines = tool.per_action_table(result["rows"]["syncsde:2"]).splitlines()
    assert lines[0].startswith("| action | segment top-1 |") and len(lines) == 2 + len(result["rows"]["syncsde:2"]["per_action"])
    text = tool.document(result, "python tools/bench_long_motion.py --scripts 2", "CPU")
    assert "| syncsde:2 |" in text and "| real corpus |" in text
    tool.plot_curves(result, tmp_path / "jerk.png")
    # A saved result is documented again, in a section of its own, without generating anything.
    saved = tmp_path / "result.json"
    saved.write_text(json.dumps({**result, "command": "python tools/bench_long_motion.py --x", "device": "CPU"}))
    written = {}
    monkeypatch.setattr(tool, "write_section", lambda name, body: written.update({name: body}))
    outcome = CliRunner().invoke(tool.main, ["--from-json", str(saved), "--section", "side", "--title", "A side study"])
    assert outcome.exit_code == 0, outcome.output
    assert list(written) == ["side"] and written["side"].startswith("## A side study\n")
    assert "`python tools/bench_long_motion.py --x` (CPU;" in written["side"] and "| syncsde:2:dpm3 |" in written["side"]
    assert "img/seam_jerk" not in written["side"] and "img/seam_jerk" in text
    assert (tmp_path / "jerk.png").stat().st_size > 1000
    json.dumps(result)
    assert tool.long_table(result).count("\n") == 1 + len(result["rows"])
    long_scripts = load_scripts(ROOT / "sequences" / "bench_long", 2)
    long_result = tool.run_benchmark(long_scripts, load_evaluator(), _stand_in_backend(), ["syncsde:2"], 1,
                                     {"steps": 2, "overlap": 10, "guidance": 2.5}, progress=False, long_segments=True)
    assert list(long_result["rows"]) == ["real corpus performances", "syncsde:2"]
    real_pace = long_result["rows"]["real corpus performances"]["metrics"]["steady_cv"]["mean"]
    assert real_pace < 0.05 and np.isfinite(long_result["rows"]["syncsde:2"]["metrics"]["steady_cv"]["mean"])
    assert "Long segments" in tool.document(long_result, "python tools/bench_long_motion.py --long", "CPU")
    with pytest.raises(Exception, match="1/λ must be a number"):
        tool.parse_strategy("syncsde:x")
    assert tool.parse_strategy("syncsde:5:dpm20") == ("syncsde", 5.0, {"scheduler": "dpmsolver++", "steps": 20})
    assert tool.parse_strategy("syncsde:5:ov20") == ("syncsde", 5.0, {"overlap": 20})
    with pytest.raises(Exception, match="or a solver with its steps"):
        tool.parse_strategy("syncsde:5:dpm0")


def test_segment_context_tool_scores_every_segment_alone_and_in_its_script():
    tool = _tool("bench_segment_context")
    scripts = load_scripts(ROOT / "sequences" / "bench", 2)
    records = tool.segment_records(scripts, _stand_in_backend(), load_evaluator(), 2, {"steps": 2, "overlap": 10}, progress=False)
    segments = sum(len(segs) for _, _, segs in scripts)
    for context in ("alone", "script"):
        assert sum(r["context"] == context for r in records) == 2 * segments
    assert {r["position"] for r in records} == {"first", "middle", "last"}
    lines = tool.summary_table(records).splitlines()
    assert lines[2].startswith("| all segments | ") and lines[2].endswith(f"({2 * segments}) |")
    # Each length bin's in-script count (its last cell, "top-1 (count)"); an empty bin shows "—".
    bin_counts = [int(line.rsplit("(", 1)[1].split(")")[0]) for line in lines[3:3 + len(tool.LENGTH_BINS)] if "(" in line]
    assert sum(bin_counts) == 2 * segments


def test_text_following_per_action_table_names_the_usual_mistake():
    tool = _tool("bench_text_following")
    made = {"train": [("kick", "kick"), ("kick", "wave"), ("kick", "wave"), ("kick", "clap"), ("walk", "walk")],
            "heldout": [("kick", "kick"), ("walk", "run")]}
    lines = tool.per_action_table(made, ["kick", "punch", "walk"], 2.5).splitlines()
    assert lines[2] == "| kick | 0.25 | wave | 1.00 |  |"
    assert lines[3] == "| punch | — |  | — |  |"
    assert lines[4] == "| walk | 1.00 |  | 0.00 | run |"


def test_skating_is_told_apart_near_seams_and_away_from_them():
    positions = np.zeros((41, 22, 3))
    positions[:, :, 1] = 0.5
    positions[:, metrics.FOOT_JOINTS, 1] = 0.01
    # The feet slide 5 cm a frame (1 m/s) over four frame steps (18-22) around a seam at frame 20, and nowhere else.
    positions[19:23, metrics.FOOT_JOINTS, 0] = np.arange(1, 5)[:, None] * 0.05
    positions[23:, metrics.FOOT_JOINTS, 0] = 0.2
    steps = metrics.skating_steps(positions)
    near = metrics.near_frames(len(steps), [20])
    assert near.sum() == 10 and near[15:25].all()
    assert steps.sum() == 4 and steps[near].mean() == pytest.approx(0.4) and steps[~near].mean() == 0.0
    assert metrics.foot_skating_ratio(positions) == pytest.approx(steps.mean())


def test_steadiness_of_a_steady_walk_and_of_one_that_stops_midway():
    frames = 20 * 20
    steady = np.zeros((frames, 22, 3))
    steady[:, 0, 2] = np.arange(frames) / 20 * 1.2
    speeds = metrics.stretch_speeds(steady, 0, frames)
    # 20 s, 2 s left out at each end: eight whole 2 s stretches at 1.2 m/s.
    assert len(speeds) == 8 and np.allclose(speeds, 1.2)
    assert metrics.steadiness(speeds) == pytest.approx((0.0, 1.0))
    halting = steady.copy()
    # Stands still for 2 s from frame 200, then walks on.
    halting[200:240, 0, 2] = halting[199, 0, 2]
    halting[240:, 0, 2] = halting[199, 0, 2] + np.arange(1, frames - 239) / 20 * 1.2
    cv, slowest = metrics.steadiness(metrics.stretch_speeds(halting, 0, frames))
    assert cv > 0.3 and slowest < 0.1


def test_long_bench_scripts_match_their_index_and_score_one_segment_scripts():
    from syncmotion_lab.corpus.performance import perform
    from syncmotion_lab.eval.benchset import draw_long_segments, long_bench_folder

    folder = long_bench_folder()
    index = load_index(folder)
    assert index["long"] and len(index["scripts"]) >= 12
    for name, segments in index["scripts"].items():
        script = parse_script(folder / name)
        assert [s.end - s.start for s in script.segments] == [s["frames"] for s in segments]
        assert all(200 <= s["frames"] <= 1200 for s in segments)
    assert draw_long_segments(0) == index["scripts"]["long_00.txt"]
    # One-segment walks performed: no transition to measure jerk at, a steady pace to measure.
    motions = []
    for name in ("long_00.txt", "long_01.txt"):
        performance = perform(index["scripts"][name], np.random.default_rng(0))
        motions.append(LongMotion(performance.positions, [(s.start, s.end) for s in performance.segments], ["walk"], [75, 145]))
    evaluator = load_evaluator()
    scores, curve, _ = score_long_motions(evaluator, motions, make_reference(evaluator, [_clip(i) for i in range(4)]))
    assert np.isnan(scores["peak_jerk"]) and np.isnan(curve).all()
    assert scores["steady_cv"] < 0.05 and scores["slowest"] > 0.9 and scores["top1_long"] == scores["top1"]
    assert np.isnan(scores["top1_short"]) and np.isfinite(scores["skate_seam"]) and np.isfinite(scores["skate_away"])


def test_root_speeds_average_over_half_a_second_and_band_the_skating_by_pace():
    frames = 100
    positions = np.zeros((frames, 22, 3))
    positions[:, :, 1] = 0.5
    positions[:, metrics.FOOT_JOINTS, 1] = 0.01
    # Walks at 1 m/s for 50 frames with feet sliding along (skating), then stands still with feet still.
    positions[:50, :, 2] += (np.arange(50) / 20.0)[:, None]
    positions[50:, :, 2] += 49 / 20.0
    speeds = metrics.root_speeds(positions)
    assert len(speeds) == frames - 1
    assert np.allclose(speeds[:40], 1.0) and np.allclose(speeds[60:], 0.0)
    # The 0.5 s average blurs the stop over 10 steps, and no step is averaged with frames beyond the ends.
    assert 0.0 < speeds[49] < 1.0 and np.allclose(speeds[0], 1.0)
    steps = metrics.skating_steps(positions)
    walking = (speeds >= 0.6) & (speeds < 1.6)
    assert steps[walking].mean() == 1.0 and not steps[speeds < 0.3].any()
