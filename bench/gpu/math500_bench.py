"""MATH-500 × ``plain`` through ``o1tui eval``: tokens per second against a bare async
``openai`` client at the same concurrency, same server, and the wall time of all 500 items.

Run against a server already up (o1tui's managed LMDeploy, started with ``o1tui serve``;
``bash bench/gpu/math500_bench.sh`` does it all, random weights included)::

    python bench/gpu/math500_bench.py --endpoint http://127.0.0.1:23333/v1 --api-key KEY \\
        --out /tmp/o1tui-bench/math500 [--model NAME] [--items 500] [--max-tokens 2048] \\
        [--concurrency auto]

The GPU box has no network, so the set is not downloaded: a MATH-500-shaped file (``problem``,
``solution``, ``answer``, ``subject``, ``level``, ``unique_id``; 500 items from a fixed seed) is
written to ``--out`` and given to ``o1tui eval`` as a file, so the real loader reads it (format
detection, metadata, the model cards' chain-of-thought line appended under ``plain``).

Every answer has the same length: ``ignore_eos``, ``min_new_tokens`` and ``max_tokens`` all
``--max-tokens`` (LMDeploy honours the three), so both clients do the same decode work.
``--concurrency auto`` is ``o1tui eval``'s own default against a managed LMDeploy server (its
batch size: ``tui.evals.specs.default_concurrency`` with the settings the server was started
with, from o1tui's config and ``O1TUI_*`` environment); both clients run at that concurrency.
Order: a short warm-up, the bare client, then ``o1tui eval``. Tokens are the server's usage
counts (``completion_tokens``) in both.

Prints one JSON document (also written to ``math500_bench.json`` in ``--out``): the
concurrency, each client's wall seconds, tokens and tokens per second, ``ratio`` (o1tui /
bare), and the goals (issue 19): ratio ≥ 0.9, wall time ≤ 300 s for all 500 items.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from o1tui_env import REPO, o1tui_env  # beside this script

SUBJECTS = (
    "Algebra", "Counting & Probability", "Geometry", "Intermediate Algebra", "Number Theory",
    "Prealgebra", "Precalculus",
)  # fmt: skip
GOAL_RATIO, GOAL_WALL_S = 0.9, 300.0


def write_math500(path: Path, n: int, seed: int = 500) -> Path:
    """A MATH-500-shaped JSON Lines file of ``n`` items (the published fields; arithmetic
    problems with LaTeX, so the answers are right and parse)."""
    rng = random.Random(f"o1tui-math500-bench/{seed}")
    lines = []
    for i in range(n):
        a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(2, 9)
        subject = SUBJECTS[i % len(SUBJECTS)]
        row = {
            "problem": f"Compute $\\frac{{{a * c}}}{{{c}}} + {b}$.",
            "solution": f"$\\frac{{{a * c}}}{{{c}}} = {a}$, so the sum is $\\boxed{{{a + b}}}$.",
            "answer": str(a + b),
            "subject": subject,
            "level": 1 + i % 5,
            "unique_id": f"test/{subject.lower().replace(' ', '_')}/{i}.json",
        }
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def auto_concurrency() -> int:
    """``o1tui eval``'s default concurrency against the managed LMDeploy server."""
    sys.path.insert(0, str(REPO))
    from tui.cli.eval_cmd import MAX_CONCURRENCY
    from tui.core.config import load_settings
    from tui.evals.specs import default_concurrency

    return default_concurrency(load_settings(None), "lmdeploy", MAX_CONCURRENCY)


def fixed_length(max_tokens: int) -> dict[str, Any]:
    """The request fields that make every answer ``max_tokens`` long."""
    return {"ignore_eos": True, "min_new_tokens": max_tokens}


