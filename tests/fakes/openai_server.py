"""A stand-in OpenAI-compatible server for tests: real HTTP and real SSE on loopback.

Tests script it with :class:`Reply` objects (consumed in order, one per chat request) and
fall back to :func:`demo_responder`, which answers like a well-behaved model for every
reasoning strategy. Standard library only, so it runs wherever the tests run.

Used in-process::

    with FakeOpenAIServer([Reply(content="hi")], api_key="k") as srv:
        client = OpenAIChatClient(srv.url, "fake-model", api_key="k")

or as a process (terminal tests, demos)::

    python -m tests.fakes.openai_server --port 8123 [--script FILE.json] [--api-key K]
        [--model NAME] [--delay S] [--count-turns]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Reply", "FakeOpenAIServer", "count_turns_responder", "demo_responder", "main"]

Responder = Callable[[dict[str, Any]], "Reply"]


@dataclass
class Reply:
    """What the server does for one chat request.

    ``reasoning`` is streamed first, in the delta field named by ``reasoning_field``
    (``reasoning_content`` like LMDeploy/DeepSeek, ``reasoning`` like current vLLM), then
    ``content``, ``chunk_chars`` characters a chunk. ``delay_s`` is slept before each text
    chunk, ``first_delay_s`` before anything is sent (a hang). A ``status`` other than 200
    answers with an OpenAI error body carrying ``error_message``. ``finish_reason=None``
    ends the stream (with ``[DONE]``) without any finish_reason. ``drop_after_chunks=N``
    closes the socket after N text chunks; ``malformed`` sends a data line that is not JSON
    after the text; ``not_json_body`` answers 200 with an HTML page; ``stall_after_chunks=N``
    sends N text chunks and then nothing more until the server stops (a hang mid-answer).
    """

    content: str = ""
    reasoning: str = ""
    reasoning_field: str = "reasoning_content"
    chunk_chars: int = 4
    delay_s: float = 0.0
    first_delay_s: float = 0.0
    status: int = 200
    error_message: str = ""
    finish_reason: str | None = "stop"
    drop_after_chunks: int | None = None
    malformed: bool = False
    usage: bool = True
    completion_tokens: int | None = None
    not_json_body: bool = False
    stall_after_chunks: int | None = None
    #: After this many text chunks, only empty deltas follow (every ``delay_s``, at least
    #: 50 ms) until the server stops: a stream that is alive but makes no progress.
    empty_deltas_after_chunks: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        """Build a Reply from a script entry; unknown keys are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown Reply field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


# --------------------------------------------------------------------------------------
# The demo model
# --------------------------------------------------------------------------------------

_FINAL_REQUEST = re.compile(r"final answer|最终答案", re.IGNORECASE)


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # OpenAI "content parts"
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _question_of(messages: list[dict[str, Any]]) -> str:
    """The question of this turn: the last user message, unless that is g1's request for the
    final answer (then the one before it). Earlier turns of a follow-up come before it."""
    users = [_text_of(m) for m in messages if m.get("role") == "user"]
    if len(users) > 1 and messages[-1].get("role") == "user" and _FINAL_REQUEST.search(users[-1]):
        users.pop()
    return users[-1] if users else ""


def user_turns(messages: list[dict[str, Any]]) -> int:
    """How many user messages a request carried (a follow-up's earlier questions count)."""
    return sum(1 for m in messages if m.get("role") == "user")


def count_turns_responder(body: dict[str, Any]) -> Reply:
    """The demo model, but every answer says how many user turns the request carried:
    ``[user turns: N]`` ends plain text, and ends a g1 JSON step's ``content``. A follow-up
    test reads it to see the request really carried the earlier turns."""
    reply = demo_responder(body)
    tag = f" [user turns: {user_turns(body.get('messages') or [])}]"
    try:
        step = json.loads(reply.content)
    except ValueError:
        step = None
    if isinstance(step, dict):
        step["content"] = str(step.get("content", "")) + tag
        reply.content = json.dumps(step, ensure_ascii=False)
    else:
        reply.content += tag
    return reply


