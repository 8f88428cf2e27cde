"""Client-side GPU benchmarks against one running OpenAI-compatible server (LMDeploy).

    python bench/gpu/bench_client.py URL API_KEY MODEL PHASE [--out FILE]

PHASE:
  decode   o1tui's own path (client + runner + plain strategy) against a bare `openai` client,
           interleaved, fixed output length (ignore_eos + min_new_tokens): decode tok/s, TTFT.
  g1       a g1 chain of 10 steps x 300 tokens through o1tui's g1 prompt, streamed (what o1tui
           does; time to first visible token per step) and non-streamed (the tutorials' way).
  concurrency  1, 4 and 16 simultaneous chains (plain, 256 tokens each): total tokens/s.

Prints one JSON line per measurement and writes all of them to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

FIXED = 512  # tokens per decode measurement
STEP_TOKENS = 300  # tokens per g1 step (the English g1 budget)
G1_STEPS = 10
PROMPT = "Write a long story about a lighthouse keeper."


def fixed_length(n: int) -> dict[str, Any]:
    """Request fields that make LMDeploy produce exactly n tokens (benchmarks only)."""
    return {"ignore_eos": True, "min_new_tokens": n}


def emit(results: list[dict[str, Any]], **row: Any) -> None:
    results.append(row)
    print(json.dumps(row), flush=True)


async def bare_stream(
    client: Any, model: str, messages: list[dict[str, str]], n: int
) -> dict[str, float]:
    """A bare `openai` streaming request: TTFT, decode rate, completion tokens."""
    t0 = time.perf_counter()
    first = last = None
    tokens = prompt = 0
    parts: list[str] = []
    stream = await client.chat.completions.create(
        model=model,
        messages=messages,
        max_tokens=n,
        temperature=0.0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body=fixed_length(n),
    )
    async for chunk in stream:
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
            prompt = chunk.usage.prompt_tokens
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
            now = time.perf_counter()
            first = first or now
            last = now
    total = time.perf_counter() - t0
    return {
        "ttft_s": (first - t0) if first else None,
        "total_s": total,
        "tokens": tokens,
        "prompt_tokens": prompt,
        "text": "".join(parts),
        "decode_tok_s": (tokens - 1) / (last - first) if first and last and last > first else None,
    }


async def bare_blocking(
    client: Any, model: str, messages: list[dict[str, str]], n: int
) -> dict[str, float]:
    """The tutorials' way: one non-streamed request; the user sees nothing until it returns."""
    t0 = time.perf_counter()
    resp = await client.chat.completions.create(
        model=model, messages=messages, max_tokens=n, temperature=0.0, extra_body=fixed_length(n)
    )
    total = time.perf_counter() - t0
    return {
        "ttft_s": total,
        "total_s": total,
        "tokens": resp.usage.completion_tokens,
        "prompt_tokens": resp.usage.prompt_tokens,
        "text": resp.choices[0].message.content or "",
    }


async def o1tui_plain(url: str, key: str, model: str, n: int) -> dict[str, float]:
    """o1tui's own path: OpenAIChatClient + run_chain + the plain strategy."""
    from backends.openai_client import OpenAIChatClient
    from tui.core.chain import Chain
    from tui.core.runner import run_chain
    from tui.core.strategies import StrategyOptions, get_strategy

    client = OpenAIChatClient(url, model, key)
    chain = Chain(question=PROMPT, strategy="plain", model=model)
    opts = StrategyOptions(max_tokens=n, extra_body=fixed_length(n))
    t0 = time.perf_counter()
    await run_chain(chain, get_strategy("plain"), client, opts)
    total = time.perf_counter() - t0
    await client.aclose()
    step = chain.steps[-1]
    tokens = step.completion_tokens or 0
    decode = step.elapsed_s - (step.ttft_s or 0.0)
    return {
        "ttft_s": step.ttft_s,
        "total_s": total,
        "tokens": tokens,
        "decode_tok_s": (tokens - 1) / decode if decode > 0 else None,
        "status": chain.status.value,
    }


