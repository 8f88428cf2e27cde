"""The interface every chat backend offers the reasoning strategies.

One streaming call: messages in, :class:`ChatChunk` pieces out. The OpenAI-compatible
client (LMDeploy, vLLM, llama.cpp, hosted) and the in-process transformers backend both
implement :class:`ChatClient`, so strategies never know which one they talk to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

#: A JSON object sent to a server (``response_format``, ``extra_body``, a request body). A true
#: boundary: its values are whatever JSON the server's API takes, so they stay ``Any``.
JSONObject = dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """Token counts as the server reported them."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


#: ``finish_reason`` of a reply o1tui itself cut short at its size limit (a runaway server):
#: ended like ``length``, but the chain says why.
REPLY_CUT = "cut"


@dataclass(frozen=True)
class ChatChunk:
    """One piece of a streamed reply.

    ``content`` is answer text, ``reasoning`` is text a reasoning model sent as
    ``reasoning_content``/``reasoning``; ``finish_reason`` and ``usage`` arrive on the last
    chunks only.
    """

    content: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


class ChatClient(Protocol):
    """A model that streams chat completions."""

    #: The model name sent with each request (must match the served name).
    model: str

    def stream_chat(
        self,
        messages: list[dict[str, str]],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        response_format: JSONObject | None = None,
        extra_body: JSONObject | None = None,
    ) -> AsyncIterator[ChatChunk]:
        """Stream one completion. Raises :class:`backends.errors.BackendError` subclasses."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
