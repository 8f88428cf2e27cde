"""The real app in tmux with ``--keep-alive``: ctrl+q leaves the server it started up, with
its record, and the server stops itself once idle (the stand-in ``lmdeploy`` on PATH)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from backends.keepalive import state_path
from backends.locations import runtime_dir
from backends.supervisor import free_port, group_members
from tests.servers_helpers import chat
from tests.test_tmux import _o1tui, _wait

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def test_quitting_the_app_leaves_a_kept_server_that_stops_when_idle(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    port = free_port()
    socket = f"o1tui-keep-{os.getpid()}"
    env = {
        **os.environ,
        "O1TUI_CONFIG_DIR": str(tmp_path / "c"),
        "O1TUI_LOG_DIR": str(tmp_path / "l"),
        "O1TUI_DATA_DIR": str(tmp_path / "d"),
        "TERM": "xterm-256color",
        "PATH": f"{repo / 'tests' / 'fakes' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("TMUX", None)
    cmd = f"exec {_o1tui()} --engine lmdeploy --model {model} --port {port} --keep-alive 8s"

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], env=env, capture_output=True, text=True
        ).stdout

    tmux("new-session", "-d", "-s", "o1", "-x", "100", "-y", "30", cmd)
    try:
        _wait(lambda: "● ready" in tmux("capture-pane", "-p", "-t", "o1"), 30, "the server ready")
        record = state_path(runtime_dir(), port)
        _wait(record.is_file, 5, "the kept server's record")
        tmux("send-keys", "-t", "o1", "C-q")
        _wait(lambda: "o1" not in tmux("list-sessions"), 20, "the app to quit")
        kept = json.loads(record.read_text())
        assert group_members(kept["pid"]), "the server went with the app"
        assert chat(port, kept["api_key"], kept["model"])[0] == 200
        _wait(lambda: not group_members(kept["pid"]), 40, "the idle server to stop itself")
        _wait(lambda: not record.exists(), 5, "the record to be removed")
    finally:
        tmux("kill-server")
