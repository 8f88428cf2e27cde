"""native: models that reason by themselves (DeepSeek-R1 distills, Qwen3).

The question goes alone (DeepSeek advises no system prompt for R1). The model's thinking
arrives one of two ways, and both are handled in one stream:

- as ``reasoning_content``/``reasoning`` delta fields (servers with a reasoning parser:
  LMDeploy and DeepSeek send the first, current vLLM the second), content being the answer;
- inside the content, between ``<think>`` and ``</think>``. R1's chat template puts
  ``<think>`` into the prompt, so the reply often has only the closing tag: text is taken
  to be thinking until ``</think>``.

Thinking becomes steps: cut at headings, else at a blank line once a step holds about
:data:`PARAGRAPH_CHARS` characters; a step's title is its heading or its first sentence.
The rest is the answer, streamed as AnswerDelta.

A reply with no tags and no reasoning fields (a model that does not think aloud) was shown
as thinking while it streamed; its final answer is then its last paragraph — the same rule
as the thinking strategy — or nothing when the reply was cut off at the token limit
(a cut-off thought is not an answer).

Sampling: temperature 0.6 and 8192 tokens by default, what DeepSeek and Qwen recommend for
thinking (greedy decoding makes these models repeat themselves endlessly).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

from backends.client import REPLY_CUT, ChatClient
from tui.core.chain import AnswerDelta, AnswerFinished, Event
from tui.core.sections import Answer, SectionSplitter, Think, ThinkSplitter, last_paragraph
from tui.core.strategies.base import (
    CallStats,
    StrategyOptions,
    StreamedSteps,
    conversation,
    first_sentence,
    timed_stream,
)
from tui.sanitize import clean

DEFAULT_TEMPERATURE = 0.6
DEFAULT_MAX_TOKENS = 8192
#: A thinking step ends at the first blank line after this many characters.
PARAGRAPH_CHARS = 400


def _untitled(index: int, content: str) -> str:
    return first_sentence(content) or f"Thinking {index}"


class NativeStrategy:
    """Reasoning models' own thinking, as steps; the rest as the answer."""

    name = "native"

    def default_temperature(self, lang: str) -> float:
        return DEFAULT_TEMPERATURE

    async def run(
        self, question: str, client: ChatClient, options: StrategyOptions
    ) -> AsyncGenerator[Event, None]:
        stats = CallStats()
        sections = SectionSplitter(paragraph_chars=PARAGRAPH_CHARS)
        steps = StreamedSteps(stats, untitled=_untitled)
        tags: ThinkSplitter | None = None  # made at the first content, see below
        saw_reasoning = False
        answer: list[str] = []
        answer_chunks = 0
        async for chunk in timed_stream(
            client,
            conversation(question, options),
            stats,
            **options.sampling(DEFAULT_TEMPERATURE, DEFAULT_MAX_TOKENS),
        ):
            now = time.perf_counter()
            events: list[Event] = []
            if chunk.reasoning:
                saw_reasoning = True
                events += steps.apply(sections.feed(chunk.reasoning), now)
            got_answer = False
            if chunk.content:
                if tags is None:
                    # Reasoning already came in its own field: the content is the answer.
                    tags = ThinkSplitter(starts_thinking=not saw_reasoning)
                for piece in tags.feed(chunk.content):
                    if isinstance(piece, Think):
                        events += steps.apply(sections.feed(piece.text), now)
                    elif isinstance(piece, Answer):
                        events += self._answer_piece(piece.text, answer, steps, sections, now)
                        got_answer = True
            if got_answer and not steps.is_open:
                answer_chunks += 1
            else:
                steps.tick(now)
            for event in events:
                yield event

        now = time.perf_counter()
        events = []
        if tags is not None:
            for piece in tags.close():
                if isinstance(piece, Think):
                    events += steps.apply(sections.feed(piece.text), now)
                else:
                    events += self._answer_piece(piece.text, answer, steps, sections, now)
        events += steps.apply(sections.close(), now)
        events += steps.finish(now, final_usage=True, reserved_tokens=answer_chunks)
        for event in events:
            yield event

        if saw_reasoning or (tags is not None and tags.saw_tag):
            text = "".join(answer).strip()
        elif stats.finish_reason in ("length", REPLY_CUT):
            text = ""
        else:
            text = last_paragraph(stats.content)
        yield AnswerFinished(clean(text), completion_tokens=answer_chunks or None)

    @staticmethod
    def _answer_piece(
        text: str,
        answer: list[str],
        steps: StreamedSteps,
        sections: SectionSplitter,
        now: float,
    ) -> list[Event]:
        """Answer text: the thinking is over, so its last step finishes first."""
        events: list[Event] = []
        if not answer:
            events += steps.apply(sections.close(), now)
            events += steps.finish(now)
            text = text.lstrip()
            if not text:
                return events
        answer.append(text)
        piece = clean(text)
        if piece:
            events.append(AnswerDelta(piece))
        return events
