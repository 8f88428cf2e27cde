"""CPU per streamed chunk: o1tui's client and plain strategy against a bare ``openai`` client.

At high concurrency (an eval at 512 requests at once) the client process is CPU-bound, so the
tokens per second an eval gets is the client's CPU per chunk. This bench measures that CPU
without a GPU: the stand-in OpenAI server (``tests.fakes.openai_server``) runs as its own
process (its CPU is not counted) and streams ``--chunks`` chunks of 4 characters per request,
``--items`` requests, ``--concurrency`` at once, to each of:

- ``bare``: ``openai.AsyncOpenAI().chat.completions.create(stream=True)``, reading each chunk's
  usage, as ``bench/gpu/math500_bench.py``'s bare client does;
- ``client``: o1tui's :class:`backends.openai_client.OpenAIChatClient` ``stream_chat``;
- ``plain``: the plain strategy through :func:`tui.core.runner.run_chain` (client, strategy, step
  events), as an eval item runs without its history writes.

Reported per mode: process CPU seconds over the text chunks streamed (the median of ``--repeat``
interleaved rounds, every round's figure listed), and the conditions the figure depends on:
load average, cores, Python, the bytecode cache. Imports happen before any timing.

Run: ``python bench/client_cost_bench.py [--items 32] [--concurrency 16] [--chunks 1500]
[--repeat 3] [MODE ...]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import openai  # noqa: E402

from backends.openai_client import OpenAIChatClient  # noqa: E402
from tui.core.chain import Chain  # noqa: E402
from tui.core.runner import run_chain  # noqa: E402
from tui.core.strategies import StrategyOptions, get_strategy  # noqa: E402

MESSAGES = [{"role": "user", "content": "q?"}]
MODEL = "m"
KEY = "k"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"the stand-in server did not listen on port {port}")


async def _gather(items: int, concurrency: int, one: Callable[[], Awaitable[int]]) -> int:
    """Run ``one`` ``items`` times, ``concurrency`` at once: how many came back whole."""
    gate = asyncio.Semaphore(concurrency)

    async def gated() -> int:
        async with gate:
            return await one()

    return sum(await asyncio.gather(*(gated() for _ in range(items))))


async def bare(url: str, items: int, concurrency: int) -> int:
    client = openai.AsyncOpenAI(base_url=url, api_key=KEY, max_retries=0)

    async def one() -> int:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        used = 0
        async for chunk in stream:
            if chunk.usage is not None:
                used = chunk.usage.completion_tokens
        return 1 if used else 0

    try:
        return await _gather(items, concurrency, one)
    finally:
        await client.close()


async def client(url: str, items: int, concurrency: int) -> int:
    chat = OpenAIChatClient(url, MODEL, api_key=KEY)

    async def one() -> int:
        finished = False
        async for chunk in chat.stream_chat(MESSAGES):
            finished = finished or chunk.finish_reason == "stop"
        return 1 if finished else 0

    try:
        return await _gather(items, concurrency, one)
    finally:
        await chat.aclose()


async def plain(url: str, items: int, concurrency: int) -> int:
    chat = OpenAIChatClient(url, MODEL, api_key=KEY)
    strategy = get_strategy("plain")

    async def one() -> int:
        chain = Chain(question="q?", strategy="plain", model=MODEL)
        await run_chain(chain, strategy, chat, StrategyOptions())
        if chain.status.value != "done":
            raise SystemExit(f"the plain chain ended {chain.status.value}: {chain.error}")
        return 1

    try:
        return await _gather(items, concurrency, one)
    finally:
        await chat.aclose()


MODES: dict[str, Callable[[str, int, int], Awaitable[int]]] = {
    "bare": bare,
    "client": client,
    "plain": plain,
}


def _bytecode_cached(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return False
    return Path(importlib.util.cache_from_source(spec.origin)).exists()


def conditions() -> dict[str, Any]:
    """What the figures depend on besides the code (printed with them)."""
    return {
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "openai": openai.__version__,
        "bytecode": {
            "PYTHONDONTWRITEBYTECODE": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
            "cached": {m: _bytecode_cached(m) for m in ("backends.openai_client", "openai")},
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("modes", nargs="*", metavar="MODE", help=f"any of {', '.join(MODES)}")
    p.add_argument("--items", type=int, default=32, metavar="N")
    p.add_argument("--concurrency", type=int, default=16, metavar="C")
    p.add_argument("--chunks", type=int, default=1500, metavar="CH", help="text chunks a reply")
    p.add_argument("--repeat", type=int, default=3, metavar="R")
    args = p.parse_args(argv)
    modes = args.modes or list(MODES)
    if unknown := set(modes) - set(MODES):
        p.error(f"unknown mode(s): {', '.join(sorted(unknown))}")

    rounds = args.repeat * len(modes)
    reply = {"content": "ab " * (args.chunks * 4 // 3), "chunk_chars": 4}
    tmp = Path(tempfile.mkdtemp(prefix="o1tui-client-cost-"))
    script = tmp / "script.json"
    script.write_text(json.dumps([reply] * (args.items * rounds + 10)))
    port = _free_port()
    # The stand-in server with a listen queue as long as the concurrency (its default, 5,
    # resets connections when many requests open at once).
    serve = (
        "import sys; from tests.fakes import openai_server as s; "
        f"s._HTTPServer.request_queue_size = {max(5, args.concurrency)}; "
        "raise SystemExit(s.main(sys.argv[1:]))"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", serve, "--port", str(port), "--script", str(script)]
        + ["--api-key", KEY],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(json.dumps({"conditions_before": conditions(), **vars(args)}), flush=True)
    figures: dict[str, list[float]] = {m: [] for m in modes}
    try:
        _wait_listening(port)
        url = f"http://127.0.0.1:{port}/v1"
        for _ in range(args.repeat):
            for mode in modes:
                cpu, wall = time.process_time(), time.perf_counter()
                whole = asyncio.run(MODES[mode](url, args.items, args.concurrency))
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                if whole != args.items:
                    raise SystemExit(f"{mode}: only {whole} of {args.items} replies came whole")
                # Per text chunk of the server's script (its role, finish and usage chunks
                # are the same few per reply for every mode).
                chunks = args.items * args.chunks
                figures[mode].append(cpu / chunks * 1e6)
                row = {"mode": mode, "chunks": chunks, "cpu_s": round(cpu, 2)}
                row |= {"wall_s": round(wall, 2), "cpu_us_per_chunk": round(figures[mode][-1], 1)}
                print(json.dumps(row), flush=True)
    finally:
        server.terminate()
        server.wait(10)
    summary = {m: round(statistics.median(v), 1) for m, v in figures.items()}
    if "bare" in summary:
        summary |= {f"{m}/bare": round(summary[m] / summary["bare"], 3) for m in modes}
    print(json.dumps({"median_cpu_us_per_chunk": summary, "conditions_after": conditions()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
