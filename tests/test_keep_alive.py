"""keep_alive: a server o1tui started outlives it, the next o1tui attaches, the server stops
itself once idle, and its record (with the key) lives only in a 0600 file while it runs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from backends import keepalive
from backends.keepalive import BadDuration, KeptServer, attach, parse_duration, state_path
from backends.locations import runtime_dir
from backends.manager import start_backend
from backends.supervisor import free_port, group_members
from tests.fakes.openai_server import FakeOpenAIServer
from tests.servers_helpers import ALL, FAKE_BIN, chat, eventually, use_fake_lmdeploy
from tui.core.config import ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parent.parent


def test_durations():
    assert parse_duration("0") == 0 and parse_duration(90) == 90
    assert parse_duration("90s") == 90 and parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400 and parse_duration(" 2d ") == 172800
    for bad in ("", "ten minutes", "5x", "-3", "1h 2q"):
        with pytest.raises(BadDuration):
            parse_duration(bad)


def test_keep_alive_setting(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("keep_alive = 600\n")
    assert load_settings(cfg, env={}).keep_alive == "600"
    assert load_settings(cfg, env={"O1TUI_KEEP_ALIVE": "15m"}).keep_alive == "15m"
    cfg.write_text('keep_alive = "soon"\n')
    with pytest.raises(ConfigError, match="keep_alive"):
        load_settings(cfg, env={})


def _ask(model_dir: Path, port: int, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "ask", "What is 2+2?", "--engine", "lmdeploy",
         "--model", str(model_dir), "--port", str(port), "--strategy", "plain"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_kept_server_outlives_o1tui_is_attached_and_stops_itself_when_idle(
    model_dir, tmp_path, monkeypatch
):
    use_fake_lmdeploy(monkeypatch)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "O1TUI_DATA_DIR": str(tmp_path / "data"),
        "O1TUI_LOG_DIR": str(tmp_path / "logs"),
        "O1TUI_CONFIG_DIR": str(tmp_path / "config"),
        "O1TUI_KEEP_ALIVE": "8s",  # long enough for a slow `ask` to start and attach
    }
    first = _ask(model_dir, port, env)
    assert first.returncode == 0, first.stderr
    # o1tui has exited; the server is still up, recorded in a file only the user can read.
    record = state_path(runtime_dir(), port)
    assert record.is_file() and stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    kept = KeptServer(**json.loads(record.read_text()))
    assert kept.port == port and kept.model == "tiny-chat" and kept.api_key
    assert chat(port, kept.api_key, kept.model)[0] == 200
    assert chat(port, None, kept.model)[0] == 401  # still key-protected
    # The key is in no log.
    assert all(kept.api_key not in p.read_text() for p in (tmp_path / "logs").iterdir())

    # The next o1tui attaches: no new process, the recorded key.
    handle = start_backend(
        Settings(engine="lmdeploy", model=str(model_dir), port=port, keep_alive="8s"),
        available=ALL,
        gpu=True,
    )
    assert handle.kept and handle.reused and handle.process is None
    assert handle.api_key == kept.api_key and handle.model == "tiny-chat"
    handle.release()  # an attached server is left to its own timer
    second = _ask(model_dir, port, env)  # attaches too, and re-arms nothing: same keeper
    assert second.returncode == 0, second.stderr
    assert KeptServer(**json.loads(record.read_text())).pid == kept.pid

    # Idle for 8 s: the keeper stops the server's whole group and removes the record.
    assert eventually(lambda: not group_members(kept.pid), timeout_s=40)
    assert eventually(lambda: not record.exists(), timeout_s=5)
    log = "\n".join(p.read_text() for p in (tmp_path / "logs").iterdir())
    assert "o1tui quit; the server stays up" in log and "Shutting down" in log


def test_keep_alive_0_runs_no_keeper_and_writes_no_record(model_dir, monkeypatch):
    use_fake_lmdeploy(monkeypatch)
    handle = start_backend(
        Settings(engine="lmdeploy", model=str(model_dir), port=free_port()),
        available=ALL,
        gpu=True,
    )
    try:
        assert keepalive.KEEPER not in handle.process.spec.argv
        assert not state_path(runtime_dir(), handle.port).exists()
    finally:
        pgid = handle.process.pgid
        handle.release()
    assert group_members(pgid) == []


def test_stale_records_are_detected_and_removed(tmp_path):
    folder = runtime_dir()
    with FakeOpenAIServer(models=("something-else",)) as other:
        port = other.port

        def write(pid: int, started: str) -> Path:
            kept = KeptServer(
                port, "127.0.0.1", "lmdeploy", "tiny-chat", "Tiny", "k", pid, started, 60
            )
            keepalive.write_state(state_path(folder, port), kept)
            return state_path(folder, port)

        # The keeper is gone (a pid that cannot exist).
        assert attach(folder, "127.0.0.1", port) is None
        path = write(2**22 + 7, "1")
        assert attach(folder, "127.0.0.1", port) is None and not path.exists()
        # The pid lives but is another process (start time differs): reused pid.
        path = write(os.getpid(), "1")
        assert attach(folder, "127.0.0.1", port) is None and not path.exists()
        # The keeper lives, but the port is held by a process outside its group: nothing to
        # attach to, and the record is not stale (only a keeper that is gone makes it so).
        path = write(os.getpid(), keepalive.process_start(os.getpid()) or "")
        assert attach(folder, "127.0.0.1", port) is None and path.exists()
        # An unreadable record.
        state_path(folder, port).write_text("{not json")
        assert attach(folder, "127.0.0.1", port) is None
        assert not state_path(folder, port).exists()
    assert FAKE_BIN.is_dir()


def test_the_record_goes_when_the_kept_server_dies_or_is_stopped(model_dir, monkeypatch):
    use_fake_lmdeploy(monkeypatch)
    settings = Settings(engine="lmdeploy", model=str(model_dir), port=free_port(), keep_alive="1h")
    handle = start_backend(settings, available=ALL, gpu=True)
    record = state_path(runtime_dir(), handle.port)
    keeper = handle.process.pid
    assert record.is_file() and handle.process.spec.argv[1] == keepalive.KEEPER
    server = next(pid for pid in group_members(keeper) if pid != keeper)
    os.kill(server, 9)  # the server dies by itself: its keeper removes the record and exits
    assert eventually(lambda: not record.exists(), timeout_s=10)
    assert eventually(lambda: not group_members(keeper), timeout_s=10)
    handle.stop()

    handle = start_backend(settings, available=ALL, gpu=True)  # stopped by o1tui: same
    record = state_path(runtime_dir(), handle.port)
    assert record.is_file()
    pgid = handle.process.pgid
    handle.stop()
    assert not record.exists() and group_members(pgid) == []
