"""OpenAIChatClient against the stand-in server: real HTTP, real SSE, every failure class."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from backends.client import ChatChunk, Usage
from backends.errors import (
    AuthError,
    BackendError,
    BadRequest,
    ConnectError,
    ContextLengthExceeded,
    ModelNotFound,
    RateLimited,
    RequestTimeout,
    ResponseFormatUnsupported,
    ServerError,
    StreamDropped,
)
from backends.openai_client import OpenAIChatClient
from tests.fakes.openai_server import FakeOpenAIServer, Reply

MESSAGES = [{"role": "user", "content": "How many r are in strawberry?"}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "step", "schema": {"type": "object"}}}


def make_client(server: FakeOpenAIServer, **kw: Any) -> OpenAIChatClient:
    kw.setdefault("retries", 0)
    kw.setdefault("retry_backoff_s", 0.01)
    kw.setdefault("stall_timeout_s", 5.0)
    return OpenAIChatClient(server.url, kw.pop("model", "fake-model"), **kw)


async def collect(client: OpenAIChatClient, **kw: Any) -> list[ChatChunk]:
    return [c async for c in client.stream_chat(kw.pop("messages", MESSAGES), **kw)]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def server():
    with FakeOpenAIServer(api_key="secret-key") as srv:
        yield srv


# -- the happy path -------------------------------------------------------------------


async def test_streams_content_in_pieces_with_usage_and_finish(server: FakeOpenAIServer) -> None:
    server.add(Reply(content="Three r's in strawberry.", chunk_chars=5, completion_tokens=7))
    client = make_client(server, api_key="secret-key")
    chunks = await collect(client, temperature=0.2, max_tokens=300)
    await client.aclose()

    texts = [c.content for c in chunks if c.content]
    assert len(texts) == 5  # one ChatChunk per SSE delta, not one blob
    assert "".join(texts) == "Three r's in strawberry."
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    usages = [c.usage for c in chunks if c.usage]
    assert usages == [Usage(prompt_tokens=len(MESSAGES[0]["content"]) // 4, completion_tokens=7)]

    sent = server.requests[-1]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 300
    assert sent["messages"] == MESSAGES
    assert "response_format" not in sent


async def test_sends_response_format_and_extra_body(server: FakeOpenAIServer) -> None:
    server.add(Reply(content='{"title": "t"}'))
    client = make_client(server, api_key="secret-key")
    await collect(client, response_format={"type": "json_object"}, extra_body={"top_k": 5})
    sent = server.requests[-1]
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["top_k"] == 5


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_field_becomes_reasoning(server: FakeOpenAIServer, field: str) -> None:
    server.add(Reply(reasoning="count: s-t-r-a-w", content="3", reasoning_field=field))
    chunks = await collect(make_client(server, api_key="secret-key"))
    assert "".join(c.reasoning for c in chunks) == "count: s-t-r-a-w"
    assert "".join(c.content for c in chunks) == "3"
    # reasoning arrives before the answer, as the server sent it
    first_content = next(i for i, c in enumerate(chunks) if c.content)
    assert all(not c.reasoning for c in chunks[first_content:])


async def test_demo_answer_mentions_the_question(server: FakeOpenAIServer) -> None:
    chunks = await collect(make_client(server, api_key="secret-key"))
    assert "strawberry" in "".join(c.content for c in chunks)


async def test_list_models(server: FakeOpenAIServer) -> None:
    assert await make_client(server, api_key="secret-key").list_models() == ["fake-model"]


async def test_no_api_key_sends_a_placeholder() -> None:
    with FakeOpenAIServer([Reply(content="ok")]) as srv:
        chunks = await collect(make_client(srv))
    assert "".join(c.content for c in chunks) == "ok"


def test_repr_does_not_show_the_key() -> None:
    client = OpenAIChatClient("http://127.0.0.1:9/v1", "m", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(client)


# -- HTTP errors ----------------------------------------------------------------------


async def test_wrong_key_is_auth_error(server: FakeOpenAIServer) -> None:
    with pytest.raises(AuthError, match="HTTP 401") as info:
        await collect(make_client(server, api_key="wrong"))
    assert "wrong" not in str(info.value)


async def test_missing_key_is_auth_error(server: FakeOpenAIServer) -> None:
    with pytest.raises(AuthError):
        await make_client(server).list_models()


async def test_unknown_model_names_it_and_the_served_ones(server: FakeOpenAIServer) -> None:
    with pytest.raises(ModelNotFound) as info:
        await collect(make_client(server, api_key="secret-key", model="no-such-model"))
    assert "no-such-model" in str(info.value)
    assert "fake-model" in str(info.value)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (429, RateLimited),
        (400, BadRequest),
        (422, BadRequest),
        (500, ServerError),
        (503, ServerError),
    ],
)
async def test_status_errors_carry_the_servers_words(
    server: FakeOpenAIServer, status: int, cls: type[BackendError]
) -> None:
    server.add(Reply(status=status, error_message="engine says: batch queue\nis full"))
    with pytest.raises(cls) as info:
        await collect(make_client(server, api_key="secret-key"))
    text = str(info.value)
    assert f"HTTP {status}" in text
    assert "engine says: batch queue is full" in text
    assert "\n" not in text  # one line for the user


async def test_json_schema_500_is_response_format_unsupported() -> None:
    with FakeOpenAIServer(reject_json_schema=True) as srv:
        client = make_client(srv, retries=2)
        with pytest.raises(ResponseFormatUnsupported):
            await collect(client, response_format=SCHEMA)
        assert len(srv.requests) == 1  # not retried: it would only fail again
        # the fallback the g1 strategy makes works on the same server
        chunks = await collect(client, response_format={"type": "json_object"})
    assert '"next_action"' in "".join(c.content for c in chunks)


async def test_400_naming_response_format_is_unsupported(server: FakeOpenAIServer) -> None:
    server.add(Reply(status=400, error_message="response_format json_schema is not supported"))
    with pytest.raises(ResponseFormatUnsupported):
        await collect(make_client(server, api_key="secret-key"), response_format=SCHEMA)


async def test_500_without_response_format_stays_server_error(server: FakeOpenAIServer) -> None:
    server.add(Reply(status=500, error_message="schema cache broke"))
    with pytest.raises(ServerError):
        await collect(make_client(server, api_key="secret-key"))


# -- transport faults -----------------------------------------------------------------


async def test_connection_refused_is_connect_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    client = OpenAIChatClient(url, "m", retries=1, retry_backoff_s=0.01)
    expected = re.escape(f"cannot reach the server at {url}: connection refused")
    with pytest.raises(ConnectError, match=expected):
        await collect(client)
    with pytest.raises(ConnectError):
        await client.list_models()


async def test_drop_mid_stream_is_stream_dropped_and_not_replayed(server: FakeOpenAIServer) -> None:
    server.add(Reply(content="abcdefghijkl", drop_after_chunks=2))
    client = make_client(server, api_key="secret-key", retries=3)
    got: list[str] = []
    with pytest.raises(StreamDropped):
        async for chunk in client.stream_chat(MESSAGES):
            got.append(chunk.content)
    assert "".join(got) == "abcdefgh"
    assert len(server.requests) == 1  # a half-sent answer is never replayed


async def test_stream_without_finish_reason_is_dropped(server: FakeOpenAIServer) -> None:
    server.add(Reply(content="abc", finish_reason=None))
    with pytest.raises(StreamDropped, match="finish_reason"):
        await collect(make_client(server, api_key="secret-key"))


async def test_malformed_sse_is_stream_dropped(server: FakeOpenAIServer) -> None:
    server.add(Reply(content="ok", malformed=True))
    with pytest.raises(StreamDropped, match="not JSON"):
        await collect(make_client(server, api_key="secret-key"))


async def test_html_body_is_a_clear_error(server: FakeOpenAIServer) -> None:
    server.add(Reply(not_json_body=True))
    with pytest.raises(ServerError, match="web page"):
        await collect(make_client(server, api_key="secret-key"))


async def test_hang_before_any_token_times_out(server: FakeOpenAIServer) -> None:
    server.add(Reply(content="late", first_delay_s=30))
    with pytest.raises(RequestTimeout, match="0.3 s"):
        await collect(make_client(server, api_key="secret-key", stall_timeout_s=0.3))


async def test_stall_mid_stream_times_out(server: FakeOpenAIServer) -> None:
    server.add(Reply(content="abcdefgh", stall_after_chunks=1), Reply(content="x"))
    client = make_client(server, api_key="secret-key", stall_timeout_s=0.3, retries=2)
    got: list[str] = []
    with pytest.raises(RequestTimeout):
        async for chunk in client.stream_chat(MESSAGES):
            got.append(chunk.content)
    assert "".join(got) == "abcd"
    assert len(server.requests) == 1  # text was already shown: no replay


async def test_length_with_no_content_is_context_exceeded(server: FakeOpenAIServer) -> None:
    server.add(Reply(content="", finish_reason="length"))
    with pytest.raises(ContextLengthExceeded, match="session-len"):
        await collect(make_client(server, api_key="secret-key"))


async def test_length_after_content_is_a_normal_finish(server: FakeOpenAIServer) -> None:
    server.add(Reply(content="truncated answ", finish_reason="length"))
    chunks = await collect(make_client(server, api_key="secret-key"))
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["length"]
    assert "".join(c.content for c in chunks) == "truncated answ"


# -- retries --------------------------------------------------------------------------


async def test_retries_a_500_before_the_first_chunk(server: FakeOpenAIServer) -> None:
    server.add(Reply(status=500, error_message="warming up"), Reply(content="fine"))
    chunks = await collect(make_client(server, api_key="secret-key", retries=2))
    assert "".join(c.content for c in chunks) == "fine"
    assert len(server.requests) == 2


async def test_retries_are_bounded(server: FakeOpenAIServer) -> None:
    server.add(*[Reply(status=503, error_message="busy")] * 5)
    with pytest.raises(ServerError, match="busy"):
        await collect(make_client(server, api_key="secret-key", retries=2))
    assert len(server.requests) == 3


async def test_non_retryable_errors_are_not_retried(server: FakeOpenAIServer) -> None:
    server.add(Reply(status=400, error_message="bad"), Reply(content="never"))
    with pytest.raises(BadRequest):
        await collect(make_client(server, api_key="secret-key", retries=2))
    assert len(server.requests) == 1


async def test_drop_before_any_text_is_retried(server: FakeOpenAIServer) -> None:
    server.add(Reply(content="abc", drop_after_chunks=0), Reply(content="whole"))
    chunks = await collect(make_client(server, api_key="secret-key", retries=1))
    assert "".join(c.content for c in chunks) == "whole"
    assert len(server.requests) == 2


async def test_more_than_a_hundred_streams_are_in_flight_at_once(monkeypatch) -> None:
    """An eval fills a server that batches hundreds of requests: every one of 150 requests
    must reach the server before any is answered (httpx's default pool, 100 connections,
    held the rest back and halved an eval's throughput on the GPU)."""
    import asyncio
    import threading

    import tests.fakes.openai_server as fake

    monkeypatch.setattr(fake._HTTPServer, "request_queue_size", 256)
    n = 150
    everyone = threading.Barrier(n, timeout=20)

    def responder(body: dict[str, Any]) -> Reply:
        everyone.wait()  # BrokenBarrierError (an error reply) unless all n are in flight
        return Reply(content="ok")

    with FakeOpenAIServer(responder=responder) as srv:
        client = make_client(srv)
        try:
            replies = await asyncio.gather(*(collect(client) for _ in range(n)))
        finally:
            await client.aclose()
    assert all("".join(c.content for c in chunks) == "ok" for chunks in replies)
