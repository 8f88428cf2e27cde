"""The OpenAI client's own reading of a chat stream: SSE framing, error events, kept
connections and the per-stream stall watchdog (backends/sse.py, backends/openai_client.py)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from backends.client import ChatChunk
from backends.errors import ServerError
from backends.openai_client import OpenAIChatClient, _StallWatch
from backends.sse import SSEDecoder
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fakes.raw_http import RawHTTPServer, read_request

MESSAGES = [{"role": "user", "content": "q"}]


def chunk(content: str = "", finish: str | None = None) -> bytes:
    delta = {"content": content} if content else {}
    body = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"


# -- the decoder ------------------------------------------------------------------------


def events_of(pieces: list[bytes]) -> list[tuple[str, str]]:
    decoder = SSEDecoder()
    return [event for piece in pieces for event in decoder.feed(piece)]


STREAM = (
    b": a comment\n"
    b"data: one\n\n"
    b'event: error\ndata: {"error": 1}\n\n'
    b"data: first\ndata:second\n\n"
    b"retry: 10\n\n"
    b"unknown: field\n\n"
    b"data: caf\xc3\xa9\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ("", "one"),
    ("error", '{"error": 1}'),
    ("", "first\nsecond"),
    ("", ""),  # a retry field alone still makes an event
    ("", "café"),
    ("", "[DONE]"),
]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_every_split_of_the_stream_gives_the_same_events(ending: bytes) -> None:
    """A line, a CRLF or a multi-byte character cut between two network reads anywhere."""
    body = STREAM.replace(b"\n", ending)
    assert events_of([body]) == EXPECTED
    for cut in range(1, len(body)):
        assert events_of([body[:cut], body[cut:]]) == EXPECTED, cut
    assert events_of([body[i : i + 1] for i in range(len(body))]) == EXPECTED


def test_an_id_is_remembered_so_each_blank_line_after_it_is_an_event() -> None:
    assert events_of([b"id: 7\ndata: a\n\n\n"]) == [("", "a"), ("", "")]


def test_an_event_cut_by_the_end_of_the_stream_is_not_dispatched() -> None:
    assert events_of([b"data: a\n\ndata: b\n"]) == [("", "a")]


def test_bytes_that_are_not_utf8_raise_a_value_error() -> None:
    with pytest.raises(ValueError):
        SSEDecoder().feed(b"data: \xff\xfe\n\n")


# -- the client against a server that sends exact bytes in exact pieces ----------------


class PiecesServer(RawHTTPServer):
    """Loopback HTTP/1.1: each request on a connection gets the next scripted answer, a list
    of byte pieces sent as HTTP chunks 30 ms apart (so each is a read of its own); the
    connection is kept open for the next request."""

    def __init__(self, answers: list[list[bytes]]) -> None:
        self.answers = list(answers)
        super().__init__()

    def answer(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffered = b""
        while self.answers:
            request = read_request(conn, buffered)
            if request is None:
                return
            buffered = request[1]
            pieces = self.answers.pop(0)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            for piece in pieces:
                time.sleep(0.03)
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.sendall(b"0\r\n\r\n")


@pytest.fixture
def pieces() -> Iterator[Any]:
    servers: list[PiecesServer] = []

    def make(*answers: list[bytes]) -> PiecesServer:
        servers.append(PiecesServer(list(answers)))
        return servers[-1]

    yield make
    for srv in servers:
        srv.close()


async def collect(url: str, sink: list[ChatChunk] | None = None, **kw: Any) -> list[ChatChunk]:
    kw.setdefault("retries", 0)
    kw.setdefault("stall_timeout_s", 5.0)
    client = OpenAIChatClient(url, "fake-model", **kw)
    got = [] if sink is None else sink
    try:
        async for c in client.stream_chat(MESSAGES):
            got.append(c)
    finally:
        await client.aclose()
    return got


async def test_lines_and_crlf_split_across_reads_arrive_whole(pieces) -> None:
    body = (chunk("Hello, ") + chunk("wörld") + chunk("", "stop")).replace(b"\n", b"\r\n")
    body += b"data: [DONE]\r\n\r\n"
    cut = body.index("ö".encode()) + 1  # inside the two bytes of ö
    srv = pieces([body[:7], body[7:cut], body[cut : cut + 40], body[cut + 40 :]])
    chunks = await collect(srv.url)
    assert "".join(c.content for c in chunks) == "Hello, wörld"
    assert chunks[-1].finish_reason == "stop"


async def test_an_error_event_mid_answer_is_a_server_error_after_the_text(pieces) -> None:
    error = b'event: error\ndata: {"error": {"message": "the engine\\nran out of memory"}}\n\n'
    srv = pieces([chunk("partial "), error, chunk("never"), chunk("", "stop")])
    got: list[ChatChunk] = []
    with pytest.raises(ServerError) as caught:
        await collect(srv.url, got)
    assert str(caught.value) == (
        "the server reported an error mid-answer: the engine ran out of memory"
    )
    assert [c.content for c in got] == ["partial "]


async def test_an_error_without_a_message_gets_the_generic_words(pieces) -> None:
    srv = pieces([chunk("a"), b'data: {"error": {"code": 500}}\n\n'])
    with pytest.raises(ServerError, match="mid-answer: An error occurred during streaming$"):
        await collect(srv.url)


async def test_the_connection_is_kept_for_the_next_request(pieces) -> None:
    """After [DONE] the rest of the body is read, so the pool keeps the connection."""
    answer = [chunk("hi"), chunk("", "stop") + b"data: [DONE]\n\n"]
    srv = pieces(answer, answer)
    client = OpenAIChatClient(srv.url, "m", retries=0, stall_timeout_s=5.0)
    try:
        for _ in range(2):
            got = [c async for c in client.stream_chat(MESSAGES)]
            assert "".join(c.content for c in got) == "hi"
    finally:
        await client.aclose()
    assert srv.connections == 1


# -- the stall watchdog -----------------------------------------------------------------


async def test_progress_slower_than_nothing_but_steady_is_not_a_stall() -> None:
    """Chunks 0.1 s apart for 1.2 s with a 0.4 s stall timeout: the watchdog's one timer
    moves with the progress and never fires."""
    reply = Reply(content="x" * 48, chunk_chars=4, delay_s=0.1)
    with FakeOpenAIServer([reply]) as srv:
        chunks = await collect(srv.url, stall_timeout_s=0.4)
    assert "".join(c.content for c in chunks) == "x" * 48


async def _never() -> Any:
    await asyncio.Event().wait()
    yield b""


async def test_a_cancel_as_the_stall_deadline_passes_stays_a_cancel() -> None:
    """The cancel (Ctrl+C) and the watchdog's deadline in the same turn of the loop: the
    read ends cancelled, not timed out, so the chain stops instead of reporting a stall."""
    loop = asyncio.get_running_loop()
    watch = _StallWatch(0.05)
    reading = asyncio.ensure_future(watch.read(_never()))
    loop.call_at(watch._last + 0.05, reading.cancel)  # the watchdog's own deadline
    with pytest.raises(asyncio.CancelledError):
        await reading
    watch.close()


async def test_the_deadline_passing_while_the_caller_holds_a_chunk_fails_the_next_read() -> None:
    watch = _StallWatch(0.05)
    await asyncio.sleep(0.1)  # the caller busy: no read waiting when the deadline passes
    with pytest.raises(asyncio.TimeoutError):
        await watch.read(_never())
    watch.close()
