"""The process supervisor driven against the stand-in ``lmdeploy`` executable (real processes)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import stat
import threading

import pytest

from backends.engines import LaunchSpec, ServerOptions, lmdeploy_command
from backends.presets import ModelRef
from backends.supervisor import (
    Probe,
    ServerProcess,
    ServerStartError,
    ServerState,
    free_port,
    group_members,
    probe,
)
from tests.helpers import poll_until
from tests.servers_helpers import chat, cmdline, use_fake_lmdeploy

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc"), reason="checks the process table via /proc"
)

KEY = "test-key-Zq8sW3xYv"
MODEL = ModelRef("org/model", "served-model", modelscope_id="org/model")


@pytest.fixture(autouse=True)
def fake_on_path(monkeypatch):
    use_fake_lmdeploy(monkeypatch)


def _spec(**opts) -> LaunchSpec:
    key_in_env = opts.pop("key_in_env", True)
    return lmdeploy_command(
        MODEL, ServerOptions(port=free_port(), key_in_env=key_in_env, **opts), KEY
    )


@pytest.fixture
def server(tmp_path):
    made: list[ServerProcess] = []

    def make(spec: LaunchSpec | None = None, **kwargs) -> ServerProcess:
        proc = ServerProcess(spec or _spec(), log_dir=tmp_path / "logs", **kwargs)
        made.append(proc)
        return proc

    yield make
    for proc in made:  # a failed assertion must not leave processes behind
        proc.stop(grace_s=1.0)


def test_start_ready_serve_and_stop_leaves_nothing(server, monkeypatch):
    monkeypatch.setenv("FAKE_LMDEPLOY_SPAWN_CHILD", "1")
    proc = server()
    proc.start()
    proc.wait_ready(30)
    assert proc.state is ServerState.READY
    pgid = proc.pgid
    assert os.getpgid(proc.pid) == pgid  # its own group, apart from ours
    assert pgid != os.getpgrp()
    assert len(group_members(pgid)) == 2  # server + its engine child

    assert probe("127.0.0.1", proc.spec.port, KEY) == Probe("ready", ("served-model",))
    assert probe("127.0.0.1", proc.spec.port, None).kind == "auth"
    status, body = chat(proc.spec.port, KEY, "served-model", "what is 6*7?")
    assert status == 200 and "42" in body

    assert proc.stop(grace_s=5) == 0
    assert proc.state is ServerState.STOPPED
    assert group_members(pgid) == []
    assert proc.stop() == 0  # idempotent


def test_command_line_is_loopback_and_key_stays_off_it_and_out_of_logs(server):
    proc = server()
    proc.start()
    proc.wait_ready(30)
    argv = cmdline(proc.pid)
    assert argv[argv.index("--server-name") + 1] == "127.0.0.1"
    assert "--enable-prefix-caching" in argv
    assert not any(KEY in word for word in argv)
    proc.stop()
    log = proc.log_path.read_text()
    assert log.startswith("# command: ")
    assert KEY not in log
    assert stat.S_IMODE(proc.log_path.stat().st_mode) == 0o600


def test_key_on_command_line_is_redacted_in_log(server):
    spec = _spec(key_in_env=False)
    assert spec.key_on_command_line
    proc = server(spec)
    proc.start()
    proc.wait_ready(30)
    argv = cmdline(proc.pid)
    assert f"--api-keys={KEY}" in argv
    proc.stop()
    log = proc.log_path.read_text()
    assert "--api-keys=***" in log and KEY not in log


def test_log_lines_are_captured_cleaned_and_bounded(server):
    proc = server(ring_lines=5)
    seen: list[str] = []
    proc.on_line = seen.append
    proc.start()
    proc.wait_ready(30)
    proc.stop()
    assert any("Uvicorn running on http://127.0.0.1:" in line for line in seen)
    assert any("Loading weights" in line for line in seen)  # \r-redrawn progress became lines
    assert all("\x1b" not in line and "\r" not in line for line in seen)
    assert len(proc.lines()) == 5
    assert proc.lines() == seen[-5:]
    assert "Uvicorn running" in proc.log_path.read_text()


def test_slow_start_reports_progress_until_ready(server, monkeypatch):
    monkeypatch.setenv("FAKE_LMDEPLOY_START_DELAY", "0.6")
    monkeypatch.setenv("FAKE_LMDEPLOY_HEALTH_503_S", "0.6")
    kinds: list[str] = []
    proc = server()
    proc.start()
    proc.wait_ready(30, poll_interval_s=0.05, on_poll=lambda _t, p: kinds.append(p.kind))
    assert kinds[-1] == "ready"
    assert "down" in kinds and "starting" in kinds  # port closed while loading, then 503


def test_exit_during_start_raises_with_log_tail(server, monkeypatch):
    monkeypatch.setenv("FAKE_LMDEPLOY_FAIL_AT_START", "CUDA out of memory")
    monkeypatch.setenv("FAKE_LMDEPLOY_SPAWN_CHILD", "1")
    proc = server()
    proc.start()
    with pytest.raises(ServerStartError) as info:
        proc.wait_ready(30)
    err = info.value
    assert err.returncode == 1
    assert "exited during start-up" in str(err)
    assert any("CUDA out of memory" in line for line in err.log_tail)
    assert "CUDA out of memory" in err.details()
    assert proc.state is ServerState.EXITED
    proc.stop()
    assert group_members(proc.pgid) == []


def test_ready_deadline_stops_the_server(server, monkeypatch):
    monkeypatch.setenv("FAKE_LMDEPLOY_START_DELAY", "60")
    proc = server()
    proc.start()
    pgid = proc.pgid
    with pytest.raises(ServerStartError, match="not ready after"):
        proc.wait_ready(0.5)
    assert not proc.running
    assert group_members(pgid) == []


def test_sigterm_ignored_means_sigkill_for_the_whole_group(server, monkeypatch):
    monkeypatch.setenv("FAKE_LMDEPLOY_IGNORE_SIGTERM", "1")
    monkeypatch.setenv("FAKE_LMDEPLOY_SPAWN_CHILD", "1")
    proc = server()
    proc.start()
    proc.wait_ready(30)
    pgid = proc.pgid
    assert len(group_members(pgid)) == 2
    assert proc.stop(grace_s=0.5) == -signal.SIGKILL
    assert group_members(pgid) == []


def test_crash_while_running_is_detected_and_group_cleaned(server, monkeypatch):
    monkeypatch.setenv("FAKE_LMDEPLOY_DIE_AFTER_REQUESTS", "0")
    monkeypatch.setenv("FAKE_LMDEPLOY_SPAWN_CHILD", "1")
    exited = threading.Event()
    codes: list[int] = []
    proc = server(on_exit=lambda code: (codes.append(code), exited.set()))
    proc.start()
    proc.wait_ready(30)
    pgid = proc.pgid
    # The stream is cut mid-way: an incomplete chunked body or a reset connection (and not
    # an AssertionError, which a bare ``pytest.raises(Exception)`` would have swallowed).
    with pytest.raises((http.client.HTTPException, OSError)):
        chat(proc.spec.port, KEY, "served-model", stream=True)
    assert exited.wait(10)
    assert codes == [3]
    assert proc.state is ServerState.EXITED and proc.poll() == 3
    # The waiter takes the orphaned engine child down.
    poll_until(lambda: group_members(pgid) == [], 5, "the engine child to be taken down")


def test_port_taken_makes_start_fail_with_reason(server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        spec = lmdeploy_command(MODEL, ServerOptions(port=port), KEY)
        proc = server(spec)
        proc.start()
        with pytest.raises(ServerStartError) as info:
            proc.wait_ready(30)
    assert any("address already in use" in line for line in info.value.log_tail)


def test_missing_executable_is_a_start_error(tmp_path):
    spec = LaunchSpec(
        "lmdeploy", (str(tmp_path / "no-such-lmdeploy"), "serve"), "127.0.0.1", 1, "m", None
    )
    proc = ServerProcess(spec)
    with pytest.raises(ServerStartError, match="could not run"):
        proc.start()
    assert proc.stop() is None


def test_group_members_of_unknown_group_is_empty():
    assert group_members(2**22 + 12345) == []
