"""The streaming chat client for every OpenAI-compatible server (LMDeploy, vLLM, llama.cpp,
hosted endpoints), over the ``openai`` package: it sends the request and reports HTTP errors;
the stream's events are read here (:mod:`backends.sse`), into plain dicts, not the package's
per-chunk pydantic objects, which cost most of the client's CPU with hundreds of streams.

It turns the server's stream into :class:`~backends.client.ChatChunk` pieces and every
failure into one :mod:`backends.errors` class with a one-line message. Retries are ours
(the ``openai`` package's own are off) and only happen before the first piece reached the
caller: a half-sent answer is never replayed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import sys
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from typing import TYPE_CHECKING, Protocol, TypedDict, TypeVar

from backends.client import REPLY_CUT, ChatChunk, JSONObject, Usage
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
    model_not_served,
)
from backends.redact import redact_url, redact_urls
from backends.sse import SSEDecoder

if TYPE_CHECKING:  # importing openai costs a few hundred ms; only pay it when a client is made
    import openai

    from backends.bounded_stream import httpx

T = TypeVar("T")

__all__ = ["ClientOptions", "OpenAIChatClient", "SERVER_FORMATS"]

#: Servers without auth ignore the key, but the openai package insists on one.
_PLACEHOLDER_KEY = "none"
#: The most text (answer and reasoning) kept from one reply: far above any step a 7-8B model
#: writes within its token limits (~16 000 characters for 4 096 tokens), low enough that a
#: runaway server cannot take the memory. A reply is cut there and ends as ``length``.
MAX_REPLY_CHARS = 400_000
#: Longest piece of a server's message put into a one-line error.
_MESSAGE_LIMIT = 300
#: How long the rest of a body after ``[DONE]`` is read for (so its connection is kept).
_DRAIN_S = 0.1


def _one_line(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    text = redact_urls(" ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _root_cause(err: BaseException) -> str:
    """The innermost readable reason (e.g. "Connection refused") under the library wrappers."""
    reason = "connection error"
    seen: set[int] = set()
    current: BaseException | None = err.__cause__ or err.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        text = getattr(current, "strerror", None) or str(current)
        if text:
            reason = _one_line(text)
        current = current.__cause__ or current.__context__
    return reason


async def within(awaitable: Awaitable[T], timeout_s: float) -> T:
    """``asyncio.wait_for`` that never loses a cancellation.

    Before Python 3.12, ``wait_for`` returns the result instead of raising when the awaited
    call completes at the moment the caller is cancelled (a chunk arriving as Ctrl+C is
    pressed); the chain then streams on and a cancelled group waits for it. Raises
    ``asyncio.TimeoutError`` after ``timeout_s``.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise asyncio.TimeoutError
    return task.result()


class _Reschedulable(Protocol):
    """What the stall watch needs of an ``asyncio.Timeout`` (3.11+; mypy checks for 3.10)."""

    def reschedule(self, when: float | None) -> None: ...


