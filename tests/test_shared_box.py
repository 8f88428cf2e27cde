"""Another user on the same box is an attacker: o1tui writes only into folders that are the
user's own, talks only to servers whose socket the user owns, writes the key record without
following planted links, and a kept server is held up only by the user's own connections and
never outlives its keeper.

"Another user" is played by ``nobody`` (uid 65534): folders are chowned to it, and a forked
child of this test process drops to it (``setuid``) to run a squatting server or hold a
connection open. Those tests need root and are skipped otherwise; folders open to others'
writes and symbolic links play the attacker without root.
"""

from __future__ import annotations

import encodings.idna  # noqa: F401 - loaded now: a child that became nobody cannot read it
import json
import os
import py_compile
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from backends import keepalive, trust
from backends.engines import KEYED_EXEC, ServerOptions, lmdeploy_startup
from backends.keepalive import KeptServer, state_path
from backends.keeper import active
from backends.locations import (
    LocationError,
    config_dir,
    data_dir,
    ensure_private_dir,
    log_dir,
    runtime_dir,
)
from backends.manager import start_backend
from backends.supervisor import PortInUse, free_port, group_members
from tests.fakes.openai_server import FakeOpenAIServer
from tests.servers_helpers import ALL, chat, eventually, use_fake_lmdeploy
from tui.core.config import Settings

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534
as_root = pytest.mark.skipif(os.getuid() != 0, reason="playing another user needs root")


@contextmanager
def as_nobody(action: Callable[[], Callable[[], str]]) -> Iterator[Callable[[], str]]:
    """Run ``action`` in a forked child that has become ``nobody``; ``action`` returns what
    the child reports when it is stopped. Yields a function that stops the child and gives its
    report."""
    ready_r, ready_w = os.pipe()
    stop_r, stop_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(ready_r)
            os.close(stop_w)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            finish = action()
            os.write(ready_w, b"ready\n")
            os.read(stop_r, 1)  # until the parent closes its end
            os.write(ready_w, finish().encode() + b"\n")
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            os.write(ready_w, f"error: {err!r}\n".encode())
            code = 1
        os._exit(code)
    os.close(ready_w)
    os.close(stop_r)
    reader = os.fdopen(ready_r, encoding="utf-8")
    assert reader.readline().strip() == "ready"
    result: list[str] = []

    def stop() -> str:
        if not result:
            os.close(stop_w)
            result.append(reader.readline().strip())
            os.waitpid(pid, 0)
            reader.close()
        return result[0]

    try:
        yield stop
    finally:
        stop()


def _squatter(port: int, model: str = "tiny-chat") -> Callable[[], Callable[[], str]]:
    """Another user's OpenAI-compatible server on ``port``, reporting the requests it got."""

    def run() -> Callable[[], str]:
        server = FakeOpenAIServer(models=(model,), port=port).start()
        return lambda: json.dumps(server.hits)

    return run


# --- folders ---------------------------------------------------------------------------------


def _private(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True)
    path.chmod(0o700)
    return path


def test_the_users_own_folder_is_trusted(tmp_path):
    assert trust.folder_problem(_private(tmp_path / "mine")) is None
    setgid_group_readable = _private(tmp_path / "group")
    setgid_group_readable.chmod(0o2750)  # a group may read it, no one else may write
    assert trust.folder_problem(setgid_group_readable) is None


def _shared_group(folder: Path) -> None:
    """Give ``folder`` a group the user shares with others (``nogroup``, as root)."""
    if os.getuid() != 0:
        pytest.skip("changing a folder's group to another needs root")
    os.chown(folder, -1, NOBODY)


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o1777, 0o720])
def test_a_folder_others_may_write_to_is_not_trusted(tmp_path, mode):
    folder = _private(tmp_path / "open")
    folder.chmod(mode)
    if not mode & 0o002:
        _shared_group(folder)
    assert "other users may write to it" in (trust.folder_problem(folder) or "")


