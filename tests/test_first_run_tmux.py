"""The whole first run, as a new user meets it: ``o1tui`` in tmux on a machine without a GPU,
with a fresh data dir. The app starts the CPU fallback (the real llama.cpp server with the
bundled SmolLM2-135M), the first g1 question ends with an answer (the tiny model repeats
itself; the chain is ended, not run to 25 steps), and ctrl+q leaves no server behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import needs_llamacpp, poll_until
from tests.tmux_helpers import REPO, Tmux

pytestmark = [
    pytest.mark.slow,
    pytest.mark.llamacpp,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    needs_llamacpp,
    pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU box starts LMDeploy"),
]


def _llamacpp_pgid(port: int) -> int | None:
    """The process group of the llama.cpp server started on ``port``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"llama_cpp.server" in argv and str(port).encode() in argv:
                return os.getpgid(int(entry.name))
        except OSError:
            continue
    return None


def test_first_run_starts_the_cpu_fallback_answers_and_cleans_up(tmp_path: Path) -> None:
    from backends.supervisor import free_port, group_members

    port = free_port()
    data = tmp_path / "data"  # fresh: no history, no config, no logs
    tmux = Tmux("first", tmp_path, O1TUI_MODEL=None, O1TUI_ENDPOINT=None)
    env = tmux.env
    app = f"exec {sys.executable} -m tui.cli --data-dir {data} --port {port}"
    tmux.start("o1", app, width=120, height=40)
    try:
        app_pid = int(tmux("list-panes", "-t", "o1", "-F", "#{pane_pid}").split()[0])
        pgid = poll_until(lambda: _llamacpp_pgid(port), 60, "the llama.cpp server to start", 0.2)

        def ready_screen() -> str:
            screen = tmux.pane()
            # The server's state, not the start-up stage of the same name ("● starting · … ·
            # ready ━━ 5/5"): a question sent before the state turns is not run.
            return screen if "● ready" in screen else ""

        screen = poll_until(ready_screen, 180, "the app to show the server ready", 0.2)
        assert "smollm2" in screen.lower()  # the model that runs is the one named
        tmux("send-keys", "-t", "o1", "-l", "What is 2 + 3?")
        tmux("send-keys", "-t", "o1", "Enter")

        def finished() -> dict | None:
            out = subprocess.run(
                [sys.executable, "-m", "tui.cli", "--data-dir", str(data), "history", "list"]
                + ["--json"],
                env=env,
                capture_output=True,
                text=True,
                cwd=REPO,
            ).stdout
            rows = json.loads(out or "[]")
            return rows[0] if rows and rows[0]["status"] != "running" else None

        # Each poll runs a process: not too often, the model shares the CPU with it.
        row = poll_until(finished, 300, "the first chain to end", 0.5)
        assert row["status"] == "done", row
        assert 1 <= row["n_steps"] < 25, row  # not 25 repeated steps
        shown = subprocess.run(
            [sys.executable, "-m", "tui.cli", "--data-dir", str(data), "history", "show"]
            + [row["id"], "--json"],
            env=env,
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        chain = json.loads(shown.stdout)
        assert chain["final_answer"].strip() and chain["strategy"] == "g1"
        poll_until(lambda: "Answer" in tmux.pane(), 30, "the answer panel")

        tmux("send-keys", "-t", "o1", "C-q")
        poll_until(lambda: not group_members(pgid), 30, "the llama.cpp server to stop")
        poll_until(
            lambda: not Path(f"/proc/{app_pid}").exists()
            or b"Z" in Path(f"/proc/{app_pid}/stat").read_bytes().split()[2:3],
            30,
            "the app to exit",
        )
    finally:
        tmux.close()
