"""Writing outputs whole: a reader (or a crash, Ctrl-C, SIGTERM) never sees half a file or half a run's set of files.

A run's files are an output set: they are written into a hidden staging folder beside the output folder and
moved in together at the end with a manifest (syncmotion-run.json: settings, time, each file's size and sha256).
Only the previous run's files are replaced (those its manifest lists; in an older folder without a manifest,
files named as runs name them); any other file in the folder is left alone. A lock file beside the output
folder keeps two runs from writing to it at once, and tells whether a staging folder's owner is still alive.

output_set takes that lock on entering (a ValueError one-liner when out is locked or unusable): enter it before the
long work. Its settings go into the manifest when the block ends, so they may be filled in within the block.
An exception, Ctrl-C or SIGTERM within the block removes the staging folder and leaves the output folder as it was;
staging folders of runs killed outright (kill -9) are removed by the next run writing beside them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

MANIFEST = "syncmotion-run.json"
MANIFEST_FORMAT = "syncmotion.run"
# Files a run writes (results.npy, motion.json, motion_01.bvh, motion.glb, motion_smpl.npz, ...) and write_atomically's
# hidden temporaries of them (mkstemp adds 8 characters): how an output folder from before manifests is recognised.
_RUN_FILE = re.compile(r"results\.npy|motion(_\d{2,})?(\.json|\.bvh|\.glb|\.gltf|\.png|\.mp4|\.gif|_smpl\.npz|_amass\.npz)")
_TEMPORARY = re.compile(r"\.(results|motion(_\d{2,})?(_smpl|_amass)?)\.[a-z0-9_]{8}\.(npy|json|bvh|glb|gltf|png|mp4|gif|npz)")
_STAGING = re.compile(r"\.(.+)\.staging-[a-z0-9_]{8}")
# A probe by `syncmotion view` or a stale-folder sweep holds a lock for a moment: wait that long before giving up.
_LOCK_PATIENCE = 0.5


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call write(temporary path) beside `path`, then move it into place, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        with keyboard_interrupt_kept():
            write(Path(temporary))
        # mkstemp makes the file private (0600); an output file gets the usual permissions of new files.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _signal_handler(handler: Callable, *signums: int) -> Iterator[None]:
    """Install `handler` for `signums` within the block and restore the previous ones after (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # Python runs signal handlers in the main thread only: from another thread there is nothing to change.
        return
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, signal.SIG_DFL if old is None else old)


@contextmanager
def _raised_on(signum: int, exception: Callable[[], BaseException]) -> Iterator[None]:
    """Within the block `signum` raises exception(), also where a library turns what it raised into an error of its own.

    A library that calls back into Python may do that: matplotlib's drawing made SystemExit "Invalid affine
    transformation matrix" and KeyboardInterrupt "ValueError: Invalid bounding box" (tests/test_render_frames.py saw
    the latter once in CI); the process was still told to stop.
    """
    received: list[int] = []

    def handler(number: int, frame: object) -> None:
        received.append(number)
        raise exception()

    with _signal_handler(handler, signum):
        try:
            yield
        except Exception:
            if received:
                raise exception() from None
            raise


@contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Within the block SIGTERM raises SystemExit(143), so cleanup code runs, instead of killing the process outright."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield  # whoever started us asked for SIGTERM to be ignored
        return
    with _raised_on(signal.SIGTERM, lambda: SystemExit(128 + signal.SIGTERM)):
        yield


@contextmanager
def keyboard_interrupt_kept() -> Iterator[None]:
    """Within the block Ctrl-C stays a KeyboardInterrupt, also where a library turns it into an error of its own."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # ignored, or a handler of someone else's: theirs to keep
        return
    with _raised_on(signal.SIGINT, KeyboardInterrupt):
        yield


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block has ended, so files being moved in are never cut off half-way."""
    caught: list[int] = []
    with _signal_handler(lambda signum, frame: caught.append(signum), signal.SIGINT, signal.SIGTERM):
        yield
    for signum in caught:
        signal.raise_signal(signum)


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def _try_lock(path: Path) -> int | None:
    """A descriptor holding an exclusive lock on the lock file `path` (made if missing), or None when a live process holds it."""
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                current = os.path.samestat(os.stat(path), os.fstat(handle))
            except FileNotFoundError:
                current = False
        except BlockingIOError:
            os.close(handle)
            return None
        except BaseException:
            os.close(handle)
            raise
        if current:
            return handle
        # The holder we waited for removed the file on its way out: lock the file now at `path` instead.
        os.close(handle)


