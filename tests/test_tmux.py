"""The real ``o1tui`` in a real terminal (tmux) against the stand-in server on loopback.

Types a question, watches steps with timings appear, quits with ctrl+q, and finds the chain
with ``o1tui history list``. Runs on a private tmux socket so it touches no other session.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import poll_until
from tests.tmux_helpers import REPO, Tmux, app_command, o1tui_exe, saved_chains

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

QUESTION = "How many r are in strawberry?"


def test_ask_in_tmux_then_find_it_in_history(tmp_path: Path, fake_server: str) -> None:
    data = tmp_path / "data"
    tmux = Tmux("test", tmp_path)
    app_cmd = app_command(data, fake_server)
    pane = tmux.pane

    tmux.start("o1", app_cmd)
    try:
        poll_until(lambda: "● ready" in pane(), 30, "the app to connect")
        tmux("send-keys", "-t", "o1", "-l", QUESTION)
        tmux("send-keys", "-t", "o1", "Enter")
        screen = poll_until(
            lambda: (
                lambda s: s
                if re.search(r"Step \d .* \d+\.\d\d s · \d+ tok", s) and "done ·" in s
                else None
            )(pane()),
            30,
            "steps with timings and a finished chain",
        )
        assert "Answer" in screen or "thought for" in screen or "done · g1" in screen
        tmux("send-keys", "-t", "o1", "C-q")
        poll_until(lambda: "O1TUI-EXITED-0" in pane(), 20, "the app to quit with status 0")
    finally:
        tmux.close()

    chains = saved_chains(tmux, data)
    assert [c["question"] for c in chains] == [QUESTION]
    assert chains[0]["status"] == "done" and chains[0]["strategy"] == "g1"


def test_closing_the_terminal_stops_the_server_the_app_started(tmp_path: Path) -> None:
    """SIGHUP (the SSH session closed) to the real app with a managed server (the stand-in
    `lmdeploy` on PATH): the app goes, and so does the server's whole process group."""
    from backends.supervisor import free_port, group_members
    from tests.helpers import server_pgid

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    port = free_port()
    tmux = Tmux(
        "hup",
        tmp_path,
        O1TUI_DATA_DIR=str(tmp_path / "d"),
        PATH=f"{REPO / 'tests' / 'fakes' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    )
    tmux.start("o1", f"exec {o1tui_exe()} --engine lmdeploy --model {model} --port {port}")
    try:
        app_pid = int(tmux("list-panes", "-t", "o1", "-F", "#{pane_pid}", check=True).split()[0])

        pgid = poll_until(lambda: server_pgid(port), 30, "the managed server to start")
        # Ready, so the server has gone quiet: it would not notice its log pipe closing.
        poll_until(lambda: "● ready" in tmux.pane(), 30, "the app to show the server ready")
        os.kill(app_pid, signal.SIGHUP)
        poll_until(lambda: not group_members(pgid), 20, "the server's process group to end")
        poll_until(
            lambda: not Path(f"/proc/{app_pid}").exists()
            or b"Z" in Path(f"/proc/{app_pid}/stat").read_bytes().split()[2:3],
            20,
            "the app to exit",
        )
    finally:
        tmux.close()


def test_the_terminal_closing_mid_chain_never_leaves_the_app_hung() -> None:
    """The SSH-drop loop (bench/ssh_drop_loop.py), a few runs: `tmux kill-session`, and ctrl+q
    overtaken by SIGHUP, while a chain runs against a managed server. Before the fix 3 runs
    in 10 hung (a stop waiting on itself; Textual's output thread holding up the exit)."""
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, str(repo / "bench" / "ssh_drop_loop.py"), "--runs", "2"],
        capture_output=True,
        text=True,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        timeout=400,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["runs"] == 4, out.stderr
    assert result["hung"] == 0 and result["servers_left"] == 0, result
