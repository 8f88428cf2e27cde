"""Wall time of ``o1tui ask --samples N`` against one chain of the same strategy, same server.

Run against a server already up (o1tui's managed LMDeploy, started with ``o1tui serve``)::

    python bench/gpu/group_bench.py --endpoint http://127.0.0.1:23333/v1 --api-key KEY \\
        --out /tmp/o1tui-bench/group [--model NAME] [--samples 8] [--strategies g1,plain] \\
        [--steps 10] [--step-tokens 300]

Every model call has a fixed length: ``--param ignore_eos=true``, ``min_new_tokens`` and
``max_tokens`` all ``--step-tokens`` (LMDeploy honours the three). For each strategy, one
chain runs alone, then ``--samples`` chains run as one self-consistency group, one after the
other against the same server ("same run"):

- ``g1``: ``--max-steps STEPS`` steps of ``--step-tokens`` tokens (the issue's 10 × 300), then
  g1's final-answer call. A model may still end its chain early by answering ``final_answer``
  (random weights do, at random), so every chain's steps and tokens are recorded with it;
- ``plain``: one call of ``STEPS × STEP_TOKENS`` tokens: the same decode work as the g1 chain
  with no early end, so its ratio is the clean batching figure.

``group_bench.json`` in ``--out`` holds, per strategy, the single chain (seconds, steps, tokens,
status), the group (``wall_s`` from ``ask --json``, each chain's seconds, steps, tokens, status)
and ``ratio`` = group wall time / single chain time; one summary line per strategy is printed.
Goal (issue 11): ratio ≤ 1.3 at 8 samples.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from o1tui_env import o1tui_env  # beside this script

QUESTION = "A train covers 408 km in 4 hours. How far does it go in 6 hours at the same speed?"


def ask(args: argparse.Namespace, strategy: str, group: bool) -> dict[str, Any]:
    """One ``o1tui ask --json`` run (a group with ``group``); its document and process time."""
    data = args.out / f"{strategy}-{'group' if group else 'single'}"
    env = o1tui_env(data, args.api_key)
    call_tokens = args.step_tokens if strategy == "g1" else args.step_tokens * args.steps
    argv = [sys.executable, "-m", "tui.cli", "ask", QUESTION, "--endpoint", args.endpoint]
    argv += ["--strategy", strategy, "--json", "--max-steps", str(args.steps)]
    for key, value in (
        ("ignore_eos", "true"),
        ("min_new_tokens", call_tokens),
        ("max_tokens", call_tokens),
    ):
        argv += ["--param", f"{key}={value}"]
    if args.model:
        argv += ["--model", args.model]
    if group:
        argv += ["--samples", str(args.samples)]
    data.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    proc = subprocess.run(
        argv, capture_output=True, text=True, env=env, check=False, timeout=args.timeout
    )
    process_s = time.perf_counter() - started
    (data / "stderr.txt").write_text(proc.stderr)
    (data / "stdout.json").write_text(proc.stdout)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        raise SystemExit(
            f"{strategy} {'group' if group else 'single'}: no JSON (exit {proc.returncode}): "
            f"{proc.stderr[-2000:]}"
        ) from None
    return {"exit": proc.returncode, "process_s": round(process_s, 3), "doc": doc}


def chain_facts(chain: dict[str, Any]) -> dict[str, Any]:
    steps = chain.get("steps") or []
    return {
        "status": chain.get("status"),
        "total_s": chain.get("total_s"),
        "steps": len(steps),
        "tokens": sum(int(s.get("completion_tokens") or 0) for s in steps),
    }


def measure(args: argparse.Namespace, strategy: str) -> dict[str, Any]:
    single = ask(args, strategy, group=False)
    group = ask(args, strategy, group=True)
    one = chain_facts(single["doc"])
    members = [chain_facts(c) for c in group["doc"]["chains"]]
    wall = float(group["doc"]["wall_s"])
    return {
        "strategy": strategy,
        "samples": args.samples,
        "call_tokens": args.step_tokens if strategy == "g1" else args.step_tokens * args.steps,
        "single": {**one, "exit": single["exit"], "process_s": single["process_s"]},
        "group": {
            "wall_s": wall,
            "exit": group["exit"],
            "process_s": group["process_s"],
            "answer": group["doc"]["answer"],
            "votes": group["doc"]["votes"],
            "chains": members,
            "tokens": sum(m["tokens"] for m in members),
        },
        "ratio": round(wall / one["total_s"], 3) if one["total_s"] else None,
        "model": single["doc"].get("model"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True, metavar="URL")
    p.add_argument("--api-key", default=os.environ.get("O1TUI_API_KEY"), metavar="KEY")
    p.add_argument("--model", metavar="NAME", help="served model name (default: the first)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--strategies", default="g1,plain")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--step-tokens", type=int, default=300)
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per ask")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = [measure(args, s.strip()) for s in args.strategies.split(",") if s.strip()]
    (args.out / "group_bench.json").write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(
            f"{r['strategy']}: 1 chain {r['single']['total_s']:.2f} s "
            f"({r['single']['steps']} steps, {r['single']['tokens']} tok); "
            f"{r['samples']} samples {r['group']['wall_s']:.2f} s "
            f"({r['group']['tokens']} tok); ratio {r['ratio']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
