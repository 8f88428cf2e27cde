"""plain: one direct answer, the baseline the tutorials compare the reasoning chains with.

The question goes alone, no system prompt, temperature 0.0 (like g1, so the comparison is
fair) and 2048 tokens by default.

The answer is recorded twice, on purpose: as one step titled "Answer" — streamed with
StepDelta, finished with its wall time, time to first token and token usage, so plain
chains show and store the same measurements as the others — and as the chain's final answer
(AnswerFinished, no AnswerDelta: the step already streamed the text). A view that shows
both may collapse a single "Answer" step into the final answer.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

from backends.client import ChatClient
from tui.core.chain import AnswerFinished, Event
from tui.core.strategies.base import (
    CallStats,
    StrategyOptions,
    StreamedSteps,
    conversation,
    timed_stream,
)
from tui.sanitize import clean

DEFAULT_TEMPERATURE = 0.0
DEFAULT_MAX_TOKENS = 2048
STEP_TITLE = "Answer"


class PlainStrategy:
    """One direct answer, as one step and as the final answer."""

    name = "plain"

    def default_temperature(self, lang: str) -> float:
        return DEFAULT_TEMPERATURE

    async def run(
        self, question: str, client: ChatClient, options: StrategyOptions
    ) -> AsyncGenerator[Event, None]:
        stats = CallStats()
        steps = StreamedSteps(stats, untitled=lambda index, content: STEP_TITLE)
        async for chunk in timed_stream(
            client,
            conversation(question, options),
            stats,
            **options.sampling(DEFAULT_TEMPERATURE, DEFAULT_MAX_TOKENS),
        ):
            now = time.perf_counter()
            for event in steps.text(chunk.content, now) if chunk.content else []:
                yield event
            steps.tick(now)
        for event in steps.finish(time.perf_counter(), final_usage=True):
            yield event
        yield AnswerFinished(clean(stats.content.strip()))