def _unlock(path: Path, handle: int) -> None:
    # Removed while still held, so nobody can lock the old file and believe it is the current one (see _try_lock).
    path.unlink(missing_ok=True)
    os.close(handle)


def _locked_message(target: Path, pid: str) -> str:
    return f"another syncmotion run is writing to {target}{f' (pid {pid})' if pid else ''}; wait for it or choose another --out"


def running_writer(target: str | Path) -> str | None:
    """The process id (text, '' if unknown) of the syncmotion run writing to `target` now; None when none is."""
    path = _lock_path(Path(os.path.abspath(target)))
    try:
        handle = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        return os.read(handle, 32).decode(errors="replace").strip()
    finally:
        os.close(handle)


@contextmanager
def _refused_as_value_error(place: Path) -> Iterator[None]:
    """Within the block (setting up a run's output, before its work) an OSError is a ValueError one-liner."""
    # _check_location asks os.access first, which says yes to root everywhere, also where nothing can be made
    # (/proc, a read-only mount): the error then comes from making the lock or staging folder.
    try:
        yield
    except OSError as error:
        raise ValueError(f"cannot write to {place}: {error.strerror or error}; choose another --out") from None


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold the lock of `target` within the block; a ValueError one-liner when another run holds it."""
    path = _lock_path(target)
    deadline = time.monotonic() + _LOCK_PATIENCE
    with _refused_as_value_error(target.parent):
        while (handle := _try_lock(path)) is None:
            if time.monotonic() > deadline:
                raise ValueError(_locked_message(target, running_writer(target) or ""))
            time.sleep(0.05)
    try:
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode())
        yield
    finally:
        _unlock(path, handle)


def _remove_stale_staging(parent: Path) -> None:
    """Delete the staging folders in `parent` left by runs that were killed outright (their lock is free)."""
    stale: dict[str, list[Path]] = {}
    for entry in parent.iterdir():
        if match := _STAGING.fullmatch(entry.name):
            stale.setdefault(match[1], []).append(entry)
    for name, folders in stale.items():
        lock = _lock_path(parent / name)
        handle = _try_lock(lock)
        if handle is None:
            continue
        try:
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            _unlock(lock, handle)


def _check_location(target: Path, folder: bool) -> None:
    """Raise a ValueError one-liner unless a file (or a folder) can be written at the absolute path `target` now."""
    existing = target
    while not os.path.lexists(existing):
        existing = existing.parent
    if existing != target and not existing.is_dir():
        raise ValueError(f"cannot write {target}: {existing} is a file, not a folder; choose another --out")
    if existing == target and target.is_dir() != folder:
        kind, wanted = ("a file", "a folder") if folder else ("a folder", "a file name")
        raise ValueError(f"{target} is {kind}; give --out {wanted}")
    places = [existing if existing != target else target.parent] + ([target] if folder and existing == target else [])
    for place in places:
        if not os.access(place, os.W_OK | os.X_OK):
            raise ValueError(f"cannot write to {place}: permission denied; choose another --out")
    pid = running_writer(target)
    if pid is not None:
        raise ValueError(_locked_message(target, pid))
    if folder and existing == target:
        read_manifest(target)  # a damaged manifest should stop a run before its work, not after


def check_output_folder(out: str | Path) -> None:
    """Raise a ValueError one-liner unless a run could write its output set to the folder `out` now."""
    _check_location(Path(os.path.abspath(out)), folder=True)


def check_output_file(path: str | Path) -> None:
    """Raise a ValueError one-liner unless a file could be written at `path` now."""
    _check_location(Path(os.path.abspath(path)), folder=False)


@contextmanager
def _staging(target: Path, folder: bool) -> Iterator[Path]:
    """A fresh hidden folder beside `target`, under `target`'s lock; it is removed when the block ends, however it ends."""
    with exit_on_sigterm():
        _check_location(target, folder)
        with _refused_as_value_error(target.parent):
            target.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale_staging(target.parent)
        with _locked(target):
            with _refused_as_value_error(target.parent):
                staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.staging-"))
            try:
                yield staging
            finally:
                shutil.rmtree(staging, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: str | Path) -> dict | None:
    """The run manifest of the output folder `folder`; None when it has none (an older output or a foreign folder)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    damaged = f"{path} is damaged; delete it (the folder then counts as an older output) or re-run"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(damaged) from None
    files = manifest.get("files") if isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT else None
    if not isinstance(files, list) or not all(map(_sound_entry, files)):
        raise ValueError(damaged)
    return manifest


def _sound_entry(entry: object) -> bool:
    """Whether a manifest entry names a plain file of its own folder and gives its sha256."""
    # A hostile manifest must never lead us to read, or delete, anything outside its folder.
    return (isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("sha256"), str)
            and entry["name"] not in ("", ".", "..", MANIFEST) and "/" not in entry["name"] and os.sep not in entry["name"])


def set_files(folder: str | Path, suffix: str) -> list[Path] | None:
    """The files ending in `suffix` that the manifest of `folder` lists, checked against their sha256; None without one."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    found = []
    for entry in sorted(manifest["files"], key=lambda entry: entry["name"]):
        path = folder / entry["name"]
        if path.suffix != suffix:
            continue
        if not path.is_file():
            raise ValueError(f"{path} is missing, though the run's manifest lists it; re-run or open another file directly")
        if _sha256(path) != entry["sha256"]:
            raise ValueError(f"{path} does not match the run's manifest (changed after the run); re-run or open the file directly")
        found.append(path)
    return found


