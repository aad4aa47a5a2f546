"""Does the embedded model do what a text says? Single-window accuracy with training vs held-out paraphrases.

For every action, `--texts` clips are drawn per paraphrase split; each clip's text is generated as one window
(the clip's length, clamped to the model's window) with `--samples` samples and scored by the evaluator's top-1
action. Rows: the real clips themselves (what a perfect generator scores), the model with training paraphrases,
and with held-out ones, each with the prompt's own embedding and snapped to the nearest training wordings. The
last rows bound what a model conditioned on these sentence embeddings can do with held-out wording: a linear probe
from the MiniLM embedding of every training paraphrase to its action, scored on the held-out texts, and how often
snapping lands on a training text of the right action. Unlike bench_long_motion there are no seams here: this
isolates text following.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
import torch
from tqdm import tqdm

from syncmotion.backends.text_prototypes import SnappedTextEncoder
from syncmotion.engine import Independent
from syncmotion.pipelines.long_motion import LongMotionSettings, generate_motion
from syncmotion.motion.script import Script
from syncmotion.motion.types import Segment
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.corpus import ACTIONS, generate_clip
from syncmotion_lab.corpus.generator import sample_params
from syncmotion_lab.corpus.texts import describe
from syncmotion_lab.eval import load_evaluator
from syncmotion_lab.eval.scoring import per_action

MIN_FRAMES = 40
SEED = 7000  # away from the corpus, evaluator and benchmark-script draws


def linear_probe_accuracy(encoder: Callable[[list[str]], torch.Tensor], names: list[str], seed: int, draws: int) -> float:
    """Held-out accuracy of a logistic regression from training-paraphrase embeddings to actions."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for label, action in enumerate(names):
        for _ in range(draws):
            train.append((generate_clip(action, None, rng, "train").text, label))
            held.append((generate_clip(action, None, rng, "heldout").text, label))
    train_x, held_x = encoder([t for t, _ in train]).float(), encoder([t for t, _ in held]).float()
    train_y, held_y = torch.tensor([y for _, y in train]), torch.tensor([y for _, y in held])
    probe = torch.nn.Linear(train_x.shape[1], len(names))
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2)
    for _ in range(500):
        loss = torch.nn.functional.cross_entropy(probe(train_x), train_y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float((probe(held_x).argmax(1) == held_y).float().mean())


def snapping_accuracy(encoder: SnappedTextEncoder, names: list[str], seed: int, draws: int) -> float:
    """How often a held-out text's heaviest training neighbour describes the same action."""
    rng = np.random.default_rng(seed)
    # Texts alone are cheap to draw (no motion), so draw enough to meet every wording of every action.
    action_of = {describe(action, sample_params(action, rng), "train", rng): action
                 for action in names for _ in range(3000)}
    held = [(generate_clip(action, None, rng, "heldout").text, action) for action in names for _ in range(draws)]
    readings = encoder.read([text for text, _ in held])
    unknown = {r.neighbours[0][0] for r in readings} - set(action_of)
    if unknown:
        raise click.ClickException(f"training texts not drawn again here (draw more per action): {sorted(unknown)[:3]}")
    return float(np.mean([action_of[r.neighbours[0][0]] == action for r, (_, action) in zip(readings, held)]))


@click.command()
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Embedded model file (default: the shipped one).")
@click.option("--texts", default=4, show_default=True, help="Clips (texts) per action and split.")
@click.option("--samples", default=2, show_default=True, help="Generated samples per text.")
@click.option("--steps", type=int, default=None, help="Denoising steps (default: the model's).")
@click.option("--guidance", "guidances", default="2.5,5,7.5", show_default=True,
              help="Classifier-free guidance scales, comma-separated: one accuracy column each.")
@click.option("--doc/--no-doc", default=True, show_default=True, help="Write the docs/benchmarks.md section.")
def main(model: Path | None, texts: int, samples: int, steps: int | None, guidances: str, doc: bool) -> None:
    """Print (and record) single-window action accuracy with training and held-out paraphrases."""
    try:
        scales = [float(g) for g in guidances.split(",") if g.strip()]
    except ValueError:
        raise click.UsageError(f"--guidance {guidances!r}: give numbers separated by commas, e.g. 2.5,5") from None
    from syncmotion.backends.embedded import load_embedded, unsnapped
    from syncmotion.backends.minilm import MiniLMTextEncoder

    torch.manual_seed(0)
    evaluator = load_evaluator()
    snapped = load_embedded(model)
    readings = {"prompt's own embedding": unsnapped(snapped)}
    if isinstance(snapped.text_encoder, SnappedTextEncoder):
        readings["snapped to training wordings (default)"] = snapped
    names = sorted(ACTIONS)
    rows = []
    # (asked, made) of every motion with the default reading at the first scale: the per-action table.
    made: dict[str, list[tuple[str, str]]] = {"train": [], "heldout": []}
    for split in ("train", "heldout"):
        rng = np.random.default_rng([SEED, len(split)])
        clips = [generate_clip(action, None, rng, split) for action in names for _ in range(texts)]
        _, real_logits = evaluator.encode([c.positions for c in clips])
        real = float(np.mean([evaluator.actions[i] == c.action for i, c in zip(real_logits.argmax(1), clips)]))
        if split == "train":
            rows.append(["real clips (evaluator on the corpus itself)", *[f"{real:.3f}"] * len(scales), len(clips)])
        for reading, backend in readings.items():
            accuracies = []
            for guidance in scales:
                hits = []
                for number, clip in enumerate(tqdm(clips, desc=f"{split} texts, {reading}, guidance {guidance:g}")):
                    frames = int(np.clip(len(clip.positions), MIN_FRAMES, backend.window))
                    script = Script(segments=[Segment(clip.text, 0, frames)], fps=backend.fps, seed=number)
                    settings = LongMotionSettings(strategy=Independent(), steps=steps, guidance=guidance, num_samples=samples)
                    motions = generate_motion(script, backend, settings, progress=False)
                    _, logits = evaluator.encode([m.positions for m in motions])
                    predicted = [evaluator.actions[i] for i in logits.argmax(1)]
                    hits += [action == clip.action for action in predicted]
                    if backend is snapped and guidance == scales[0]:
                        made[split] += [(clip.action, action) for action in predicted]
                accuracies.append(f"{np.mean(hits):.3f}")
            rows.append([f"embedded model, {split} paraphrases, {reading}", *accuracies, len(clips) * samples])
    # The text-side ceilings do not depend on guidance.
    probe = linear_probe_accuracy(MiniLMTextEncoder(), names, SEED + 1, 30)
    rows.append(["text ceiling: linear probe MiniLM -> action, held-out paraphrases", *[f"{probe:.3f}"] * len(scales),
                 len(names) * 30])
    if isinstance(snapped.text_encoder, SnappedTextEncoder):
        ceiling = snapping_accuracy(snapped.text_encoder, names, SEED + 1, 30)
        rows.append(["text ceiling of snapping: top weighted training text has the held-out text's action",
                     *[f"{ceiling:.3f}"] * len(scales), len(names) * 30])
    headers = ["what", *[f"top-1, guidance {g:g}" for g in scales], "motions scored (per column)"]
    table = markdown_table(headers, rows)
    click.echo(table)
    actions_table = per_action_table(made, names, scales[0])
    click.echo(actions_table)
    if doc:
        settings = f"{backend.name}, window {backend.window} frames"
        write_section("text_following", "\n".join([
            "## Text following: single windows, training vs held-out paraphrases",
            "",
            f"`python tools/bench_text_following.py --texts {texts} --samples {samples} --guidance {guidances}` "
            f"({settings}; {len(names)} actions, steps {steps or 'model default'}). One window per text, no "
            "seams: this separates following a text from synchronizing windows. Rows compare the prompt's own "
            "MiniLM embedding with the default reading of a prompt as its nearest training wordings (`--no-snap-text` "
            "turns it off). The last rows are upper bounds from the text side: how well the held-out wording can be "
            "told apart at all in the MiniLM embedding space when only the training paraphrases are known, and how "
            "often snapping picks a training text of the right action.",
            "",
            table,
            "",
            f"Per action, default reading, guidance {scales[0]:g} ({texts * samples} motions per cell; \"made instead\": "
            "the evaluator's most frequent wrong answer):",
            "",
            actions_table,
        ]))


def per_action_table(made: dict[str, list[tuple[str, str]]], names: list[str], guidance: float) -> str:
    """Top-1 per asked action and split, with the most frequent wrong action made instead."""
    by_split = {split: per_action(made[split]) for split in ("train", "heldout")}
    rows = []
    for action in names:
        row: list[object] = [action]
        for summary in by_split.values():
            entry = summary.get(action)
            row += [f"{entry['top1']:.2f}", next(iter(entry["made_instead"]), "")] if entry else ["—", ""]
        rows.append(row)
    return markdown_table(["action", f"training wordings, top-1 (g {guidance:g})", "made instead",
                           f"held-out wordings, top-1 (g {guidance:g})", "made instead"], rows)


if __name__ == "__main__":
    main()
