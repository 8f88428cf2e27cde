"""A bound on what one server-sent event may hold before it ends.

The ``openai`` package decodes the SSE stream line by line and event by event, buffering until
a newline (a line) and a blank line (an event) arrive. A server that streams bytes with neither
(whitespace with no newline, ``data:`` lines without the blank line that ends the event) makes
that buffer grow until the stall timeout, and then again on each retry. The HTTP transport made
here hands the package the same bytes, but ends the response with :class:`EventTooLarge` once
``limit`` bytes have arrived since the last blank line.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import anyio

try:  # the HTTP library the installed ``openai`` package is built on
    import httpx2 as httpx
except ImportError:  # pragma: no cover - openai releases built on httpx
    import httpx  # type: ignore[no-redef,import-not-found,unused-ignore]

#: Bytes one event may hold: chunks of a 7-8B model's stream are a few hundred bytes, and a
#: reply is cut at 400 000 characters anyway (backends.openai_client.MAX_REPLY_CHARS).
MAX_EVENT_BYTES = 4 * 2**20


#: What reading a response's body raises when the connection fails (the errors the ``openai``
#: package reports as a connection error): dropped, reset, timed out, bad TLS, the bound below.
READ_ERRORS: tuple[type[BaseException], ...] = (httpx.RequestError, ssl.SSLError, anyio.EndOfStream)


class EventTooLarge(httpx.ReadError):  # a read error: the package reports it as a connection error
    """More than the limit arrived without an event ending."""


class _Bounded(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        since = 0  # bytes since the last blank line (end of an event)
        tail = b""
        async for chunk in self._inner:
            seen = tail + chunk
            end = max(seen.rfind(b"\n\n"), seen.rfind(b"\r\n\r\n"))
            since = len(seen) - end if end >= 0 else since + len(chunk)
            if since > self._limit:
                raise EventTooLarge(f"more than {self._limit} bytes without the end of an event")
            tail = seen[-3:]
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class BoundedTransport(httpx.AsyncHTTPTransport):
    """An ``AsyncHTTPTransport`` whose responses end at :data:`MAX_EVENT_BYTES` per event."""

    def __init__(self, *, limits: httpx.Limits | None = None, limit: int = MAX_EVENT_BYTES) -> None:
        """``limits``: the connection pool's (None: the HTTP library's default)."""
        if limits is None:
            super().__init__()
        else:
            super().__init__(limits=limits)
        self._limit = limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        # The transport's responses stream asynchronously (httpx's AsyncResponseStream).
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Bounded(response.stream, self._limit)
        return response


def too_large(err: BaseException) -> bool:
    """Whether ``err`` (or what caused it) is :class:`EventTooLarge`."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, EventTooLarge):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
