"""Store the training texts of an embedded model in its file, redrawn from the corpus its recipe names.

Models trained before train_embedded.py stored their texts need this once; training now stores them itself.
The corpus draw is deterministic (clip i of seed s is drawn from rng [s, i]), so the texts are exactly the ones
the model saw.
"""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from syncmotion.backends.embedded import read_embedded, save_embedded
from syncmotion.backends.minilm import MiniLMTextEncoder
from syncmotion.backends.text_prototypes import TextPrototypes
from syncmotion_lab.corpus import corpus_clip


@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def main(model: Path) -> None:
    """Add text prototypes to MODEL (an embedded .safetensors file), in place."""
    network, mean, std, settings = read_embedded(model)
    recipe = settings["recipe"]
    num_clips, seed = int(recipe["num_clips"]), int(recipe["seed"])
    texts = [corpus_clip(seed, i).text
             for i in tqdm(range(num_clips), desc=f"corpus seed {seed}")]
    prototypes = TextPrototypes.from_texts(texts, MiniLMTextEncoder())
    save_embedded(model, network, mean, std, settings, prototypes)
    click.echo(f"{model}: {len(prototypes.texts)} distinct training texts stored")


if __name__ == "__main__":
    main()
