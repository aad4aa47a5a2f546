"""Convert an official MDM checkpoint (.pt) to safetensors, keeping the official key names."""

from __future__ import annotations

from pathlib import Path

import click
from safetensors.torch import save_file

from syncmotion.backends.mdm import load_weights, mdm_config, read_mdm_args, read_state_dict
from syncmotion.backends.mdm_network import POSITIONAL_KEYS, MDMNetwork
from syncmotion.files import write_atomically


@click.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output .safetensors (default: beside the checkpoint, same name); args.json stays beside it.")
def main(checkpoint: Path, out: Path | None) -> None:
    """Check CHECKPOINT against the trans_enc layout and write its weights (EMA when present) as safetensors."""
    out = out or checkpoint.with_suffix(".safetensors")
    try:
        network = MDMNetwork(mdm_config(read_mdm_args(checkpoint)))
        state = read_state_dict(checkpoint)
        load_weights(network, state, str(checkpoint))
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    tensors = {k: v.contiguous() for k, v in network.state_dict().items() if k not in POSITIONAL_KEYS}
    write_atomically(out, lambda temporary: save_file(tensors, str(temporary), metadata={"source": checkpoint.name}))
    if out.parent != checkpoint.parent:
        click.echo(f"note: copy {checkpoint.parent / 'args.json'} beside {out}; the loader reads it from there")
    click.echo(f"wrote {out} ({len(tensors)} tensors, {out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
