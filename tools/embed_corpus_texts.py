"""Embed the texts of a training corpus with MiniLM once, for training where the MiniLM package is not installed."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from syncmotion.backends.minilm import MiniLMTextEncoder
from syncmotion.backends.text_prototypes import TextPrototypes
from syncmotion_lab.corpus import corpus_clip, read_corpus
from syncmotion_lab.corpus.performance import corpus_performance
from syncmotion_lab.parallel import in_processes


def _clip_text(index: int, seed: int) -> list[str]:
    return [corpus_clip(seed, index).text]


def _performance_texts(index: int, seed: int) -> list[str]:
    return [segment.text for segment in corpus_performance(seed, index).segments]


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Safetensors file for tools/train_embedded.py --text-embeddings.")
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A corpus .npz from tools/make_corpus.py; default: draw --num-clips clips from --seed.")
@click.option("--num-clips", default=20000, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--num-performances", default=0, show_default=True, help="Corpus performances drawn beside the clips.")
@click.option("--workers", default=1, show_default=True, help="Processes that draw the corpus.")
def main(out: Path, corpus: Path | None, num_clips: int, seed: int, num_performances: int, workers: int) -> None:
    """Draw the corpus train_embedded.py would draw (same seed and size) and save its distinct texts' embeddings."""
    if corpus is not None:
        texts = list(read_corpus(corpus).texts)
    else:
        texts = [t for clip in in_processes(partial(_clip_text, seed=seed), list(range(num_clips)), workers, "corpus")
                 for t in clip]
    texts += [t for performance in in_processes(partial(_performance_texts, seed=seed), list(range(num_performances)),
                                                workers, "performances") for t in performance]
    TextPrototypes.from_texts(texts, MiniLMTextEncoder()).save(out)
    click.echo(f"saved {out}: {len(set(texts))} distinct texts of {len(texts)} clips and segments")


if __name__ == "__main__":
    main()