async def phase_decode(url: str, key: str, model: str, results: list[dict[str, Any]]) -> None:
    from openai import AsyncOpenAI

    bare = AsyncOpenAI(base_url=url, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": PROMPT}]
    await bare_stream(bare, model, messages, 16)  # warm-up: first request pays graph/cache set-up
    rates: dict[str, list[float]] = {"o1tui": [], "bare": []}
    for rep in range(4):
        a = await o1tui_plain(url, key, model, FIXED)
        emit(results, phase="decode", path="o1tui", rep=rep, **a)
        b = await bare_stream(bare, model, messages, FIXED)
        b.pop("text")
        emit(results, phase="decode", path="bare_openai", rep=rep, **b)
        rates["o1tui"].append(a["decode_tok_s"] or 0.0)
        rates["bare"].append(b["decode_tok_s"] or 0.0)
    med = {k: statistics.median(v) for k, v in rates.items()}
    emit(
        results,
        phase="decode_summary",
        o1tui_tok_s=med["o1tui"],
        bare_tok_s=med["bare"],
        overhead_pct=100.0 * (1 - med["o1tui"] / med["bare"]) if med["bare"] else None,
    )


async def phase_g1(url: str, key: str, model: str, results: list[dict[str, Any]], tag: str) -> None:
    """10 steps x 300 tokens, re-sending the growing conversation as g1 does."""
    from openai import AsyncOpenAI

    from tui.core.strategies.prompts import G1_PRIMER_EN, G1_SYSTEM_EN

    bare = AsyncOpenAI(base_url=url, api_key=key, max_retries=0)
    question = "How many r are in strawberry?"
    for mode in ("stream", "blocking"):
        messages = [
            {"role": "system", "content": G1_SYSTEM_EN},
            {"role": "user", "content": question},
            {"role": "assistant", "content": G1_PRIMER_EN},
        ]
        t0 = time.perf_counter()
        firsts = []
        prompt_tokens = 0
        for step in range(G1_STEPS):
            call = bare_stream if mode == "stream" else bare_blocking
            r = await call(bare, model, messages, STEP_TOKENS)
            firsts.append(r["ttft_s"])
            prompt_tokens = r["prompt_tokens"]
            # Append the step as g1 does. Random weights write byte noise that re-tokenizes to
            # about a token a character; 250 characters keep the growth near a real 300-token
            # step's and 10 steps inside the random model's 8k context.
            messages.append(
                {
                    "role": "assistant",
                    "content": json.dumps(
                        {
                            "title": f"Step {step + 1}",
                            "content": r["text"][:250],
                            "next_action": "continue",
                        }
                    ),
                }
            )
        wall = time.perf_counter() - t0
        emit(
            results,
            phase="g1",
            prefix_cache=tag,
            mode=mode,
            steps=G1_STEPS,
            wall_s=wall,
            first_visible_token_s_mean=statistics.mean(firsts),
            first_visible_token_s_last=firsts[-1],
            last_prompt_tokens=prompt_tokens,
        )


async def phase_concurrency(url: str, key: str, model: str, results: list[dict[str, Any]]) -> None:
    from openai import AsyncOpenAI

    bare = AsyncOpenAI(base_url=url, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": PROMPT}]
    for n in (1, 4, 16):
        t0 = time.perf_counter()
        runs = await asyncio.gather(*(o1tui_plain(url, key, model, 256) for _ in range(n)))
        wall = time.perf_counter() - t0
        tokens = sum(r["tokens"] for r in runs)
        emit(
            results,
            phase="concurrency",
            chains=n,
            tokens=tokens,
            wall_s=wall,
            total_tok_s=tokens / wall,
            per_chain_tok_s=statistics.mean(r["decode_tok_s"] or 0 for r in runs),
        )
    del bare, messages


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("key")
    ap.add_argument("model")
    ap.add_argument("phase", choices=("decode", "g1", "concurrency"))
    ap.add_argument("--tag", default="on", help="label for the g1 phase (prefix caching on/off)")
    ap.add_argument("--out", default="bench_client.jsonl")
    args = ap.parse_args()
    results: list[dict[str, Any]] = []
    if args.phase == "decode":
        asyncio.run(phase_decode(args.url, args.key, args.model, results))
    elif args.phase == "g1":
        asyncio.run(phase_g1(args.url, args.key, args.model, results, args.tag))
    else:
        asyncio.run(phase_concurrency(args.url, args.key, args.model, results))
    with open(args.out, "a", encoding="utf-8") as fh:
        for row in results:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
