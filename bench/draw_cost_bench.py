"""The cost of one screen update while a long answer streams, with a fixed number of updates.

The tmux bench (bench/tmux_stream_bench.py) measures the whole program, but how many updates
it draws depends on how fast the machine is (the app merges deltas into about one update a
frame), so on a busy machine its figure moves with the load. This one feeds a headless app
(120x40, the plain strategy's one step) the same 24 555-character answer in a fixed number of
updates, waiting for each to be drawn, and reports CPU seconds per update: a steadier figure
for comparing two versions of the drawing code (or ``TEXTUAL_SPEEDUPS=0`` against ``1``).

Run: ``python bench/draw_cost_bench.py [--updates 300] [--chars 24555]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tmux_stream_bench import answer_text, conditions, load_average  # noqa: E402
from tui.app.app import O1App  # noqa: E402
from tui.app.widgets.chain_view import ChainView  # noqa: E402
from tui.core.chain import Chain, Step, StepDelta, StepFinished, StepStarted  # noqa: E402
from tui.core.config import Settings  # noqa: E402


async def bench(updates: int, chars: int) -> dict:
    text = answer_text(chars)
    size = -(-len(text) // updates)
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    app = O1App(Settings(model="m"), connect=False, env={"TERM": "xterm-256color"})
    async with app.run_test(size=(120, 40)) as pilot:
        chain = Chain("Write a long answer.", "plain", "m")
        view = ChainView(chain, live=True, now=0.0)
        await app.query_one("#chains").mount(view)
        await pilot.pause()
        await view.apply(StepStarted(1, "Answer"), 0.0)
        await pilot.pause()
        cpu0 = time.process_time()
        for piece in pieces:
            await view.apply(StepDelta(1, piece), 0.0)
            await pilot.pause()
        cpu = time.process_time() - cpu0
        await view.apply(StepFinished(Step(1, "Answer", text, 1.0)), 1.0)
        await pilot.pause()
    return {
        "updates": len(pieces),
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_update": round(cpu / len(pieces) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--chars", type=int, default=24_555)
    args = parser.parse_args(argv)
    before = conditions(rate=0.0)
    del before["send_rate_asked"]  # no server here: the updates are fed directly
    result = asyncio.run(bench(args.updates, args.chars))
    print(json.dumps({"conditions": before, **result, "load_avg_after": load_average()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
