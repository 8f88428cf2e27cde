"""Bounds on what a server or a user can make o1tui hold: stalls, runaway replies, stdin.

The stand-in OpenAI server streams real SSE on loopback; the CLI runs as a real process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from backends.client import REPLY_CUT
from backends.errors import RequestTimeout
from backends.openai_client import MAX_REPLY_CHARS, OpenAIChatClient
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tui.core.chain import MAX_QUESTION_CHARS

REPO = Path(__file__).resolve().parent.parent


async def _collect(client: OpenAIChatClient) -> list:
    chunks = []
    async for chunk in client.stream_chat([{"role": "user", "content": "q"}]):
        chunks.append(chunk)
    return chunks


def test_empty_deltas_do_not_keep_a_stalled_stream_alive():
    """A server that sends an empty delta every 50 ms but no text: the stall timeout still
    ends it (before, every empty chunk restarted the timer: it never ended)."""
    reply = Reply(content="some text here", chunk_chars=4, empty_deltas_after_chunks=1)
    with FakeOpenAIServer([reply]) as srv:
        client = OpenAIChatClient(srv.url, "fake-model", stall_timeout_s=0.5, retries=0)
        started = time.monotonic()

        async def go() -> None:
            try:
                await asyncio.wait_for(_collect(client), 20)
            finally:
                await client.aclose()

        try:
            asyncio.run(go())
        except RequestTimeout as err:
            assert "0.5 s" in str(err)
        else:
            raise AssertionError("the stalled stream was not ended")
        assert time.monotonic() - started < 10


def test_a_runaway_reply_is_cut_at_the_cap_and_ends_as_cut():
    reply = Reply(content="y" * (MAX_REPLY_CHARS + 300_000), chunk_chars=50_000)
    with FakeOpenAIServer([reply]) as srv:
        client = OpenAIChatClient(srv.url, "fake-model", retries=0)

        async def go() -> list:
            try:
                return await _collect(client)
            finally:
                await client.aclose()

        chunks = asyncio.run(go())
    assert sum(len(c.content) for c in chunks) == MAX_REPLY_CHARS
    assert chunks[-1].finish_reason == REPLY_CUT  # ends like "length"; the chain says why


def test_ask_dash_stops_reading_an_endless_stdin():
    """`yes | o1tui ask -`: refused once the limit is passed, without reading on."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "ask", "-", "--endpoint", "http://127.0.0.1:9/v1"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert proc.stdin is not None and proc.stderr is not None
    line = b"y\n" * 4096
    sent = 0
    try:
        while proc.poll() is None and sent < 50 * MAX_QUESTION_CHARS:
            proc.stdin.write(line)
            sent += len(line)
    except BrokenPipeError:
        pass  # it stopped reading and left: what we want
    err = proc.stderr.read().decode()
    proc.wait(timeout=30)
    assert proc.returncode == 2 and "too long" in err and "Traceback" not in err, err
    assert sent < 50 * MAX_QUESTION_CHARS  # it did not wait for all of it


def test_a_question_of_only_zero_width_characters_is_empty():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "ask",
            "\u200b\u200c\u2060\ufeff",
            "--endpoint",
            "http://127.0.0.1:9/v1",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=30,
    )
    assert proc.returncode == 2 and "the question is empty" in proc.stderr, proc.stderr


def test_a_line_without_an_end_is_cut_at_the_event_bound():
    """A 200 response that streams whitespace with no newline: ended once the event bound is
    passed (before, it grew ~50 MB/s until the stall timeout, retried three times)."""
    import socket
    import threading

    from backends.bounded_stream import MAX_EVENT_BYTES
    from backends.errors import StreamDropped

    sent = {"bytes": 0}
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        )
        try:
            while sent["bytes"] < 50 * MAX_EVENT_BYTES:
                conn.sendall(b" " * 65536)
                sent["bytes"] += 65536
        except OSError:
            pass  # the client hung up: what we want
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = OpenAIChatClient(f"http://127.0.0.1:{port}/v1", "m", retries=0, stall_timeout_s=60)

    async def go() -> None:
        try:
            await asyncio.wait_for(_collect(client), 60)
        finally:
            await client.aclose()

    try:
        asyncio.run(go())
    except StreamDropped as err:
        assert "without ending a stream event" in str(err)
    else:
        raise AssertionError("the endless line was accepted")
    finally:
        listener.close()
    thread.join(10)
    assert sent["bytes"] < 10 * MAX_EVENT_BYTES  # it stopped reading near the bound
