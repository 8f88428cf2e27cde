"""What every strategy shares: the interface, the options, and the one timed model call.

A strategy is an object with a ``name`` and an async generator method
``run(question, client, options)`` that yields :mod:`tui.core.chain` events. It holds no state
between runs (all state lives in the generator), so one strategy object can drive many
chains at once.

Measuring is done in one place, :func:`timed_stream`: wall time with
``time.perf_counter()``, time to the first token, the server's token usage and the
finish_reason, while the deltas go through to the strategy unchanged.

Strategies that cut one long reply into steps (thinking, native) share
:class:`StreamedSteps`, which turns headings, text and paragraph breaks into
StepStarted/StepDelta/StepFinished with each step's own wall time.

Text stored in a :class:`~tui.core.chain.Step` (and the final answer) goes through
:func:`tui.sanitize.clean` first: the history keeps what the model said minus terminal
control sequences and lone surrogates (which SQLite's UTF-8 cannot store), so whatever reads
the history later — the app, an export, a pipe — gets safe text. Deltas are cleaned too
(cheap, and a renderer that forgets to clean stays safe).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from backends.client import ChatChunk, ChatClient
from tui.core.chain import Event, Step, StepDelta, StepFinished, StepStarted
from tui.core.sections import Break, Heading, Piece, Text
from tui.sanitize import clean, clean_line


@dataclass(frozen=True)
class StrategyOptions:
    """How to run a chain. ``None`` means "the strategy's own default" (documented per
    strategy: g1 takes temperature and token limits from its prompt language)."""

    #: ``"en"``/``"zh"``; None: detected from the question (g1's prompt choice).
    lang: str | None = None
    #: g1: most steps before the final-answer request (the chain then ends as step_limit).
    max_steps: int = 25
    #: How many times one failing step (retryable backend error, unparseable output) is
    #: tried again before giving up on it.
    step_retries: int = 1
    #: Sampling temperature; None: the strategy's default.
    temperature: float | None = None
    #: Token limit per call (g1: per step); None: the strategy's default.
    max_tokens: int | None = None
    #: g1: token limit of the final-answer call; None: from the prompt language.
    final_max_tokens: int | None = None
    #: Extra request fields passed to the server as they are (top_k, repetition_penalty...).
    extra_body: dict[str, Any] | None = None
    #: A follow-up's earlier turns (tui.core.threads): user/assistant messages, each earlier
    #: question and its final answer, oldest first; sent after the system prompt.
    earlier: tuple[dict[str, str], ...] = ()

    def with_lang(self, lang: str) -> StrategyOptions:
        return replace(self, lang=lang)

    def sampling(self, temperature: float, max_tokens: int) -> dict[str, Any]:
        """:func:`timed_stream`'s sampling arguments: these options over the strategy's
        defaults ``temperature`` and ``max_tokens``."""
        return {
            "temperature": self.temperature if self.temperature is not None else temperature,
            "max_tokens": self.max_tokens or max_tokens,
            "extra_body": self.extra_body,
        }


def conversation(
    question: str, options: StrategyOptions, system: str | None = None
) -> list[dict[str, str]]:
    """The opening messages of a chain: the strategy's own system prompt (unchanged), a
    follow-up's earlier turns, then the question."""
    head = [{"role": "system", "content": system}] if system is not None else []
    return [*head, *(dict(m) for m in options.earlier), {"role": "user", "content": question}]


class Strategy(Protocol):
    """One way of getting reasoning out of a model."""

    #: The registry name (``g1``, ``thinking``, ``plain``, ``native``).
    name: str

    def default_temperature(self, lang: str) -> float:
        """The sampling temperature the strategy uses when the options give none (``lang``
        is ``"en"``/``"zh"``: g1's prompts differ)."""
        ...

    def run(
        self, question: str, client: ChatClient, options: StrategyOptions
    ) -> AsyncGenerator[Event, None]:
        """Yield events for one chain; the last one is an AnswerFinished.

        Raises :class:`backends.errors.BackendError` when the model cannot be reached or
        fails beyond the strategy's retries; the runner turns that into status error.
        """
        ...


@dataclass
class CallStats:
    """Measurements of one streamed call, filled in by :func:`timed_stream` as it goes."""

    started: float = 0.0  # perf_counter at the request
    first_token_at: float | None = None
    ended: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    chunks: int = 0  # chunks that carried text (servers stream about one token a chunk)
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)

    @property
    def elapsed_s(self) -> float:
        end = self.ended if self.ended is not None else time.perf_counter()
        return max(0.0, end - self.started)

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started

    @property
    def content(self) -> str:
        return "".join(self.text)


async def timed_stream(
    client: ChatClient,
    messages: list[dict[str, str]],
    stats: CallStats,
    *,
    temperature: float,
    max_tokens: int | None,
    response_format: dict[str, Any] | None = None,
    extra_body: dict[str, Any] | None = None,
) -> AsyncIterator[ChatChunk]:
    """Stream one call through ``client``, recording timing and usage into ``stats``.

    Yields every chunk that carries text (content or reasoning). ``stats.ended`` is set even
    when the call fails or is cancelled, so a failed step still has its wall time. Token
    counts come from the server's usage, else from the number of text chunks.
    """
    stats.started = time.perf_counter()
    try:
        async for chunk in client.stream_chat(
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            response_format=response_format,
            extra_body=extra_body,
        ):
            if chunk.usage is not None:
                if chunk.usage.prompt_tokens is not None:
                    stats.prompt_tokens = chunk.usage.prompt_tokens
                if chunk.usage.completion_tokens is not None:
                    stats.completion_tokens = chunk.usage.completion_tokens
            if chunk.finish_reason:
                stats.finish_reason = chunk.finish_reason
            if chunk.content or chunk.reasoning:
                if stats.first_token_at is None:
                    stats.first_token_at = time.perf_counter()
                stats.chunks += 1
                if chunk.content:
                    stats.text.append(chunk.content)
                if chunk.reasoning:
                    stats.reasoning.append(chunk.reasoning)
                yield chunk
    finally:
        stats.ended = time.perf_counter()
        if stats.completion_tokens is None and stats.chunks:
            # Servers that send no usage in streams (llama-cpp-python's) still send one token
            # per chunk, so the chunk count is the honest fallback.
            stats.completion_tokens = stats.chunks


