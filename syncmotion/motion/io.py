"""Motion files: our JSON (the viewer's input) and MDM's results.npy, written atomically and read back; any format by suffix."""

from __future__ import annotations

import json
import math
import numbers
import sys
from pathlib import Path
from typing import Any

import numpy as np

from syncmotion.files import write_atomically
from syncmotion.safe_pickle import UnsafePickleError, load_npy

from .arrays import check_finite, check_joints
from .skeleton import JOINT_NAMES, KINEMATIC_CHAIN, NUM_JOINTS, PARENTS
from .types import Motion, Segment

JSON_FORMAT = "syncmotion.motion"
JSON_VERSION = 1
# MDM joins nothing: one prompt per sample. A long motion's prompts are joined with this.
TEXT_SEPARATOR = " / "


def _check_exportable(motion: Motion, purpose: str) -> None:
    """Raise a ValueError unless the motion is [T >= 1, 22, 3] finite positions at a positive frame rate."""
    try:
        positions = np.asarray(motion.positions, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{purpose} needs positions as an array of numbers, got {type(motion.positions).__name__}") from None
    if positions.ndim != 3:
        raise ValueError(f"{purpose} needs positions shaped [T, 22, 3], got {tuple(positions.shape)}")
    check_joints(positions, minimum_frames=1)
    check_finite(positions, purpose)
    if not motion.fps > 0:
        raise ValueError(f"{purpose} needs a positive frame rate, got fps={motion.fps}")


def _plain(value: object) -> object:
    """NumPy scalars and arrays in `meta` as JSON numbers and lists; anything else as its text."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return str(value)


def motion_header(motion: Motion) -> dict:
    """The JSON document of a motion without its positions, in plain JSON values (what glTF extras carry too)."""
    header = {
        "format": JSON_FORMAT, "version": JSON_VERSION, "fps": motion.fps, "num_frames": motion.num_frames,
        "joint_names": list(JOINT_NAMES), "parents": list(PARENTS), "kinematic_chain": [list(c) for c in KINEMATIC_CHAIN],
        "segments": [{"text": s.text, "start": s.start, "end": s.end} for s in motion.segments],
        "seams": [int(s) for s in motion.seams], "meta": motion.meta,
    }
    return json.loads(json.dumps(header, default=_plain))


def motion_to_dict(motion: Motion) -> dict:
    """The JSON document of a motion (schema version 1)."""
    _check_exportable(motion, "JSON export")
    return {**motion_header(motion), "positions": np.round(np.asarray(motion.positions, dtype=np.float64), 4).tolist()}


def save_json(motion: Motion, path: str | Path) -> None:
    """Write a motion as syncmotion JSON (what `viz/` opens)."""
    document = json.dumps(motion_to_dict(motion), separators=(",", ":"), default=_plain)
    write_atomically(path, lambda tmp: tmp.write_text(document, encoding="utf-8"))


def _interned(value: Any) -> Any:
    """`value` with every string interned, lists and dicts rebuilt: equal strings become one object."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, dict):
        return {_interned(key): _interned(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(map(_interned, value))
    return value


def save_results_npy(motions: list[Motion], path: str | Path, num_repetitions: int = 1) -> None:
    """Write motions in MDM's results.npy layout: motion [N, 22, 3, T] (zero-padded), text, lengths."""
    if not motions:
        raise ValueError("no motions to save")
    if num_repetitions < 1 or len(motions) % num_repetitions:
        raise ValueError(f"{len(motions)} motions cannot be {num_repetitions} repetitions of the same samples; "
                         "give num_repetitions that divides the number of motions")
    for motion in motions:
        _check_exportable(motion, "results.npy export")
    longest = max(m.num_frames for m in motions)
    stacked = np.zeros((len(motions), NUM_JOINTS, 3, longest), dtype=np.float32)
    for index, motion in enumerate(motions):
        stacked[index, :, :, : motion.num_frames] = np.asarray(motion.positions).transpose(1, 2, 0)
    results = {
        "motion": stacked,
        "text": [TEXT_SEPARATOR.join(s.text for s in m.segments) for m in motions],
        "lengths": np.array([m.num_frames for m in motions], dtype=np.int64),
        "num_samples": len(motions) // num_repetitions, "num_repetitions": num_repetitions,
        # Ours, ignored by MDM's tools: what load_motion needs to restore segments and seams.
        "syncmotion": [{"fps": m.fps, "segments": [[s.text, s.start, s.end] for s in m.segments], "seams": list(m.seams),
                        "meta": m.meta} for m in motions],
    }

    # Pickle writes a string once and refers back to it where the same object recurs, so its bytes depend on which
    # equal strings happen to share an object (a choice's default does, a value sent from another process does not).
    # Interned, every equal string is one object: the same motion gives the same file wherever it was made.
    results = _interned(results)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, results, allow_pickle=True)

    write_atomically(path, write)


def _motion(positions: np.ndarray, fps: object, segments: list[Segment], seams: list[int], meta: object) -> Motion:
    """A Motion from values read off a file, or a ValueError saying which of them a motion cannot have."""
    # Values beyond float32's range become infinite here, and are refused with the NaNs.
    with np.errstate(over="ignore"):
        positions = positions.astype(np.float32)
    if not np.isfinite(positions).all():
        raise ValueError("the joint positions hold NaN or infinite values")
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not 0 < float(fps) < math.inf:
        raise ValueError(f"the frame rate must be a positive number, got {fps!r}")
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dictionary, got {type(meta).__name__}")
    return Motion(positions, float(fps), segments, seams, meta)


def motion_from_header(header: dict, positions: np.ndarray) -> Motion:
    """A Motion from joint positions [T, 22, 3] and a header's fps, segments, seams and meta; a ValueError says what is wrong."""
    try:
        segments = [Segment(str(s["text"]), int(s["start"]), int(s["end"])) for s in header.get("segments", [])]
        seams = [int(s) for s in header.get("seams", [])]
        if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3):
            raise ValueError(f"positions must be [frames, 22, 3], got {list(positions.shape)}")
        return _motion(positions, header.get("fps", 20), segments, seams, header.get("meta", {}))
    except KeyError as error:
        raise ValueError(f"the motion has no {error.args[0]!r} entry") from None
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"malformed motion ({error})") from None


