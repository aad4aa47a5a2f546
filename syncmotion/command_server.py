"""A warm `syncmotion` process that runs commands in forked children, so a command starts without importing torch.

`syncmotion server start` leaves one such process per installation and user; the `syncmotion` command then sends the
commands that start slowly (FORWARDED) to it over a Unix socket in a private folder, with its working folder,
environment, umask, CPU affinity and its own stdin, stdout and stderr (passed as file descriptors, so progress bars
and terminal widths behave as in the user's terminal). The server forks one child per command; Ctrl-C, SIGTERM and
SIGHUP on the command are passed on to that child; the command exits with the child's exit code.

Only the standard library is imported here: the forwarding side runs before anything else in every `syncmotion` call.
Messages are JSON lines, never pickles: nothing a connection sends can run code in the server.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# The commands whose start-up (torch, matplotlib) is most of a short job. `batch` starts Ray's processes and `view`
# serves until stopped: both run where they are called.
FORWARDED = ("motion", "render", "convert")
SERVER_DIR_VARIABLE = "SYNCMOTION_SERVER_DIR"
# Variables read while modules are imported (thread pools, devices, backends): a server started under other values
# would run commands differently, so they are part of the server's name.
IMPORT_TIME_PREFIXES = ("OMP_", "MKL_", "KMP_", "OPENBLAS_", "TORCH", "PYTORCH_", "CUDA_", "HF_", "TRANSFORMERS_",
                        "MPL", "PYTHON")
START_TIMEOUT_S = 10.0  # from connecting until the server says the command's child has started
SUFFIX = ".sock"


# Where the server runs: it forks a process that has imported torch (tested on Linux only) and passes descriptors
# over Unix sockets to processes of the same user id (Windows has neither). Elsewhere every command runs here.
SUPPORTED = sys.platform.startswith("linux") and hasattr(socket, "send_fds") and hasattr(os, "getuid")


class ServerError(RuntimeError):
    """A server could not be used, started or stopped; the message says why and what to do."""


def server_dir() -> Path:
    """The private folder that holds this user's server sockets and logs."""
    configured = os.environ.get(SERVER_DIR_VARIABLE)
    if configured:
        return Path(configured)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "syncmotion"
    return Path(tempfile.gettempdir()) / f"syncmotion-{os.getuid()}"


def _private(directory: Path) -> bool:
    """Whether `directory` is a folder of this user that nobody else can enter (so its sockets are ours)."""
    try:
        status = directory.lstat()
    except OSError:
        return False
    return directory.is_dir() and not directory.is_symlink() and status.st_uid == os.getuid() \
        and status.st_mode & 0o077 == 0


def make_server_dir() -> Path:
    """The server folder, made private (mode 700) if it is not there yet; ServerError where it cannot be."""
    directory = server_dir()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise ServerError(f"cannot make the server folder {directory}: {error.strerror}; set {SERVER_DIR_VARIABLE} "
                          "to a folder of yours") from None
    if not _private(directory):
        raise ServerError(f"the server folder {directory} is not a private folder of yours (mode 700); remove it or "
                          f"set {SERVER_DIR_VARIABLE} to another folder")
    return directory


def code_stamp() -> str:
    """A name for this installation's code and interpreter: it changes with any edit or upgrade of the package."""
    digest = hashlib.sha256()
    digest.update(f"{sys.executable}\0{sys.version}\0".encode())
    package = Path(__file__).resolve().parent
    for folder, _, files in sorted(os.walk(package)):
        for name in sorted(files):
            if name.endswith(".py"):
                status = os.stat(os.path.join(folder, name))
                digest.update(f"{folder}/{name}\0{status.st_mtime_ns}\0{status.st_size}\0".encode())
    return digest.hexdigest()


def fingerprint() -> str:
    """A name for this installation's code, interpreter and import-time settings: servers only run their own.

    A server takes its name before it imports anything (imports set variables of their own: torch's inductor sets
    TORCHINDUCTOR_CACHE_DIR).
    """
    digest = hashlib.sha256(code_stamp().encode())
    for name in sorted(os.environ):
        if name.startswith(IMPORT_TIME_PREFIXES):
            digest.update(f"{name}={os.environ[name]}\0".encode())
    return digest.hexdigest()[:16]


def socket_path() -> Path:
    """Where this installation's server listens."""
    return server_dir() / f"{fingerprint()}{SUFFIX}"


def check_socket_path(path: Path) -> None:
    """ServerError where `path` is too long for a Unix socket (about 104 bytes on Linux and macOS)."""
    if len(os.fsencode(path)) >= 104:
        raise ServerError(f"the socket path {path} is too long for Unix sockets; set {SERVER_DIR_VARIABLE} to a "
                          "shorter folder")


def log_path(socket: Path) -> Path:
    """Where the server listening at `socket` writes what it has to say (removed when it stops)."""
    return socket.with_suffix(".log")


