"""Timelines: timed body-part tracks, STMC's files as they are, who moves which part, refusals, windows and masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from syncmotion.engine.owned_windows import OwnedWindows
from syncmotion.motion.features import FEATURE_DIM
from syncmotion.motion.script import ScriptError, parse_script
from syncmotion.motion.timeline import BODY_PARTS, FEATURE_PART, feature_ownership, part_owners, plan_tracks

LEGS, RIGHT_ARM, HEAD, LEFT_ARM, SPINE = (BODY_PARTS.index(p) for p in ("legs", "right arm", "head", "left arm", "spine"))

# nv-tlabs/stmc mtt/MTT/0000.txt, byte for byte.
STMC_0000 = ("pick something with the right hand # 0.0 # 8.64 # legs # right arm # spine\n"
             "walk backwards # 8.64 # 14.76 # legs\n"
             "wave with the left hand # 0.47 # 4.91 # left arm\n")


def write(tmp_path, text, name="timeline.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_our_tracks_overlap_on_parts():
    script = parse_script("a person walks forward | 0s-12s\na person waves with the right hand | 3s-7s | right arm\n")
    timeline = script.timeline
    assert timeline is not None and script.num_frames == 240
    walk, wave = timeline.tracks
    assert (walk.start, walk.end, walk.parts) == (0, 240, frozenset())
    assert (wave.start, wave.end, wave.parts) == (60, 140, frozenset({"right arm"}))
    owners = part_owners(timeline)
    # The whole-body walk yields the right arm to the wave while it runs, and keeps everything else.
    assert (owners[RIGHT_ARM, 60:140] == 1).all() and (owners[RIGHT_ARM, :60] == 0).all() and (owners[RIGHT_ARM, 140:] == 0).all()
    assert (np.delete(owners, RIGHT_ARM, axis=0) == 0).all()


def test_stmc_file_reads_as_it_is(tmp_path):
    script = parse_script(write(tmp_path, STMC_0000))
    timeline = script.timeline
    assert timeline is not None and timeline.stmc
    pick, walk, wave = timeline.tracks
    assert pick.parts == frozenset({"legs", "right arm", "spine"}) and (pick.start, pick.end) == (0, 173)
    assert (walk.start, walk.end) == (173, 295) and (wave.start, wave.end) == (9, 98)
    owners = part_owners(timeline)
    # Nobody names the head: it follows the track moving the legs; the left arm is free before and after the wave.
    assert (owners[HEAD, :173] == 0).all() and (owners[HEAD, 173:] == 1).all()
    assert (owners[LEFT_ARM, 9:98] == 2).all() and (owners[LEFT_ARM, :9] == 0).all() and (owners[LEFT_ARM, 98:173] == 0).all()
    assert (owners[SPINE, 173:] == 1).all() and (owners[RIGHT_ARM, 173:] == 1).all()


def test_stmc_timeline_starts_at_its_first_track_and_reads_aliases(tmp_path):
    timeline = parse_script(write(tmp_path, "raise the right hand # 2.0 # 5.0 # right hand\nwalk # 1.0 # 6.0 # legs # torso\n")).timeline
    assert [(t.start, t.end) for t in timeline.tracks] == [(20, 80), (0, 100)]
    assert timeline.tracks[0].parts == frozenset({"right arm"}) and timeline.tracks[1].parts == frozenset({"legs", "spine"})


def test_without_legs_the_track_naming_most_parts_is_the_base():
    timeline = parse_script("clap | 0s-4s | left arm, right arm\nnod | 0s-4s | head\n").timeline
    owners = part_owners(timeline)
    assert (owners[LEGS] == 0).all() and (owners[SPINE] == 0).all() and (owners[HEAD] == 1).all()


def test_uncovered_frames_follow_the_nearest_track():
    owners = part_owners(parse_script("walk | 0s-2s\njump | 3s-5s\n").timeline)
    assert (owners[:, :50] == 0).all() and (owners[:, 50:] == 1).all()


def test_sequential_lines_and_loop_make_a_timeline():
    script = parse_script("@loop\na person walks forward | 4s\na person jumps | 2s\n")
    assert script.timeline is not None and script.timeline.loop
    assert [(s.start, s.end) for s in script.segments] == [(0, 80), (80, 120)]
    assert parse_script("a person walks | 4s\n").timeline is None  # plain scripts stay plain


@pytest.mark.parametrize("text, words", [
    ("walk | 0s-6s | legs\nkick | 2s-4s | legs\n", ["claims the legs from 2 s to 4 s", "timeline.txt:1"]),
    ("walk | 0s-6s\nrun | 5s-8s\n", ["both cover the whole body from 5 s to 6 s", "name the body parts"]),
    ("walk | 6s-2s\n", ["ends at 2 s, not after its start at 6 s"]),
    ("walk # 4.0 # 1.5 # legs\n", ["ends at 1.5 s"]),
    ("wave | 0s-2s | tail\n", ["unknown body part 'tail'", "left arm, right arm, legs, head, spine"]),
    ("walk | 0s-2s-4s\n", ["'START-END'"]),
    ("walk | 0s-2s\n@loop\n", ["settings must come before the first track"]),
    ("@loop 3\nwalk | 2s\n", ["@loop takes no value"]),
    ("@fast\nwalk | 2s\n", ["unknown setting"]),
    ("@loop\n@key 1s pose.json\nwalk | 2s\n", ["@key works in sequential scripts", "timeline.txt:2"]),
    ("walk # 0 # 2 # legs\n\nrun # 0 # 3 # legs\n", ["more than one STMC timeline", "timeline.txt:2"]),
])
def test_bad_timelines_are_refused_with_one_line(tmp_path, text, words):
    with pytest.raises(ScriptError) as error:
        parse_script(write(tmp_path, text))
    message = str(error.value)
    assert "\n" not in message and "timeline.txt:" in message
    for word in words:
        assert word in message


def test_body_parts_split_every_feature():
    counts = {part: int((FEATURE_PART == i).sum()) for i, part in enumerate(BODY_PARTS)}
    # STMC's split of the 263 features: 48 per arm, 107 legs (root, contacts), 24 head, 36 spine.
    assert counts == {"left arm": 48, "right arm": 48, "legs": 107, "head": 24, "spine": 36}
    assert (FEATURE_PART[:4] == LEGS).all() and (FEATURE_PART[259:] == LEGS).all()
    assert FEATURE_PART[4 + 3 * 20] == RIGHT_ARM  # the right wrist's position (joint 21)


def test_ownership_shares_sum_to_one_and_hand_over_across_the_blend():
    timeline = parse_script("walk | 0s-8s\nwave | 2s-6s | right arm\n").timeline
    ownership = feature_ownership(timeline, 10)
    assert ownership.shape == (2, FEATURE_DIM, 1, 160)
    torch.testing.assert_close(ownership.sum(0), torch.ones(FEATURE_DIM, 1, 160))
    arm = ownership[1, np.flatnonzero(FEATURE_PART == RIGHT_ARM)[0], 0]
    assert arm[50:110].eq(1).all() and arm[:30].eq(0).all() and 0 < arm[40] < 1
    assert ownership[1, np.flatnonzero(FEATURE_PART == LEGS)].eq(0).all()


def test_plan_gives_each_track_windows_where_it_moves_anything():
    plan = plan_tracks(parse_script("walk | 0s-12s\nwave | 3s-7s | right arm\n").timeline, 80, 10)
    layout = plan.layout
    assert set(layout.groups) == {0, 1} and plan.seams == [60, 140]
    assert all(text == ("walk" if g == 0 else "wave") for text, g in zip(plan.texts, layout.groups))
    covered = torch.zeros(2, 240, dtype=torch.bool)
    for frames, group in zip(layout.frames, layout.groups):
        covered[group, frames] = True
    assert covered[0].all() and covered[1, 60:140].all()


def test_precision_masks_free_the_owner_and_pull_the_others():
    plan = plan_tracks(parse_script("walk | 0s-12s\nwave | 3s-7s | right arm\n").timeline, 80, 10)
    layout = plan.layout
    windows = torch.randn(1, layout.num_windows, FEATURE_DIM, 1, 80)
    x_tilde, mask = layout.targets(windows)
    torch.testing.assert_close(mask * (x_tilde - windows), layout.pull(windows), atol=1e-5, rtol=1e-5)
    arm, legs = np.flatnonzero(FEATURE_PART == RIGHT_ARM), np.flatnonzero(FEATURE_PART == LEGS)
    for n, (group, frames) in enumerate(zip(layout.groups, layout.frames)):
        middle = ((frames >= 70) & (frames < 130)).nonzero()[:, 0]
        if group == 1:  # the wave: free on its arm mid-track (its only window there), pulled on the legs
            assert mask[n][legs][..., middle].eq(1).all()
        else:  # the walk: pulled on the right arm while the wave moves it, never toward the wave on the legs
            assert mask[n][arm][..., middle].eq(1).all()
            assert mask[n][legs].lt(1).all()
    # The canvas is each part from its owner: a window alone on its owned frames comes back unchanged.
    canvas = layout.merge(windows, "crossfade")
    wave_windows = [n for n, g in enumerate(layout.groups) if g == 1]
    if len(wave_windows) == 1:
        n = wave_windows[0]
        frame = int(layout.frames[n][40])
        torch.testing.assert_close(canvas[0, arm, 0, frame], windows[0, n, arm, 0, 40])


def test_owned_windows_refuse_an_owner_without_windows():
    ownership = torch.zeros(2, 3, 20)
    ownership[0] = 1
    ownership[1, :, 15:] = 1
    ownership[0, :, 15:] = 0
    with pytest.raises(ValueError, match="owns frames none of its windows cover"):
        OwnedWindows(20, 10, [0, 10], [0, 0], ownership)


def test_a_loop_replays_from_where_its_last_step_leads():
    from syncmotion.motion.features import rotate_y
    from syncmotion.motion.loops import replay, smooth_loop
    from syncmotion_lab.corpus.generator import corpus_clip

    pose = torch.from_numpy(corpus_clip(0, 0).positions[0]).double()
    pose = pose - torch.tensor([pose[0, 0], 0.0, pose[0, 2]], dtype=torch.float64)
    # A body walking a circle: it turns by 0.05 rad and moves 4 cm along its heading each frame.
    frames, turn, speed = 80, 0.05, 0.04
    heading = torch.arange(2 * frames, dtype=torch.float64) * turn
    root = torch.zeros(2 * frames, 3, dtype=torch.float64)
    for f in range(1, 2 * frames):
        root[f] = root[f - 1] + rotate_y(torch.tensor([0.0, 0.0, speed], dtype=torch.float64), heading[f])
    circle = (rotate_y(pose[None].expand(2 * frames, -1, -1), heading[:, None]) + root[:, None]).numpy()
    np.testing.assert_allclose(replay(circle[:frames], 2), circle, atol=1e-5)
    # Smoothing a loop sees its own start after its end; a motion that already follows on from itself is left as it is.
    np.testing.assert_allclose(smooth_loop(circle[:frames].astype(np.float32), 5), circle[:frames], atol=1e-4)


TIMELINE_LINES = st.one_of(
    st.builds(lambda text, a, b, parts: f"{text} | {a}-{b}" + (f" | {', '.join(parts)}" if parts else ""),
              st.sampled_from(["walk", "wave", "", "a # b"]), st.sampled_from(["0", "1s", "2.5", "30f", "x", ""]),
              st.sampled_from(["1", "3s", "4.5", "90f", "0", "-"]),
              st.lists(st.sampled_from([*BODY_PARTS, "torso", "tail"]), max_size=3)),
    st.builds(lambda text, a, b, parts: " # ".join([text, a, b, *parts]), st.sampled_from(["walk", "kick", " "]),
              st.sampled_from(["0.0", "1.25", "7"]), st.sampled_from(["0.5", "3.0", "9"]),
              st.lists(st.sampled_from([*BODY_PARTS, "left hand", "nose"]), max_size=3)),
    st.sampled_from(["@loop", "@loop now", "@seed 3", "@fps 20", "", "walk | 2s", "jump | 30f | legs", "# note"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TIMELINE_LINES, min_size=1, max_size=6))
def test_any_timeline_text_reads_and_plans_or_is_one_script_error(lines):
    text = "\n".join(lines) + "\n"
    try:
        script = parse_script(text)
    except ScriptError as error:
        assert "\n" not in str(error) and str(error).startswith("<script>")
        return
    if script.timeline is None:
        return
    plan = plan_tracks(script.timeline, 80, 10)  # every frame's owner has windows there, or the layout refuses
    assert len(plan.texts) == plan.layout.num_windows and plan.layout.canvas_dims == (script.num_frames,)