def build_step(
    index: int,
    title: str,
    content: str,
    *,
    elapsed_s: float,
    ttft_s: float | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    parsed: bool = True,
    finish_reason: str | None = None,
) -> Step:
    """A finished Step with its text made safe to store (see the module docstring)."""
    return Step(
        index=index,
        title=clean_line(title, 200) or f"Step {index}",
        content=clean(content).strip(),
        elapsed_s=round(elapsed_s, 6),
        ttft_s=None if ttft_s is None else round(ttft_s, 6),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        parsed=parsed,
        finish_reason=finish_reason,
    )


def first_sentence(text: str, limit: int = 60) -> str:
    """A short title made from the start of a piece of text."""
    line = clean_line(text.strip().split("\n", 1)[0], 10_000)
    for stop in (". ", "? ", "! ", "。", "？", "！"):
        cut = line.find(stop)
        if 0 < cut < limit:
            line = line[: cut + len(stop.strip())]
            break
    return clean_line(line, limit)


class StreamedSteps:
    """Turn one streamed reply, cut at headings/paragraphs, into step events.

    Each step's wall time runs from its start (the call's start for the first step, so it
    includes the wait for the first token; the chunk that opened it for later ones) to the
    chunk that closed it. Per-step ``completion_tokens`` are the number of chunks the step
    received (servers stream about one token a chunk); when the call ends, the last step's
    count is corrected so the steps add up to the server's usage, when it was sent, and it
    carries the call's prompt tokens.
    """

    def __init__(
        self,
        stats: CallStats,
        *,
        untitled: Callable[[int, str], str] = lambda index, content: f"Step {index}",
    ) -> None:
        self._stats = stats
        self._untitled = untitled
        self.steps: list[Step] = []
        self._index = 0
        self._open = False
        self._title = ""
        self._titled = False
        self._text: list[str] = []
        self._started_at = 0.0
        self._chunks = 0
        self._last_chunk_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self._open

    def tick(self, now: float) -> None:
        """One more chunk arrived at ``now`` (counted against the open step)."""
        self._last_chunk_at = now
        if self._open:
            self._chunks += 1

    def apply(self, pieces: list[Piece], now: float) -> list[Event]:
        """Events for what a :class:`tui.core.sections.SectionSplitter` returned."""
        events: list[Event] = []
        for piece in pieces:
            if isinstance(piece, Heading):
                events += self.heading(piece.title, now)
            elif isinstance(piece, Text):
                events += self.text(piece.text, now)
            elif isinstance(piece, Break):
                events += self.cut(now)
        return events

    def heading(self, title: str, now: float) -> list[Event]:
        """A heading: starts a new step, unless the open one has no text yet (then it is
        re-titled: "# Solution" straight followed by "## Understanding")."""
        if self._open and not "".join(self._text).strip():
            self._title, self._titled = title, True
            return [StepDelta(self._index, "", title=clean_line(title, 200))]
        events = self.finish(now)
        events += self._start(title, now, titled=True)
        return events

    def text(self, text: str, now: float) -> list[Event]:
        """Text for the open step (opening one when there is none and the text is not blank)."""
        events: list[Event] = []
        if not self._open:
            if not text.strip():
                return events
            events += self._start("", now, titled=False)
            text = text.lstrip("\n")
        self._text.append(text)
        piece = clean(text)
        if piece:
            events.append(StepDelta(self._index, piece))
        return events

    def cut(self, now: float) -> list[Event]:
        """A paragraph break: finish the open step; the next text opens a new one."""
        return self.finish(now)

    def finish(
        self, now: float, *, final_usage: bool = False, reserved_tokens: int = 0
    ) -> list[Event]:
        """Finish the open step (if any). With ``final_usage`` the call is over: the step's
        token count absorbs what the usage says the chunk counts missed, minus
        ``reserved_tokens`` (tokens that went to text outside the steps, e.g. the answer)."""
        if not self._open:
            return []
        self._open = False
        content = "".join(self._text)
        tokens: int | None = self._chunks or None
        if final_usage and self._stats.completion_tokens is not None:
            rest = self._stats.completion_tokens - sum(s.completion_tokens or 0 for s in self.steps)
            rest -= reserved_tokens
            if rest > 0:
                tokens = rest
        title = self._title if self._titled else self._untitled(self._index, content)
        first = not self.steps
        step = build_step(
            self._index,
            title,
            content,
            elapsed_s=now - self._started_at,
            ttft_s=self._stats.ttft_s if first else None,
            prompt_tokens=self._stats.prompt_tokens if final_usage else None,
            completion_tokens=tokens,
            finish_reason=self._stats.finish_reason if final_usage else None,
        )
        self.steps.append(step)
        return [StepFinished(step)]

    def _start(self, title: str, now: float, *, titled: bool) -> list[Event]:
        self._index += 1
        self._open = True
        self._title, self._titled = title, titled
        self._text = []
        # The first step owns the wait for the first token; later ones start at their chunk.
        self._started_at = self._stats.started if not self.steps else now
        self._chunks = 0
        return [StepStarted(self._index, clean_line(title, 200))]
