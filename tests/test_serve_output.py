"""``o1tui serve``'s stderr: the server's own log lines as written, o1tui's lines marked
``o1tui:`` (a warning after a thousand loader lines must say whose it is)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from backends.supervisor import free_port
from tests.servers_helpers import FAKE_BIN, use_fake_lmdeploy

REPO = Path(__file__).resolve().parent.parent


def test_serve_marks_its_own_lines_and_leaves_the_servers_alone(
    data_dir: Path, model_dir: Path, monkeypatch
) -> None:
    use_fake_lmdeploy(monkeypatch)
    env = dict(os.environ, PYTHONPATH=str(REPO), PATH=f"{FAKE_BIN}{os.pathsep}/usr/bin:/bin")
    # No GPU on the PATH: `--engine lmdeploy` then warns that it runs without one.
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "serve", "--engine", "lmdeploy", "--model",
         str(model_dir), "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = err.splitlines()
    assert any(line.startswith("o1tui: warning: no NVIDIA GPU") for line in lines), err
    assert any(line.startswith("o1tui: the server requires a generated API key") for line in lines)
    assert not [line for line in lines if line.startswith("warning:")], err
    # the stand-in server's own log line, untouched
    assert any(line.startswith("INFO:") and "Uvicorn running" in line for line in lines), err
