"""run_chain: statuses, history saved step by step, cancellation, errors, event order."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from backends.openai_client import OpenAIChatClient
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tui.core.chain import (
    AnswerFinished,
    Chain,
    ChainFailed,
    ChainFinished,
    ChainStarted,
    Event,
    Status,
    StepDelta,
    StepFinished,
)
from tui.core.runner import run_chain
from tui.core.strategies import StrategyOptions, get_strategy
from tui.store.history import History

QUESTION = "How many r are in strawberry?"


def step_json(n: int, final: bool = False) -> str:
    return json.dumps(
        {
            "title": f"Title {n}",
            "content": f"Content {n}.",
            "next_action": "final_answer" if final else "continue",
        }
    )


def make_client(url: str, model: str = "fake-model") -> OpenAIChatClient:
    return OpenAIChatClient(url, model, retries=0, retry_backoff_s=0.0, stall_timeout_s=10)


async def test_done_chain_saved_step_by_step(history: History) -> None:
    events: list[Event] = []
    saved_when_finished: list[int] = []
    chain = Chain(question=QUESTION, strategy="g1", model="fake-model")

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, StepFinished):
            stored = history.get(chain.id)
            assert stored is not None and stored.status is Status.RUNNING
            saved_when_finished.append(len(stored.steps))

    with FakeOpenAIServer() as srv:
        client = make_client(srv.url)
        result = await run_chain(
            chain, get_strategy("g1"), client, StrategyOptions(), history=history, on_event=on_event
        )
        await client.aclose()
    assert result is chain
    assert chain.status is Status.DONE and chain.total_s > 0 and chain.error is None
    assert saved_when_finished == [1, 2, 3, 4]  # each step was in the database as it finished
    assert isinstance(events[0], ChainStarted) and isinstance(events[-1], ChainFinished)
    assert isinstance(events[-2], AnswerFinished)
    stored = history.get(chain.id)
    assert stored is not None
    assert stored.status is Status.DONE
    assert [s.title for s in stored.steps] == [s.title for s in chain.steps]
    assert stored.final_answer == chain.final_answer and stored.lang == "en"


async def test_step_limit_status_is_saved(history: History) -> None:
    chain = Chain(question=QUESTION, strategy="g1", model="fake-model")
    with FakeOpenAIServer(
        responder=lambda body: Reply(content=step_json(len(body["messages"])))
    ) as srv:
        client = make_client(srv.url)
        await run_chain(
            chain, get_strategy("g1"), client, StrategyOptions(max_steps=2), history=history
        )
        await client.aclose()
    assert chain.status is Status.STEP_LIMIT
    assert history.get(chain.id).status is Status.STEP_LIMIT


@pytest.mark.parametrize("question", ["", "   \n\t "])
async def test_empty_question_is_refused_before_anything_runs(
    history: History, question: str
) -> None:
    events: list[Event] = []
    with FakeOpenAIServer() as srv:
        client = make_client(srv.url)
        chain = Chain(question=question, strategy="plain", model="fake-model")
        with pytest.raises(ValueError, match="empty"):
            await run_chain(
                chain,
                get_strategy("plain"),
                client,
                StrategyOptions(),
                history=history,
                on_event=events.append,
            )
        await client.aclose()
        assert srv.requests == []
    assert events == [] and history.count() == 0


async def test_unknown_lang_is_refused_before_anything_runs() -> None:
    chain = Chain(question=QUESTION, strategy="g1", model="m")
    with pytest.raises(ValueError, match="language"):
        await run_chain(
            chain,
            get_strategy("g1"),
            make_client("http://127.0.0.1:9/v1"),
            StrategyOptions(lang="fr"),
        )


async def test_unreachable_endpoint_is_an_error_chain(history: History) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    events: list[Event] = []
    chain = Chain(question=QUESTION, strategy="plain", model="m")
    client = make_client(f"http://127.0.0.1:{port}/v1", "m")
    await run_chain(
        chain,
        get_strategy("plain"),
        client,
        StrategyOptions(step_retries=0),
        history=history,
        on_event=events.append,
    )
    await client.aclose()
    assert chain.status is Status.ERROR
    assert chain.error and "\n" not in chain.error and str(port) in chain.error
    assert isinstance(events[-1], ChainFailed) and events[-1].message == chain.error
    assert history.get(chain.id).status is Status.ERROR


async def test_server_error_mid_chain_keeps_steps_in_history(history: History) -> None:
    replies = [Reply(content=step_json(1)), Reply(content=step_json(2))] + [
        Reply(status=503, error_message="overloaded")
    ] * 2
    chain = Chain(question=QUESTION, strategy="g1", model="fake-model")
    with FakeOpenAIServer(replies) as srv:
        client = make_client(srv.url)
        await run_chain(chain, get_strategy("g1"), client, StrategyOptions(), history=history)
        await client.aclose()
    stored = history.get(chain.id)
    assert stored.status is Status.ERROR and "503" in (stored.error or "")
    assert [s.title for s in stored.steps] == ["Title 1", "Title 2"]


async def test_cancel_mid_step_keeps_finished_steps(history: History) -> None:
    slow = Reply(content=step_json(2), delay_s=0.05, chunk_chars=1)
    events: list[Event] = []
    second_step_streaming = asyncio.Event()

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, StepDelta) and event.index == 2:
            second_step_streaming.set()

    chain = Chain(question=QUESTION, strategy="g1", model="fake-model")
    with FakeOpenAIServer([Reply(content=step_json(1)), slow]) as srv:
        client = make_client(srv.url)
        task = asyncio.create_task(
            run_chain(
                chain,
                get_strategy("g1"),
                client,
                StrategyOptions(),
                history=history,
                on_event=on_event,
            )
        )
        await asyncio.wait_for(second_step_streaming.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
    assert chain.status is Status.CANCELLED
    assert [s.title for s in chain.steps] == ["Title 1"]
    assert isinstance(events[-1], ChainFailed) and events[-1].message == "cancelled"
    stored = history.get(chain.id)
    assert stored.status is Status.CANCELLED and len(stored.steps) == 1


async def test_deltas_reach_subscribers_before_the_step_finishes() -> None:
    events: list[Event] = []
    chain = Chain(question=QUESTION, strategy="thinking", model="fake-model")
    reply = Reply(
        content="## One\nfirst part of the work\n## Two\nsecond \\boxed{2}", chunk_chars=2
    )
    with FakeOpenAIServer([reply]) as srv:
        client = make_client(srv.url)
        await run_chain(
            chain, get_strategy("thinking"), client, StrategyOptions(), on_event=events.append
        )
        await client.aclose()
    kinds = [
        (type(e).__name__, getattr(e, "index", None))
        for e in events
        if isinstance(e, (StepDelta, StepFinished))
    ]
    first_finish = kinds.index(("StepFinished", None))
    assert ("StepDelta", 1) in kinds[:first_finish]
    assert chain.final_answer == "2"


async def test_unexpected_exception_is_saved_then_raised(history: History) -> None:
    def on_event(event: Event) -> None:
        if isinstance(event, StepFinished):
            raise RuntimeError("subscriber broke")

    chain = Chain(question=QUESTION, strategy="g1", model="fake-model")
    with FakeOpenAIServer() as srv:
        client = make_client(srv.url)
        with pytest.raises(RuntimeError, match="subscriber broke"):
            await run_chain(
                chain,
                get_strategy("g1"),
                client,
                StrategyOptions(),
                history=history,
                on_event=on_event,
            )
        await client.aclose()
    assert chain.status is Status.ERROR and "subscriber broke" in (chain.error or "")
    stored = history.get(chain.id)
    assert stored.status is Status.ERROR and len(stored.steps) == 1


async def test_large_question_and_no_history() -> None:
    question = "Why? " + "x" * 100_000
    chain = Chain(question=question, strategy="plain", model="fake-model")
    with FakeOpenAIServer() as srv:
        client = make_client(srv.url)
        await run_chain(chain, get_strategy("plain"), client, StrategyOptions())
        await client.aclose()
        assert srv.requests[0]["messages"][0]["content"] == question
    assert chain.status is Status.DONE and chain.final_answer


async def test_concurrent_chains_do_not_share_state() -> None:
    with FakeOpenAIServer() as srv:
        client = make_client(srv.url)
        chains = [
            Chain(question=f"Question {i}?", strategy="g1", model="fake-model") for i in range(3)
        ]
        strategy = get_strategy("g1")  # one strategy object drives all of them
        await asyncio.gather(*(run_chain(c, strategy, client, StrategyOptions()) for c in chains))
        await client.aclose()
    for i, chain in enumerate(chains):
        assert chain.status is Status.DONE and len(chain.steps) == 4
        assert all(f"Question {i}?" in s.content for s in chain.steps)