def run_o1tui(args: argparse.Namespace, set_file: Path, concurrency: int) -> dict[str, Any]:
    """``o1tui eval FILE --strategies plain --json``: its wall time and tokens."""
    data = args.out / "o1tui"
    env = o1tui_env(data, args.api_key)
    argv = [sys.executable, "-m", "tui.cli", "eval", str(set_file), "--endpoint", args.endpoint]
    argv += ["--strategies", "plain", "--concurrency", str(concurrency), "--json"]
    argv += ["--param", f"max_tokens={args.max_tokens}"]
    for key, value in fixed_length(args.max_tokens).items():
        argv += ["--param", f"{key}={json.dumps(value)}"]
    if args.model:
        argv += ["--model", args.model]
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    process_s = time.perf_counter() - started
    data.mkdir(parents=True, exist_ok=True)
    (data / "stderr.txt").write_text(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"o1tui eval failed ({proc.returncode}): {proc.stderr[-2000:]}")
    doc = json.loads(proc.stdout)
    (row,) = doc["results"]
    wall_s = float(doc["wall_s"])
    tokens = round(float(row["tokens"] or 0) * int(row["n"]))
    return {
        "items": int(row["n"]),
        "errors": int(row["errors"]),
        "wall_s": round(wall_s, 2),
        "process_s": round(process_s, 2),
        "tokens": tokens,
        "tokens_per_s": round(tokens / wall_s, 1),
        "model": doc["model"],
        "run_id": doc["run_id"],
    }


def asked(set_file: Path) -> list[str]:
    """The user messages o1tui sends for the set under plain (the loader and the runner's own
    functions, so the bare client asks exactly the same)."""
    sys.path.insert(0, str(REPO))
    from tui.evals.sets import load_set_file
    from tui.evals.specs import math_suffix

    return [f"{item.question}\n{math_suffix('en')}" for item in load_set_file(set_file).items]


async def run_bare(
    args: argparse.Namespace, questions: list[str], concurrency: int
) -> dict[str, Any]:
    """The same requests from a bare ``openai.AsyncOpenAI`` streaming client, ``concurrency``
    at once: wall time and the server's completion tokens."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=args.endpoint, api_key=args.api_key or "none", max_retries=0)
    model = args.model or (await client.models.list()).data[0].id
    gate = asyncio.Semaphore(concurrency)
    tokens: list[int] = []

    async def one(question: str) -> None:
        async with gate:
            stream = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": question}],
                temperature=0.0,
                max_tokens=args.max_tokens,
                stream=True,
                stream_options={"include_usage": True},
                extra_body=fixed_length(args.max_tokens),
            )
            used = 0
            async for chunk in stream:
                if chunk.usage is not None:
                    used = chunk.usage.completion_tokens
            tokens.append(used)

    started = time.perf_counter()
    await asyncio.gather(*(one(q) for q in questions))
    wall_s = time.perf_counter() - started
    await client.close()
    total = sum(tokens)
    return {
        "items": len(tokens),
        "wall_s": round(wall_s, 2),
        "tokens": total,
        "tokens_per_s": round(total / wall_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True, metavar="URL")
    p.add_argument("--api-key", default=os.environ.get("O1TUI_API_KEY"), metavar="KEY")
    p.add_argument("--model", metavar="NAME", help="served model name (default: the first)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--items", type=int, default=500, metavar="N")
    p.add_argument("--max-tokens", type=int, default=2048, metavar="T")
    p.add_argument("--warmup", type=int, default=8, metavar="N", help="bare requests first")
    p.add_argument("--concurrency", default="auto", metavar="K|auto")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    concurrency = auto_concurrency() if args.concurrency == "auto" else int(args.concurrency)
    set_file = write_math500(args.out / "math500.jsonl", args.items)
    questions = asked(set_file)
    if args.warmup:
        warm = argparse.Namespace(**{**vars(args), "max_tokens": 16})
        asyncio.run(run_bare(warm, questions[: args.warmup], concurrency))
    bare = asyncio.run(run_bare(args, questions, concurrency))
    o1 = run_o1tui(args, set_file, concurrency)
    ratio = round(o1["tokens_per_s"] / bare["tokens_per_s"], 3) if bare["tokens_per_s"] else None
    result: dict[str, Any] = {
        "set": "math500-shaped (generated)",
        "strategy": "plain",
        "items": args.items,
        "max_tokens": args.max_tokens,
        "concurrency": concurrency,
        "bare_openai": bare,
        "o1tui": o1,
        "ratio": ratio,
        "goals": {
            f"ratio >= {GOAL_RATIO}": ratio is not None and ratio >= GOAL_RATIO,
            f"o1tui wall_s <= {GOAL_WALL_S:.0f}": o1["wall_s"] <= GOAL_WALL_S,
        },
    }
    text = json.dumps(result, indent=2)
    (args.out / "math500_bench.json").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
