"""`syncmotion render`: an exported motion (our JSON, BVH or glTF, or MDM's results.npy) -> mp4, gif or filmstrip png."""

from __future__ import annotations

from pathlib import Path

import click

from .params import POSITIVE


@click.command()
@click.argument("motion_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output .mp4, .gif or .png (filmstrip); default: an .mp4 beside the input.")
@click.option("--index", type=click.IntRange(min=0), default=None, help="Which motion of a multi-sample results.npy (default: all).")
@click.option("--fps", type=POSITIVE, default=None, help="Playback rate (default: the motion's).")
@click.option("--size", type=click.IntRange(min=64), default=480, show_default=True, help="Video width and height in pixels.")
def render(motion_file: Path, out: Path | None, index: int | None, fps: float | None, size: int) -> None:
    """Render MOTION_FILE (.json, .bvh, .glb/.gltf or MDM results .npy) as an animation or a filmstrip."""
    from syncmotion.files import file_set
    from syncmotion.motion.io import motion_file_names
    from syncmotion.render import render_filmstrip, render_video

    from .inputs import motions_to_write

    out = out or motion_file.with_suffix(".mp4")
    if out.suffix not in (".mp4", ".gif", ".png"):
        raise click.UsageError(f"--out {out.name}: choose a .mp4, .gif or .png file name")
    motions = motions_to_write(motion_file, index, out)
    targets = motion_file_names(out, len(motions))
    try:
        # All or nothing: a failure at the third motion must not leave the first two beside older renders.
        with file_set(targets) as paths:
            for motion, path in zip(motions, paths):
                try:
                    if path.suffix == ".png":
                        render_filmstrip(motion, path)
                    else:
                        render_video(motion, path, fps=fps, size=size)
                except ValueError as error:
                    raise click.ClickException(f"{motion_file}: {error}") from None
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    for motion, target in zip(motions, targets):
        click.echo(f"wrote {target} ({motion.num_frames} frames, {motion.seconds:.1f} s)")
