"""Errors a model backend raises, each with one clear line for the user.

Strategies and the CLI catch :class:`BackendError` and show ``str(err)``; never a traceback.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base of every error that comes from talking to a model or a model server."""

    #: Whether retrying the same request may succeed (connection errors, 5xx, dropped stream).
    retryable: bool = False


class ConnectError(BackendError):
    """The server could not be reached (refused, DNS, reset before any response)."""

    retryable = True


class TimeoutError_(BackendError):
    """No response, or no token for longer than the configured timeout."""

    retryable = True


class AuthError(BackendError):
    """401/403: wrong or missing API key."""


class ModelNotFound(BackendError):
    """404 for the model, or a model name the server does not serve."""


class RateLimited(BackendError):
    """429 from the server."""

    retryable = True


class ServerError(BackendError):
    """5xx or an unexpected HTTP status; the message carries the server's own words."""

    retryable = True


class BadRequest(BackendError):
    """400/422: the server refused the request (e.g. an unsupported parameter)."""


class ResponseFormatUnsupported(BackendError):
    """The server refused ``response_format`` of the type asked (llama.cpp: 500 on json_schema).

    A 500 is ambiguous (a refusal or a real failure), so the HTTP status and the server's own
    words travel with the error for callers that know which it was.
    """

    def __init__(self, message: str, *, status: int | None = None, said: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.said = said


class StreamDropped(BackendError):
    """The stream ended without a finish_reason / [DONE], or sent data that is not JSON."""

    retryable = True


class ContextLengthExceeded(BackendError):
    """The conversation no longer fits (LMDeploy: empty content with finish_reason=length)."""
