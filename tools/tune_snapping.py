"""Choose how much words count when prompts are read as training wordings (text_prototypes.LEXICAL_WEIGHT).

Leave-one-template-out cross-validation on the training paraphrases only: for every action and training template,
its texts are read against the texts of every other template (all actions), and a reading is right when the
heaviest neighbour describes the same action. The chosen weight is the smallest whose accuracy is within one
standard error of the best (the one-standard-error rule). The held-out paraphrases' accuracy is printed beside it
for reference; it plays no part in the choice.
"""

from __future__ import annotations

import click
import numpy as np
import torch
from tqdm import tqdm

from syncmotion.backends.minilm import MiniLMTextEncoder
from syncmotion.backends.text_prototypes import LEXICAL_WEIGHT, SnappedTextEncoder, TextPrototypes
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.corpus import ACTIONS, generate_clip, sample_params
from syncmotion_lab.corpus.texts import TEMPLATES, paraphrase

SEED = 7100


def template_texts(draws: int, rng: np.random.Generator) -> dict[tuple[str, int], list[str]]:
    """Distinct training texts per (action, template index), slot words drawn as the corpus draws them."""
    return {(action, index): sorted({paraphrase(action, index, sample_params(action, rng), "train", rng) for _ in range(draws)})
            for action in sorted(ACTIONS) for index in range(len(TEMPLATES[action][0]))}


def top_actions(reader: SnappedTextEncoder, queries: list[str], action_of: dict[str, str]) -> list[str]:
    """The action of each query's heaviest training neighbour."""
    return [action_of[reading.neighbours[0][0]] for reading in reader.read(queries)]


@click.command()
@click.option("--weights", default="0,0.1,0.2,0.3,0.4,0.5,0.6,0.8,1.0,1.5", show_default=True,
              help="Lexical weights to try, comma-separated.")
@click.option("--draws", default=40, show_default=True, help="Parameter draws per action (texts per template).")
@click.option("--queries", default=8, show_default=True, help="Texts per left-out template that are read.")
@click.option("--doc/--no-doc", default=True, show_default=True, help="Write the docs/benchmarks.md section.")
def main(weights: str, draws: int, queries: int, doc: bool) -> None:
    """Print (and record) cross-validated reading accuracy per lexical weight and the weight the rule picks."""
    grid = [float(w) for w in weights.split(",")]
    rng = np.random.default_rng(SEED)
    by_template = template_texts(draws, rng)
    action_of = {text: action for (action, _), group in by_template.items() for text in group}
    held = [(generate_clip(action, None, rng, "heldout").text, action) for action in sorted(ACTIONS) for _ in range(30)]
    encoder = MiniLMTextEncoder()
    everything = sorted(action_of) + [text for text, _ in held]
    cached = dict(zip(everything, encoder(everything)))

    def lookup(batch: list[str]) -> torch.Tensor:
        return torch.stack([cached[text] for text in batch])

    def prototypes_without(left_out: tuple[str, int] | None) -> TextPrototypes:
        kept = [text for key, group in by_template.items() if key != left_out for text in group]
        return TextPrototypes(kept, lookup(kept))

    folds = [(key, group[:queries], prototypes_without(key)) for key, group in by_template.items()]
    whole = prototypes_without(None)
    rows, cv = [], {}
    for weight in tqdm(grid, desc="weights"):
        hits = []
        for (action, _), group, prototypes in folds:
            encoder = SnappedTextEncoder(lookup, prototypes, lexical_weight=weight)
            hits += [found == action for found in top_actions(encoder, group, action_of)]
        found = top_actions(SnappedTextEncoder(lookup, whole, lexical_weight=weight), [t for t, _ in held], action_of)
        accuracy = float(np.mean(hits))
        cv[weight] = (accuracy, float(np.sqrt(accuracy * (1 - accuracy) / len(hits))))
        rows.append([f"{weight:g}", f"{accuracy:.3f} ± {cv[weight][1]:.3f}", f"{np.mean([f == a for f, (_, a) in zip(found, held)]):.3f}"])
    best = max(cv, key=lambda w: cv[w][0])
    chosen = min(w for w in cv if cv[w][0] >= cv[best][0] - cv[best][1])
    for row in rows:
        row.append("chosen" if float(row[0]) == chosen else ("best" if float(row[0]) == best else ""))
    headers = ["lexical weight", "leave-one-template-out top-1 ± s.e.", "held-out paraphrases top-1 (reference)", ""]
    text = markdown_table(headers, rows)
    click.echo(text)
    click.echo(f"one-standard-error rule picks {chosen:g}; text_prototypes.LEXICAL_WEIGHT is {LEXICAL_WEIGHT:g}")
    if doc:
        write_section("tune_snapping", "\n".join([
            "## Reading new wordings: how much words count",
            "",
            f"`python tools/tune_snapping.py` ({len(by_template)} training templates of {len(ACTIONS)} actions, up to "
            f"{queries} texts each read against all other templates' texts; {len(held)} held-out paraphrases). A prompt "
            "is read as its nearest training wordings by cosine similarity of MiniLM embeddings plus the lexical weight "
            "times the TF-IDF cosine of their stemmed motion words. Top-1: the heaviest neighbour describes the right "
            "action. The weight shipped (`LEXICAL_WEIGHT`) is the smallest within one standard error of the best "
            "cross-validated one; the held-out column is for reference only.",
            "",
            text,
        ]))


if __name__ == "__main__":
    main()
