"""The root of o1tui's errors, and the errors a model backend raises.

Every error o1tui means a user to read derives from :class:`O1Error` (backend, history and
config errors, the CLI's usage errors): its ``str()`` is one line for the user, and the CLI
catches them with one handler. The root lives here, in the lower layer, because ``backends``
never imports ``tui``; ``tui`` takes it from here. Strategies catch :class:`BackendError`.
"""

from __future__ import annotations


class O1Error(Exception):
    """Base of every error o1tui reports to the user as one line (never a traceback)."""

    #: The CLI's exit status for this error (1: a failure; usage errors say 2).
    exit_code: int = 1


class BackendError(O1Error):
    """Base of every error that comes from talking to a model or a model server."""

    #: Whether retrying the same request may succeed (connection errors, 5xx, dropped stream).
    retryable: bool = False


class ConnectError(BackendError):
    """The server could not be reached (refused, DNS, reset before any response)."""

    retryable = True


class RequestTimeout(BackendError):
    """No response, or no token for longer than the configured timeout."""

    retryable = True


class AuthError(BackendError):
    """401/403: wrong or missing API key."""


class ModelNotFound(BackendError):
    """404 for the model, or a model name the server does not serve."""


def model_not_served(url: str, model: str, served: list[str]) -> ModelNotFound:
    """The one wording for a model the server at ``url`` does not serve (with what it does)."""
    listing = f"; it serves: {', '.join(served[:10])}" if served else ""
    return ModelNotFound(f"the server at {url} does not serve model {model!r}{listing}")


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
