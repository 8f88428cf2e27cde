"""A chain's token total covers the same calls as its time: g1's final-answer call included.

The stand-in server reports the completion tokens each reply is scripted with, so the total a
chain shows can be checked against what the server said, live, in ``--json`` and read back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.openai_client import OpenAIChatClient
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tui.cli.entry import main
from tui.core.chain import Chain
from tui.core.runner import run_chain
from tui.core.strategies import StrategyOptions, get_strategy
from tui.store.history import History

STEP_TOKENS = (11, 13)
ANSWER_TOKENS = 29


def _step(n: int, final: bool) -> str:
    action = "final_answer" if final else "continue"
    return json.dumps({"title": f"T{n}", "content": f"C{n}", "next_action": action})


def _replies() -> list[Reply]:
    """Two g1 steps, then the final answer, each with its own token count."""
    return [
        Reply(content=_step(1, False), completion_tokens=STEP_TOKENS[0]),
        Reply(content=_step(2, True), completion_tokens=STEP_TOKENS[1]),
        Reply(content="The answer is 3.", completion_tokens=ANSWER_TOKENS),
    ]


async def test_g1_total_includes_the_final_answer_call(tmp_path: Path) -> None:
    with FakeOpenAIServer(_replies(), models=None) as srv, History(tmp_path / "h.db") as history:
        client = OpenAIChatClient(srv.url, "m", retries=0)
        chain = Chain(question="How many r in strawberry?", strategy="g1", model="m")
        try:
            await run_chain(chain, get_strategy("g1"), client, StrategyOptions(), history=history)
        finally:
            await client.aclose()
        saved = history.get(chain.id)
    assert [s.completion_tokens for s in chain.steps] == list(STEP_TOKENS)
    assert chain.answer_tokens == ANSWER_TOKENS
    assert chain.completion_tokens == sum(STEP_TOKENS) + ANSWER_TOKENS
    assert saved is not None and saved.completion_tokens == chain.completion_tokens


def test_ask_json_and_summary_line_count_the_answer(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = sum(STEP_TOKENS) + ANSWER_TOKENS
    with FakeOpenAIServer(_replies(), models=None) as srv:
        assert main(["ask", "strawberry?", "--endpoint", srv.url, "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
    assert doc["answer_tokens"] == ANSWER_TOKENS
    assert sum(s["completion_tokens"] for s in doc["steps"]) + doc["answer_tokens"] == total
    assert main(["history", "show", doc["id"]]) == 0
    assert f"{total} tok" in capsys.readouterr().out


async def test_native_answer_after_thinking_counts_too() -> None:
    reply = Reply(content="<think>\nLet me count.\n</think>\n\nThree.", chunk_chars=2)
    with FakeOpenAIServer([reply], models=None) as srv:
        client = OpenAIChatClient(srv.url, "r1", retries=0)
        chain = Chain(question="How many r in strawberry?", strategy="native", model="r1")
        try:
            await run_chain(chain, get_strategy("native"), client, StrategyOptions())
        finally:
            await client.aclose()
    # the answer's chunks ("\n\nThree." after the tag, two characters a chunk) are counted
    assert chain.final_answer == "Three." and chain.answer_tokens == 4
    steps = sum(s.completion_tokens or 0 for s in chain.steps)
    assert chain.completion_tokens == steps + 4