def _from_json(path: Path) -> Motion:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path} is not JSON ({error}); expected a motion exported by syncmotion") from None
    if not isinstance(document, dict) or document.get("format") != JSON_FORMAT:
        raise ValueError(f"{path} is not a syncmotion motion (format should be {JSON_FORMAT!r})")
    if document.get("version") != JSON_VERSION:
        raise ValueError(f"{path} has motion format version {document.get('version')}; this syncmotion reads version {JSON_VERSION}")
    try:
        positions = np.asarray(document["positions"], dtype=np.float64)
    except KeyError:
        raise ValueError(f"{path}: the motion has no 'positions' entry; re-export it with syncmotion") from None
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{path}: malformed motion ({error}); re-export it with syncmotion") from None
    try:
        return motion_from_header(document, positions)
    except ValueError as error:
        raise ValueError(f"{path}: {error}; re-export it with syncmotion") from None


def _results_motions(results: dict) -> list[Motion]:
    """The motions in MDM's results dictionary (plus our `syncmotion` extras), checked entry by entry."""
    stacked = results["motion"]
    if (not isinstance(stacked, np.ndarray) or stacked.dtype.kind not in "fiu" or stacked.ndim != 4
            or stacked.shape[1:3] != (NUM_JOINTS, 3)):
        shape = list(stacked.shape) if isinstance(stacked, np.ndarray) else type(stacked).__name__
        raise ValueError(f"motion must be numbers shaped [N, 22, 3, T], got {shape}")
    count, frames = len(stacked), stacked.shape[-1]
    lengths = np.asarray(results.get("lengths", [frames] * count))
    texts = results.get("text", [""] * count)
    extras = results.get("syncmotion", [None] * count)
    if lengths.ndim != 1 or lengths.dtype.kind not in "iu":
        raise ValueError("lengths must be a list of whole numbers")
    if not isinstance(texts, (list, tuple, np.ndarray)) or not all(isinstance(text, str) for text in texts):
        raise ValueError("text must be a list of strings")
    if not isinstance(extras, (list, tuple)) or not all(extra is None or isinstance(extra, dict) for extra in extras):
        raise ValueError("the syncmotion entry must be a list of dictionaries")
    if not len(lengths) == len(texts) == len(extras) == count:
        raise ValueError(f"{count} motions but {len(lengths)} lengths, {len(texts)} texts and {len(extras)} syncmotion "
                         "entries; the file is damaged")
    motions = []
    for i, (length, text, extra) in enumerate(zip(lengths.tolist(), texts, extras)):
        if not 1 <= length <= frames:
            raise ValueError(f"motion {i} has length {length}; lengths must be between 1 and the {frames} stored frames")
        positions = stacked[i, :, :, :length].transpose(2, 0, 1)
        extra = extra or {}
        try:
            segments = [Segment(str(t), int(a), int(b)) for t, a, b in extra.get("segments", [])] or [Segment(text, 0, length)]
            seams = [int(seam) for seam in extra.get("seams", [])]
            motions.append(_motion(positions, extra.get("fps", 20), segments, seams, extra.get("meta", {})))
        except (TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"motion {i}: {error}") from None
    return motions


