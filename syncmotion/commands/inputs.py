"""Reading the motion file a command converts or renders: every motion in it, or a one-line click error."""

from __future__ import annotations

from pathlib import Path

import click

from syncmotion.files import check_output_file
from syncmotion.motion.io import load_motion
from syncmotion.motion.types import Motion


def motions_to_write(source: Path, index: int | None, out: Path) -> list[Motion]:
    """The motions of `source` (all, or the --index-th), once `out` is known to be writable; else a ClickException."""
    try:
        check_output_file(out)  # a bad --out should stop us before reading a long file, not after
        loaded = load_motion(source, index)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    return loaded if isinstance(loaded, list) else [loaded]
