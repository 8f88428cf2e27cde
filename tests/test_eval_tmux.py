"""``o1tui eval`` in a real terminal (tmux): the progress is one bar redrawn in place, not a
scroll of lines, and the results table follows it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_tmux import fake_server  # noqa: F401 - the stand-in server as a process

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

ROOT = Path(__file__).resolve().parent.parent


def test_eval_progress_is_one_bar_in_a_terminal(tmp_path: Path, fake_server: str) -> None:  # noqa: F811
    socket = f"o1tui-eval-test-{os.getpid()}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "O1TUI_DATA_DIR": str(tmp_path / "data"),
        "O1TUI_CONFIG_DIR": str(tmp_path / "config"),
        "O1TUI_LOG_DIR": str(tmp_path / "log"),
        "TERM": "xterm-256color",
    }
    env.pop("TMUX", None)
    cmd = (
        f"{sys.executable} -m tui.cli eval letters --limit 6 --strategies plain,g1 "
        f"--endpoint {fake_server}; echo EVAL-EXITED-$?; sleep 30"
    )

    def tmux(*args: str, check: bool = True) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], env=env, check=check, capture_output=True, text=True
        ).stdout

    tmux("new-session", "-d", "-s", "ev", "-x", "100", "-y", "40", cmd)
    try:
        deadline = time.monotonic() + 60
        seen_midway = False
        while "EVAL-EXITED-" not in (
            screen := tmux("capture-pane", "-p", "-S", "-200", "-t", "ev")
        ):
            if re.search(r"\] ([1-9]|1[01])/12 ", screen):
                seen_midway = True
            assert time.monotonic() < deadline, screen
            time.sleep(0.05)
    finally:
        tmux("kill-server", check=False)
    assert "EVAL-EXITED-0" in screen, screen
    bars = [line for line in screen.splitlines() if re.search(r"\d+/12 +\d+%", line)]
    assert len(bars) == 1 and "12/12 100%" in bars[0], screen
    assert seen_midway  # the bar was there while items ran, and was redrawn in place
    lines = screen.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["strategy", "n"])
    assert lines[header + 1].split()[:2] == ["plain", "6"]
    assert lines[header + 2].split()[:2] == ["g1", "6"]
