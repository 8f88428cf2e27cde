"""The real ``o1tui`` in tmux: ask, follow up, follow up again. The stand-in server (its
``--count-turns`` mode) answers with the number of user turns each request carried, so the
screen itself shows that the follow-ups sent the earlier turns."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import poll_until
from tests.tmux_helpers import Tmux, app_command, saved_chains, stand_in_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def counting_server() -> Iterator[str]:
    """The stand-in server answering with the number of turns it was sent; its URL."""
    with stand_in_server("--count-turns") as url:
        yield url


def test_ask_follow_up_and_follow_up_again_in_tmux(tmp_path: Path, counting_server: str) -> None:
    data = tmp_path / "data"
    tmux = Tmux("threads", tmp_path)
    pane = tmux.pane

    def ask(question: str, turns: int) -> str:
        tmux("send-keys", "-t", "o1", "-l", question)
        tmux("send-keys", "-t", "o1", "Enter")
        # g1 sends its final-answer request as one more user message: turns + 1.
        return poll_until(
            lambda: (lambda s: s if f"[user turns: {turns + 1}]" in s else None)(pane()),
            30,
            f"the answer to turn {turns}",
        )

    tmux.start("o1", app_command(data, counting_server), width=100, height=50)
    try:
        poll_until(lambda: "● ready" in pane(), 30, "the app to connect")
        assert "Question · strategy" in pane()
        ask("How many r in strawberry?", 1)
        poll_until(lambda: "Follow-up · strategy" in pane(), 10, "the box to offer a follow-up")
        screen = ask("And in raspberry?", 2)
        assert "Earlier turns · 1 turn" in screen
        screen = ask("Check both another way", 3)
        assert "Earlier turns · 2 turns" in screen and "Check both another way" in screen
        tmux("send-keys", "-t", "o1", "F3")  # unfold: both earlier questions are shown
        screen = poll_until(
            lambda: (lambda s: s if "Turn 2 · And in raspberry?" in s else None)(pane()),
            10,
            "the earlier turns to unfold",
        )
        assert "Turn 1 · How many r in strawberry?" in screen
        tmux("send-keys", "-t", "o1", "C-q")
        poll_until(lambda: "O1TUI-EXITED-0" in pane(), 20, "the app to quit with status 0")
    finally:
        tmux.close()

    chains = list(reversed(saved_chains(tmux, data)))
    assert [c["question"] for c in chains] == [
        "How many r in strawberry?",
        "And in raspberry?",
        "Check both another way",
    ]
    assert [c["parent_id"] for c in chains] == [None, chains[0]["id"], chains[1]["id"]]
