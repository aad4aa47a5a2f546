"""`syncmotion server`: commands run in a warm server's children exactly as they run in their own process."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from syncmotion import command_server

pytestmark = pytest.mark.skipif(not command_server.SUPPORTED, reason="the server runs on Linux only")

def syncmotion(*arguments: str, env: dict[str, str], **options) -> subprocess.CompletedProcess:
    """The `syncmotion` program, as a user's shell runs it."""
    return subprocess.run([sys.executable, "-m", "syncmotion", *arguments], env=env, capture_output=True, text=True,
                          timeout=300, **options)


def environment(server_folder: Path, **changes: str) -> dict[str, str]:
    env = {**os.environ, command_server.SERVER_DIR_VARIABLE: str(server_folder), **changes}
    env.pop("COLUMNS", None)
    return env


def status(env: dict[str, str]) -> dict:
    """The status of the one server for this installation in `env`'s folder (None: none answers)."""
    folder = Path(env[command_server.SERVER_DIR_VARIABLE])
    answers = [command_server.request(path, {"op": "status"}) for path in folder.glob("*.sock")]
    answers = [answer for answer in answers if answer is not None]
    assert len(answers) <= 1
    return answers[0] if answers else None


@pytest.fixture(scope="module")
def server_env():
    """A server started as users start it, in a short private folder (Unix socket paths are short)."""
    folder = Path(tempfile.mkdtemp(prefix="sm", dir="/tmp")) / "servers"
    env = environment(folder)
    started = syncmotion("server", "start", "--idle-minutes", "10", env=env)
    assert started.returncode == 0 and "ready in" in started.stdout, started.stderr
    yield env
    syncmotion("server", "stop", env=env)
    shutil.rmtree(folder.parent)


@pytest.fixture
def here_env(tmp_path):
    """An environment in which no server runs: commands run in their own process."""
    return environment(tmp_path / "no-servers")


def test_a_forwarded_motion_is_the_motion_made_here(server_env, here_env, tmp_path, tiny_embedded):
    before = status(server_env)["commands"]
    arguments = ["motion", "--text", "a person walks; a person waves", "--seconds", "2", "--model", str(tiny_embedded),
                 "--formats", "npy,json,bvh", "--seed", "3"]
    warm = syncmotion(*arguments, "--out", "warm", env=server_env, cwd=tmp_path)
    cold = syncmotion(*arguments, "--out", "cold", env=here_env, cwd=tmp_path)
    assert warm.returncode == cold.returncode == 0, warm.stderr + cold.stderr
    assert status(server_env)["commands"] == before + 1  # the warm one ran in the server, the cold one did not
    timings = re.compile(r"[0-9.]+ s\b")  # the first run also encodes the texts the second finds in the cache
    assert timings.sub("", warm.stdout.replace("warm", "cold")) == timings.sub("", cold.stdout)
    for name in ("results.npy", "motion.bvh"):
        assert (tmp_path / "warm" / name).read_bytes() == (tmp_path / "cold" / name).read_bytes()
    made = (tmp_path / "warm" / "motion.json").read_text()
    assert made == (tmp_path / "cold" / "motion.json").read_text()
    # the child took the command's umask and working folder
    assert (tmp_path / "warm" / "results.npy").stat().st_mode & 0o777 == (tmp_path / "cold" / "results.npy").stat().st_mode & 0o777


def test_errors_and_exit_codes_are_those_of_a_command_run_here(server_env, here_env, tmp_path):
    for arguments in (["motion", "--text", "a person walks", "--precision", "half"], ["motion", "missing.txt"],
                      ["render", "nothing.json"], ["convert", "a.npy", "b.txt"]):
        warm = syncmotion(*arguments, env=server_env, cwd=tmp_path)
        cold = syncmotion(*arguments, env=here_env, cwd=tmp_path)
        assert (warm.returncode, warm.stdout, warm.stderr) == (cold.returncode, cold.stdout, cold.stderr)
        assert warm.returncode != 0 and "Error:" in warm.stderr and "Traceback" not in warm.stderr
    assert not list(tmp_path.iterdir())


def test_a_server_of_other_settings_is_not_used(server_env, tmp_path, tiny_embedded):
    before = status(server_env)["commands"]
    other = {**server_env, "OMP_NUM_THREADS": "1"}
    made = syncmotion("motion", "--text", "a person walks", "--seconds", "2", "--model", str(tiny_embedded),
                      "--formats", "npy", "--out", "out", env=other, cwd=tmp_path)
    assert made.returncode == 0 and (tmp_path / "out" / "results.npy").exists()
    assert status(server_env)["commands"] == before


