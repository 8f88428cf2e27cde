"""Does the app keep up with a fast stream? 20 000 tokens at 2 000 tokens/s into the step widgets.

A headless ``run_test`` app gets the chain's events through the same ``on_event`` sink the
chain worker uses (one StepDelta per token, the worst case: servers often send several tokens
a chunk; the sink merges them into about one message a frame). Delivery follows the wall clock: at time t, 2 000·t tokens have been posted.

Reported:
- lag: from the last token posted to the last token in the step's Markdown document and one
  screen refresh after it;
- worst backlog during the run: tokens posted but not yet in a Markdown document, in seconds
  of stream;
- CPU seconds per 1 000 tokens (process time of the whole app, generator included).

Run: ``python bench/app_stream_bench.py [--tokens 20000] [--rate 2000] [--steps 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.app.app import O1App  # noqa: E402
from tui.core.chain import (  # noqa: E402
    AnswerFinished,
    Chain,
    ChainFinished,
    Status,
    Step,
    StepDelta,
    StepFinished,
    StepStarted,
)
from tui.core.config import Settings  # noqa: E402

WORDS = (
    "the",
    "model",
    "checks",
    "each",
    "case",
    "carefully,",
    "so",
    "that",
    "**sum**",
    "is",
    "`x + y`",
    "and",
    "then",
)


def token(i: int) -> str:
    """About four characters a token, with a paragraph break now and then and a list."""
    if i % 97 == 96:
        return "\n\n"
    if i % 211 == 0:
        return "\n- "
    return WORDS[i % len(WORDS)] + " "


async def bench(tokens: int, rate: float, steps: int, size: tuple[int, int]) -> dict:
    app = O1App(
        Settings(model="bench-model"), history=None, connect=False, env={"TERM": "xterm-256color"}
    )
    per_step = tokens // steps
    async with app.run_test(size=size) as pilot:
        chain = Chain(question="Benchmark question", strategy="g1", model="bench-model")
        view = app.chains.attach(chain)
        sink = app.chains.event_sink(chain.id)  # what the chain worker's on_event is
        await pilot.pause()
        texts: list[str] = []
        posted = 0
        worst_backlog = 0
        cpu0, t0 = time.process_time(), time.perf_counter()

        def drawn_tokens() -> int:
            # Characters already on screen (finished steps count whole).
            return sum(len(v.shown_text) for v in view.step_views())

        chars_per_posted: list[int] = []
        for s in range(1, steps + 1):
            sink(StepStarted(s, f"Step title {s}"))
            parts: list[str] = []
            for _ in range(per_step):
                # Pace by the wall clock.
                due = t0 + posted / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                text = token(posted)
                parts.append(text)
                sink(StepDelta(s, text))
                posted += 1
                chars_per_posted.append(len(text))
                if posted % 200 == 0:
                    sent_chars = sum(len(t) for t in texts) + sum(len(p) for p in parts)
                    behind = sent_chars - drawn_tokens()
                    worst_backlog = max(worst_backlog, behind)
            content = "".join(parts)
            texts.append(content)
            if s < steps:
                step = Step(
                    index=s,
                    title=f"Step title {s}",
                    content=content,
                    elapsed_s=per_step / rate,
                    completion_tokens=per_step,
                )
                sink(StepFinished(step))
        t_last = time.perf_counter()
        last = texts[-1]

        def caught_up() -> bool:
            v = view.steps.get(steps)
            return v is not None and v.shown_text == last

        while not caught_up():
            await asyncio.sleep(0.001)
        await pilot.pause()
        t_drawn = time.perf_counter()
        step = Step(
            index=steps,
            title=f"Step title {steps}",
            content=last,
            elapsed_s=per_step / rate,
            completion_tokens=per_step,
        )
        sink(StepFinished(step))
        sink(AnswerFinished("42"))
        chain.status, chain.total_s, chain.final_answer = Status.DONE, tokens / rate, "42"
        sink(ChainFinished(chain))
        while view.live:
            await asyncio.sleep(0.001)
        await pilot.pause()
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - t0
        avg_chars = sum(chars_per_posted) / len(chars_per_posted)
    return {
        "tokens": posted,
        "rate_tok_s": rate,
        "steps": steps,
        "size": f"{size[0]}x{size[1]}",
        "stream_s": round(t_last - t0, 3),
        "lag_last_token_to_drawn_s": round(t_drawn - t_last, 3),
        "worst_backlog_s": round(worst_backlog / avg_chars / rate, 3),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "cpu_s_per_1000_tokens": round(cpu / posted * 1000, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=2_000.0, help="tokens per second")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", default="120x40", help="terminal size, WxH")
    args = parser.parse_args(argv)
    width, height = (int(x) for x in args.size.lower().split("x"))
    result = asyncio.run(bench(args.tokens, args.rate, args.steps, (width, height)))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
