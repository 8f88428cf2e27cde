"""Signals, broken pipes and odd keys must never leave a model server behind or hang o1tui.

Real processes: ``python -m tui.cli`` with the stand-in ``lmdeploy`` (tests/fakes/bin) on PATH,
real signals, and the server's process group looked up in /proc.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from backends.supervisor import free_port, group_members, probe
from tests.helpers import poll_until, server_pgid
from tests.servers_helpers import fake_lmdeploy_env

REPO = Path(__file__).resolve().parent.parent


def _managed(model_dir: Path, port: int, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tui.cli",
        *args,
        "--engine",
        "lmdeploy",
        "--model",
        str(model_dir),
        "--port",
        str(port),
    ]


def _describe(pids: list[int]) -> list[str]:
    """Each process's state and command line, for a failure message."""
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:160]
        except OSError:
            state, cmd = "gone", b""
        out.append(f"{pid} {state} {cmd.decode(errors='replace')}")
    return out


def _kill_group(pgid: int | None) -> None:
    if pgid is not None and group_members(pgid):
        os.killpg(pgid, signal.SIGKILL)


def _read_until(proc: subprocess.Popen, needle: bytes, timeout_s: float, stream=None) -> bytes:
    """Read the child's stdout (or ``stream``) as it comes until ``needle``."""
    stream = stream or proc.stdout
    assert stream is not None
    fd = stream.fileno()
    seen = b""
    deadline = time.monotonic() + timeout_s
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, f"no {needle!r} in {seen[-300:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            seen += os.read(fd, 65536)
    return seen


@pytest.mark.parametrize(
    ("sig", "delay_s"),
    [(signal.SIGTERM, 0.0), (signal.SIGTERM, 0.003), (signal.SIGHUP, 0.002), (signal.SIGHUP, 0.01)],
)
def test_signal_right_after_the_answer_leaves_no_server(data_dir, model_dir, sig, delay_s):
    """SIGTERM/SIGHUP a few milliseconds after `ask` printed its total: the chain is over and
    the managed server is being stopped; the signal must not end o1tui before it is down."""
    port = free_port()
    proc = subprocess.Popen(
        _managed(model_dir, port, "ask", "How many r are in strawberry?", "--strategy", "plain"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=fake_lmdeploy_env(PYTHONUNBUFFERED="1"),
        cwd=REPO,
    )
    pgid = None
    try:
        pgid = poll_until(lambda: server_pgid(port), 60, "the managed server")
        _read_until(proc, b"Total thinking time", 60)
        time.sleep(delay_s)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert b"Traceback" not in err, err.decode()
        left = group_members(pgid)
        assert left == [], (
            f"the server outlived o1tui ask: {_describe(left)}; stderr: {err[-800:]!r}"
        )
    finally:
        proc.kill()
        _kill_group(pgid)


@pytest.mark.parametrize("gap_s", [0.0, 0.3])
def test_two_interrupts_during_a_managed_load(data_dir, model_dir, gap_s):
    """Two Ctrl+C at once while the server loads: one line, exit 130, the server gone (checked
    at once: a server left behind would only die later, at its next write to a closed pipe)."""
    port = free_port()
    proc = subprocess.Popen(
        _managed(model_dir, port, "ask", "q"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=fake_lmdeploy_env(FAKE_LMDEPLOY_START_DELAY="30", FAKE_LMDEPLOY_IGNORE_SIGTERM="1"),
        cwd=REPO,
    )
    pgid = None
    try:
        pgid = poll_until(lambda: server_pgid(port), 60, "the managed server")
        _read_until(proc, b"server log:", 60, proc.stderr)  # o1tui waits for it now
        proc.send_signal(signal.SIGINT)
        # The server ignores SIGTERM, so the stop is still waiting out its grace period.
        time.sleep(gap_s)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        text = err.decode()
        assert "Traceback" not in text and "unlocked lock" not in text, text
        assert proc.returncode == 130, text
        assert group_members(pgid) == []
    finally:
        proc.kill()
        _kill_group(pgid)


def test_serve_into_a_pipe_whose_reader_left_stops_the_server(data_dir, model_dir):
    """`o1tui serve … | true`: printing the URL fails; the server must not outlive o1tui."""
    port = free_port()
    reader_gone = os.pipe()
    os.close(reader_gone[0])  # like `| true`: nobody will ever read
    proc = subprocess.Popen(
        _managed(model_dir, port, "serve"),
        stdout=reader_gone[1],
        stderr=subprocess.PIPE,
        env=fake_lmdeploy_env(),
        cwd=REPO,
    )
    os.close(reader_gone[1])
    try:
        _, err = proc.communicate(timeout=90)
        assert b"Traceback" not in err, err.decode()
        assert proc.returncode != 0
        assert server_pgid(port) is None and probe("127.0.0.1", port).kind == "down"
    finally:
        proc.kill()
        _kill_group(server_pgid(port))


def test_an_api_key_starting_with_a_dash_reaches_the_server(data_dir, model_dir):
    """A key like ``-x…`` must be passed so the server's argparse does not read an option."""
    port = free_port()
    proc = subprocess.run(
        _managed(model_dir, port, "ask", "How many r are in strawberry?", "--strategy", "plain")
        + ["--api-key=-dash-first-key", "--json"],
        capture_output=True,
        text=True,
        env=fake_lmdeploy_env(),
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "unrecognized arguments" not in proc.stderr


def test_generated_keys_never_start_with_a_dash():
    from backends.manager import new_api_key

    assert not any(new_api_key().startswith("-") for _ in range(2000))


def test_a_stop_reentered_from_a_signal_handler_does_not_wait_on_itself(tmp_path, model_dir):
    """The app's SIGHUP handler stops the server; a SIGHUP that lands while the main thread is
    already stopping it (a quit, then the terminal closing) must not deadlock on the stop."""
    script = textwrap.dedent(
        f"""
        import os, signal, threading
        from backends.engines import ServerOptions, lmdeploy_command
        from backends.presets import resolve
        from backends.supervisor import ServerProcess, free_port

        spec = lmdeploy_command(resolve({str(model_dir)!r}), ServerOptions(port=free_port()), "k")
        proc = ServerProcess(spec, log_dir={str(tmp_path)!r})
        proc.start()
        proc.wait_ready(60)
        signal.signal(signal.SIGHUP, lambda *_: proc.stop(grace_s=1.0))
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGHUP)).start()
        proc.stop(grace_s=1.5)  # the stand-in ignores SIGTERM: the stop lasts the grace period
        print("stopped", proc.pgid)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=fake_lmdeploy_env(FAKE_LMDEPLOY_IGNORE_SIGTERM="1"),
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 0 and out.stdout.startswith("stopped"), out.stderr
    assert group_members(int(out.stdout.split()[1])) == []
