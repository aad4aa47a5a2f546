"""The files `syncmotion motion` writes, and whether a command line will draw any, read before torch is imported."""

from __future__ import annotations

from collections.abc import Sequence

FORMATS = ("npy", "json", "bvh", "glb", "gltf", "mp4", "gif", "png")
DEFAULT_FORMATS = "npy,json,bvh,mp4,png"
DRAWN_FORMATS = frozenset({"mp4", "gif", "png"})


def will_draw(args: Sequence[str]) -> bool:
    """Whether the command line `args` (after `syncmotion`) looks like a motion that writes an animation or a filmstrip.

    A guess from the raw arguments, so that a drawing process can start before click and torch are loaded: a wrong
    guess costs only time (a drawing process started for nothing, or none started), never a different result.
    """
    if not args or args[0] != "motion" or "--help" in args or "-h" in args:
        return False
    formats = DEFAULT_FORMATS
    for index, argument in enumerate(args):
        if argument == "--formats" and index + 1 < len(args):
            formats = args[index + 1]
        elif argument.startswith("--formats="):
            formats = argument.partition("=")[2]
    return not DRAWN_FORMATS.isdisjoint(part.strip() for part in formats.split(","))
