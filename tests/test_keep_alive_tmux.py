"""The real app in tmux with ``--keep-alive``: ctrl+q leaves the server it started up, with
its record, says so, and the server stops itself once idle (the stand-in ``lmdeploy`` on
PATH)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from backends.keepalive import state_path
from backends.locations import runtime_dir
from backends.supervisor import free_port, group_members
from tests.helpers import poll_until
from tests.servers_helpers import chat
from tests.tmux_helpers import REPO, Tmux, o1tui_exe

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def test_quitting_the_app_leaves_a_kept_server_that_stops_when_idle(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    port = free_port()
    tmux = Tmux(
        "keep",
        tmp_path,
        O1TUI_DATA_DIR=str(tmp_path / "d"),
        PATH=f"{REPO / 'tests' / 'fakes' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    )
    # Not exec'd: the shell stays, so what o1tui prints once it has quit can be read.
    cmd = (
        f"{o1tui_exe()} --engine lmdeploy --model {model} --port {port} --keep-alive 8s; "
        "echo EXITED; sleep 120"
    )
    tmux.start("o1", cmd)
    try:
        poll_until(lambda: "● ready" in tmux.pane(), 30, "the server ready")
        record = state_path(runtime_dir(), port)
        poll_until(record.is_file, 5, "the kept server's record")
        tmux("send-keys", "-t", "o1", "C-q")
        poll_until(lambda: "EXITED" in tmux.pane(), 20, "the app to quit")
        kept = json.loads(record.read_text())
        said = "".join(tmux.pane().splitlines())  # the line wraps at the pane's width
        assert f"the server on port {port} (model) was left running" in said
        assert f"stops after 8 s without requests, or now with: kill {kept['pid']}" in said
        assert group_members(kept["pid"]), "the server went with the app"
        assert chat(port, kept["api_key"], kept["model"])[0] == 200
        poll_until(lambda: not group_members(kept["pid"]), 40, "the idle server to stop itself")
        poll_until(lambda: not record.exists(), 5, "the record to be removed")
    finally:
        tmux.close()