def test_a_folder_only_the_users_private_group_may_write_to_is_trusted(tmp_path):
    """Debian and Ubuntu give each user a group of their own and umask 002: folders are 0775."""
    folder = _private(tmp_path / "upg")
    if not trust.private_group(folder.stat().st_gid):
        pytest.skip("this user has no private group")
    folder.chmod(0o775)
    assert trust.folder_problem(folder) is None
    _shared_group(folder)
    assert trust.folder_problem(folder) is not None


def test_a_symbolic_link_is_not_trusted(tmp_path):
    (tmp_path / "link").symlink_to(_private(tmp_path / "real"))
    assert trust.folder_problem(tmp_path / "link") == "it is a symbolic link"


def test_a_folder_under_one_others_may_change_is_not_trusted(tmp_path):
    parent = _private(tmp_path / "shared")
    inner = _private(parent / "o1tui")
    parent.chmod(0o777)  # others could rename ours away and put theirs in its place
    assert "folder above it" in (trust.folder_problem(inner) or "")
    parent.chmod(0o1777)  # the sticky bit: they cannot (as /tmp)
    assert trust.folder_problem(inner) is None


@as_root
def test_another_users_folder_is_not_trusted(tmp_path):
    folder = _private(tmp_path / "theirs")
    os.chown(folder, NOBODY, NOBODY)
    assert trust.folder_problem(folder) == f"it belongs to {trust.user_name(NOBODY)}"
    inner = _private(tmp_path / "above" / "mine")
    os.chown(inner.parent, NOBODY, NOBODY)
    assert "belongs to" in (trust.folder_problem(inner) or "")


def test_every_folder_o1tui_writes_into_is_checked(tmp_path):
    bad = _private(tmp_path / "bad")
    bad.chmod(0o777)
    env = {
        "O1TUI_DATA_DIR": str(bad),
        "O1TUI_CONFIG_DIR": str(bad),
        "O1TUI_LOG_DIR": str(bad),
        "O1TUI_RUNTIME_DIR": str(bad),
    }
    for where in (
        lambda: data_dir(env=env),
        lambda: config_dir(env=env),  # read too: settings could point anywhere
        lambda: log_dir(env=env),
        lambda: runtime_dir(env=env),
        lambda: ensure_private_dir(bad),
    ):
        with pytest.raises(LocationError, match="other users may write to it"):
            where()


def test_new_folders_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        made = ensure_private_dir(tmp_path / "a" / "b" / "c")
    finally:
        os.umask(old)
    for folder in (made, made.parent, made.parent.parent):
        assert folder.stat().st_mode & 0o777 == 0o700


def test_a_history_in_a_folder_others_may_write_to_is_refused_in_one_line(tmp_path):
    bad = _private(tmp_path / "data")
    bad.chmod(0o777)
    env = {**os.environ, "PYTHONPATH": str(REPO), "O1TUI_DATA_DIR": str(bad)}
    env["O1TUI_CONFIG_DIR"] = str(tmp_path / "config")
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "history", "list"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("o1tui: ")
    assert str(bad) in lines[0] and "other users may write to it" in lines[0]
    assert not (bad / "history.db").exists()


# --- the bytecode cache ------------------------------------------------------------------------

PLANT = """
import json, runpy, sys
launcher = runpy.run_path(sys.argv[1])
note = launcher["cache_bytecode"](sys.argv[2], "probepkg")
import probepkg.mod
print(json.dumps({"note": note, "value": probepkg.mod.VALUE, "prefix": sys.pycache_prefix}))
"""


