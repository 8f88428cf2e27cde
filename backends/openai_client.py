"""The streaming chat client for every OpenAI-compatible server (LMDeploy, vLLM, llama.cpp,
hosted endpoints), over the ``openai`` package.

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
import threading
import time
from typing import TYPE_CHECKING, Any, AsyncGenerator, AsyncIterator

from backends.client import REPLY_CUT, ChatChunk, Usage
from backends.redact import redact_url, redact_urls
from backends.errors import (
    AuthError,
    BackendError,
    BadRequest,
    ConnectError,
    ContextLengthExceeded,
    ModelNotFound,
    RateLimited,
    ResponseFormatUnsupported,
    RequestTimeout,
    ServerError,
    StreamDropped,
    model_not_served,
)

if TYPE_CHECKING:  # importing openai costs a few hundred ms; only pay it when a client is made
    import openai

__all__ = ["OpenAIChatClient", "SERVER_FORMATS"]

#: Servers without auth ignore the key, but the openai package insists on one.
_PLACEHOLDER_KEY = "none"
#: The most text (answer and reasoning) kept from one reply: far above any step a 7-8B model
#: writes within its token limits (~16 000 characters for 4 096 tokens), low enough that a
#: runaway server cannot take the memory. A reply is cut there and ends as ``length``.
MAX_REPLY_CHARS = 400_000
#: Longest piece of a server's message put into a one-line error.
_MESSAGE_LIMIT = 300


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


async def within(awaitable: Any, timeout_s: float) -> Any:
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
            # cannot grow without end.
            http_client=openai.DefaultAsyncHttpxClient(transport=BoundedTransport()),
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
        response_format: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> AsyncIterator[ChatChunk]:
        """Stream one completion; raises :class:`~backends.errors.BackendError` subclasses."""
        request: dict[str, Any] = {
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

    def _format_key(self, response_format: dict[str, Any]) -> _FormatKey:
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

    async def _stream_once(self, request: dict[str, Any]) -> AsyncGenerator[ChatChunk, None]:
        response_format = request.get("response_format")
        try:
            stream = await within(
                self._client.chat.completions.create(**request), self.stall_timeout_s
            )
        except asyncio.TimeoutError:
            raise self._stall_error() from None
        except self._openai.APIError as err:
            raise await self._map_error(err, response_format) from err

        content_type = stream.response.headers.get("content-type", "")
        if "html" in content_type:  # a proxy or login page, not the model server
            await stream.close()
            raise ServerError(
                f"the server at {self.base_url} answered with a web page, not an OpenAI stream "
                "(is the endpoint URL right?)"
            )
        chunks = stream.__aiter__()
        finish_reason: str | None = None
        got_text = False
        received = 0
        # Only progress (text, a finish, usage) counts against the stall timeout: a server
        # that keeps sending empty deltas is as stuck as one that sends nothing.
        last_progress = time.monotonic()
        try:
            while True:
                left = self.stall_timeout_s - (time.monotonic() - last_progress)
                try:
                    if left <= 0:
                        raise asyncio.TimeoutError
                    raw = await within(chunks.__anext__(), left)
                except StopAsyncIteration:
                    break
                except asyncio.TimeoutError:
                    raise self._stall_error() from None
                except self._openai.APIConnectionError as err:  # timeouts included
                    from backends.bounded_stream import MAX_EVENT_BYTES, too_large

                    if too_large(err):
                        raise StreamDropped(
                            f"the server at {self.base_url} sent more than "
                            f"{MAX_EVENT_BYTES // 2**20} MB without ending a stream event"
                        ) from err
                    raise StreamDropped(
                        f"the server at {self.base_url} closed the stream before the answer "
                        "was complete"
                    ) from err
                except self._openai.APIError as err:  # an error event inside the stream
                    raise ServerError(
                        f"the server reported an error mid-answer: {_one_line(err.message)}"
                    ) from err
                except ValueError as err:  # json.JSONDecodeError from the SSE decoder
                    raise StreamDropped(
                        f"the server at {self.base_url} sent stream data that is not JSON"
                    ) from err
                try:
                    chunk = self._convert(raw)
                except (AttributeError, TypeError, ValueError, IndexError) as err:
                    raise StreamDropped(
                        f"the server at {self.base_url} sent a stream chunk that is not an "
                        "OpenAI chat chunk"
                    ) from err
                if chunk is None:
                    continue
                last_progress = time.monotonic()
                received += len(chunk.content) + len(chunk.reasoning)
                if received > self.max_chars:
                    # A runaway reply: end it here as if the model hit its token limit, so one
                    # answer cannot take the machine's memory (docs/decisions.md); the step
                    # keeps REPLY_CUT, so the chain says it was cut.
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
            await stream.close()
        if finish_reason is None:
            raise StreamDropped(
                f"the stream from {self.base_url} ended before the model finished "
                "(no finish_reason)"
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
    def _convert(raw: Any) -> ChatChunk | None:
        """One SSE chunk as a ChatChunk, or None when it carries nothing (role-only deltas)."""
        usage = None
        if getattr(raw, "usage", None) is not None:
            usage = Usage(
                prompt_tokens=_count(getattr(raw.usage, "prompt_tokens", None)),
                completion_tokens=_count(getattr(raw.usage, "completion_tokens", None)),
            )
        content = reasoning = ""
        finish_reason = None
        if raw.choices:
            choice = raw.choices[0]
            delta = choice.delta
            finish_reason = _text(choice.finish_reason) or None
            if delta is not None:
                content = _text(delta.content)
                extra = getattr(delta, "model_extra", None) or {}
                # LMDeploy and DeepSeek send reasoning_content, current vLLM sends reasoning.
                for name in ("reasoning_content", "reasoning"):
                    value = getattr(delta, name, None) or extra.get(name)
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
        err: "openai.APIError",
        response_format: dict[str, Any] | None,
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
    def _refuses_format(status: int, said: str, response_format: dict[str, Any]) -> bool:
        if status not in (400, 422, 500):
            return False
        # llama.cpp answers an unsupported schema with a bare 500 that names nothing.
        if status >= 500 and response_format.get("type") == "json_schema":
            return True
        lowered = said.lower()
        return any(k in lowered for k in ("response_format", "json_schema", "json_object"))

    @staticmethod
    def _server_message(err: "openai.APIStatusError") -> str:
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
        except Exception:  # a streamed response whose body was never read
            return ""

    async def _model_not_found_line(self, said: str) -> str:
        try:
            page = await asyncio.wait_for(self._client.models.list(), 5.0)
            served = [m.id for m in page.data]
        except Exception:  # best effort: the listing is only a hint
            line = str(model_not_served(self.base_url, self.model, []))
            return line + (f" (HTTP 404: {said})" if said else " (HTTP 404)")
        return str(model_not_served(self.base_url, self.model, served))


def _text(value: Any) -> str:
    """A text field of a chunk; anything but a string (a server's bug) counts as absent."""
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int | None:
    """A token count; anything but a non-negative int counts as not reported."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


#: Fields of a ``/v1/models`` entry that servers use for the context length, most specific first.
_CONTEXT_FIELDS = ("max_model_len", "context_length", "context_window", "n_ctx", "session_len")


def context_of(entry: dict[str, Any]) -> int | None:
    """The context length in one ``/v1/models`` entry's extra fields (also under ``meta``,
    where llama.cpp's server puts ``n_ctx_train``), or None."""
    meta = entry.get("meta")
    for place in (entry, meta if isinstance(meta, dict) else {}):
        for name in (*_CONTEXT_FIELDS, "n_ctx_train"):
            value = place.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None