def complete_set(folder: str | Path) -> dict | None:
    """The manifest of the output set in `folder` when every file it lists is there unchanged; None otherwise."""
    folder = Path(folder)
    try:
        manifest = read_manifest(folder)
    except ValueError:
        return None  # a damaged manifest is an incomplete set: the run that made it is made again
    if manifest is None:
        return None
    for entry in manifest["files"]:
        path = folder / entry["name"]
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            return None
    return manifest


def _write_manifest(staging: Path, settings: dict) -> None:
    files = [{"name": path.name, "size": path.stat().st_size, "sha256": _sha256(path)} for path in sorted(staging.iterdir())]
    manifest = {"format": MANIFEST_FORMAT, "version": 1, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "settings": settings, "files": files}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str) + "\n", encoding="utf-8")


def _previous_set(out: Path) -> set[str]:
    """Names of the files in `out` that earlier runs left: the set its manifest lists (else named as runs name theirs), temporaries."""
    manifest = read_manifest(out)
    names = {entry.name for entry in out.iterdir() if entry.is_file()}
    listed = {entry["name"] for entry in manifest["files"]} if manifest else {name for name in names if _RUN_FILE.fullmatch(name)}
    return (listed & names) | {name for name in names if _TEMPORARY.fullmatch(name)}


def _move_in(staging: Path, out: Path) -> None:
    """Make the files in `staging` (manifest included) the output set in `out`, replacing the previous run's files."""
    if not os.path.lexists(out):
        os.chmod(staging, 0o777 & ~_umask())
        os.rename(staging, out)
        return
    new = {path.name for path in staging.iterdir()} - {MANIFEST}
    previous = _previous_set(out)
    # Manifest out first and in last: whatever happens in between, a folder with a manifest holds exactly its set.
    (out / MANIFEST).unlink(missing_ok=True)
    for name in previous - new:
        (out / name).unlink(missing_ok=True)
    for name in new:
        os.replace(staging / name, out / name)
    os.replace(staging / MANIFEST, out / MANIFEST)


@contextmanager
def output_set(out: str | Path, settings: dict) -> Iterator[Path]:
    """A staging folder for a run's files, moved into `out` as one set with a manifest of `settings` when the block succeeds."""
    out = Path(os.path.abspath(out))
    with _staging(out, folder=True) as staging:
        yield staging
        _write_manifest(staging, settings)
        with _signals_deferred():
            _move_in(staging, out)


@contextmanager
def file_set(targets: list[Path]) -> Iterator[list[Path]]:
    """Paths to write `targets` (one folder's files) at; they replace their targets together when the block succeeds, else none does."""
    targets = [Path(os.path.abspath(target)) for target in targets]
    with _staging(targets[0], folder=False) as staging:
        paths = [staging / target.name for target in targets]
        yield paths
        with _signals_deferred():
            for path, target in zip(paths, targets):
                os.replace(path, target)