class _StallWatch:
    """The stall timeout of one stream: ``limit_s`` without progress ends the wait for the
    server's next bytes with ``asyncio.TimeoutError``.

    Time counts from the last :meth:`progress` (the start, then each chunk that carried
    something), also while the caller holds a chunk, as a per-read ``within()`` counted it.
    One timer per stream, moved only when it fires (at most once per ``limit_s``) instead of a
    task and a timer per chunk: on Python 3.11+ each read runs in an ``asyncio.timeout``
    scope that the timer expires, and a cancellation from outside always wins over it (the
    scope's own rule), so none is lost. On 3.10 each read goes through :func:`within`.
    """

    def __init__(self, limit_s: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._limit = limit_s
        self._last = self._loop.time()
        #: The deadline passed while no read was waiting: the next read fails at once.
        self._expired = False
        self._scope: _Reschedulable | None = None  # the read under way's asyncio.Timeout
        self._timer = self._loop.call_at(self._last + limit_s, self._check)

    def progress(self) -> None:
        self._last = self._loop.time()

    def close(self) -> None:
        self._timer.cancel()

    def _check(self) -> None:
        now = self._loop.time()
        deadline = self._last + self._limit
        if now < deadline:
            self._timer = self._loop.call_at(deadline, self._check)
            return
        self._expired = True
        if self._scope is not None:
            self._scope.reschedule(now)

    async def read(self, reader: AsyncIterator[bytes]) -> bytes:
        """The next bytes of ``reader``; StopAsyncIteration at its end."""
        if sys.version_info >= (3, 11):
            if self._expired:
                raise asyncio.TimeoutError
            async with asyncio.timeout(None) as self._scope:
                try:
                    chunk: bytes = await reader.__anext__()
                    return chunk
                finally:
                    self._scope = None
        left = self._limit - (self._loop.time() - self._last)
        if left <= 0:
            raise asyncio.TimeoutError
        fallback: bytes = await within(reader.__anext__(), left)
        return fallback


async def _drain(reader: AsyncIterator[bytes]) -> None:
    async for _ in reader:
        pass


#: (base URL, model, response_format type): what one server did with one kind of format.
_FormatKey = tuple[str, str, str]


class FormatMemory:
    """Which ``response_format`` types each server (base URL + model) accepts, process-wide.

    llama.cpp answers ``json_schema`` with an HTTP 500 and a traceback in its log; without
    this memory every g1 chain would ask again (13 chains of a group: 13 tracebacks). The
    first request that sends a type nobody has tried yet on that server is its probe; requests
    that want the same type meanwhile wait for the probe's outcome, then either send it or are
    refused at once without a request. A probe that ends neither way (a dropped connection, a
    cancel) decides nothing, and the next request probes. Thread-safe: the app's workers and
    several event loops may share it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Accepted (None) or refused (the refusal, raised again for later requests).
        self._known: dict[_FormatKey, ResponseFormatUnsupported | None] = {}
        self._probes: dict[_FormatKey, concurrent.futures.Future[None]] = {}

    async def admit(self, key: _FormatKey) -> bool:
        """Wait until a request with this format may go out: True when it is the probe
        (report it with :meth:`settle`), False when the server is known to accept it.
        Raises the remembered :class:`ResponseFormatUnsupported` when it is known refused."""
        while True:
            with self._lock:
                if key in self._known:
                    refusal = self._known[key]
                    if refusal is None:
                        return False
                    raise ResponseFormatUnsupported(
                        str(refusal), status=refusal.status, said=refusal.said
                    )
                probe = self._probes.get(key)
                if probe is None:
                    self._probes[key] = concurrent.futures.Future()
                    return True
            # A concurrent.futures.Future can be awaited from any thread's event loop; shielded,
            # so a waiter that is cancelled does not cancel the probe the others wait for.
            await asyncio.shield(asyncio.wrap_future(probe))

    def settle(self, key: _FormatKey, outcome: ResponseFormatUnsupported | None | bool) -> None:
        """The probe's outcome: None accepted, the refusal, or False when it decided nothing."""
        with self._lock:
            probe = self._probes.pop(key, None)
            if outcome is not False:
                self._known[key] = outcome if isinstance(outcome, BaseException) else None
        if probe is not None and not probe.done():
            probe.set_result(None)

    def forget(self) -> None:
        """Forget every server (tests; a server replaced by another on the same port)."""
        with self._lock:
            self._known.clear()


#: The one memory of the process (see :class:`FormatMemory`).
SERVER_FORMATS = FormatMemory()


class ClientOptions(TypedDict, total=False):
    """:class:`OpenAIChatClient`'s keyword options, for callers that hand them on."""

    timeout_s: float
    stall_timeout_s: float
    retries: int
    retry_backoff_s: float
    max_chars: int


class OpenAIChatClient:
    """A :class:`~backends.client.ChatClient` for one model on one OpenAI-compatible server.

    ``timeout_s`` bounds each network wait of the HTTP client; ``stall_timeout_s`` bounds the
    wait for the response and then for each next chunk (a server that hangs mid-answer);
    ``retries`` is how many times a retryable failure is retried before anything was yielded.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 600.0,
        stall_timeout_s: float = 120.0,
        retries: int = 2,
        retry_backoff_s: float = 0.5,
        max_chars: int = MAX_REPLY_CHARS,
    ) -> None:
        import openai

        from backends.bounded_stream import BoundedTransport

        self._openai = openai
        url = base_url.rstrip("/")
        #: The URL as shown in every message: credentials in it (user:password, ?api_key=)
        #: never reach an error line, the history or an export.
        self.base_url = redact_url(url)
        self.model = model
        self.timeout_s = timeout_s
        self.stall_timeout_s = stall_timeout_s
        self.retries = max(0, retries)
        self.retry_backoff_s = retry_backoff_s
        self.max_chars = max_chars
        self._client = openai.AsyncOpenAI(
            base_url=url,
            api_key=api_key or _PLACEHOLDER_KEY,
            timeout=openai.Timeout(timeout_s, connect=min(timeout_s, 30.0)),
            max_retries=0,
            # Every event's bytes bounded (backends.bounded_stream): a runaway line or event
            # cannot grow without end. A transport of our own ignores the client's ``limits``,
            # so it gets the package's own: httpx's default pool holds 100 connections, which
            # capped an eval at 100 requests in flight against a server batching 512.
            http_client=openai.DefaultAsyncHttpxClient(
                transport=BoundedTransport(limits=openai.DEFAULT_CONNECTION_LIMITS)
            ),
        )

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIChatClient({self.base_url!r}, {self.model!r})"

    # -- public API --------------------------------------------------------------------

    async def stream_chat(
        self,
        messages: list[dict[str, str]],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        response_format: JSONObject | None = None,
        extra_body: JSONObject | None = None,
    ) -> AsyncIterator[ChatChunk]:
        """Stream one completion; raises :class:`~backends.errors.BackendError` subclasses."""
        request: JSONObject = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        if response_format is not None:
            request["response_format"] = response_format
        if extra_body:
            request["extra_body"] = extra_body

        key = None if response_format is None else self._format_key(response_format)
        probing = key is not None and await SERVER_FORMATS.admit(key)
        outcome: ResponseFormatUnsupported | None | bool = False
        try:
            attempt = 0
            while True:
                yielded = False
                try:
                    async with contextlib.aclosing(self._stream_once(request)) as chunks:
                        async for chunk in chunks:
                            if not yielded:
                                yielded, outcome = True, None  # the server took the format
                            yield chunk
                    outcome = None
                    return
                except ResponseFormatUnsupported as err:  # raised before any chunk came
                    outcome = err
                    raise
                except BackendError as err:
                    if yielded or not err.retryable or attempt >= self.retries:
                        raise
                await asyncio.sleep(self.retry_backoff_s * (2**attempt))
                attempt += 1
        finally:
            if probing and key is not None:
                SERVER_FORMATS.settle(key, outcome)

    def _format_key(self, response_format: JSONObject) -> _FormatKey:
        return (self.base_url, self.model, str(response_format.get("type", "?")))

    async def list_models(self) -> list[str]:
        """The model names the server serves."""
        try:
            page = await asyncio.wait_for(self._client.models.list(), self.stall_timeout_s)
        except asyncio.TimeoutError:
            raise self._stall_error() from None
        except self._openai.APIError as err:
            raise await self._map_error(err, None, listing=True) from err
        except ValueError as err:  # a body that is not JSON at all
            raise ServerError(f"the server at {self.base_url} did not answer with JSON") from err
        return [m.id for m in page.data]

    async def context_window(self) -> int | None:
        """The context length the server reports for ``self.model`` in ``/v1/models``
        (vLLM's ``max_model_len`` and the like), or None when it reports none or cannot be
        asked: a follow-up then falls back to what o1tui knows of the engine."""
        try:
            page = await asyncio.wait_for(self._client.models.list(), self.stall_timeout_s)
        except (asyncio.TimeoutError, self._openai.APIError, ValueError):
            return None
        for entry in page.data:
            if entry.id == self.model:
                return context_of(getattr(entry, "model_extra", None) or {})
        return None

    async def aclose(self) -> None:
        await self._client.close()

    # -- one attempt -------------------------------------------------------------------

    async def _stream_once(self, request: JSONObject) -> AsyncGenerator[ChatChunk, None]:
        # The response's bytes are read here, not through the package's stream object: that
        # builds a pydantic model per chunk, most of the client's CPU at high concurrency.
        opening = self._client.chat.completions.with_streaming_response.create(**request)
        try:
            response = await within(opening.__aenter__(), self.stall_timeout_s)
        except asyncio.TimeoutError:
            raise self._stall_error() from None
        except self._openai.APIError as err:
            raise await self._map_error(err, request.get("response_format")) from err
        try:
            async with contextlib.aclosing(self._read_stream(response.http_response)) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            await opening.__aexit__(None, None, None)

    async def _read_stream(self, http: httpx.Response) -> AsyncGenerator[ChatChunk, None]:
        """The ChatChunks of one open streamed response."""
        from backends.bounded_stream import READ_ERRORS

        if "html" in http.headers.get("content-type", ""):  # a proxy or login page
            raise ServerError(
                f"the server at {self.base_url} answered with a web page, not an OpenAI stream "
                "(is the endpoint URL right?)"
            )
        reader = http.aiter_bytes()
        decoder = SSEDecoder()
        finish_reason: str | None = None
        got_text = ended = False
        received = 0
        # Only progress (text, a finish, usage) counts against the stall timeout: a server
        # that keeps sending empty deltas is as stuck as one that sends nothing.
        watch = _StallWatch(self.stall_timeout_s)
        try:
            while not ended:
                try:
                    events = decoder.feed(await watch.read(reader))
                except StopAsyncIteration:  # an unfinished last event is dropped, as the
                    break  # event-stream rules say
                except asyncio.TimeoutError:
                    raise self._stall_error() from None
                except READ_ERRORS as err:
                    raise self._dropped(err) from err
                except ValueError as err:  # bytes that are not UTF-8
                    raise self._not_json() from err
                for _event, data in events:
                    if data.startswith("[DONE]"):
                        ended = True
                        break
                    chunk = self._parse(data)
                    if chunk is None:
                        continue
                    watch.progress()
                    received += len(chunk.content) + len(chunk.reasoning)
                    if received > self.max_chars:
                        # A runaway reply: end it here as if the model hit its token limit, so
                        # one answer cannot take the machine's memory (docs/decisions.md); the
                        # step keeps REPLY_CUT, so the chain says it was cut.
                        yield self._cut(chunk, received - self.max_chars)
                        return
                    got_text = got_text or bool(chunk.content or chunk.reasoning)
                    if chunk.finish_reason:
                        finish_reason = chunk.finish_reason
                        if finish_reason == "length" and not got_text:
                            raise ContextLengthExceeded(
                                "the conversation no longer fits the server's context (session "
                                "length); start a new chain or raise --session-len"
                            )
                    yield chunk
        finally:
            watch.close()
        if ended:
            # The rest of the body (the end of its chunked encoding), so the connection goes
            # back to the pool instead of being closed; briefly, as the openai package does.
            with contextlib.suppress(asyncio.TimeoutError, *READ_ERRORS):
                await within(_drain(reader), _DRAIN_S)
        if finish_reason is None:
            raise StreamDropped(
                f"the stream from {self.base_url} ended before the model finished "
                "(no finish_reason)"
            )

    def _parse(self, data: str) -> ChatChunk | None:
        """One event's data as a ChatChunk (None when it carries nothing); an error event
        (``{"error": ...}``, as OpenAI and vLLM send one mid-stream) raises ServerError."""
        try:
            payload = json.loads(data)
        except ValueError as err:
            raise self._not_json() from err
        if isinstance(payload, dict) and payload.get("error"):
            error = payload["error"]
            message = error.get("message") if isinstance(error, dict) else None
            if not message or not isinstance(message, str):
                message = "An error occurred during streaming"  # the openai package's words
            raise ServerError(f"the server reported an error mid-answer: {_one_line(message)}")
        try:
            return self._convert(payload)
        except (AttributeError, TypeError, ValueError, IndexError) as err:
            raise StreamDropped(
                f"the server at {self.base_url} sent a stream chunk that is not an "
                "OpenAI chat chunk"
            ) from err

    def _not_json(self) -> StreamDropped:
        return StreamDropped(f"the server at {self.base_url} sent stream data that is not JSON")

    def _dropped(self, err: BaseException) -> StreamDropped:
        """A read that failed mid-stream: the event bound, or a connection that went away."""
        from backends.bounded_stream import MAX_EVENT_BYTES, too_large

        if too_large(err):
            return StreamDropped(
                f"the server at {self.base_url} sent more than "
                f"{MAX_EVENT_BYTES // 2**20} MB without ending a stream event"
            )
        return StreamDropped(
            f"the server at {self.base_url} closed the stream before the answer was complete"
        )

    @staticmethod
    def _cut(chunk: ChatChunk, excess: int) -> ChatChunk:
        """``chunk`` without its last ``excess`` characters, ending the reply (``REPLY_CUT``)."""
        content, reasoning = chunk.content, chunk.reasoning
        cut = min(excess, len(content))
        content = content[: len(content) - cut]
        reasoning = reasoning[: max(0, len(reasoning) - (excess - cut))]
        return ChatChunk(content=content, reasoning=reasoning, finish_reason=REPLY_CUT, usage=None)

    @staticmethod
    def _convert(raw: object) -> ChatChunk | None:
        """One chunk's JSON as a ChatChunk, or None when it carries nothing (role-only deltas).

        Raises AttributeError or TypeError for JSON of another shape (not an object, choices
        that are not a list of objects, a delta that is not an object)."""
        if not isinstance(raw, dict):
            raise TypeError("a chunk is a JSON object")
        usage = None
        raw_usage = raw.get("usage")
        if raw_usage is not None:  # counts of another type are counted as not reported
            counts = raw_usage if isinstance(raw_usage, dict) else {}
            usage = Usage(
                prompt_tokens=_count(counts.get("prompt_tokens")),
                completion_tokens=_count(counts.get("completion_tokens")),
            )
        content = reasoning = ""
        finish_reason = None
        choices = raw.get("choices")
        if choices:
            if not isinstance(choices, list) or not isinstance(choices[0], dict):
                raise TypeError("choices is a list of objects")
            choice = choices[0]
            finish_reason = _text(choice.get("finish_reason")) or None
            delta = choice.get("delta")
            if delta is not None:
                if not isinstance(delta, dict):
                    raise TypeError("a delta is an object")
                content = _text(delta.get("content"))
                # LMDeploy and DeepSeek send reasoning_content, current vLLM sends reasoning.
                for name in ("reasoning_content", "reasoning"):
                    value = delta.get(name)
                    if isinstance(value, str) and value:
                        reasoning = value
                        break
        if not (content or reasoning or finish_reason or usage):
            return None
        return ChatChunk(
            content=content, reasoning=reasoning, finish_reason=finish_reason, usage=usage
        )

    # -- errors ------------------------------------------------------------------------

    def _stall_error(self) -> RequestTimeout:
        return RequestTimeout(
            f"the server at {self.base_url} sent nothing for {self.stall_timeout_s:g} s"
        )

    async def _map_error(
        self,
        err: openai.APIError,
        response_format: JSONObject | None,
        *,
        listing: bool = False,
    ) -> BackendError:
        """One BackendError, with a user-facing line, for an error raised by the openai package."""
        o = self._openai
        url = self.base_url
        if isinstance(err, o.APITimeoutError):
            return RequestTimeout(f"the server at {url} did not answer within {self.timeout_s:g} s")
        if isinstance(err, o.APIConnectionError):
            return ConnectError(f"cannot reach the server at {url}: {_root_cause(err)}")
        if isinstance(err, o.APIResponseValidationError):
            return ServerError(
                f"the server at {url} answered with something that is not OpenAI JSON"
            )
        if not isinstance(err, o.APIStatusError):
            return ServerError(f"the server at {url} failed: {_one_line(err.message)}")

        status = err.status_code
        said = self._server_message(err)
        said_part = f": {said}" if said else ""
        if response_format is not None and self._refuses_format(status, said, response_format):
            kind = response_format.get("type", "?")
            return ResponseFormatUnsupported(
                f"the server refused response_format {kind} (HTTP {status}){said_part}",
                status=status,
                said=said or "",
            )
        if status in (401, 403):
            return AuthError(f"the server at {url} rejected the API key (HTTP {status})")
        if status == 404:
            if listing:
                return ModelNotFound(
                    f"the server at {url} has no model list (HTTP 404); "
                    "check that the endpoint URL ends in /v1"
                )
            return ModelNotFound(await self._model_not_found_line(said))
        if status == 429:
            return RateLimited(
                f"the server at {url} is rate limiting requests (HTTP 429){said_part}"
            )
        if status in (400, 422):
            return BadRequest(f"the server refused the request (HTTP {status}){said_part}")
        if status >= 500:
            return ServerError(f"the server failed (HTTP {status}){said_part}")
        return ServerError(f"unexpected answer from the server (HTTP {status}){said_part}")

    @staticmethod
    def _refuses_format(status: int, said: str, response_format: JSONObject) -> bool:
        if status not in (400, 422, 500):
            return False
        # llama.cpp answers an unsupported schema with a bare 500 that names nothing.
        if status >= 500 and response_format.get("type") == "json_schema":
            return True
        lowered = said.lower()
        return any(k in lowered for k in ("response_format", "json_schema", "json_object"))

    @staticmethod
    def _server_message(err: openai.APIStatusError) -> str:
        """The server's own words: OpenAI's error.message, FastAPI's detail, or the raw body."""
        body = err.body
        if isinstance(body, dict):
            for key in ("message", "detail", "error"):
                if body.get(key):
                    value = body[key]
                    return _one_line(value if isinstance(value, str) else json.dumps(value))
            return _one_line(json.dumps(body))
        if isinstance(body, str) and body.strip():
            return _one_line(body)
        try:
            return _one_line(err.response.text)
        except Exception:  # noqa: BLE001 - a streamed response whose body was never read
            return ""

    async def _model_not_found_line(self, said: str) -> str:
        try:
            page = await asyncio.wait_for(self._client.models.list(), 5.0)
            served = [m.id for m in page.data]
        except Exception:  # noqa: BLE001 - best effort: the listing is only a hint
            line = str(model_not_served(self.base_url, self.model, []))
            return line + (f" (HTTP 404: {said})" if said else " (HTTP 404)")
        return str(model_not_served(self.base_url, self.model, served))


def _text(value: object) -> str:
    """A text field of a chunk; anything but a string (a server's bug) counts as absent."""
    return value if isinstance(value, str) else ""


def _count(value: object) -> int | None:
    """A token count; anything but a non-negative int counts as not reported."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


#: Fields of a ``/v1/models`` entry that servers use for the context length, most specific first.
_CONTEXT_FIELDS = ("max_model_len", "context_length", "context_window", "n_ctx", "session_len")


def context_of(entry: Mapping[str, object]) -> int | None:
    """The context length in one ``/v1/models`` entry's extra fields (also under ``meta``,
    where llama.cpp's server puts ``n_ctx_train``), or None."""
    meta = entry.get("meta")
    for place in (entry, meta if isinstance(meta, dict) else {}):
        for name in (*_CONTEXT_FIELDS, "n_ctx_train"):
            value = place.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None
