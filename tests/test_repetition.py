"""A g1 chain that goes round in circles is ended, asked for its answer, and noted."""

from __future__ import annotations

import json

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tui.cli.entry import main
from tui.core.chain import Chain, Status
from tui.core.repetition import REPEATED, RepetitionCheck
from tui.core.runner import run_chain
from tui.core.strategies import StrategyOptions, get_strategy
from tui.core.strategies.prompts import G1_FINAL_REQUEST_EN


def test_an_exact_repeat_is_caught_at_once() -> None:
    check = RepetitionCheck()
    assert check.observe(1, "Identifying Key Information", "We look at 3 and 4.") is None
    assert check.observe(2, "Adding", "3 + 4 = 7.") is None
    why = check.observe(3, "identifying key information ", "We look at 3 and 4!")
    assert why == "step 3 repeated step 1"  # case, spaces and punctuation do not matter


def test_a_run_of_steps_with_nothing_new_is_caught() -> None:
    base = "the numbers are three and four so we add them to get seven"
    check = RepetitionCheck()
    assert check.observe(1, "A", base) is None
    assert check.observe(2, "B", base + " indeed") is None  # stale 1
    assert check.observe(3, "C", "so " + base) is None  # stale 2
    assert check.observe(4, "D", base.upper()) == "steps 2–4 added nothing new"


def test_new_content_resets_the_run() -> None:
    base = "the numbers are three and four so we add them to get seven"
    check = RepetitionCheck()
    check.observe(1, "A", base)
    check.observe(2, "B", base + " indeed")
    check.observe(3, "C", "now check it by counting on from four five six seven done")
    assert check.observe(4, "D", base) is None and check.observe(5, "E", base + "!") is None
    assert check.observe(6, "F", base + " again") == "steps 4–6 added nothing new"


def test_chinese_steps_are_compared_by_character() -> None:
    check = RepetitionCheck()
    assert check.observe(1, "分析", "三加四等于七") is None
    assert check.observe(2, "验证", "七减四等于三") is None  # different characters: new
    assert check.observe(3, "分析", "三加四等于七。") == "step 3 repeated step 1"


def repeating(body: dict) -> Reply:
    """SmolLM2-135M's loop: the same step every time; plain words when asked for the answer."""
    if body.get("response_format") is None:
        return Reply(content="The answer is 7.")
    step = {"title": "Identifying Key Information", "content": "We look at the numbers."}
    return Reply(content=json.dumps({**step, "next_action": "continue"}))


async def test_g1_ends_a_repeating_chain_and_asks_for_the_answer() -> None:
    from backends.openai_client import OpenAIChatClient

    with FakeOpenAIServer(responder=repeating) as srv:
        client = OpenAIChatClient(srv.url, "fake-model", retries=0)
        chain = Chain("What is 3 + 4?", "g1", "fake-model")
        await run_chain(chain, get_strategy("g1"), client, StrategyOptions(max_steps=25))
        await client.aclose()
    assert chain.status is Status.DONE and chain.final_answer == "The answer is 7."
    assert [s.finish_reason for s in chain.steps] == ["stop", REPEATED]
    assert len(srv.requests) == 3  # two steps and the final-answer request, not 25 steps
    assert srv.requests[-1]["messages"][-1]["content"] == G1_FINAL_REQUEST_EN
    assert chain.note and "step 2" in chain.note


def test_the_note_shows_in_ask_history_show_and_json(data_dir, capsys) -> None:
    with FakeOpenAIServer(responder=repeating) as srv:
        code = main(["ask", "What is 3 + 4?", "--endpoint", srv.url, "--model", "fake-model"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Step 2: Identifying Key Information (" in out and ", repeated)" in out
    assert "Note: The model began repeating itself at step 2;" in out
    assert out.index("Note:") < out.index("Final answer:")
    assert main(["history", "list", "--json"]) == 0
    chain_id = json.loads(capsys.readouterr().out)[0]["id"]
    assert main(["history", "show", chain_id]) == 0
    assert "Note: The model began repeating itself at step 2;" in capsys.readouterr().out
    assert main(["history", "show", chain_id, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (
        doc["note"].startswith("The model began") and doc["steps"][1]["finish_reason"] == REPEATED
    )
