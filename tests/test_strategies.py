"""Every strategy against the stand-in OpenAI server, over real HTTP and SSE."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from typing import Any

import pytest

from backends.openai_client import OpenAIChatClient
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tui.core.chain import (
    AnswerDelta,
    AnswerFinished,
    Chain,
    Event,
    Status,
    StepDelta,
    StepFinished,
    StepStarted,
)
from tui.core.runner import run_chain
from tui.core.strategies import STRATEGY_NAMES, StrategyOptions, get_strategy
from tui.core.strategies.prompts import (
    G1_FINAL_REQUEST_EN,
    G1_FINAL_REQUEST_ZH,
    G1_PRIMER_EN,
    G1_SYSTEM_EN,
    G1_SYSTEM_ZH,
    THINKING_SYSTEM,
)

QUESTION = "How many r are in strawberry?"


def step_json(n: int, final: bool = False, **extra: Any) -> str:
    body = {
        "title": f"Title {n}",
        "content": f"Content of step {n}.",
        "next_action": "final_answer" if final else "continue",
    }
    body.update(extra)
    return json.dumps(body)


@asynccontextmanager
async def serve(
    replies=(), **kwargs: Any
) -> AsyncIterator[tuple[FakeOpenAIServer, OpenAIChatClient]]:
    model = kwargs.pop("model", "fake-model")
    with FakeOpenAIServer(replies, models=None, **kwargs) as srv:
        client = OpenAIChatClient(
            srv.url, model, retries=0, retry_backoff_s=0.0, stall_timeout_s=10
        )
        try:
            yield srv, client
        finally:
            await client.aclose()


async def run(
    name: str, client: OpenAIChatClient, question: str = QUESTION, **opts: Any
) -> tuple[Chain, list[Event]]:
    events: list[Event] = []
    chain = Chain(question=question, strategy=name, model=client.model)
    await run_chain(
        chain, get_strategy(name), client, StrategyOptions(**opts), on_event=events.append
    )
    return chain, events


def test_registry() -> None:
    assert STRATEGY_NAMES == ("g1", "thinking", "plain", "native")
    for name in STRATEGY_NAMES:
        assert get_strategy(name).name == name
    assert get_strategy(" G1 ").name == "g1"
    with pytest.raises(ValueError, match="g1, thinking, plain, native"):
        get_strategy("o1")


# --- g1 ---------------------------------------------------------------------------------


async def test_g1_happy_path() -> None:
    replies = [
        Reply(content=step_json(1)),
        Reply(content=step_json(2)),
        Reply(content=step_json(3, final=True)),
        Reply(content="There are 3 r in strawberry."),
    ]
    async with serve(replies) as (srv, client):
        chain, events = await run("g1", client)
    assert chain.status is Status.DONE
    assert [s.title for s in chain.steps] == ["Title 1", "Title 2", "Title 3"]
    assert [s.content for s in chain.steps] == [f"Content of step {n}." for n in (1, 2, 3)]
    assert all(s.parsed and s.elapsed_s > 0 and s.ttft_s is not None for s in chain.steps)
    assert all(s.completion_tokens and s.prompt_tokens for s in chain.steps)
    assert chain.final_answer == "There are 3 r in strawberry."
    assert chain.lang == "en"
    reqs = srv.requests
    assert len(reqs) == 4
    first = reqs[0]
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert first["messages"][0]["content"] == G1_SYSTEM_EN
    assert first["messages"][2]["content"] == G1_PRIMER_EN
    assert (first["temperature"], first["max_tokens"]) == (0.0, 300)
    fmt = first["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "step" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["properties"]["next_action"]["enum"] == [
        "continue",
        "final_answer",
    ]
    final = reqs[3]
    assert "response_format" not in final
    assert final["messages"][-1] == {"role": "user", "content": G1_FINAL_REQUEST_EN}
    assert final["max_tokens"] == 500
    answer_events = [e for e in events if isinstance(e, (AnswerDelta, AnswerFinished))]
    assert (
        "".join(e.text for e in answer_events if isinstance(e, AnswerDelta)) == chain.final_answer
    )
    assert isinstance(answer_events[-1], AnswerFinished)


async def test_g1_prefix_is_byte_identical_from_step_to_step() -> None:
    async with serve() as (srv, client):  # demo model: 4 steps, then the final answer
        chain, _ = await run("g1", client)
    assert chain.status is Status.DONE and len(chain.steps) == 4
    bodies = [[json.dumps(m, ensure_ascii=False) for m in r["messages"]] for r in srv.requests]
    assert len(bodies) == 5
    for before, after in pairwise(bodies):
        assert after[: len(before)] == before
    # each step adds its own turn; the final request adds the last step and the question for it
    assert [len(b) for b in bodies] == [3, 4, 5, 6, 8]
    # the appended turns are the canonical step JSON
    appended = json.loads(srv.requests[1]["messages"][3]["content"])
    assert set(appended) == {"title", "content", "next_action"}


async def test_g1_code_fences_and_prose_around_json() -> None:
    fenced = "Here is my step:\n```json\n" + step_json(1) + "\n```\nI hope this helps."
    replies = [Reply(content=fenced), Reply(content=step_json(2, final=True)), Reply(content="3")]
    async with serve(replies) as (srv, client):
        chain, events = await run("g1", client)
    assert chain.steps[0].title == "Title 1" and chain.steps[0].content == "Content of step 1."
    assert chain.steps[0].parsed
    assert len(srv.requests) == 3  # no retry was needed


async def test_g1_missing_next_action_continues() -> None:
    replies = [
        Reply(content='{"title": "T1", "content": "C1"}'),
        Reply(content=step_json(2, final=True)),
        Reply(content="done"),
    ]
    async with serve(replies) as (srv, client):
        chain, _ = await run("g1", client)
    assert [s.title for s in chain.steps] == ["T1", "Title 2"]
    assert chain.status is Status.DONE
    # what was appended says continue, in canonical form
    assert json.loads(srv.requests[1]["messages"][-1]["content"])["next_action"] == "continue"


async def test_g1_truncated_json_at_token_limit() -> None:
    cut = '{"title": "A long step", "content": "We look at s, t, r, a, w, b, e, r'
    replies = [
        Reply(content=cut, finish_reason="length"),
        Reply(content=step_json(2, final=True)),
        Reply(content="3"),
    ]
    async with serve(replies) as (srv, client):
        chain, events = await run("g1", client)
    step = chain.steps[0]
    assert step.parsed and step.finish_reason == "length"
    assert step.title == "A long step"
    assert step.content == "We look at s, t, r, a, w, b, e, r"
    assert len(chain.steps) == 2 and len(srv.requests) == 3


async def test_g1_never_final_answer_hits_step_limit() -> None:
    async with serve(responder=lambda body: Reply(content=step_json(len(body["messages"])))) as (
        srv,
        client,
    ):
        chain, events = await run("g1", client, max_steps=3)
    assert chain.status is Status.STEP_LIMIT
    assert len(chain.steps) == 3
    assert len(srv.requests) == 4  # 3 steps + the final-answer request
    assert srv.requests[-1]["messages"][-1]["content"] == G1_FINAL_REQUEST_EN
    finished = [e for e in events if isinstance(e, AnswerFinished)]
    assert finished[-1].status is Status.STEP_LIMIT


async def test_g1_json_schema_refused_falls_back_to_json_object_for_the_chain() -> None:
    async with serve(reject_json_schema=True) as (srv, client):
        chain, _ = await run("g1", client)
    assert chain.status is Status.DONE and len(chain.steps) == 4
    types = [(r.get("response_format") or {}).get("type") for r in srv.requests]
    assert types == [
        "json_schema",
        "json_object",
        "json_object",
        "json_object",
        "json_object",
        None,
    ]
    assert srv.requests[1]["response_format"]["schema"]["required"] == [
        "title",
        "content",
        "next_action",
    ]


async def test_g1_unparseable_steps_are_retried_then_kept_raw_and_end_the_chain() -> None:
    garbage = "I would rather not answer in JSON; the answer is three."
    async with serve(responder=lambda body: Reply(content=garbage)) as (srv, client):
        chain, events = await run("g1", client)
    assert [s.parsed for s in chain.steps] == [False, False]  # two in a row end the reasoning
    assert chain.steps[0].title == "Unparsed step"
    assert chain.steps[0].content == garbage
    assert len(srv.requests) == 2 * 2 + 1  # each step tried twice, then the final request
    assert srv.requests[1]["temperature"] >= 0.5  # the retry is not greedy again
    restarts = [e for e in events if isinstance(e, StepStarted) and e.index == 1]
    assert len(restarts) == 2
    assert chain.status is Status.DONE


async def test_g1_retry_of_unparsed_step_succeeds() -> None:
    replies = [
        Reply(content="not json"),
        Reply(content=step_json(1, final=True)),
        Reply(content="3"),
    ]
    async with serve(replies) as (srv, client):
        chain, _ = await run("g1", client)
    assert len(chain.steps) == 1 and chain.steps[0].parsed and chain.steps[0].title == "Title 1"


async def test_g1_server_error_mid_chain_keeps_finished_steps() -> None:
    replies = [
        Reply(content=step_json(1)),
        Reply(status=500, error_message="engine crashed"),
        Reply(status=500, error_message="engine crashed"),
    ]
    async with serve(replies) as (srv, client):
        chain, events = await run("g1", client)
    assert chain.status is Status.ERROR
    assert [s.title for s in chain.steps] == ["Title 1"]
    assert "500" in (chain.error or "") and "\n" not in (chain.error or "")
    assert len(srv.requests) == 3  # step 2 tried twice (step_retries=1), never looped


async def test_g1_dropped_stream_is_retried_once() -> None:
    replies = [
        Reply(content=step_json(1, final=True), drop_after_chunks=3),
        Reply(content=step_json(1, final=True)),
        Reply(content="3"),
    ]
    async with serve(replies) as (srv, client):
        chain, events = await run("g1", client)
    assert chain.status is Status.DONE and [s.title for s in chain.steps] == ["Title 1"]


async def test_g1_chinese_question_uses_chinese_prompt_and_sampling() -> None:
    async with serve() as (srv, client):
        chain, _ = await run("g1", client, question="strawberry中有多少个字母r?")
    assert chain.lang == "zh"
    first, final = srv.requests[0], srv.requests[-1]
    assert first["messages"][0]["content"] == G1_SYSTEM_ZH
    assert (first["temperature"], first["max_tokens"]) == (0.2, 1000)
    assert final["messages"][-1]["content"] == G1_FINAL_REQUEST_ZH
    assert final["max_tokens"] == 1000


async def test_g1_lang_option_wins_over_detection() -> None:
    async with serve() as (srv, client):
        chain, _ = await run("g1", client, lang="zh")
    assert chain.lang == "zh" and srv.requests[0]["messages"][0]["content"] == G1_SYSTEM_ZH


async def test_g1_deltas_show_content_text_not_json_and_come_before_the_step_finishes() -> None:
    replies = [Reply(content=step_json(1, final=True), chunk_chars=2), Reply(content="3")]
    async with serve(replies) as (srv, client):
        chain, events = await run("g1", client)
    deltas = [e for e in events if isinstance(e, StepDelta) and e.index == 1]
    finished_at = next(i for i, e in enumerate(events) if isinstance(e, StepFinished))
    assert len(deltas) > 3
    assert all(events.index(d) < finished_at for d in deltas)
    shown = "".join(d.text for d in deltas)
    assert shown == "Content of step 1."
    assert [d.title for d in deltas if d.title] == ["Title 1"]


async def test_g1_final_answer_given_as_json_is_unwrapped() -> None:
    replies = [
        Reply(content=step_json(1, final=True)),
        Reply(
            content='{"title": "Final", "content": "There are 3.", "next_action": "final_answer"}'
        ),
    ]
    async with serve(replies) as (srv, client):
        chain, events = await run("g1", client)
    assert chain.final_answer == "There are 3."
    assert "".join(e.text for e in events if isinstance(e, AnswerDelta)) == "There are 3."


async def test_g1_escape_sequences_never_reach_events_or_steps() -> None:
    evil = json.dumps(
        {"title": "T\x1b]0;owned\x07", "content": "a\x1b[2Jb", "next_action": "final_answer"}
    )
    replies = [Reply(content=evil), Reply(content="ok\x1b[31m red")]
    async with serve(replies) as (srv, client):
        chain, events = await run("g1", client)
    texts = [getattr(e, "text", "") or "" for e in events] + [
        chain.steps[0].title,
        chain.steps[0].content,
    ]
    assert not any("\x1b" in t or "\x07" in t for t in texts)
    assert chain.steps[0].content == "ab"


# --- thinking ---------------------------------------------------------------------------

THINKING_REPLY = (
    "I will work through this.\n\n"
    "## Deep Understanding\nWe need a half.\n\n"
    "**Systematic Thinking**\nTry \\boxed{1} first, then refine.\n\n"
    "### Verification\nIt checks out: \\boxed{\\frac{1}{2}}\n"
)


async def test_thinking_splits_at_headings_and_takes_last_box() -> None:
    async with serve([Reply(content=THINKING_REPLY, chunk_chars=3)]) as (srv, client):
        chain, events = await run("thinking", client)
    assert chain.status is Status.DONE
    assert [s.title for s in chain.steps] == [
        "I will work through this.",
        "Deep Understanding",
        "Systematic Thinking",
        "Verification",
    ]
    assert chain.steps[1].content == "We need a half."
    assert chain.final_answer == "\\frac{1}{2}"
    req = srv.requests[0]
    assert req["messages"][0] == {"role": "system", "content": THINKING_SYSTEM}
    assert "[[8192]]" in req["messages"][0]["content"]
    assert (req["temperature"], req["max_tokens"]) == (0.0, 8192)
    # steps finish while the answer streams: each StepFinished comes before the next step's deltas
    order = [
        (
            type(e).__name__,
            getattr(e, "index", None) or getattr(getattr(e, "step", None), "index", None),
        )
        for e in events
        if isinstance(e, (StepStarted, StepFinished))
    ]
    assert order == [
        ("StepStarted", 1),
        ("StepFinished", 1),
        ("StepStarted", 2),
        ("StepFinished", 2),
        ("StepStarted", 3),
        ("StepFinished", 3),
        ("StepStarted", 4),
        ("StepFinished", 4),
    ]
    # token counts add up to the server's usage
    assert sum(s.completion_tokens or 0 for s in chain.steps) == len(
        range(0, len(THINKING_REPLY), 3)
    )


async def test_thinking_without_box_falls_back_to_last_paragraph() -> None:
    async with serve([Reply(content="## Work\nsome work\n\nThe answer is seven.")]) as (
        srv,
        client,
    ):
        chain, _ = await run("thinking", client)
    assert chain.final_answer == "The answer is seven."


# --- native -----------------------------------------------------------------------------

LONG_THOUGHT = "\n\n".join(
    f"Paragraph {i}: " + "let me think about the letters again. " * 12 for i in range(3)
)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_native_reasoning_field(field: str) -> None:
    reply = Reply(reasoning=LONG_THOUGHT, reasoning_field=field, content="\n\nThere are 3 r.")
    async with serve([reply]) as (srv, client):
        chain, events = await run("native", client)
    assert chain.final_answer == "There are 3 r."
    assert len(chain.steps) == 3  # cut at paragraph breaks, each long enough
    assert chain.steps[0].title.startswith("Paragraph 0:")
    assert " ".join(s.content for s in chain.steps).split() == LONG_THOUGHT.split()
    assert "".join(e.text for e in events if isinstance(e, AnswerDelta)) == "There are 3 r."
    last_step = max(i for i, e in enumerate(events) if isinstance(e, StepFinished))
    first_answer = min(i for i, e in enumerate(events) if isinstance(e, AnswerDelta))
    assert last_step < first_answer
    assert srv.requests[0]["messages"] == [{"role": "user", "content": QUESTION}]
    assert srv.requests[0]["temperature"] == 0.6


async def test_native_think_tags() -> None:
    reply = Reply(content="<think>\nCount: r, r, r.\n</think>\n\nThree.", chunk_chars=3)
    async with serve([reply]) as (srv, client):
        chain, _ = await run("native", client)
    assert [s.content for s in chain.steps] == ["Count: r, r, r."]
    assert chain.final_answer == "Three."


async def test_native_missing_opening_tag() -> None:
    reply = Reply(
        content="The template opened the tag.\nSo I count 3.\n</think>\n\nThree.", chunk_chars=5
    )
    async with serve([reply]) as (srv, client):
        chain, _ = await run("native", client)
    assert [s.content for s in chain.steps] == ["The template opened the tag.\nSo I count 3."]
    assert chain.final_answer == "Three."
    assert "think>" not in chain.steps[0].content


async def test_native_demo_model_named_r1() -> None:
    async with serve(model="deepseek-r1-distill-qwen-7b") as (srv, client):
        chain, _ = await run("native", client)
    assert chain.status is Status.DONE
    assert chain.final_answer.endswith("is 42.")
    assert chain.steps and "Let me think" in chain.steps[0].content


async def test_native_without_any_tags_answers_with_last_paragraph() -> None:
    async with serve([Reply(content="Some words.\n\nThe answer is 3.")]) as (srv, client):
        chain, _ = await run("native", client)
    assert chain.final_answer == "The answer is 3."


# --- plain ------------------------------------------------------------------------------


async def test_plain_one_answer_step() -> None:
    async with serve([Reply(content="There are 3 r in strawberry.", completion_tokens=9)]) as (
        srv,
        client,
    ):
        chain, events = await run("plain", client)
    assert chain.final_answer == "There are 3 r in strawberry."
    assert len(chain.steps) == 1
    step = chain.steps[0]
    assert step.title == "Answer" and step.content == chain.final_answer
    assert (
        step.completion_tokens == 9 and step.prompt_tokens is not None and step.ttft_s is not None
    )
    req = srv.requests[0]
    assert req["messages"] == [{"role": "user", "content": QUESTION}]
    assert "response_format" not in req


async def test_token_counts_fall_back_to_chunks_when_the_server_sends_no_usage() -> None:
    """llama-cpp-python's server streams no usage: each chunk is one token there."""
    text = step_json(1, final=True)
    replies = [Reply(content=text, usage=False, chunk_chars=5), Reply(content="42", usage=False)]
    async with serve(replies) as (srv, client):
        chain, _ = await run("g1", client)
    assert chain.steps[0].completion_tokens == len(range(0, len(text), 5))