def _from_results(path: Path, index: int | None) -> Motion | list[Motion]:
    try:
        array = load_npy(path)
    except UnsafePickleError as error:
        raise ValueError(f"{path} holds a pickled {error.name!r}, which a motion file never needs; refusing to load it "
                         "(only numpy arrays, dicts, lists, strings and numbers are read)") from None
    except (ValueError, OSError) as error:
        raise ValueError(f"{path} is not an MDM results.npy ({error})") from None
    # MDM's results are a dictionary, which np.save stores as a 0-d object array.
    results = array.item() if array.dtype == object and array.size == 1 else None
    if not isinstance(results, dict) or "motion" not in results:
        raise ValueError(f"{path} is not an MDM results.npy: it has no 'motion' entry")
    try:
        motions = _results_motions(results)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None
    if index is None:
        return motions
    if not 0 <= index < len(motions):
        raise ValueError(f"{path} holds {len(motions)} motions; --index must be between 0 and {len(motions) - 1}")
    return motions[index]


# The motion files read and written by suffix. BVH and glTF modules are imported when used.
MOTION_SUFFIXES = (".json", ".npy", ".bvh", ".glb", ".gltf")


def _unknown_type(path: Path) -> ValueError:
    """The refusal of a file name whose suffix is not a motion format."""
    return ValueError(f"{path}: unknown motion file type {path.suffix!r}; give a {', '.join(MOTION_SUFFIXES[:-1])} or "
                      f"{MOTION_SUFFIXES[-1]} file")


def motion_file_names(path: str | Path, count: int) -> list[Path]:
    """Where `count` motions go for `path`: a results .npy holds them all, other formats one each (NAME_00, NAME_01, ...)."""
    path = Path(path)
    if count == 1 or path.suffix.lower() == ".npy":
        return [path]
    return [path.with_name(f"{path.stem}_{n:02d}{path.suffix}") for n in range(count)]


def save_motions(motions: list[Motion], path: str | Path) -> list[Path]:
    """Write motions in the format `path`'s suffix names, at motion_file_names(path); returns the paths written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MOTION_SUFFIXES:
        raise _unknown_type(path)
    targets = motion_file_names(path, len(motions))
    if suffix == ".npy":
        save_results_npy(motions, path)
        return targets
    for motion, target in zip(motions, targets):
        if suffix == ".json":
            save_json(motion, target)
        elif suffix == ".bvh":
            from .bvh import save_bvh

            save_bvh(motion, target)
        else:
            from .gltf import save_gltf

            save_gltf(motion, target)
    return targets


def load_motion(path: str | Path, index: int | None = None) -> Motion | list[Motion]:
    """A motion from syncmotion JSON, BVH or glTF, or the motions (or the index-th one) of an MDM results.npy."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no motion file at {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return _from_json(path)
        if suffix == ".npy":
            return _from_results(path, index)
        if suffix == ".bvh":
            from .bvh import load_bvh

            return load_bvh(path)
        if suffix in (".glb", ".gltf"):
            from .gltf import load_gltf

            return load_gltf(path)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}; check the file's permissions") from None
    raise _unknown_type(path)
