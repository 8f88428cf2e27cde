"""Groups: self-consistency votes and compare, run concurrently against the loopback server,
saved chain by chain, failing apart, cancelled together."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest

from backends.openai_client import OpenAIChatClient
from tests.fakes.openai_server import FakeOpenAIServer, Reply, demo_responder
from tui.core.answers import answer_key, extract_answer
from tui.core.chain import ChainFinished, Status, StepFinished
from tui.core.group import (
    SAMPLING_TEMPERATURE,
    GroupFinished,
    GroupKind,
    GroupSpec,
    GroupStarted,
    MemberEvent,
    sampling_temperature,
)
from tui.core.group_runner import GroupRunner, run_group
from tui.core.strategies import StrategyOptions
from tui.core.votes import MAX_SAMPLES
from tui.store.group_store import delete_group, list_groups, load_group
from tui.store.history import History

QUESTION = "What is 6 times 7?"


def make_client(url: str) -> OpenAIChatClient:
    return OpenAIChatClient(url, "fake-model", retries=0, retry_backoff_s=0.0, stall_timeout_s=10)


def answers_in_turn(*answers: str, **reply: Any):
    """A responder giving plain answers in request order (thread-safe)."""
    turn = itertools.count()
    lock = threading.Lock()

    def responder(body: dict[str, Any]) -> Reply:
        with lock:
            n = next(turn)
        return Reply(
            content=f"Working it out... The answer is {answers[n % len(answers)]}.", **reply
        )

    return responder


# --- specs --------------------------------------------------------------------------------


@pytest.mark.parametrize("samples", [0, 1, MAX_SAMPLES + 1, 1000])
def test_sample_count_is_checked(samples: int) -> None:
    with pytest.raises(ValueError, match="between 2 and 32"):
        GroupSpec.self_consistency(QUESTION, "g1", samples)


def test_compare_strategies_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'fast'"):
        GroupSpec.compare(QUESTION, ["plain", "fast"])
    with pytest.raises(ValueError, match="at least two"):
        GroupSpec.compare(QUESTION, ["plain"])
    with pytest.raises(ValueError, match="twice"):
        GroupSpec.compare(QUESTION, ["plain", "PLAIN"])
    spec = GroupSpec.compare(QUESTION, ["Plain", " g1", "thinking"])
    assert spec.strategies == ("plain", "g1", "thinking") and spec.kind is GroupKind.COMPARE
    with pytest.raises(ValueError, match="empty"):
        GroupSpec.self_consistency("  ", "g1", 3)


def test_sampling_temperature() -> None:
    # g1 (en), plain and thinking are greedy: samples would all be one chain.
    assert sampling_temperature("g1", StrategyOptions(), QUESTION) == SAMPLING_TEMPERATURE
    assert sampling_temperature("plain", StrategyOptions(), QUESTION) == SAMPLING_TEMPERATURE
    assert sampling_temperature("native", StrategyOptions(), QUESTION) == 0.6  # its own
    assert sampling_temperature("g1", StrategyOptions(), "六乘以七是多少？") == 0.2  # zh prompt
    assert sampling_temperature("g1", StrategyOptions(temperature=1.1), QUESTION) == 1.1
    assert sampling_temperature("g1", StrategyOptions(temperature=0.0), QUESTION) == 0.7


# --- self-consistency -----------------------------------------------------------------------


async def test_self_consistency_votes_and_saves_every_chain(history: History) -> None:
    events: list[Any] = []
    spec = GroupSpec.self_consistency(QUESTION, "plain", 5)
    with FakeOpenAIServer(responder=answers_in_turn("3", "3", "4", "3.0", "4")) as srv:
        client = make_client(srv.url)
        result = await run_group(
            spec, client, StrategyOptions(), history=history, on_event=events.append
        )
        await client.aclose()
        temperatures = {body["temperature"] for body in srv.requests}
    assert temperatures == {SAMPLING_TEMPERATURE}
    assert result.status is Status.DONE and result.all_done
    assert result.vote is not None and result.vote.key == "3"
    assert result.vote.votes == {"3": 3, "4": 2}
    assert isinstance(events[0], GroupStarted) and isinstance(events[-1], GroupFinished)
    finished = [
        e.index for e in events if isinstance(e, MemberEvent) and isinstance(e.event, ChainFinished)
    ]
    assert sorted(finished) == [0, 1, 2, 3, 4]
    # The shown answer is the winner as its first voter wrote it: "3" or "3.0", whichever
    # chain finished first (the five run at once, so the order is the server's).
    first_voter = next(
        extract_answer(result.chains[i].final_answer)
        for i in finished
        if answer_key(result.chains[i].final_answer) == "3"
    )
    assert first_voter in {"3", "3.0"} and result.vote.answer == first_voter
    assert result.group.answer == first_voter and result.group.votes == {"3": 3, "4": 2}
    assert result.wall_s > 0
    # every chain is a chain of its own in the history, with the group's id
    for chain in result.chains:
        stored = history.get(chain.id)
        assert stored is not None and stored.group_id == result.group.id
        assert stored.status is Status.DONE and stored.steps
    rows = {r.id: r for r in history.list(limit=10)}
    assert {rows[c.id].group_id for c in result.chains} == {result.group.id}
    # the group row reads back the same, chains in order
    loaded = load_group(history, result.group.id[:6])
    assert loaded is not None
    assert loaded.group.kind is GroupKind.VOTE and loaded.status is Status.DONE
    assert [c.id for c in loaded.chains] == [c.id for c in result.chains]
    assert (
        loaded.vote is not None
        and loaded.vote.answer == first_voter
        and loaded.vote.votes == {"3": 3, "4": 2}
    )
    assert loaded.group.temperature == SAMPLING_TEMPERATURE
    summaries = list_groups(history)
    assert [(s.id, s.answer, s.winner_votes, s.ballots, s.size) for s in summaries] == [
        (result.group.id, first_voter, 3, 5, 5)
    ]


async def test_chains_run_at_the_same_time() -> None:
    # Every request waits until all four are in flight: run one after another, they would
    # break the barrier (timeout) and fail.
    barrier = threading.Barrier(4, timeout=5)

    def responder(body: dict[str, Any]) -> Reply:
        barrier.wait()
        return Reply(content="The answer is 8.")

    spec = GroupSpec.self_consistency(QUESTION, "plain", 4)
    with FakeOpenAIServer(responder=responder) as srv:
        client = make_client(srv.url)
        result = await run_group(spec, client, StrategyOptions())
        await client.aclose()
    assert result.all_done and result.vote is not None and result.vote.votes == {"8": 4}


async def test_concurrency_one_runs_chains_in_turn() -> None:
    arrivals: list[float] = []
    finishes: list[float] = []

    def responder(body: dict[str, Any]) -> Reply:
        arrivals.append(time.perf_counter())
        return Reply(content="The answer is 8.", delay_s=0.01)

    def on_event(event: Any) -> None:
        if isinstance(event, MemberEvent) and isinstance(event.event, ChainFinished):
            finishes.append(time.perf_counter())

    spec = GroupSpec.self_consistency(QUESTION, "plain", 3)
    with FakeOpenAIServer(responder=responder) as srv:
        client = make_client(srv.url)
        result = await run_group(spec, client, StrategyOptions(), on_event=on_event, concurrency=1)
        await client.aclose()
    assert result.all_done
    assert len(arrivals) == 3 and len(finishes) == 3
    assert arrivals[1] >= finishes[0] and arrivals[2] >= finishes[1]


async def test_tie_goes_to_the_answer_that_finished_first() -> None:
    # Two samples, one vote each: the one answered without delay finishes first and wins,
    # whichever sample number it has.
    turn = itertools.count()

    def responder(body: dict[str, Any]) -> Reply:
        if next(turn) == 0:
            return Reply(content="The answer is 5.", first_delay_s=1.0)
        return Reply(content="The answer is 7.")

    spec = GroupSpec.self_consistency(QUESTION, "plain", 2)
    with FakeOpenAIServer(responder=responder) as srv:
        client = make_client(srv.url)
        result = await run_group(spec, client, StrategyOptions())
        await client.aclose()
    assert result.vote is not None and result.vote.votes == {"7": 1, "5": 1}
    assert result.vote.answer == "7"


async def test_winner_is_shown_as_its_first_voter_wrote_it() -> None:
    # "3" and "3.0" are one answer; the "3.0" chain answers at once, the "3" ones late, so
    # the group shows "3.0" although the first sample said "3".
    late = Reply(content="The answer is 3.", first_delay_s=1.0)
    replies = iter([late, late, Reply(content="The answer is 3.0.")])
    lock = threading.Lock()

    def responder(body: dict[str, Any]) -> Reply:
        with lock:
            return next(replies)

    spec = GroupSpec.self_consistency(QUESTION, "plain", 3)
    with FakeOpenAIServer(responder=responder) as srv:
        client = make_client(srv.url)
        result = await run_group(spec, client, StrategyOptions())
        await client.aclose()
    assert result.vote is not None and result.vote.votes == {"3": 3}
    assert result.vote.answer == "3.0" and result.group.answer == "3.0"


async def test_one_failing_chain_does_not_stop_the_others(history: History) -> None:
    turn = itertools.count()

    def responder(body: dict[str, Any]) -> Reply:
        if next(turn) == 1:
            return Reply(status=500, error_message="out of memory")
        return Reply(content="The answer is 12.", delay_s=0.005)

    spec = GroupSpec.self_consistency(QUESTION, "plain", 3)
    with FakeOpenAIServer(responder=responder) as srv:
        client = make_client(srv.url)
        result = await run_group(spec, client, StrategyOptions(), history=history)
        await client.aclose()
    statuses = sorted(c.status.value for c in result.chains)
    assert statuses == ["done", "done", "error"]
    assert result.status is Status.ERROR and not result.all_done
    assert result.vote is not None and result.vote.votes == {"12": 2} and result.vote.abstained == 1
    assert result.group.error is not None and "1 of 3 chains failed" in result.group.error
    loaded = load_group(history, result.group.id)
    assert loaded is not None and loaded.status is Status.ERROR
    assert sorted(c.status.value for c in loaded.chains) == ["done", "done", "error"]


async def test_cancel_cancels_all_and_keeps_what_finished(history: History) -> None:
    fast_done = asyncio.Event()
    turn = itertools.count()

    def responder(body: dict[str, Any]) -> Reply:
        if next(turn) == 0:
            return Reply(content="The answer is 9.")
        # The others stream slowly, so they are mid-answer when the group is cancelled.
        return Reply(content="Thinking " * 400 + "The answer is 9.", chunk_chars=4, delay_s=0.01)

    events: list[Any] = []

    def on_event(event: Any) -> None:
        events.append(event)
        if isinstance(event, MemberEvent) and isinstance(event.event, ChainFinished):
            fast_done.set()

    spec = GroupSpec.self_consistency(QUESTION, "plain", 3)
    with FakeOpenAIServer(responder=responder) as srv:
        client = make_client(srv.url)
        runner = GroupRunner(spec, client, StrategyOptions(), history=history, on_event=on_event)
        task = asyncio.ensure_future(runner.run())
        await asyncio.wait_for(fast_done.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
    result = runner.result
    assert sorted(c.status.value for c in result.chains) == ["cancelled", "cancelled", "done"]
    assert result.status is Status.CANCELLED
    assert result.vote is not None and result.vote.votes == {"9": 1}
    assert isinstance(events[-1], GroupFinished)
    loaded = load_group(history, result.group.id)
    assert loaded is not None and loaded.status is Status.CANCELLED
    assert sorted(c.status.value for c in loaded.chains) == ["cancelled", "cancelled", "done"]


async def test_cancel_while_chains_wait_for_their_turn(history: History) -> None:
    started = asyncio.Event()

    def on_event(event: Any) -> None:
        if isinstance(event, MemberEvent) and isinstance(event.event, StepFinished):
            started.set()

    spec = GroupSpec.self_consistency(QUESTION, "g1", 3)
    with FakeOpenAIServer(responder=lambda body: _slow(demo_responder(body))) as srv:
        client = make_client(srv.url)
        runner = GroupRunner(
            spec, client, StrategyOptions(), history=history, on_event=on_event, concurrency=1
        )
        task = asyncio.ensure_future(runner.run())
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
    chains = runner.result.chains
    assert [c.status for c in chains] == [Status.CANCELLED] * 3
    assert len(chains[0].steps) >= 1 and chains[1].steps == [] and chains[2].steps == []
    for chain in chains:  # the queued ones are in the history too, as cancelled
        stored = history.get(chain.id)
        assert stored is not None and stored.status is Status.CANCELLED
    assert len(history.get(chains[0].id).steps) == len(chains[0].steps)


def _slow(reply: Reply) -> Reply:
    reply.delay_s = 0.02
    return reply


# --- compare ------------------------------------------------------------------------------


async def test_compare_runs_each_strategy_in_order(history: History) -> None:
    spec = GroupSpec.compare(QUESTION, ["plain", "g1", "thinking"])
    with FakeOpenAIServer() as srv:
        client = make_client(srv.url)
        result = await run_group(spec, client, StrategyOptions(), history=history)
        await client.aclose()
        temperatures = sorted({body["temperature"] for body in srv.requests})
    assert temperatures == [0.0]  # each strategy at its own settings
    assert [c.strategy for c in result.chains] == ["plain", "g1", "thinking"]
    assert result.status is Status.DONE and result.vote is None
    assert result.group.answer is None and result.group.votes == {}
    assert all(c.final_answer for c in result.chains)
    loaded = load_group(history, result.group.id)
    assert loaded is not None and [c.strategy for c in loaded.chains] == ["plain", "g1", "thinking"]
    assert loaded.vote is None
    assert delete_group(history, result.group.id)
    assert load_group(history, result.group.id) is None
    assert all(history.get(c.id) is None for c in result.chains)
    assert not delete_group(history, result.group.id)


async def test_grouped_history_lists_single_chains_and_whole_groups(history: History) -> None:
    from tui.core.chain import Chain
    from tui.core.runner import run_chain
    from tui.core.strategies import get_strategy
    from tui.store.group_store import GroupedHistory

    with FakeOpenAIServer(responder=answers_in_turn("4", "4")) as srv:
        client = make_client(srv.url)
        single = Chain(
            "alone strawberry", "plain", "fake-model", created_at="2025-01-01T00:00:00+00:00"
        )
        await run_chain(single, get_strategy("plain"), client, StrategyOptions(), history=history)
        spec = GroupSpec.self_consistency("grouped strawberry", "plain", 2)
        result = await run_group(spec, client, StrategyOptions(), history=history)
        await client.aclose()
    grouped = GroupedHistory(history)
    assert history.count() == 3 and grouped.count() == 2
    entries = grouped.list()
    assert [e.id for e in entries] == [result.group.id, single.id]
    assert entries[0].strategy == "plain@2" and entries[0].list_text.startswith("4 (2/2) · ")
    assert entries[1].group_id is None
    assert [e.id for e in grouped.list(limit=1, offset=1)] == [single.id]
    # search finds a group through its chains' text
    assert [e.id for e in grouped.list("grouped")] == [result.group.id]
    assert grouped.count("grouped") == 1 and grouped.count("strawberry") == 2
    # get gives the group's first chain (its question re-runs); delete takes the whole group
    assert grouped.get(result.group.id).id == result.chains[0].id
    assert grouped.delete(result.group.id)
    assert grouped.count() == 1 and history.count() == 1
