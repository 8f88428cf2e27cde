"""g1: the step chain of the o1-like tutorials (Llama-3.1 and Qwen2.5).

The conversation is the tutorials': system prompt, the question, the assistant primer
turn; then one call a step, each answered with ``{"title", "content", "next_action"}``
JSON that is appended to the conversation as the assistant's turn; the chain stops at
``next_action == "final_answer"`` or after ``max_steps`` steps (status ``step_limit``), and
one last call asks for the final answer in plain words.

Choices made here, and why:

- Language: ``options.lang`` or the question's (:mod:`tui.lang`) picks the English prompt
  (temperature 0.0, 300 tokens a step, 500 for the final answer) or the Chinese one (0.2,
  1000, 1000), as the tutorials did.
- JSON: asked for with ``response_format`` ``json_schema`` (strict, name ``step``), which
  LMDeploy and vLLM turn into guided decoding. A server that refuses it gets ``json_object``
  (with the schema under ``"schema"``, which llama.cpp's server uses and others ignore), then
  no response_format at all; the first refusal is remembered for the rest of the chain.
- Prefix caching: each appended step is one canonical ``json.dumps`` of what was understood
  (as the tutorials do), and earlier turns are never rewritten, so request N+1's messages
  start with request N's byte for byte and the server reuses its cached prefix.
- Tolerance: code fences, prose around the JSON, a missing ``next_action`` (taken as
  ``continue``) and JSON cut off at the token limit (title/content recovered, step marked
  ``finish_reason="length"``) are all understood. Output that cannot be understood becomes a
  step with the raw text, ``parsed=False``, titled "Unparsed step".
- Failures: a step whose call fails with a retryable error, or whose output cannot be
  parsed, is tried again at most ``options.step_retries`` times (an unparseable reply is
  retried a little warmer, since greedy decoding would repeat it). Every new attempt sends
  ``StepStarted`` for the same index again: listeners drop what the failed attempt showed.
  Two unparseable steps in a row end the reasoning (the final answer is still asked for).
- Repetition: a step that repeats an earlier one, or a run of steps that add nothing new
  (:mod:`tui.core.repetition`), ends the reasoning too; that step is marked ``finish_reason =
  "repeated"`` and the final answer is asked for (status ``done``).
- Streaming: while a step's JSON streams, ``StepDelta`` carries the decoded ``content`` text
  (never JSON) and the title as soon as its string is complete.
- Timing: a step's ``elapsed_s`` covers all its attempts (what the user waited);
  ``ttft_s`` and token counts are those of the attempt that was kept. The final-answer
  call's tokens go to the chain's total (``answer_tokens``), as its time goes to ``total_s``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from backends.client import REPLY_CUT, ChatClient
from backends.errors import BackendError, ResponseFormatUnsupported, ServerError
from tui.core.chain import (
    AnswerDelta,
    AnswerFinished,
    Event,
    Status,
    Step,
    StepDelta,
    StepFinished,
    StepStarted,
)
from tui.core.repetition import REPEATED, RepetitionCheck
from tui.core.stepparse import ParsedStep, StepExtractor, clean_title, parse_step
from tui.core.strategies.base import (
    CallStats,
    StrategyOptions,
    build_step,
    conversation,
    timed_stream,
)
from tui.core.strategies.prompts import G1_PROMPTS, G1Prompts
from tui.lang import normalize_lang
from tui.sanitize import clean

#: The JSON schema of one step (guided decoding keeps small models inside it).
STEP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "content": {"type": "string"},
        "next_action": {"type": "string", "enum": ["continue", "final_answer"]},
    },
    "required": ["title", "content", "next_action"],
    "additionalProperties": False,
}

#: response_format values, most to least guided; None sends no response_format.
RESPONSE_FORMATS: tuple[dict[str, Any] | None, ...] = (
    {"type": "json_schema", "json_schema": {"name": "step", "strict": True, "schema": STEP_SCHEMA}},
    {"type": "json_object", "schema": STEP_SCHEMA},
    None,
)

#: This many unparseable steps in a row end the reasoning.
MAX_UNPARSED_IN_A_ROW = 2

#: Lowest temperature for retrying an unparseable step (greedy would say the same again).
RETRY_TEMPERATURE = 0.5

UNPARSED_TITLE = "Unparsed step"


class _FormatLadder:
    """The response_format in use, stepping down when the server refuses one."""

    def __init__(self) -> None:
        self._rung = 0
        #: The server has accepted the current format once: a later "refusal" (llama.cpp's
        #: bare 500 looks like one) is a server failure, not a format problem.
        self.accepted = False

    @property
    def current(self) -> dict[str, Any] | None:
        return RESPONSE_FORMATS[self._rung]

    def step_down(self) -> bool:
        """Use the next, less demanding format; False when there is none left or the current
        one already worked."""
        if self.accepted or self._rung + 1 >= len(RESPONSE_FORMATS):
            return False
        self._rung += 1
        return True


@dataclass
class _Run:
    """What every request of one chain shares: the conversation so far, where it goes, and
    how it is sampled (the format ladder remembers what the server refused)."""

    messages: list[dict[str, str]]
    client: ChatClient
    options: StrategyOptions
    prompts: G1Prompts
    temperature: float
    formats: _FormatLadder


@dataclass
class _StepResult:
    """What one step produced (async generators cannot return values)."""

    step: Step | None = None
    parsed: ParsedStep | None = None


class _AnswerStream:
    """Display text of the final answer as it streams.

    The final request asks for plain words, but a model that was told "respond in JSON"
    many times may answer in JSON anyway; then only its ``content`` is shown and kept.
    """

    def __init__(self) -> None:
        self._mode: str | None = None  # None until the first visible character, then json/text
        self._extractor = StepExtractor()
        self.raw: list[str] = []

    def feed(self, text: str) -> str:
        self.raw.append(text)
        if self._mode is None:
            so_far = "".join(self.raw).lstrip()
            if not so_far:
                return ""
            self._mode = "json" if so_far[0] in "{`" else "text"
            text = "".join(self.raw)
        if self._mode == "json":
            return self._extractor.feed(text)
        return text

    def final_text(self) -> str:
        raw = "".join(self.raw)
        if self._mode == "json":
            parsed = parse_step(raw)
            if parsed.parsed:
                return parsed.content
        return raw.strip()


class G1Strategy:
    """The g1 step chain (see the module docstring)."""

    name = "g1"

    def default_temperature(self, lang: str) -> float:
        return G1_PROMPTS[normalize_lang(lang, "")].temperature

    async def run(
        self, question: str, client: ChatClient, options: StrategyOptions
    ) -> AsyncGenerator[Event, None]:
        prompts = G1_PROMPTS[normalize_lang(options.lang, question)]
        temperature = (
            options.temperature if options.temperature is not None else prompts.temperature
        )
        messages: list[dict[str, str]] = [
            *conversation(question, options, prompts.system),
            {"role": "assistant", "content": prompts.primer},
        ]
        run = _Run(messages, client, options, prompts, temperature, _FormatLadder())
        repeats = RepetitionCheck()
        status = Status.DONE
        unparsed_in_a_row = 0
        index = 0
        while True:
            if index >= max(1, options.max_steps):
                status = Status.STEP_LIMIT
                break
            index += 1
            result = _StepResult()
            async for event in self._step(run, index, result):
                yield event
            assert result.step is not None and result.parsed is not None
            messages.append({"role": "assistant", "content": _as_message(result)})
            step = result.step
            repeating = not result.parsed.is_final and repeats.observe(
                index, step.title, step.content
            )
            if repeating:
                step.finish_reason = REPEATED  # saved with the step: the chain's note
            yield StepFinished(step)
            if result.parsed.is_final or repeating:
                break
            unparsed_in_a_row = 0 if result.step.parsed else unparsed_in_a_row + 1
            if unparsed_in_a_row >= MAX_UNPARSED_IN_A_ROW:
                break

        messages.append({"role": "user", "content": prompts.final_request})
        async for event in self._final_answer(run, status):
            yield event

    async def _step(self, run: _Run, index: int, result: _StepResult) -> AsyncIterator[Event]:
        """One step, with its bounded retries; fills ``result``."""
        options, prompts, formats, temperature = (
            run.options,
            run.prompts,
            run.formats,
            run.temperature,
        )
        retries_left = max(0, options.step_retries)
        began = time.perf_counter()
        warmer = False
        while True:
            yield StepStarted(index, "")
            stats = CallStats()
            extractor = StepExtractor()
            shown_title: str | None = None
            try:
                async for chunk in timed_stream(
                    run.client,
                    run.messages,
                    stats,
                    temperature=max(temperature, RETRY_TEMPERATURE) if warmer else temperature,
                    max_tokens=options.max_tokens or prompts.step_max_tokens,
                    response_format=formats.current,
                    extra_body=options.extra_body,
                ):
                    piece = clean(extractor.feed(chunk.content)) if chunk.content else ""
                    title = None
                    if extractor.title is not None and extractor.title != shown_title:
                        shown_title = extractor.title
                        title = clean_title(shown_title) or None
                    if piece or title:
                        yield StepDelta(index, piece, title=title)
            except ResponseFormatUnsupported as err:
                if formats.current is not None and formats.step_down():
                    continue  # the server's limitation, not the step's: no retry spent
                if not formats.accepted:
                    raise
                # This format worked before: it is a server failure, not a refusal.
                if retries_left > 0:
                    retries_left -= 1
                    continue
                said = f": {err.said}" if err.said else ""
                raise ServerError(
                    f"the server failed during step {index} (HTTP {err.status}){said}"
                ) from err
            except BackendError as err:
                if err.retryable and retries_left > 0:
                    retries_left -= 1
                    continue
                raise
            formats.accepted = True
            parsed = parse_step(
                stats.content, truncated=stats.finish_reason in ("length", REPLY_CUT)
            )
            if not parsed.parsed and retries_left > 0:
                retries_left -= 1
                warmer = True
                continue
            break

        title = parsed.title if parsed.parsed else (parsed.title or UNPARSED_TITLE)
        result.parsed = parsed
        result.step = build_step(
            index,
            title or f"Step {index}",
            parsed.content,
            elapsed_s=time.perf_counter() - began,
            ttft_s=stats.ttft_s,
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=stats.completion_tokens,
            parsed=parsed.parsed,
            finish_reason=stats.finish_reason,
        )

    async def _final_answer(self, run: _Run, status: Status) -> AsyncIterator[Event]:
        """The final-answer request: plain words, streamed as AnswerDelta."""
        client, messages, options, prompts = run.client, run.messages, run.options, run.prompts
        temperature = run.temperature
        retries_left = max(0, options.step_retries)
        while True:
            stats = CallStats()
            answer = _AnswerStream()
            shown = False
            try:
                async for chunk in timed_stream(
                    client,
                    messages,
                    stats,
                    temperature=temperature,
                    max_tokens=options.final_max_tokens or prompts.final_max_tokens,
                    extra_body=options.extra_body,
                ):
                    piece = clean(answer.feed(chunk.content)) if chunk.content else ""
                    if piece:
                        shown = True
                        yield AnswerDelta(piece)
            except BackendError as err:
                # A half-shown answer is not replayed: retry only when nothing was shown.
                if err.retryable and retries_left > 0 and not shown:
                    retries_left -= 1
                    continue
                raise
            break
        # The call's tokens belong to the chain's total as its time does (the kept attempt's,
        # as for a step).
        yield AnswerFinished(
            clean(answer.final_text()), status=status, completion_tokens=stats.completion_tokens
        )


def _as_message(result: _StepResult) -> str:
    """The assistant turn appended for a step: one canonical JSON text (never re-formatted
    later, so the conversation prefix stays byte-identical)."""
    assert result.parsed is not None and result.step is not None
    if result.parsed.parsed:
        return result.parsed.to_message()
    return ParsedStep(
        title=result.step.title, content=result.parsed.content, next_action="continue"
    ).to_message()
