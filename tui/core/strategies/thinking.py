"""thinking: InternLM3-8B-Instruct's "thinking mode" (its model card).

One streamed answer to the model card's thinking system prompt (kept word for word,
``[[8192]]`` token budget included), cut into steps at its section headings as it streams:
a Markdown heading (``#`` to ``####``) or a line that is all bold starts a new step; text
before the first heading is a step of its own. The final answer is the content of the last
``\\boxed{...}`` (nested braces allowed), else the last paragraph.

Sampling: temperature 0.0 and ``max_tokens`` 8192 by default — deterministic, so runs are
comparable with g1 (also greedy), and the budget the prompt announces. The model card's own
sampling (temperature 1, top_p 0.8, top_k 40, repetition_penalty 1.005) can be had with
``StrategyOptions(temperature=1.0, extra_body={...})``.

Per-step timing and token counts: see :class:`tui.core.strategies.base.StreamedSteps`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

from backends.client import ChatClient
from tui.core.chain import AnswerFinished, Event
from tui.core.sections import SectionSplitter, last_boxed, last_paragraph
from tui.core.strategies.base import (
    CallStats,
    StrategyOptions,
    StreamedSteps,
    conversation,
    first_sentence,
    timed_stream,
)
from tui.core.strategies.prompts import THINKING_SYSTEM
from tui.sanitize import clean

DEFAULT_TEMPERATURE = 0.0
DEFAULT_MAX_TOKENS = 8192


def _untitled(index: int, content: str) -> str:
    return first_sentence(content) or f"Step {index}"


class ThinkingStrategy:
    """InternLM3's thinking mode, split into steps at headings."""

    name = "thinking"

    def default_temperature(self, lang: str) -> float:
        return DEFAULT_TEMPERATURE

    async def run(
        self, question: str, client: ChatClient, options: StrategyOptions
    ) -> AsyncGenerator[Event, None]:
        messages = conversation(question, options, THINKING_SYSTEM)
        stats = CallStats()
        splitter = SectionSplitter()
        steps = StreamedSteps(stats, untitled=_untitled)
        async for chunk in timed_stream(
            client,
            messages,
            stats,
            **options.sampling(DEFAULT_TEMPERATURE, DEFAULT_MAX_TOKENS),
        ):
            now = time.perf_counter()
            for event in steps.apply(splitter.feed(chunk.content), now):
                yield event
            steps.tick(now)
        now = time.perf_counter()
        for event in steps.apply(splitter.close(), now) + steps.finish(now, final_usage=True):
            yield event
        text = stats.content
        answer = last_boxed(text)
        if answer is None:
            answer = last_paragraph(text)
        yield AnswerFinished(clean(answer))
