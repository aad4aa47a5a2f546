"""Write the long-motion benchmark scripts (held-out paraphrases) and their action index to sequences/bench/."""

from __future__ import annotations

import json
from pathlib import Path

import click

from syncmotion.files import write_atomically
from syncmotion.resources import REPO_ROOT
from syncmotion_lab.corpus import FPS
from syncmotion_lab.eval.benchset import RESERVED_SEEDS, SCRIPT_SEED, draw_segments, script_text


def _write(path: Path, text: str) -> None:
    write_atomically(path, lambda temporary: temporary.write_text(text))


@click.command()
@click.option("--num", type=click.IntRange(min=1), default=32, show_default=True, help="Number of scripts.")
@click.option("--seed", type=int, default=SCRIPT_SEED, show_default=True, help="Corpus seed; script i uses rng [seed, i].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=REPO_ROOT / "sequences" / "bench",
              show_default=True, help="Output folder.")
def main(num: int, seed: int, out: Path) -> None:
    """Write NUM scripts bench_XX.txt and index.json (action, parameters, text, frames of every segment)."""
    if seed in RESERVED_SEEDS:
        raise click.UsageError(f"--seed {seed} is a training draw (model 0, evaluator 1000/1001); use e.g. {SCRIPT_SEED}")
    out.mkdir(parents=True, exist_ok=True)
    index = {"seed": seed, "fps": FPS, "scripts": {}}
    for i in range(num):
        segments = draw_segments(i, seed)
        name = f"bench_{i:02d}.txt"
        _write(out / name, script_text(i, segments, seed))
        index["scripts"][name] = segments
    _write(out / "index.json", json.dumps(index, indent=1, sort_keys=True) + "\n")
    total = sum(s["frames"] for segments in index["scripts"].values() for s in segments) / FPS
    click.echo(f"{num} scripts, {sum(len(v) for v in index['scripts'].values())} segments, {total / 60:.1f} min of motion -> {out}")


if __name__ == "__main__":
    main()