def long_motion(env: dict[str, str], out: Path) -> subprocess.Popen:
    """A motion that samples for many seconds, started the way a terminal starts it (Ctrl-C not ignored)."""
    program = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); " \
              "from syncmotion.cli import entry; entry()"
    return subprocess.Popen([sys.executable, "-c", program, "motion", "--text", "a person walks forward", "--seconds",
                             "600", "--formats", "npy", "--out", str(out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_running(env: dict[str, str], count: int, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while status(env)["running"] != count:
        assert time.monotonic() < deadline and (process is None or process.poll() is None)
        time.sleep(0.1)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 1), (signal.SIGTERM, 143), (signal.SIGKILL, -9)],
                         ids=["ctrl-c", "sigterm", "client-killed"])
def test_a_stopped_client_stops_its_command_and_leaves_nothing(server_env, tmp_path, signum, code):
    process = long_motion(server_env, tmp_path / "out")
    try:
        wait_running(server_env, 1, process)
        time.sleep(1.0)  # sampling has begun
        process.send_signal(signum)
        assert process.wait(timeout=30) == code
    finally:
        process.kill()
        process.wait()
    wait_running(server_env, 0, timeout=30)
    assert not list(tmp_path.iterdir())  # no output, no staging folder, no lock
    if signum == signal.SIGINT:
        assert "Aborted!" in process.stderr.read()


def test_malformed_requests_leave_the_server_answering(server_env):
    path = next(Path(server_env[command_server.SERVER_DIR_VARIABLE]).glob("*.sock"))
    for garbage in (b"not json\n", b"[1, 2]\n", b'{"op": "run"}\n', b"", b'{"op": "run", "argv": ["motion"]'):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(str(path))
            connection.sendall(garbage)
    assert status(server_env)["pid"] > 0


def test_start_status_stop_and_idle_stop(tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="sm", dir="/tmp"))
    try:
        env = environment(folder / "servers")
        assert "none is running" in syncmotion("server", "status", env=env).stdout
        assert syncmotion("server", "start", "--idle-minutes", "10", env=env).returncode == 0
        assert "already running" in syncmotion("server", "start", env=env).stdout
        assert "this installation; 0 commands run" in syncmotion("server", "status", env=env).stdout
        assert "stopped 1 server" in syncmotion("server", "stop", env=env).stdout
        assert status(env) is None and not list((folder / "servers").iterdir())  # no socket, no log left
        assert "none was running" in syncmotion("server", "stop", env=env).stdout

        assert syncmotion("server", "start", "--idle-minutes", "0.02", env=env).returncode == 0
        deadline = time.monotonic() + 30
        while list((folder / "servers").glob("*.sock")):
            assert time.monotonic() < deadline, "the idle server did not stop"
            time.sleep(0.2)
    finally:
        shutil.rmtree(folder)


def pretend_to_run(listener: socket.socket) -> None:
    connection, _ = listener.accept()
    with connection:
        connection.recv(1 << 20)
        connection.sendall(b'{"started": true}\n{"exit": 0}\n')


def test_a_folder_others_can_enter_is_refused(tmp_path, tiny_embedded):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    env = environment(folder)
    started = syncmotion("server", "start", env=env)
    assert started.returncode == 1 and "not a private folder" in started.stderr and "Traceback" not in started.stderr
    assert not list(folder.iterdir())
    # a socket someone put there, answering as a server would without running anything, is not used
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as planted:
        planted.bind(str(folder / f"{command_server.fingerprint()}.sock"))
        planted.listen(1)
        threading.Thread(target=pretend_to_run, args=(planted,), daemon=True).start()
        made = syncmotion("motion", "--text", "a person walks", "--seconds", "2", "--model", str(tiny_embedded),
                          "--formats", "npy", "--out", "out", env=env, cwd=tmp_path)
    assert made.returncode == 0 and (tmp_path / "out" / "results.npy").exists()


def test_the_server_has_imported_what_its_commands_import(tmp_path, tiny_embedded):
    program = textwrap.dedent(f"""
        import importlib, sys
        from syncmotion.cli import main
        from syncmotion.command_server import FORWARDED
        from syncmotion.commands.server import WARM_MODULES
        for name in FORWARDED:
            main.get_command(None, name)
        for module in WARM_MODULES:
            importlib.import_module(module)
        before = set(sys.modules)
        for arguments in (["motion", "--text", "a person walks; a person waves", "--seconds", "2", "--model",
                           {str(tiny_embedded)!r}, "--formats", "npy,json,bvh,png,mp4", "--out", "out"],
                          ["render", "out/results.npy", "--out", "again.png"], ["convert", "out/motion.json", "m.bvh"]):
            try:
                main.main(args=arguments, prog_name="syncmotion")
            except SystemExit as exit_:
                assert not exit_.code, arguments
        # (transformers also enters old module names as aliases of new ones: those cost nothing)
        print(sorted(name for name in set(sys.modules) - before if name.startswith(("syncmotion", "transformers.models"))
                     and getattr(sys.modules[name], "__name__", name) == name))
    """)
    result = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_socket_path_too_long_is_refused_before_anything_starts(tmp_path):
    folder = tmp_path / ("a" * 120)
    started = syncmotion("server", "start", env=environment(folder))
    assert started.returncode == 1 and "too long for Unix sockets" in started.stderr
    assert len(started.stderr.strip().splitlines()) == 1 and not folder.exists()


def test_where_unix_sockets_are_missing_commands_run_here_without_looking(monkeypatch):
    monkeypatch.setattr(command_server, "SUPPORTED", False)
    monkeypatch.setattr(command_server, "server_dir", lambda: pytest.fail("no server folder is looked for"))
    assert command_server.forward(["motion", "--text", "a person walks"]) is None
    assert command_server.servers() == []