def _launch(site: Path, cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(
        [sys.executable, "-c", PLANT, str(KEYED_EXEC), str(cache)],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _plant(site: Path, cache: Path) -> None:
    """Replace the cached bytecode of ``probepkg.mod`` with another's, made from a source of
    the same size and modification time, so Python takes it as up to date."""
    source = site / "probepkg" / "mod.py"
    (cached,) = [p for p in cache.rglob("mod.*.pyc")]
    evil = site.parent / "evil.py"
    evil.write_text("VALUE = 66\n")
    stat = source.stat()
    os.utime(evil, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    py_compile.compile(str(evil), cfile=str(cached), doraise=True)


@pytest.mark.parametrize("how", ["open to others", "a link", "another user's"])
def test_bytecode_planted_in_a_cache_that_is_not_the_users_never_runs(tmp_path, how):
    if how == "another user's" and os.getuid() != 0:
        pytest.skip("playing another user needs root")
    site = tmp_path / "site"
    (site / "probepkg").mkdir(parents=True)
    (site / "probepkg" / "__init__.py").write_text("")
    (site / "probepkg" / "mod.py").write_text("VALUE = 42\n")
    cache = tmp_path / "cache"
    assert _launch(site, cache)["value"] == 42  # the cache filled, as on a first start
    _plant(site, cache)
    assert _launch(site, cache)["value"] == 66  # the plant works on a cache that is trusted
    used = cache
    if how == "open to others":
        cache.chmod(0o777)
    elif how == "a link":
        used = tmp_path / "cache-link"
        used.symlink_to(cache)
    else:
        os.chown(cache, NOBODY, NOBODY)
    result = _launch(site, used)
    assert result["value"] == 42 and result["prefix"] is None
    assert "is not used" in result["note"]


def test_o1tui_leaves_out_a_cache_folder_that_is_not_the_users_with_one_warning(tmp_path, capsys):
    cache = _private(tmp_path / "cache")
    _private(cache / "bytecode").chmod(0o777)
    env = {"O1TUI_CACHE_DIR": str(cache)}
    for _ in range(2):
        _, launcher, _ = lmdeploy_startup(ServerOptions(port=1), env)
        assert "--bytecode-cache" not in launcher
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("o1tui: warning: ")
    assert "running without it" in err[0]


# --- the key record ----------------------------------------------------------------------------


def _kept(port: int) -> KeptServer:
    return KeptServer(port, "127.0.0.1", "lmdeploy", "m", "M", "SECRET-KEY", 1, "1", 60)


def test_the_record_never_writes_through_a_planted_link(tmp_path):
    folder = _private(tmp_path / "run")
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file\n")
    path = state_path(folder, 4242)
    # The old predictable temporary name, and a link at the record's own name.
    (folder / f".{path.name}.{os.getpid()}.tmp").symlink_to(victim)
    keepalive.write_state(path, _kept(4242))
    assert victim.read_text() == "the user's own file\n"
    assert json.loads(path.read_text())["api_key"] == "SECRET-KEY"
    assert path.stat().st_mode & 0o777 == 0o600
    path.unlink()
    path.symlink_to(victim)
    assert keepalive.read_state(path) is None  # a link is no record (and is removed)
    assert not path.is_symlink() and victim.read_text() == "the user's own file\n"


# --- the runtime folder ------------------------------------------------------------------------


def test_without_xdg_runtime_dir_o1tui_chooses_a_private_folder_quietly(tmp_path, monkeypatch):
    monkeypatch.delenv("O1TUI_RUNTIME_DIR")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    squatted = Path(f"/tmp/runtime-{os.getuid()}")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        folder = runtime_dir()
    assert seen == [], [str(w.message) for w in seen]
    assert not str(folder).startswith(str(squatted)) and not str(folder).startswith("/tmp/run")
    assert trust.folder_problem(folder) is None
    # An XDG_RUNTIME_DIR that is not the user's own is passed over the same way.
    bad = _private(tmp_path / "xdg")
    bad.chmod(0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(bad))
    assert not str(runtime_dir()).startswith(str(bad))
    good = _private(tmp_path / "xdg-good")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(good))
    assert runtime_dir() == good / "o1tui"


def test_a_runtime_folder_made_by_another_user_first_does_not_stop_o1tui(
    tmp_path, monkeypatch, model_dir
):
    """su, cron, docker exec: no XDG_RUNTIME_DIR, and /tmp/runtime-UID made by someone else."""
    use_fake_lmdeploy(monkeypatch)
    monkeypatch.setenv("O1TUI_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("O1TUI_RUNTIME_DIR")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    squatted = Path(f"/tmp/runtime-{os.getuid()}")
    made = not squatted.exists()
    if made:
        squatted.mkdir(mode=0o777)
        squatted.chmod(0o777)
        if os.getuid() == 0:
            os.chown(squatted, NOBODY, NOBODY)
    try:
        handle = start_backend(
            Settings(engine="lmdeploy", model=str(model_dir), port=free_port()),
            available=ALL,
            gpu=True,
        )
        handle.stop()
    finally:
        if made:
            squatted.rmdir()


# --- ports ---------------------------------------------------------------------------------------

V4 = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:5B25 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534 0 9001 1 "
    "0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:D431 0100007F:5B25 01 00000000:00000000 00:00000000 00000000 65534 0 9002 1 "
    "0000000000000000 20 4 30 10 -1\n"
    "   2: 0100007F:5B25 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0 0 9003 1 "
    "0000000000000000 20 4 30 10 -1\n"
)
V6 = (
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:D432 00000000000000000000000001000000:5B25 01 "
    "00000000:00000000 00:00000000 00000000  1000 0 9004 1 0000000000000000 20 4 30 10 -1\n"
    "   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000  1000 0 9005 1 0000000000000000 100 0 0 10 0\n"
)


def test_the_socket_tables_are_read_with_their_owners(tmp_path):
    (tmp_path / "tcp").write_text(V4)
    (tmp_path / "tcp6").write_text(V6)
    assert trust.parse_socket(V4.splitlines()[0]) is None  # the header
    assert trust.parse_socket(V4.splitlines()[1]) == trust.Socket(23333, 0, "0A", 65534, 9001)
    listening = trust.listeners(23333, str(tmp_path))
    assert [(s.uid, s.inode) for s in listening or []] == [(65534, 9001)]
    assert [s.inode for s in trust.listeners(8080, str(tmp_path)) or []] == [9005]
    assert trust.listeners(1, str(tmp_path / "none")) is None  # no /proc: cannot tell
    # Connections to the port, counted by who opened them (the client's end).
    assert trust.clients_of(23333, 65534, str(tmp_path)) == 1
    assert trust.clients_of(23333, 1000, str(tmp_path)) == 1  # over IPv6
    assert trust.clients_of(23333, 0, str(tmp_path)) == 0  # the server's own end is no client


def test_the_keeper_counts_only_the_users_own_connections(tmp_path):
    (tmp_path / "tcp").write_text(V4)  # nobody's connection to 23333, and the server's end
    assert active(23333, str(tmp_path)) == (os.getuid() == 65534)
    mine = V4.replace(" 65534 0 9002", f" {os.getuid()} 0 9002")
    (tmp_path / "tcp").write_text(mine)
    assert active(23333, str(tmp_path))
    assert not active(23333, str(tmp_path / "none"))  # no /proc: the timer runs


@as_root
def test_another_users_server_on_the_port_gets_no_question_and_no_key(
    tmp_path, monkeypatch, model_dir
):
    use_fake_lmdeploy(monkeypatch)
    monkeypatch.setenv("O1TUI_LOG_DIR", str(tmp_path / "logs"))
    port = free_port()
    with as_nobody(_squatter(port)) as stop:
        settings = Settings(engine="lmdeploy", model=str(model_dir), port=port, api_key="MINE")
        with pytest.raises(PortInUse) as refused:
            start_backend(settings, available=ALL, gpu=True)
        message = str(refused.value)
        assert f"port {port}" in message and "nobody (uid 65534)" in message
        assert "\n" not in message
        # The command line says it in one line, exit 1.
        env = {**os.environ, "PYTHONPATH": str(REPO), "O1TUI_DATA_DIR": str(tmp_path / "d")}
        out = subprocess.run(
            [sys.executable, "-m", "tui.cli", "ask", "hi", "--engine", "lmdeploy",
             "--model", str(model_dir), "--port", str(port)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 1, out.stderr
        assert out.stderr.strip().splitlines() == [f"o1tui: error: {message}"]
        hits = json.loads(stop())
    assert hits == []  # not even a probe: the key never left


@as_root
def test_a_squatter_that_takes_the_port_while_the_server_starts_is_caught(
    tmp_path, monkeypatch, model_dir
):
    use_fake_lmdeploy(monkeypatch)
    monkeypatch.setenv("O1TUI_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("FAKE_LMDEPLOY_START_DELAY", "3")  # the port stays unbound a while
    port = free_port()
    handle = start_backend(
        Settings(engine="lmdeploy", model=str(model_dir), port=port),
        available=ALL,
        gpu=True,
        wait=False,
    )
    try:
        with as_nobody(_squatter(port)) as stop:
            with pytest.raises(PortInUse, match=f"port {port} was taken by nobody"):
                handle.wait_ready(30)
            hits = json.loads(stop())
    finally:
        handle.stop()
    assert hits == []
    assert not handle.running


# --- the keeper --------------------------------------------------------------------------------


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "O1TUI_DATA_DIR": str(tmp_path / "data"),
        "O1TUI_LOG_DIR": str(tmp_path / "logs"),
        "O1TUI_CONFIG_DIR": str(tmp_path / "config"),
        **extra,
    }


def _ask(
    model_dir: Path, port: int, env: dict[str, str], *more: str, question: str = "What is 2+2?"
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "ask", question, "--engine", "lmdeploy",
         "--model", str(model_dir), "--port", str(port), "--strategy", "plain", *more],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen, timeout_s: float = 90) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, out, err


def _connect_and_hold(port: int) -> Callable[[], Callable[[], str]]:
    def run() -> Callable[[], str]:
        sock = socket.create_connection(("127.0.0.1", port))
        return lambda: str(sock.fileno())

    return run


@as_root
def test_another_users_idle_connection_does_not_keep_a_server_up(tmp_path, monkeypatch, model_dir):
    use_fake_lmdeploy(monkeypatch)
    port = free_port()
    code, _, err = _finish(_ask(model_dir, port, _env(tmp_path, O1TUI_KEEP_ALIVE="3s")))
    assert code == 0, err
    kept = keepalive.read_state(state_path(runtime_dir(), port))
    assert kept is not None
    with as_nobody(_connect_and_hold(port)) as stop:
        assert eventually(lambda: not group_members(kept.pid), timeout_s=30)
        stop()


def test_a_kept_server_dies_with_its_keeper(tmp_path, monkeypatch, model_dir):
    use_fake_lmdeploy(monkeypatch)
    port = free_port()
    code, _, err = _finish(_ask(model_dir, port, _env(tmp_path, O1TUI_KEEP_ALIVE="1h")))
    assert code == 0, err
    record = state_path(runtime_dir(), port)
    kept = keepalive.read_state(record)
    assert kept is not None and len(group_members(kept.pid)) >= 2
    os.kill(kept.pid, signal.SIGKILL)
    assert eventually(lambda: not group_members(kept.pid), timeout_s=20)
    # The record is left (the keeper could not remove it); the next o1tui starts afresh.
    assert record.exists()
    handle = start_backend(
        Settings(engine="lmdeploy", model=str(model_dir), port=port), available=ALL, gpu=True
    )
    try:
        assert not handle.reused and not record.exists()
        assert chat(port, handle.api_key, handle.model)[0] == 200
    finally:
        handle.stop()


def test_the_next_o1tui_stops_what_a_killed_keeper_left_running(tmp_path, monkeypatch, model_dir):
    """A server that ignores the keeper's last signal holds the port with a key no one has
    once the keeper is gone: the next o1tui stops it and starts a server of its own."""
    use_fake_lmdeploy(monkeypatch)
    monkeypatch.setenv("FAKE_LMDEPLOY_IGNORE_SIGTERM", "1")
    port = free_port()
    env = _env(tmp_path, FAKE_LMDEPLOY_IGNORE_SIGTERM="1", O1TUI_KEEP_ALIVE="1h")
    code, _, err = _finish(_ask(model_dir, port, env))
    assert code == 0, err
    kept = keepalive.read_state(state_path(runtime_dir(), port))
    assert kept is not None
    os.kill(kept.pid, signal.SIGKILL)
    time.sleep(1.0)  # the server got its SIGTERM, and ignored it
    assert group_members(kept.pid)
    monkeypatch.delenv("FAKE_LMDEPLOY_IGNORE_SIGTERM")
    handle = start_backend(
        Settings(engine="lmdeploy", model=str(model_dir), port=port), available=ALL, gpu=True
    )
    try:
        assert not group_members(kept.pid)
        assert not handle.reused and handle.api_key != kept.api_key
        assert chat(port, handle.api_key, handle.model)[0] == 200
    finally:
        handle.stop()


# --- a busy kept server (issue: orphaned when busy) ----------------------------------------------


def _busy(port: int) -> bool:
    """Whether the server takes more than a second to answer ``/health`` (it is working)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(1)
    except OSError:
        return True
    return False


def test_a_busy_kept_server_is_attached_not_orphaned(tmp_path, monkeypatch, model_dir):
    """Two o1tui processes at once on one kept server that works on one request at a time (as
    llama.cpp's does): the second waits its turn instead of failing and deleting the record."""
    use_fake_lmdeploy(monkeypatch)
    port = free_port()
    env = _env(tmp_path, FAKE_LMDEPLOY_ONE_AT_A_TIME="1", FAKE_LMDEPLOY_REPLY_DELAY="0.4")
    code, _, err = _finish(_ask(model_dir, port, env, "--keep-alive", "1m"))
    assert code == 0, err
    assert "was left running" in err and "kill " in err  # says for how long, how to stop it
    record = state_path(runtime_dir(), port)
    kept = keepalive.read_state(record)
    assert kept is not None
    # The stand-in echoes the question: this answer streams ~25 chunks, ~10 s.
    long_ask = _ask(model_dir, port, env, question="Why? " * 16)
    try:
        assert eventually(lambda: _busy(port), timeout_s=30), "the first ask never got going"
        second = _ask(model_dir, port, env, question="hi")
        code, out, err = _finish(second)
        assert code == 0, err
        assert "42" in out and "using the server kept warm" in err
        assert _finish(long_ask)[0] == 0
    finally:
        if long_ask.poll() is None:
            long_ask.kill()
    assert keepalive.read_state(record) == kept  # the same server, its record intact
    os.kill(kept.pid, signal.SIGTERM)
    assert eventually(lambda: not group_members(kept.pid), timeout_s=20)


def test_keep_alive_is_accepted_after_the_subcommand():
    from tui.cli.parser import parse_args

    assert parse_args(["ask", "hi", "--keep-alive", "1m"]).keep_alive == "1m"
    assert parse_args(["--keep-alive", "2m", "ask", "hi"]).keep_alive == "2m"
    assert parse_args(["serve", "--keep-alive", "5m"]).keep_alive == "5m"
    assert parse_args(["--keep-alive", "10m"]).keep_alive == "10m"  # the app


def test_quitting_with_keep_alive_says_what_was_left_running(monkeypatch, model_dir):
    use_fake_lmdeploy(monkeypatch)
    settings = Settings(engine="lmdeploy", model=str(model_dir), port=free_port(), keep_alive="5m")
    handle = start_backend(settings, available=ALL, gpu=True)
    keeper = handle.process.pid
    try:
        said = handle.release()
        assert said == (
            f"the server on port {handle.port} (tiny-chat) was left running: it stops after "
            f"5 min without requests, or now with: kill {keeper}"
        )
        attached = start_backend(settings, available=ALL, gpu=True)
        assert attached.kept and attached.release() == said  # the next o1tui says it too
    finally:
        handle.stop()
    assert handle.release() is None  # a stopped server: nothing was left


WARNS_AFTER_MAIN = """
import sys, warnings
from tui.cli.entry import main
main(["models"])
warnings.warn("a library warning with a path /srv/x", UserWarning)
"""


@pytest.mark.parametrize("asked", [False, True])
def test_library_warnings_stay_off_the_terminal_unless_asked_for(tmp_path, asked):
    env = {k: v for k, v in _env(tmp_path).items() if k != "PYTHONWARNINGS"}
    flags = ["-W", "default"] if asked else []
    out = subprocess.run(
        [sys.executable, *flags, "-c", WARNS_AFTER_MAIN],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert ("a library warning" in out.stderr) == asked
