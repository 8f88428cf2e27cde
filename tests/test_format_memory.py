"""The process-wide memory of which response_format each server accepts (g1 on llama.cpp).

llama.cpp answers g1's ``json_schema`` with HTTP 500 and a traceback in its log; only the
first request to a server may find that out. Every test runs real g1 chains against the
stand-in server (real HTTP/SSE) and counts the requests it received.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from backends.openai_client import OpenAIChatClient
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tui.core.chain import Chain, Status
from tui.core.runner import run_chain
from tui.core.strategies import StrategyOptions, get_strategy


def _type_of(request: dict[str, Any]) -> Any:
    return (request.get("response_format") or {}).get("type")


def _types(srv: FakeOpenAIServer) -> list[Any]:
    return [_type_of(r) for r in srv.requests]


async def _chain(url: str, model: str = "fake-model") -> Chain:
    """One g1 chain through a client of its own (as each chain of a group may have)."""
    client = OpenAIChatClient(url, model, retries=0, retry_backoff_s=0.0, stall_timeout_s=10)
    chain = Chain(question="How many r are in strawberry?", strategy="g1", model=model)
    try:
        await run_chain(chain, get_strategy("g1"), client, StrategyOptions())
    finally:
        await client.aclose()
    return chain


async def test_chains_at_once_probe_a_refused_json_schema_once() -> None:
    with FakeOpenAIServer(reject_json_schema=True, models=None) as srv:
        chains = await asyncio.gather(*(_chain(srv.url) for _ in range(5)))
    assert [c.status for c in chains] == [Status.DONE] * 5
    types = _types(srv)
    assert types.count("json_schema") == 1  # one 500 in the server's log, not five
    # every step of every chain still got JSON guidance (4 steps each + a final request)
    assert types.count("json_object") == 5 * 4 and types.count(None) == 5


async def test_a_later_chain_sends_no_refused_format() -> None:
    with FakeOpenAIServer(reject_json_schema=True, models=None) as srv:
        await _chain(srv.url)
        first = len(srv.requests)
        later = await _chain(srv.url)
    assert later.status is Status.DONE
    assert _types(srv)[:2] == ["json_schema", "json_object"]
    assert "json_schema" not in _types(srv)[first:]


def test_event_loops_in_other_threads_share_what_was_learned() -> None:
    with FakeOpenAIServer(reject_json_schema=True, models=None) as srv:
        results: list[Chain] = []
        threads = [
            threading.Thread(target=lambda: results.append(asyncio.run(_chain(srv.url))))
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert [c.status for c in results] == [Status.DONE] * 3
    assert _types(srv).count("json_schema") == 1


async def test_a_server_that_accepts_json_schema_gets_it_on_every_step() -> None:
    with FakeOpenAIServer(models=None) as srv:
        chains = await asyncio.gather(*(_chain(srv.url) for _ in range(3)))
    assert [c.status for c in chains] == [Status.DONE] * 3
    assert _types(srv).count("json_schema") == 3 * 4
    assert "json_object" not in _types(srv)


async def test_each_model_of_a_server_is_asked_for_itself() -> None:
    with FakeOpenAIServer(reject_json_schema=True, models=None) as srv:
        await _chain(srv.url, "model-a")
        await _chain(srv.url, "model-b")
        await _chain(srv.url, "model-a")
    by_model = [r["model"] for r in srv.requests if _type_of(r) == "json_schema"]
    assert by_model == ["model-a", "model-b"]


async def test_a_chain_cancelled_while_it_waits_for_the_probe_leaves_the_others_alone() -> None:
    step = '{"title": "T", "content": "C", "next_action": "final_answer"}'
    slow_probe = Reply(content=step, first_delay_s=1.5)
    with FakeOpenAIServer([slow_probe], models=None) as srv:
        probe = asyncio.create_task(_chain(srv.url))
        await asyncio.sleep(0.3)  # the probe is out; the next two wait for its outcome
        cancelled, waiting = (asyncio.create_task(_chain(srv.url)) for _ in range(2))
        await asyncio.sleep(0.3)
        cancelled.cancel()
        chains = await asyncio.gather(probe, waiting)
    assert [c.status for c in chains] == [Status.DONE, Status.DONE]
    assert cancelled.cancelled() or cancelled.result().status is Status.CANCELLED
    assert _types(srv).count("json_schema") >= 2  # the waiter went on with the format
