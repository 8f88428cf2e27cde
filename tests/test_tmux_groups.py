"""The real ``o1tui`` in tmux runs a self-consistency vote against the stand-in server.

Types a question, picks "g1@8 vote" with F5, watches the eight samples finish and the vote
appear, quits, and finds the eight chains (one group) with ``o1tui history list``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import poll_until
from tests.tmux_helpers import Tmux, app_command, saved_chains

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

QUESTION = "What is six times seven?"


def test_vote_in_tmux_then_find_the_group_in_history(tmp_path: Path, fake_server: str) -> None:
    data = tmp_path / "data"
    tmux = Tmux("group", tmp_path)
    app_cmd = app_command(data, fake_server)
    pane = tmux.pane

    tmux.start("o1", app_cmd)
    try:
        poll_until(lambda: "● ready" in pane(), 30, "the app to connect")
        tmux("send-keys", "-t", "o1", "-l", QUESTION)
        tmux("send-keys", "-t", "o1", "F5")
        poll_until(lambda: "g1@8 vote" in pane(), 10, "the list of group modes")
        tmux("send-keys", "-t", "o1", "Enter")  # the first mode: g1@8 vote, run at once
        poll_until(lambda: re.search(r"#8 \S", pane()), 15, "eight sample rows")
        screen = poll_until(
            lambda: (lambda s: s if "done · g1@8 vote" in s else None)(pane()),
            60,
            "the vote to finish",
        )
        assert re.search(r"Answer 42\s+8 of 8 votes", screen), screen
        assert len(re.findall(r"✓ 42", screen)) == 8, screen
        tmux("send-keys", "-t", "o1", "C-q")
        poll_until(lambda: "O1TUI-EXITED-0" in pane(), 20, "the app to quit with status 0")
    finally:
        tmux.close()

    chains = saved_chains(tmux, data)
    assert len(chains) == 8 and {c["question"] for c in chains} == {QUESTION}
    assert {c["status"] for c in chains} == {"done"} and {c["strategy"] for c in chains} == {"g1"}
    assert len({c["group_id"] for c in chains}) == 1 and chains[0]["group_id"]
