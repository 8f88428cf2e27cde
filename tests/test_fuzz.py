"""Hypothesis fuzzing of the two parsers that eat untrusted bytes: g1's step parser
(:mod:`tui.core.stepparse`) and the SSE stream handling of :class:`OpenAIChatClient`.

The step parser must never raise, never return a step shown as raw JSON, and give the same
content however the stream was cut into pieces. The client, fed arbitrary bytes and lines as
an SSE body by a raw socket server, must end in chunks or a :class:`BackendError` — never any
other exception (a traceback in the user's terminal). Example counts stay modest for CI.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.client import ChatChunk
from backends.errors import BackendError
from tests.fakes.raw_http import RawHTTPServer, read_request
from tests.hostile import HOSTILE, assert_terminal_safe
from tui.core.stepparse import CONTINUE, FINAL_ANSWER, TITLE_LIMIT, StepExtractor, parse_step

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NET = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

no_surrogates = st.characters(exclude_categories=("Cs",))
json_ish = st.lists(
    st.sampled_from(
        [
            "{",
            "}",
            '"',
            "\\",
            ":",
            ",",
            "[",
            "]",
            "title",
            "content",
            "next_action",
            "final_answer",
            "continue",
            "\\u",
            "d83d",
            "\\n",
            "```json",
            "```",
            " ",
            "\n",
            "x",
            "0",
            "null",
            "true",
            "\x1b]0;t\x07",
            "\u202e",
        ]
    ),
    max_size=60,
).map("".join)
any_text = st.text(st.characters(codec=None), max_size=400) | json_ish


def _check_step(step) -> None:
    assert step.next_action in (CONTINUE, FINAL_ANSWER)
    assert isinstance(step.title, str) and isinstance(step.content, str)
    assert "\n" not in step.title and len(step.title) <= TITLE_LIMIT
    assert not step.title.startswith(("{", "["))
    assert_terminal_safe(step.title, "title")
    assert_terminal_safe(step.content, "content")


@FUZZ
@given(any_text, st.booleans())
def test_parse_step_never_raises_and_returns_safe_text(text: str, truncated: bool) -> None:
    _check_step(parse_step(text, truncated=truncated))


@pytest.mark.parametrize("name,text", HOSTILE, ids=[n for n, _ in HOSTILE])
def test_parse_step_on_hostile_text_inside_and_outside_json(name: str, text: str) -> None:
    _check_step(parse_step(text))
    wrapped = json.dumps({"title": text[:500], "content": text, "next_action": "continue"})
    step = parse_step(wrapped)
    _check_step(step)
    assert step.parsed


@FUZZ
@given(
    st.text(no_surrogates, max_size=200),
    st.text(no_surrogates, max_size=300),
    st.sampled_from(["continue", "final_answer", "Final Answer", None]),
    st.sampled_from(["", "```json\n", "Sure! Here is the step:\n"]),
)
def test_parse_step_recovers_title_and_content_of_valid_json(
    title: str, content: str, action: str | None, prefix: str
) -> None:
    obj = {"title": title, "content": content}
    if action is not None:
        obj["next_action"] = action
    step = parse_step(prefix + json.dumps(obj) + ("\n```" if prefix.startswith("```") else ""))
    _check_step(step)
    assert step.parsed
    from tui.sanitize import clean

    assert step.content == clean(content)
    assert step.is_final == (action is not None and action.lower().startswith("final"))


@FUZZ
@given(
    st.text(no_surrogates, max_size=100),
    st.text(no_surrogates, max_size=300),
    st.lists(st.integers(min_value=1, max_value=7), max_size=200),
    st.booleans(),
)
def test_extractor_gives_the_same_content_however_the_stream_is_cut(
    title: str, content: str, cuts: list[int], ascii_only: bool
) -> None:
    raw = json.dumps(
        {"title": title, "content": content, "next_action": "continue"}, ensure_ascii=ascii_only
    )
    whole = StepExtractor()
    whole.feed(raw)
    pieces = StepExtractor()
    pos, streamed = 0, []
    for n in cuts + [len(raw)]:
        streamed.append(pieces.feed(raw[pos : pos + n]))
        pos += n
    assert whole.content == content
    assert "".join(streamed) == content == pieces.content
    assert pieces.title == title and pieces.complete


@FUZZ
@given(any_text, st.lists(st.integers(min_value=1, max_value=9), max_size=100))
def test_extractor_never_raises_on_arbitrary_pieces(text: str, cuts: list[int]) -> None:
    ex = StepExtractor()
    pos = 0
    for n in cuts + [len(text)]:
        assert isinstance(ex.feed(text[pos : pos + n]), str)
        pos += n
    assert ex.title is None or isinstance(ex.title, str)


# --- SSE: arbitrary bytes from the network --------------------------------------------------


class RawSSEServer(RawHTTPServer):
    """A loopback HTTP server that answers each POST with a 200 SSE response whose body is
    the exact bytes given (then closes the connection): no framing help, no validation."""

    def __init__(self) -> None:
        self.body = b""
        super().__init__()

    def answer(self, conn: socket.socket) -> None:
        if read_request(conn) is None:
            return
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n" + self.body
        )


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawSSEServer]:
    srv = RawSSEServer()
    yield srv
    srv.close()


def _chunk(content: str, finish: str | None = None) -> bytes:
    doc = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


sse_line = st.one_of(
    st.binary(max_size=80),
    st.text(max_size=60).map(lambda t: b"data: " + t.encode("utf-8", "surrogatepass") + b"\n\n"),
    st.text(no_surrogates, max_size=20).map(lambda t: _chunk(t)),
    st.just(_chunk("", "stop")),
    st.just(b"data: [DONE]\n\n"),
    st.just(b'data: {"choices": [{"delta": null}]}\n\n'),
    st.just(b'data: {"choices": "nope"}\n\n'),
    st.just(b'data: {"error": {"message": "boom"}}\n\n'),
    st.just(b'event: error\ndata: {"message": "x"}\n\n'),
    st.just(b"data: null\n\n"),
    st.just(b"data: 42\n\n"),
    st.just(b": keep-alive comment\n\n"),
    st.just(b"\r\n"),
    st.just(b"\xff\xfe\x00"),
)


async def _consume(url: str) -> list[ChatChunk]:
    from backends.openai_client import OpenAIChatClient

    client = OpenAIChatClient(url, "m", timeout_s=5.0, stall_timeout_s=5.0, retries=0)
    try:
        return [c async for c in client.stream_chat([{"role": "user", "content": "q"}])]
    finally:
        await client.aclose()


def _assert_chunks_or_backend_error(server: RawSSEServer, body: bytes) -> None:
    server.body = body
    try:
        chunks = asyncio.run(_consume(server.url))
    except BackendError as err:
        message = str(err)
        assert message and "\n" not in message
        return
    for c in chunks:
        assert isinstance(c, ChatChunk)
        assert isinstance(c.content, str) and isinstance(c.reasoning, str)
        assert c.finish_reason is None or isinstance(c.finish_reason, str)
        if c.usage is not None:
            for n in (c.usage.prompt_tokens, c.usage.completion_tokens):
                assert n is None or isinstance(n, int)


#: SSE bodies of valid JSON in the wrong shape; each must end in a BackendError or in chunks
#: with the declared types. The last line of each gives the stream a proper end.
_END = _chunk("", "stop") + b"data: [DONE]\n\n"
WRONG_SHAPES = [
    ("null", b"data: null\n\n"),
    ("number", b"data: 42\n\n"),
    ("string", b'data: "s"\n\n'),
    ("list", b"data: []\n\n"),
    ("choices_string", b'data: {"choices": "nope"}\n\n'),
    ("choice_null", b'data: {"choices": [null]}\n\n'),
    ("choice_number", b'data: {"choices": [1]}\n\n'),
    ("delta_string", b'data: {"choices": [{"delta": "x"}]}\n\n'),
    ("content_number", b'data: {"choices": [{"delta": {"content": 5}}]}\n\n' + _END),
    ("content_list", b'data: {"choices": [{"delta": {"content": ["a"]}}]}\n\n' + _END),
    ("reasoning_number", b'data: {"choices": [{"delta": {"reasoning_content": 3}}]}\n\n' + _END),
    ("finish_number", b'data: {"choices": [{"delta": {}, "finish_reason": 7}]}\n\n'),
    (
        "usage_string_tokens",
        b'data: {"usage": {"completion_tokens": "x"}, "choices": []}\n\n' + _END,
    ),
]


@pytest.mark.parametrize(
    "body",
    [pytest.param(b, id=n) for n, b in WRONG_SHAPES],
)
def test_client_survives_wrong_shaped_chunks(raw_server: RawSSEServer, body: bytes) -> None:
    _assert_chunks_or_backend_error(raw_server, body)


@NET
@given(st.lists(sse_line, max_size=12))
def test_client_ends_in_chunks_or_a_backend_error_on_arbitrary_sse(
    raw_server: RawSSEServer, lines: list[bytes]
) -> None:
    _assert_chunks_or_backend_error(raw_server, b"".join(lines))


@NET
@given(st.text(max_size=300), st.integers(min_value=1, max_value=9))
def test_client_delivers_streamed_text_exactly(text: str, chunk_chars: int) -> None:
    """Whatever text the model sends (controls and lone surrogates included) arrives whole:
    cleaning is the renderer's job, the client must not lose or mangle bytes."""
    from tests.fakes.openai_server import FakeOpenAIServer, Reply

    with FakeOpenAIServer([Reply(content=text, chunk_chars=chunk_chars)]) as srv:
        chunks = asyncio.run(_consume_model(srv.url))
    assert "".join(c.content for c in chunks) == text


async def _consume_model(url: str) -> list[ChatChunk]:
    from backends.openai_client import OpenAIChatClient

    client = OpenAIChatClient(url, "fake-model", timeout_s=5.0, stall_timeout_s=5.0, retries=0)
    try:
        return [c async for c in client.stream_chat([{"role": "user", "content": "q"}])]
    finally:
        await client.aclose()
