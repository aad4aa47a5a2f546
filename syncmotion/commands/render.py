"""`syncmotion render`: an exported motion (our JSON or MDM's results.npy) -> mp4, gif or filmstrip png."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("motion_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output .mp4, .gif or .png (filmstrip); default: an .mp4 beside the input.")
@click.option("--index", type=click.IntRange(min=0), default=None, help="Which motion of a multi-sample results.npy (default: all).")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=None, help="Playback rate (default: the motion's).")
@click.option("--size", type=click.IntRange(min=64), default=480, show_default=True, help="Video width and height in pixels.")
def render(motion_file: Path, out: Path | None, index: int | None, fps: float | None, size: int) -> None:
    """Render MOTION_FILE (.json or MDM results .npy) as an animation or a filmstrip."""
    from syncmotion.motion.io import load_motion
    from syncmotion.render import render_filmstrip, render_video

    out = out or motion_file.with_suffix(".mp4")
    if out.suffix not in (".mp4", ".gif", ".png"):
        raise click.UsageError(f"--out {out.name}: choose a .mp4, .gif or .png file name")
    try:
        loaded = load_motion(motion_file, index)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    motions = loaded if isinstance(loaded, list) else [loaded]
    for number, motion in enumerate(motions):
        target = out if len(motions) == 1 else out.with_name(f"{out.stem}_{number:02d}{out.suffix}")
        try:
            if target.suffix == ".png":
                render_filmstrip(motion, target)
            else:
                render_video(motion, target, fps=fps, size=size)
        except ValueError as error:
            raise click.ClickException(f"{motion_file}: {error}") from None
        click.echo(f"wrote {target} ({motion.num_frames} frames, {motion.seconds:.1f} s)")