def _send(connection: socket.socket, message: dict[str, Any]) -> None:
    connection.sendall(json.dumps(message).encode() + b"\n")


class _Lines:
    """JSON messages, one a line, read from a socket."""

    def __init__(self, connection: socket.socket, first: bytes = b"") -> None:
        self.connection = connection
        self.buffer = first

    def next(self) -> dict[str, Any] | None:
        """The next message, or None once the other side has closed the connection."""
        while b"\n" not in self.buffer:
            data = self.connection.recv(65536)
            if not data:
                return None
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError("a message is not a JSON object")
        return message


def _connect(path: Path, timeout: float) -> socket.socket | None:
    """A connection to the server at `path`, or None where none listens there."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    try:
        connection.connect(str(path))
    except OSError:
        connection.close()
        return None
    return connection


def request(path: Path, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any] | None:
    """Send one message to the server at `path` and return its answer; None where no server answers there."""
    connection = _connect(path, timeout)
    if connection is None:
        return None
    with connection:
        try:
            _send(connection, message)
            return _Lines(connection).next()
        except (OSError, ValueError):
            return None


def servers() -> list[tuple[Path, dict[str, Any] | None]]:
    """Each socket in the server folder with its server's status (None: nobody answers there)."""
    if not SUPPORTED:
        return []
    directory = server_dir()
    if not _private(directory):
        return []
    return [(path, request(path, {"op": "status"})) for path in sorted(directory.glob(f"*{SUFFIX}"))]


# The client: the `syncmotion` command when a server runs.

def forward(argv: list[str]) -> int | None:
    """Run the command `argv` in this installation's server and return its exit code; None where none runs it."""
    if not SUPPORTED or not argv or argv[0] not in FORWARDED:
        return None
    directory = server_dir()
    if not _private(directory) or not any(directory.glob(f"*{SUFFIX}")):
        return None
    try:
        working_folder = os.getcwd()
    except OSError:
        return None
    connection = _connect(directory / f"{fingerprint()}{SUFFIX}", START_TIMEOUT_S)
    if connection is None:
        return None
    with connection:
        return _run_remotely(connection, argv, working_folder)


def _run_remotely(connection: socket.socket, argv: list[str], working_folder: str) -> int | None:
    streams = [descriptor for descriptor in (0, 1, 2) if _is_open(descriptor)]
    umask = os.umask(0)
    os.umask(umask)
    message = {"op": "run", "argv": argv, "cwd": working_folder, "env": dict(os.environ), "umask": umask,
               "streams": streams, "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
               "encodings": [_encoding(stream) for stream in (sys.stdin, sys.stdout, sys.stderr)]}
    lines = _Lines(connection)
    try:
        socket.send_fds(connection, [json.dumps(message).encode() + b"\n"], streams)
        if lines.next() != {"started": True}:
            return None
    except (OSError, ValueError):
        return None  # the child, if any, sees the connection close and stops before it writes anything
    except KeyboardInterrupt:
        print("Aborted!", file=sys.stderr)  # as click says it; the child sees the connection close and stops
        return 1
    connection.settimeout(None)
    forwarded: list[int] = []

    def pass_on(signum: int, frame: object) -> None:
        forwarded.append(signum)
        try:
            _send(connection, {"signal": signum})
        except OSError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, pass_on)
    try:
        while (answer := lines.next()) is not None:
            if "exit" in answer:
                return int(answer["exit"])
    except (OSError, ValueError):
        pass
    if forwarded:
        signal.signal(forwarded[-1], signal.SIG_DFL)
        signal.raise_signal(forwarded[-1])
    print("Error: the syncmotion server's child for this command stopped without an exit status; "
          "`syncmotion server stop` runs commands here again", file=sys.stderr)
    return 1


def _is_open(descriptor: int) -> bool:
    try:
        os.fstat(descriptor)
    except OSError:
        return False
    return True


def _encoding(stream: Any) -> list[str] | None:
    if stream is None or not hasattr(stream, "encoding"):
        return None
    return [stream.encoding, getattr(stream, "errors", None) or "strict"]


# The server.

