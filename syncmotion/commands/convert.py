"""`syncmotion convert`: a motion file in one format -> the same motion in another (npy, json, bvh, glb, gltf)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--index", type=click.IntRange(min=0), default=None,
              help="Which motion of a multi-sample results.npy (default: all; one TARGET_00, TARGET_01, ... each).")
def convert(source: Path, target: Path, index: int | None) -> None:
    """Convert SOURCE to TARGET, formats by suffix: .npy (MDM results), .json, .bvh, .glb, .gltf."""
    from syncmotion.files import file_set
    from syncmotion.motion.io import MOTION_SUFFIXES, motion_file_names, save_motions

    from .inputs import motions_to_write

    if target.suffix.lower() not in MOTION_SUFFIXES:
        video = " (videos and filmstrips: syncmotion render)" if target.suffix.lower() in (".mp4", ".gif", ".png") else ""
        raise click.UsageError(f"TARGET {target.name}: choose a {', '.join(MOTION_SUFFIXES)} file name{video}")
    motions = motions_to_write(source, index, target)
    targets = motion_file_names(target, len(motions))
    try:
        # All or nothing: a failure at the third motion must not leave the first two beside older files.
        with file_set(targets) as paths:
            save_motions(motions, paths[0].with_name(target.name))
    except ValueError as error:
        raise click.ClickException(f"{source}: {error}") from None
    for motion, path in zip(motions, targets):
        click.echo(f"wrote {path} ({motion.num_frames} frames, {motion.seconds:.1f} s)")