def _short(question: str, limit: int = 80) -> str:
    question = " ".join(question.split())
    return question if len(question) <= limit else question[: limit - 1] + "…"


def demo_responder(body: dict[str, Any]) -> Reply:
    """Answer like a well-behaved model, whatever strategy asks; the question is echoed.

    - g1 (``response_format`` given, or a system prompt asking for JSON): one JSON step
      ``{"title", "content", "next_action"}``; ``next_action`` is ``"final_answer"`` once the
      conversation already holds 3 assistant step messages (so 4 steps in all), else
      ``"continue"``. g1's final request (last user message asks for the final answer) gets a
      plain text answer, or a JSON step with the answer when ``response_format`` was sent.
    - thinking (system prompt contains "expert mathematician"): Markdown with
      ``## Understanding``, ``## Reasoning``, ``## Verification`` and ``\\boxed{42}``.
    - a model named like ``*r1*`` or ``*qwen3*``: ``<think>…</think>`` then the answer.
    - anything else: a short plain answer.
    """
    messages = body.get("messages") or []
    question = _short(_question_of(messages))
    system = " ".join(_text_of(m) for m in messages if m.get("role") == "system")
    model = str(body.get("model", "")).lower()
    wants_json = bool(body.get("response_format")) or "JSON" in system.upper()
    last = messages[-1] if messages else {}
    is_final_request = (
        last.get("role") == "user"
        and sum(1 for m in messages if m.get("role") == "user") > 1
        and bool(_FINAL_REQUEST.search(_text_of(last)))
    )

    if wants_json and is_final_request:
        answer = f"The final answer to '{question}' is 42."
        if body.get("response_format"):
            step = {"title": "Final Answer", "content": answer, "next_action": "final_answer"}
            return Reply(content=json.dumps(step, ensure_ascii=False))
        return Reply(content=answer)
    if wants_json:
        done = sum(1 for m in messages if m.get("role") == "assistant" and '"title"' in _text_of(m))
        n = done + 1
        step = {
            "title": f"Step {n} on the question",
            "content": f"Reasoning step {n} about '{question}': examining it another way.",
            "next_action": "final_answer" if done >= 3 else "continue",
        }
        return Reply(content=json.dumps(step, ensure_ascii=False))
    if "expert mathematician" in system.lower():
        return Reply(
            content=(
                f"## Understanding\nThe question is: {question}\n\n"
                "## Reasoning\nWorking through it carefully gives 42.\n\n"
                "## Verification\nChecking the result again confirms 42.\n\n"
                "The answer is \\boxed{42}."
            )
        )
    if "r1" in model or "qwen3" in model:
        return Reply(
            content=(
                f"<think>\nThe user asks: {question}\nLet me think this through.\n</think>\n\n"
                f"The answer to '{question}' is 42."
            )
        )
    return Reply(content=f"The answer to '{question}' is 42.")


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = {
        401: ("authentication_error", "invalid_api_key"),
        404: ("invalid_request_error", "model_not_found"),
        429: ("rate_limit_error", "rate_limit_exceeded"),
    }.get(status, ("invalid_request_error" if status < 500 else "server_error", None))
    return {"error": {"message": message, "type": kind[0], "param": None, "code": kind[1]}}


