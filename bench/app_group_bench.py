"""Does the app keep up with a group? 8 chains streaming 500 tokens/s each from a loopback server.

The stand-in OpenAI server runs as its own process (its CPU is not counted) and streams each
of the group's 8 requests a scripted reply: ``--tokens`` tokens of about four characters, one
token a chunk, ``1/rate`` seconds apart, with a Markdown heading every ``--step-tokens`` tokens
(so each chain has steps, as a thinking reply does). A headless ``run_test`` app runs the
group through the real path: :class:`tui.core.group_runner.GroupRunner` → the OpenAI client →
the app's event sinks → a live vote view: a row per sample, ``--expand`` samples drawn whole (their
steps stream into Markdown either way).

Reported:
- achieved stream rate per chain (the server and the client share this machine's cores);
- lag: from the last token received (by any chain) to every chain's view finished (its last
  step's Markdown whole, the answer set) plus one screen refresh;
- CPU seconds per 1 000 tokens (process time of the app's process: client, runner, widgets),
  to compare with ``bench/app_stream_bench.py``'s single-chain figure.

Run: ``python bench/app_group_bench.py [--chains 8] [--rate 500] [--tokens 4000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backends.openai_client import OpenAIChatClient  # noqa: E402
from tui.app.app import O1App  # noqa: E402
from tui.app.widgets.group_view import GroupView  # noqa: E402
from tui.core.chain import StepDelta  # noqa: E402
from tui.core.config import Settings  # noqa: E402
from tui.core.group import GroupSpec, MemberEvent  # noqa: E402
from tui.core.group_runner import GroupRunner  # noqa: E402
from tui.core.strategies import StrategyOptions  # noqa: E402

WORDS = ("the", "model", "checks", "each", "case", "so", "that", "**sum**", "is", "`x+y`", "and")


def reply_text(tokens: int, step_tokens: int) -> str:
    """About four characters a token; a heading every ``step_tokens``; a boxed answer."""
    parts: list[str] = []
    for i in range(tokens):
        if i % step_tokens == 0:
            parts.append(f"\n\n## Part {i // step_tokens + 1}\n")
        elif i % 97 == 96:
            parts.append("\n\n")
        else:
            parts.append(WORDS[i % len(WORDS)][:3] + " ")
    parts.append("\n\nSo the answer is \\boxed{42}.")
    return "".join(parts)


def start_server(script: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0", "--script", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"stand-in server did not start: {line!r}")
    return proc, match.group(1)


async def bench(
    chains: int, rate: float, tokens: int, step_tokens: int, size: tuple[int, int], expand: int
) -> dict:
    text = reply_text(tokens, step_tokens)
    script = [{"content": text, "chunk_chars": 4, "delay_s": 1.0 / rate}] * chains
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "script.json"
        path.write_text(json.dumps(script))
        server, url = start_server(path)
        try:
            return await _run(url, chains, size, expand)
        finally:
            server.terminate()
            server.wait(timeout=10)


async def _run(url: str, chains: int, size: tuple[int, int], expand: int) -> dict:
    app = O1App(
        Settings(model="bench-model"), history=None, connect=False, env={"TERM": "xterm-256color"}
    )
    async with app.run_test(size=size) as pilot:
        client = OpenAIChatClient(url, "fake-model", retries=0, stall_timeout_s=60)
        spec = GroupSpec.self_consistency("Benchmark question", "thinking", chains)
        runner = GroupRunner(spec, client, StrategyOptions(lang="en"))
        view = GroupView(runner.result, live=True, now=app.clock(), clock=app.clock)
        app.chains.show_group(view, None)
        await pilot.pause()
        for index in range(expand):  # these samples drawn whole, not only as their row
            await view.toggle_sample(index)
        route = app.groups.events(runner)  # what the app's group worker does with events
        first: list[float] = []
        last = [0.0] * chains
        deltas = [0] * chains

        def on_event(event: object) -> None:
            if isinstance(event, MemberEvent) and isinstance(event.event, StepDelta):
                now = time.perf_counter()
                if not first:
                    first.append(now)
                last[event.index] = now
                deltas[event.index] += 1
            route(event)

        runner.on_event = on_event
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = await runner.run()
        t_last = max(last)

        def drawn() -> bool:  # every chain's end reached its row (and its view, if shown)
            rows_done = len(view._finished) == chains
            return rows_done and not any(v is not None and v.live for v in view.views)

        while not drawn():
            await asyncio.sleep(0.001)
        await pilot.pause()
        t_drawn = time.perf_counter()
        cpu = time.process_time() - cpu0
        await client.aclose()
    streamed = [c.completion_tokens for c in result.chains]
    total_tokens = sum(streamed)
    spans = [last[i] - first[0] for i in range(chains)]
    return {
        "chains": chains,
        "expanded": expand,
        "size": f"{size[0]}x{size[1]}",
        "status": result.status.value,
        "vote": result.vote.votes if result.vote else {},
        "tokens_per_chain": round(total_tokens / chains),
        "achieved_tok_s_per_chain": round(
            sum(s / max(t, 1e-9) for s, t in zip(streamed, spans, strict=True)) / chains, 1
        ),
        "wall_s": round(t_drawn - t0, 3),
        "lag_last_token_to_drawn_s": round(t_drawn - t_last, 3),
        "cpu_s": round(cpu, 3),
        "cpu_s_per_1000_tokens": round(cpu / max(total_tokens, 1) * 1000, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--rate", type=float, default=500.0, help="tokens/s of each chain")
    parser.add_argument("--tokens", type=int, default=4000, help="tokens of each chain")
    parser.add_argument("--step-tokens", type=int, default=200, help="tokens between headings")
    parser.add_argument("--size", default="120x40", help="terminal size, WxH")
    parser.add_argument(
        "--expand", type=int, default=1, help="samples expanded to their full steps (default 1)"
    )
    args = parser.parse_args(argv)
    width, height = (int(x) for x in args.size.lower().split("x"))
    result = asyncio.run(
        bench(args.chains, args.rate, args.tokens, args.step_tokens, (width, height), args.expand)
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
