"""Write the long-motion benchmark scripts (held-out paraphrases) and their action index to sequences/bench/."""

from __future__ import annotations

import json
from pathlib import Path

import click

from syncmotion.files import write_atomically
from syncmotion.resources import REPO_ROOT
from syncmotion_lab.corpus import FPS
from syncmotion_lab.eval.benchset import (LONG_MIXES, LONG_SCRIPT_SEED, LONG_SINGLES, RESERVED_SEEDS, SCRIPT_SEED,
                                          draw_long_segments, draw_segments, script_text)


def _write(path: Path, text: str) -> None:
    write_atomically(path, lambda temporary: temporary.write_text(text))


@click.command()
@click.option("--num", type=click.IntRange(min=1), default=None, help="Number of scripts (default 32).")
@click.option("--seed", type=int, default=None, help=f"Corpus seed; script i uses rng [seed, i] (default {SCRIPT_SEED}).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: sequences/bench, or sequences/bench_long with --long).")
@click.option("--long", "long_segments", is_flag=True,
              help=f"The long-segment set: {len(LONG_SINGLES)} single actions of 20-60 s, then mixes of 10-30 s segments "
                   f"(--num {len(LONG_SINGLES) + LONG_MIXES}, --seed {LONG_SCRIPT_SEED} by default).")
def main(num: int | None, seed: int | None, out: Path | None, long_segments: bool) -> None:
    """Write NUM scripts bench_XX.txt (long_XX.txt) and index.json (action, parameters, text, frames of every segment)."""
    num = num or (len(LONG_SINGLES) + LONG_MIXES if long_segments else 32)
    default_seed = LONG_SCRIPT_SEED if long_segments else SCRIPT_SEED
    seed = seed if seed is not None else default_seed
    out = out or REPO_ROOT / "sequences" / ("bench_long" if long_segments else "bench")
    if seed in RESERVED_SEEDS:
        raise click.UsageError(f"--seed {seed} is a training draw (model 0, evaluator 1000/1001); use e.g. {default_seed}")
    out.mkdir(parents=True, exist_ok=True)
    index: dict = {"seed": seed, "fps": FPS, "scripts": {}, **({"long": True} if long_segments else {})}
    for i in range(num):
        segments = draw_long_segments(i, seed) if long_segments else draw_segments(i, seed)
        name = f"{'long' if long_segments else 'bench'}_{i:02d}.txt"
        _write(out / name, script_text(i, segments, seed))
        index["scripts"][name] = segments
    _write(out / "index.json", json.dumps(index, indent=1, sort_keys=True) + "\n")
    total = sum(s["frames"] for segments in index["scripts"].values() for s in segments) / FPS
    click.echo(f"{num} scripts, {sum(len(v) for v in index['scripts'].values())} segments, {total / 60:.1f} min of motion -> {out}")


if __name__ == "__main__":
    main()
