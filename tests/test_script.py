"""Text scripts: parsing good and bad scripts, and the windows a script becomes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncmotion.motion.script import ScriptError, parse_script, plan_windows

SEQUENCES = Path(__file__).resolve().parent.parent / "sequences"


def test_parses_segments_settings_comments_and_units():
    script = parse_script("# header\n\n@fps 20\n@seed 7\nwalk | 2s  # trailing comment\njump | 30f\nwave | 1.5\n")
    assert script.fps == 20 and script.seed == 7
    assert [(s.text, s.start, s.end) for s in script.segments] == [("walk", 0, 40), ("jump", 40, 70), ("wave", 70, 100)]
    assert script.num_frames == 100


def test_shipped_scripts_parse(tmp_path):
    for path in [SEQUENCES / "demo.txt", *sorted((SEQUENCES / "examples").glob("*.txt"))]:
        script = parse_script(path)
        assert script.num_frames > 0 and script.segments, path
    demo = parse_script(SEQUENCES / "demo.txt")
    assert demo.num_frames == 600 and len(demo.segments) == 4


@pytest.mark.parametrize("text, line, message", [
    ("walk | 2s\nrun 3s\n", 2, "no '\\|'"),
    ("walk | 2s\n | 3s\n", 2, "no text"),
    ("walk | soon\n", 1, "not understood"),
    ("walk | 0s\n", 1, "shorter than one frame"),
    ("@speed 3\nwalk | 2s\n", 1, "unknown setting"),
    ("@seed x\nwalk | 2s\n", 1, "needs a number"),
    ("walk | 2s\n@seed 3\n", 2, "before the first segment"),
])
def test_errors_name_the_line(text, line, message):
    with pytest.raises(ScriptError, match=f"<script>:{line}: .*{message}"):
        parse_script(text)


def test_empty_script_and_missing_file(tmp_path):
    with pytest.raises(ScriptError, match="no segments"):
        parse_script("# nothing here\n")
    with pytest.raises(ScriptError, match="does not exist"):
        parse_script(tmp_path / "missing.txt")
    path = tmp_path / "bad.txt"
    path.write_text("walk | 2s\nrun\n")
    with pytest.raises(ScriptError, match=f"{path}:2"):
        parse_script(path)


def test_even_windows_take_the_majority_text():
    script = parse_script("walk | 100f\njump | 100f\n")
    plan = plan_windows(script, window=80, overlap=20, align="even")
    assert plan.layout.starts == [0, 60, 120]
    # [60, 140) is 40 frames walk, 40 jump: a tie goes to the earlier segment.
    assert plan.texts == ["walk", "walk", "jump"]
    assert plan.seams == [60, 120]


def test_short_script_is_one_window():
    plan = plan_windows(parse_script("walk | 30f\n"), window=80, overlap=20)
    assert plan.layout.starts == [0] and plan.layout.window_dims == (30,) and plan.seams == []
    # An overlap longer than the script itself is not an error: a single window shares nothing.
    plan = plan_windows(parse_script("walk | 10f\n"), window=80, overlap=20)
    assert plan.layout.window_dims == (10,) and plan.texts == ["walk"]


@pytest.mark.parametrize("text", ["walk | 2s\njump | 2s\n", "walk | 1s\njump | 1s\nwave | 1s\n", "a | 2f\nb | 2f\nc | 2f\n"])
def test_a_script_within_one_window_keeps_every_text(text):
    script = parse_script(text)
    plan = plan_windows(script, window=80, overlap=10)
    assert plan.texts == [segment.text for segment in script.segments]
    assert plan.layout.window_dims[0] <= script.num_frames and plan.layout.starts[0] == 0


def test_last_even_window_is_aligned_to_the_end():
    plan = plan_windows(parse_script("walk | 5s\njump | 2.5s\n"), window=60, overlap=20, align="even")
    assert plan.layout.starts == [0, 40, 80, 90] and plan.seams == [40, 80, 90]
    assert plan.texts == ["walk", "walk", "jump", "jump"]


def test_segment_windows_tile_each_segment_with_its_own_text():
    plan = plan_windows(parse_script("walk | 100f\njump | 100f\n"), window=80, overlap=20)
    # walk widened to [0, 110) and jump to [90, 200): two windows each, sharing frames 90-110 at the boundary.
    assert plan.layout.starts == [0, 30, 90, 120]
    assert plan.texts == ["walk", "walk", "jump", "jump"]
    assert plan.seams == [30, 90, 120]


def test_a_short_segment_keeps_its_own_window():
    script = parse_script("walk | 100f\nkick | 30f\nwalk | 100f\n")
    assert "kick" not in plan_windows(script, window=80, overlap=20, align="even").texts
    plan = plan_windows(script, window=80, overlap=20)
    kick = plan.texts.index("kick")
    start = plan.layout.starts[kick]
    assert start <= 100 and start + 80 >= 130  # centred on the kick: [75, 155)
    assert plan.texts.count("kick") == 1


def test_segment_windows_cover_every_segment_in_order():
    rng = random.Random(0)
    for _ in range(200):
        lengths = [rng.randint(5, 300) for _ in range(rng.randint(1, 6))]
        script = parse_script("".join(f"segment {i} | {n}f\n" for i, n in enumerate(lengths)))
        window, overlap = rng.choice([(80, 20), (60, 10), (40, 30)])
        plan = plan_windows(script, window=window, overlap=overlap)
        size = plan.layout.window_dims[0]
        starts = plan.layout.starts
        assert all(b > a for a, b in zip(starts, starts[1:]))
        assert starts[0] == 0 and plan.layout.canvas_dims[0] == max(script.num_frames, starts[-1] + size)
        assert plan.seams == starts[1:]
        for segment in script.segments:
            covered = set()
            for start, text in zip(starts, plan.texts):
                if text == segment.text:
                    covered.update(range(start, start + size))
            # Only segments so short that they share a window with a neighbour may lie in one with another text.
            if size == window and segment.end - segment.start >= window:
                assert set(range(segment.start, segment.end)) <= covered


def test_a_short_segment_at_a_script_end_starts_its_window():
    plan = plan_windows(parse_script("walk | 200f\nwave | 30f\n"), window=80, overlap=20)
    # wave's window starts half an overlap before its segment, as any neighbour's would, and the canvas grows to fit it.
    assert plan.layout.starts[-1] == 190 and plan.layout.canvas_dims == (270,)
    assert plan.layout.starts[-2] + 80 == 210  # walk's last window: the two share the usual 20 frames
    plan = plan_windows(parse_script("wave | 30f\nwalk | 200f\n"), window=80, overlap=20)
    assert plan.layout.starts[0] == 0 and plan.texts[0] == "wave" and plan.layout.canvas_dims == (230,)


def test_unknown_alignment_is_refused():
    with pytest.raises(ValueError, match="alignment"):
        plan_windows(parse_script("walk | 10s\n"), window=80, overlap=20, align="middle")


def test_path_given_as_string_and_unreadable_file(tmp_path):
    path = tmp_path / "walk.script"
    path.write_text("walk | 1s\n")
    assert parse_script(str(path)).segments[0].text == "walk"
    with pytest.raises(ScriptError, match="does not exist"):
        parse_script(str(tmp_path / "missing.script"))
    path.write_bytes(b"walk \xff | 1s\n")
    with pytest.raises(ScriptError, match="not UTF-8"):
        parse_script(path)


def test_bad_overlap_is_refused():
    with pytest.raises(ValueError, match="--overlap"):
        plan_windows(parse_script("walk | 10s\n"), window=80, overlap=80)


SCRIPT_LINES = st.one_of(
    st.text(max_size=40),
    st.builds(lambda text, sep, duration: f"{text}{sep}{duration}", st.text(max_size=15), st.sampled_from(["|", " | ", "||"]),
              st.one_of(st.text(max_size=8), st.from_regex(r"[0-9]{1,25}(\.[0-9]{0,3})?\s?(s|f|frames|sec)?", fullmatch=True))),
    st.builds(lambda name, value: f"@{name} {value}", st.sampled_from(["fps", "seed", "speed"]), st.text(max_size=25)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(SCRIPT_LINES, max_size=6), st.booleans())
def test_any_text_is_a_script_or_one_script_error(lines, bom):
    text = ("\ufeff" if bom else "") + "\n".join(lines) + "\n"
    try:
        script = parse_script(text)
    except ScriptError as error:
        assert "\n" not in str(error) and str(error).startswith("<script>")
        return
    assert script.segments and all(s.end > s.start for s in script.segments) and script.fps > 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["walk", "jump", "wave"]), st.integers(1, 300)), min_size=1, max_size=8),
       st.integers(0, 79), st.sampled_from(["segments", "even"]))
def test_any_script_plans_ordered_windows_inside_the_canvas(segments, overlap, align):
    script = parse_script("".join(f"{text} | {frames}f\n" for text, frames in segments))
    plan = plan_windows(script, window=80, overlap=overlap, align=align)
    window, canvas = plan.layout.window_dims[0], plan.layout.canvas_dims[0]
    assert plan.layout.starts == sorted(set(plan.layout.starts)) and plan.layout.starts[0] == 0
    assert plan.layout.starts[-1] + window <= canvas and canvas >= script.num_frames
    assert len(plan.texts) == len(plan.layout.starts) and set(plan.texts) <= {text for text, _ in segments}