def _pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so streams go out with chunked transfer encoding, as uvicorn-based servers do.
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass  # tests read .requests; stderr noise would only hide failures

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.fake._track(self.connection, add=False)
        with contextlib.suppress(OSError):  # the peer is gone already
            super().finish()

    # -- plumbing ----------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error_json(self, status: int, message: str) -> None:
        self._send_json(status, _error_body(status, message))

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _authorized(self) -> bool:
        key = self.server.fake.api_key
        if key is None:
            return True
        if self.headers.get("Authorization", "") == f"Bearer {key}":
            return True
        self._send_error_json(401, "Incorrect API key provided.")
        return False

    # -- endpoints ---------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        fake = self.server.fake
        fake._log_hit("GET", self.path)
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/v1/models":
            if self._authorized():
                self._send_json(200, fake._models_payload())
        else:
            self._send_error_json(404, f"Not found: {path}")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        fake = self.server.fake
        fake._log_hit("POST", self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            self._send_error_json(404, f"Not found: {path}")
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send_error_json(400, "request body is not JSON")
            return
        fake._log_request(body)
        if not self._authorized():
            return
        model = body.get("model")
        if fake.models is not None and model not in fake.models:
            self._send_error_json(404, f"The model `{model}` does not exist.")
            return
        fmt = body.get("response_format") or {}
        if fake.reject_json_schema and fmt.get("type") == "json_schema":
            # llama.cpp answers an unsupported schema with a bare 500.
            self._send_error_json(500, "Internal Server Error")
            return
        reply = fake._next_reply(body)
        if not fake._sleep(reply.first_delay_s):
            self.close_connection = True
            return
        if reply.status != 200:
            self._send_error_json(reply.status, reply.error_message or f"HTTP {reply.status}")
        elif reply.not_json_body:
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
        elif body.get("stream"):
            self._stream(body, reply)
        else:
            self._send_json(200, fake._completion(body, reply))

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        fake = self.server.fake
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for event in fake._events(body, reply):
                if event is None:  # drop: leave the chunked body unfinished and cut the line
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._write_chunk(event)
            self._write_chunk(b"")  # terminating zero-length chunk
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client went away; nothing to tell it


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (timeouts, drop tests) is expected; anything else is a bug.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    """A scripted OpenAI-compatible server on 127.0.0.1, run in a daemon thread.

    ``replies`` are consumed one per chat request; when none are left, ``responder(body)``
    (default :func:`demo_responder`) decides. ``models=None`` accepts any model name.
    ``.requests`` holds every chat request body received, in order; ``.hits`` every
    ``(method, path)``.
    """

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        api_key: str | None = None,
        models: Iterable[str] | None = ("fake-model",),
        reject_json_schema: bool = False,
        responder: Responder | None = None,
        port: int = 0,
        max_model_len: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.models = list(models) if models is not None else None
        self.reject_json_schema = reject_json_schema
        self.responder: Responder = responder or demo_responder
        #: Reported in ``/v1/models`` like vLLM does, when set (the model's context length).
        self.max_model_len = max_model_len
        self.requests: list[dict[str, Any]] = []
        self.hits: list[tuple[str, str]] = []
        self._replies: collections.deque[Reply] = collections.deque(replies)
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._stop = threading.Event()
        self._requested_port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        httpd = _HTTPServer(("127.0.0.1", self._requested_port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._stop.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hanging replies notice the stop flag and end within ~50 ms."""
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        # Kept-alive connections would otherwise go on being served by their threads.
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def add(self, *replies: Reply) -> None:
        """Queue more scripted replies."""
        with self._lock:
            self._replies.extend(replies)

    # -- helpers used by the handler ---------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _log_hit(self, method: str, path: str) -> None:
        with self._lock:
            self.hits.append((method, path))

    def _log_request(self, body: Any) -> None:
        with self._lock:
            self.requests.append(body)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        return self.responder(body)

    def _sleep(self, seconds: float) -> bool:
        """Sleep in small slices so a stop never waits on a hang; False once stopping."""
        deadline = time.monotonic() + seconds
        while True:
            if self._stop.is_set():
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, 0.05))

    def _models_payload(self) -> dict[str, Any]:
        names = self.models if self.models is not None else ["fake-model"]
        return {
            "object": "list",
            "data": [
                {"id": n, "object": "model", "created": 0, "owned_by": "fake"}
                | ({"max_model_len": self.max_model_len} if self.max_model_len else {})
                for n in names
            ],
        }

    @staticmethod
    def _usage(body: dict[str, Any], reply: Reply, n_chunks: int) -> dict[str, int]:
        chars = sum(len(_text_of(m)) for m in body.get("messages") or [])
        prompt = chars // 4
        completion = reply.completion_tokens if reply.completion_tokens is not None else n_chunks
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        n = len(_pieces(reply.content, reply.chunk_chars)) + len(
            _pieces(reply.reasoning, reply.chunk_chars)
        )
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning:
            message[reply.reasoning_field] = reply.reasoning
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            "usage": self._usage(body, reply, n),
        }

    def _events(self, body: dict[str, Any], reply: Reply) -> Iterator[bytes | None]:
        """SSE events for one streamed reply; ``None`` means: cut the connection now."""
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        model = body.get("model", "")

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"

        yield chunk({"role": "assistant", "content": ""})
        pieces = [(reply.reasoning_field, p) for p in _pieces(reply.reasoning, reply.chunk_chars)]
        pieces += [("content", p) for p in _pieces(reply.content, reply.chunk_chars)]
        for sent, (field, text) in enumerate(pieces):
            if reply.drop_after_chunks is not None and sent >= reply.drop_after_chunks:
                yield None
                return
            if (
                reply.empty_deltas_after_chunks is not None
                and sent >= reply.empty_deltas_after_chunks
            ):
                while self._sleep(max(reply.delay_s, 0.05)):
                    yield chunk({"content": ""})
                yield None
                return
            if reply.stall_after_chunks is not None and sent >= reply.stall_after_chunks:
                self._sleep(float("inf"))
                yield None
                return
            if not self._sleep(reply.delay_s):
                yield None
                return
            yield chunk({field: text})
        if reply.drop_after_chunks is not None and len(pieces) <= reply.drop_after_chunks:
            yield None
            return
        if reply.malformed:
            yield b'data: {"id": "broken", "choices": [{"delta": {"content": "x"\n\n'
        yield chunk({}, reply.finish_reason)
        if reply.usage:  # real servers need include_usage; always sending is harmless
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": self._usage(body, reply, len(pieces)),
            }
            yield b"data: " + json.dumps(payload).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def _load_script(path: str) -> list[Reply]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, list):
        raise ValueError(f"{path}: the script must be a JSON list of Reply objects")
    return [Reply.from_dict(d) for d in data]


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; prints ``serving on URL`` once ready."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.openai_server",
        description="Stand-in OpenAI-compatible server (loopback only) for tests and demos.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (0: any free one)")
    parser.add_argument("--script", help="JSON list of Reply objects, used in order first")
    parser.add_argument("--api-key", help="require this bearer key")
    parser.add_argument(
        "--model", action="append", help="served model name (repeatable; default: any name)"
    )
    parser.add_argument(
        "--delay", type=float, default=0.0, help="seconds between chunks of demo replies"
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=None,
        help="listen queue length (default 5): raise it for hundreds of requests at once",
    )
    parser.add_argument(
        "--count-turns",
        action="store_true",
        help="every answer ends with [user turns: N], the user messages the request carried",
    )
    parser.add_argument(
        "--reject-json-schema",
        action="store_true",
        help="answer response_format json_schema with HTTP 500 (like llama.cpp)",
    )
    args = parser.parse_args(argv)

    try:
        replies = _load_script(args.script) if args.script else []
    except (OSError, ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    def responder(body: dict[str, Any]) -> Reply:
        reply = (count_turns_responder if args.count_turns else demo_responder)(body)
        reply.delay_s = args.delay
        return reply

    server = FakeOpenAIServer(
        replies,
        api_key=args.api_key,
        models=args.model,
        reject_json_schema=args.reject_json_schema,
        responder=responder,
        port=args.port,
    )
    if args.backlog is not None:  # read by the server's listen() when it starts
        _HTTPServer.request_queue_size = max(1, args.backlog)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        server.start()
    except OSError as err:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {err}", file=sys.stderr)
        return 1
    print(f"serving on {server.url}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