def serve(path: Path, run_command: Callable[[list[str]], int], idle_seconds: float, ready: Callable[[Path], None]) -> None:
    """Answer commands at `path` until stopped or idle for `idle_seconds`; `ready` is called once it listens."""
    make_server_dir()
    check_socket_path(path)
    stamp = code_stamp()
    listener = _listen(path)
    identity = path.stat().st_ino
    children: set[int] = set()
    commands_run = 0
    last_activity = time.monotonic()
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    listener.settimeout(0.5)
    ready(path)
    try:
        while not stopping:
            children -= _reaped(children)
            if children:
                last_activity = time.monotonic()
            elif time.monotonic() - last_activity > idle_seconds:
                break
            try:
                connection, _ = listener.accept()
            except (TimeoutError, InterruptedError):
                continue
            last_activity = time.monotonic()
            with connection:
                if not _same_user(connection):
                    continue
                connection.settimeout(5.0)
                try:
                    data, descriptors, _, _ = socket.recv_fds(connection, 1 << 20, 3)
                    message = _Lines(connection, data).next()
                except (OSError, ValueError):
                    continue
                try:
                    if message is None:
                        continue
                    if message.get("op") == "run":
                        child = _fork_command(listener, connection, message, descriptors, run_command)
                        children.add(child)
                        commands_run += 1
                    elif message.get("op") == "stop":
                        _send(connection, {"stopping": True, "pid": os.getpid()})
                        stopping = True
                    else:
                        children -= _reaped(children)
                        _send(connection, {"pid": os.getpid(), "commands": commands_run, "running": len(children),
                                           "idle_seconds_left": max(0.0, idle_seconds - (time.monotonic() - last_activity)),
                                           "current": code_stamp() == stamp})
                except OSError:
                    continue
                finally:
                    for descriptor in descriptors:
                        os.close(descriptor)
    finally:
        listener.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        try:
            if path.stat().st_ino == identity:
                path.unlink()
                log_path(path).unlink(missing_ok=True)
        except OSError:
            pass


def _listen(path: Path) -> socket.socket:
    """A socket listening at `path`, replacing a stale one that nobody listens at."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(path))
    except OSError:
        if request(path, {"op": "status"}) is not None:
            listener.close()
            raise ServerError(f"a server already runs for this installation at {path}") from None
        path.unlink(missing_ok=True)
        listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(16)
    return listener


def _same_user(connection: socket.socket) -> bool:
    """Whether the process at the other end runs as this user (the folder's mode already keeps others out)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1] == os.getuid()


def _reaped(children: Iterable[int]) -> set[int]:
    finished = set()
    for child in children:
        try:
            pid, _ = os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            pid = child
        if pid:
            finished.add(child)
    return finished


def _fork_command(listener: socket.socket, connection: socket.socket, message: dict[str, Any],
                  descriptors: list[int], run_command: Callable[[list[str]], int]) -> int:
    """Fork a child that runs the command of `message` as its user's own process would; return its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        listener.close()
        _become_command(message, descriptors)
        watcher = _ClientWatcher(connection)
        _send(connection, {"started": True})
        watcher.start()
        try:
            code = run_command([str(argument) for argument in message["argv"]])
        except BaseException:
            traceback.print_exc()
            code = 1
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        watcher.finished = True
        _send(connection, {"exit": code})
    finally:
        os._exit(code)


def _become_command(message: dict[str, Any], descriptors: list[int]) -> None:
    """In a forked child: take the signals, streams, folder, environment and limits the command was started with."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    streams = list(message.get("streams", []))
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        source = descriptors[streams.index(target)] if target in streams and streams.index(target) < len(descriptors) \
            else null
        os.dup2(source, target)
    for descriptor in {null, *descriptors}:
        os.close(descriptor)
    encodings = message.get("encodings") or [None, None, None]
    sys.stdin = _text_stream(0, "r", encodings[0])
    sys.stdout = _text_stream(1, "w", encodings[1])
    sys.stderr = _text_stream(2, "w", encodings[2], line_buffered=True)
    os.chdir(message["cwd"])
    os.environ.clear()
    os.environ.update({str(key): str(value) for key, value in message["env"].items()})
    time.tzset()  # local times in the command's TZ, as its own process would have read it at start
    os.umask(int(message["umask"]))
    if message.get("affinity") and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, [int(core) for core in message["affinity"]])
        except OSError:
            pass
    sys.argv = ["syncmotion", *message["argv"]]


def _text_stream(descriptor: int, mode: str, encoding: list[str] | None, line_buffered: bool = False) -> Any:
    """A text stream over `descriptor` as Python would have opened it in the command's own process."""
    name, errors = encoding if encoding else (None, None)
    buffering = 1 if line_buffered or (mode == "w" and os.isatty(descriptor)) else -1
    return open(descriptor, mode, buffering=buffering, encoding=name, errors=errors, closefd=False)


class _ClientWatcher(threading.Thread):
    """In a command's child: pass on the client's signals; stop the command (SIGTERM: it cleans up) if the client goes away."""

    def __init__(self, connection: socket.socket) -> None:
        super().__init__(daemon=True)
        self.connection = connection
        self.finished = False
        connection.settimeout(None)

    def run(self) -> None:
        lines = _Lines(self.connection)
        while True:
            try:
                message = lines.next()
            except (OSError, ValueError):
                message = None
            if message is None:
                if not self.finished:
                    os.kill(os.getpid(), signal.SIGTERM)
                return
            signum = message.get("signal")
            if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                os.kill(os.getpid(), signum)

