"""The long-motion benchmark set: scripts of held-out paraphrases with known actions, and real corpus motion for them.

Each script is 3-6 segments of different consecutive actions; a segment is an action, its parameters, a held-out
paraphrase and the length of a corpus clip with those parameters. `index.json` beside the scripts keeps all of it,
so accuracy can be scored against the action each text came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch

from syncmotion.motion.features import facing_angle, rotate_y
from syncmotion.motion.script import parse_script
from syncmotion.resources import resource_dir
from syncmotion_lab.corpus import ACTIONS, FPS, generate_clip
from syncmotion_lab.corpus.performance import held_params
from syncmotion_lab.corpus.texts import describe

# Away from the embedded model's corpus draw (seed 0) and the evaluator's (1000 and 1001).
SCRIPT_SEED = 4000
LONG_SCRIPT_SEED = 7000
# Actions a script may ask for over 10-60 s: gaits and repetitive actions (one kick does not last 20 s).
LONG_ACTIONS = ("walk", "run", "march", "sway", "idle", "jumping_jacks", "clap")
# The long scripts: single actions held 20-60 s (walks and runs most, where pace shows), then mixes of 10-30 s segments.
LONG_SINGLES = ("walk", "walk", "walk", "run", "run", "march", "jumping_jacks", "sway")
LONG_MIXES = 4
REAL_SEED = 5000
REFERENCE_SEED = 6000
RESERVED_SEEDS = (0, 1000, 1001)


def draw_segments(index: int, seed: int = SCRIPT_SEED) -> list[dict[str, Any]]:
    """Segments of script `index`: 3-6 actions (no action twice in a row) with parameters, held-out text and frames."""
    rng = np.random.default_rng([seed, index])
    names = sorted(ACTIONS)
    segments: list[dict[str, Any]] = []
    previous = None
    for _ in range(int(rng.integers(3, 7))):
        action = str(rng.choice([n for n in names if n != previous]))
        clip = generate_clip(action, None, rng, split="heldout")
        segments.append({"action": action, "params": clip.params, "text": clip.text, "frames": len(clip.positions)})
        previous = action
    return segments


def draw_long_segments(index: int, seed: int = LONG_SCRIPT_SEED) -> list[dict[str, Any]]:
    """Segments of long script `index`: one action of 20-60 s (the first scripts), or 2-3 of 10-30 s, held-out texts."""
    rng = np.random.default_rng([seed, index])
    if index < len(LONG_SINGLES):
        plan = [(LONG_SINGLES[index], float(rng.uniform(20.0, 60.0)))]
    else:
        actions = list(rng.choice(LONG_ACTIONS, size=int(rng.integers(2, 4)), replace=False))
        plan = [(str(action), float(rng.uniform(10.0, 30.0))) for action in actions]
    segments = []
    for action, seconds in plan:
        params = {name: p.sample(rng) for name, p in ACTIONS[action].params.items()}
        params.update(held_params(action, params, seconds))
        frames = int(round(seconds * FPS))
        segments.append({"action": action, "params": params, "text": describe(action, params, "heldout", rng),
                         "frames": frames, "seconds": frames / FPS})
    return segments


def script_text(index: int, segments: list[dict[str, Any]], seed: int) -> str:
    """The script file for one benchmark script, with its actions in a comment line."""
    lines = [f"# syncmotion long-motion benchmark script {index:02d} (tools/make_bench_scripts.py, corpus seed {seed}).",
             "# Texts are held-out paraphrases: the embedded model never saw them in training.",
             f"# actions: {', '.join(s['action'] for s in segments)}",
             f"@seed {index}"]
    lines += [f"{s['text']} | {s['frames'] / FPS:.2f}s" for s in segments]
    return "\n".join(lines) + "\n"


def bench_folder() -> Path:
    """The shipped sequences/bench folder."""
    return resource_dir("sequences") / "bench"


def long_bench_folder() -> Path:
    """The shipped sequences/bench_long folder: long segments."""
    return resource_dir("sequences") / "bench_long"


def load_index(folder: str | Path | None = None) -> dict[str, Any]:
    """The benchmark index (scripts by file name, each a list of segments) from `folder`/index.json."""
    path = Path(folder if folder is not None else bench_folder()) / "index.json"
    if not path.is_file():
        raise FileNotFoundError(f"no benchmark index at {path}; write it with tools/make_bench_scripts.py")
    return json.loads(path.read_text())


def real_clip(segment: dict[str, Any], seed: int, script: int) -> np.ndarray:
    """Positions of a corpus clip with the segment's action and parameters, the body drawn from rng [seed, script].

    Every segment of a script restarts that generator, so a script's clips share one body (its bones keep their
    lengths across joins); the rest of a clip's randomness (fidgets, timing details) follows from the same stream.
    """
    clip = generate_clip(segment["action"], segment["params"], np.random.default_rng([seed, script]))
    return clip.positions


def as_clip(segment: dict[str, Any]) -> dict[str, Any]:
    """The segment with the parameters a single clip cannot take (a long segment's length or count) left to be drawn."""
    params = ACTIONS[segment["action"]].params
    fits = {name: value for name, value in segment["params"].items()
            if params[name].choices or params[name].low <= value <= params[name].high}
    return {**segment, "params": fits}


def join_end_to_end(clips: list[np.ndarray]) -> np.ndarray:
    """One motion from clips placed one after another, each turned and moved to start where the last one ended."""
    joined = [np.asarray(clips[0], dtype=np.float32)]
    for clip in clips[1:]:
        last = torch.from_numpy(joined[-1][-1:])
        heading = facing_angle(last[None])[0, 0] - facing_angle(torch.from_numpy(np.asarray(clip[:1]))[None])[0, 0]
        turned = rotate_y(torch.from_numpy(np.asarray(clip, dtype=np.float32)), heading).numpy()
        offset = joined[-1][-1, 0] - turned[0, 0]
        offset[1] = 0.0
        joined.append(turned + offset)
    return np.concatenate(joined)


def load_scripts(folder: Path, count: int | None) -> list[tuple[str, Any, list[dict[str, Any]]]]:
    """The first `count` benchmark scripts: (name, parsed script, index segments), checked against each other."""
    index = load_index(folder)
    names = sorted(index["scripts"])[:count]
    scripts = []
    for name in names:
        script = parse_script(folder / name)
        segments = index["scripts"][name]
        if [s.text for s in script.segments] != [s["text"] for s in segments]:
            raise click.UsageError(f"{folder / name} and index.json disagree; rewrite both with tools/make_bench_scripts.py")
        scripts.append((name, script, segments))
    return scripts
