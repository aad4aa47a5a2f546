"""Where the shipped data folders (models/, viz/, sequences/) are, in a source checkout or an installed package."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """The folder `name` from the source checkout, else from the installed data files (share/syncmotion/name)."""
    candidates = [REPO_ROOT / name, Path(sys.prefix) / "share" / "syncmotion" / name]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"syncmotion's {name}/ folder is missing (looked in {', '.join(map(str, candidates))}); reinstall syncmotion")
