"""``o1tui eval`` in a real terminal (tmux): the progress is one bar redrawn in place, not a
scroll of lines, and the results table follows it."""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.tmux_helpers import Tmux

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def test_eval_progress_is_one_bar_in_a_terminal(tmp_path: Path, fake_server: str) -> None:
    tmux = Tmux("eval-test", tmp_path, O1TUI_DATA_DIR=str(tmp_path / "data"))
    cmd = (
        f"{sys.executable} -m tui.cli eval letters --limit 6 --strategies plain,g1 "
        f"--endpoint {fake_server}; echo EVAL-EXITED-$?; sleep 30"
    )

    tmux.start("ev", cmd, height=40)
    try:
        deadline = time.monotonic() + 60
        seen_midway = False
        while "EVAL-EXITED-" not in (screen := tmux.pane("ev", scrollback=200)):
            if re.search(r"\] ([1-9]|1[01])/12 ", screen):
                seen_midway = True
            assert time.monotonic() < deadline, screen
            time.sleep(0.05)
    finally:
        tmux.close()
    assert "EVAL-EXITED-0" in screen, screen
    bars = [line for line in screen.splitlines() if re.search(r"\d+/12 +\d+%", line)]
    assert len(bars) == 1 and "12/12 100%" in bars[0], screen
    assert seen_midway  # the bar was there while items ran, and was redrawn in place
    lines = screen.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["strategy", "n"])
    assert lines[header + 1].split()[:2] == ["plain", "6"]
    assert lines[header + 2].split()[:2] == ["g1", "6"]
