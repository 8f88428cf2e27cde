"""Eval throughput: items per minute of ``o1tui eval`` at ``--concurrency 1`` and ``16``.

Run against a server already up (o1tui's managed LMDeploy, started with ``o1tui serve``)::

    python bench/gpu/eval_bench.py --endpoint http://127.0.0.1:23333/v1 --api-key KEY \\
        --out /tmp/o1tui-bench/eval [--model NAME] [--limit 48] [--tokens 256] \\
        [--concurrency 1,16] [--set classic] [--strategy plain]

Every answer has the same length (``ignore_eos``, ``min_new_tokens`` and ``max_tokens`` all
``--tokens``), so the two runs do the same work and only the batching differs. Both runs go
one after the other in this process's lifetime against the same server ("same run"). Each run
has its own data dir under ``--out``; ``eval_bench.json`` there holds one object per
concurrency (items, wall seconds, items per minute) and the ratio, and one summary line is
printed. Items per minute are counted over the eval's own item loop (``wall_s`` of
``o1tui eval --json``), not Python's start-up.

Goal (issue 12): items per minute at 16 at least 8x those at 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from o1tui_env import o1tui_env  # beside this script


def run_eval(args: argparse.Namespace, concurrency: int) -> dict[str, object]:
    """One ``o1tui eval --json`` run; its figures."""
    data = args.out / f"c{concurrency}"
    env = o1tui_env(data, args.api_key)
    argv = [sys.executable, "-m", "tui.cli", "eval", args.set, "--endpoint", args.endpoint]
    argv += ["--strategies", args.strategy, "--limit", str(args.limit)]
    argv += ["--concurrency", str(concurrency), "--json"]
    for key, value in (("ignore_eos", "true"), ("min_new_tokens", args.tokens)):
        argv += ["--param", f"{key}={value}"]
    argv += ["--param", f"max_tokens={args.tokens}"]
    if args.model:
        argv += ["--model", args.model]
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    process_s = time.perf_counter() - started
    (data / "stderr.txt").write_text(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"eval at concurrency {concurrency} failed: {proc.stderr[-2000:]}")
    doc = json.loads(proc.stdout)
    items = sum(int(r["n"]) for r in doc["results"])
    wall_s = float(doc["wall_s"])
    return {
        "concurrency": concurrency,
        "items": items,
        "wall_s": round(wall_s, 3),
        "process_s": round(process_s, 3),
        "items_per_min": round(items / wall_s * 60, 2),
        "mean_item_s": doc["results"][0]["mean_s"],
        "tokens_per_item": doc["results"][0]["tokens"],
        "model": doc["model"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True, metavar="URL")
    p.add_argument("--api-key", default=os.environ.get("O1TUI_API_KEY"), metavar="KEY")
    p.add_argument("--model", metavar="NAME", help="served model name (default: the first)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--set", default="classic")
    p.add_argument("--strategy", default="plain")
    p.add_argument("--limit", type=int, default=48, metavar="N", help="questions per run")
    p.add_argument("--tokens", type=int, default=256, metavar="T", help="tokens per answer")
    p.add_argument("--concurrency", default="1,16", metavar="LIST")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    runs = [run_eval(args, int(c)) for c in args.concurrency.split(",")]
    result: dict[str, object] = {
        "set": args.set,
        "strategy": args.strategy,
        "tokens": args.tokens,
        "runs": runs,
    }
    if len(runs) >= 2:
        result["ratio"] = round(
            float(runs[-1]["items_per_min"]) / float(runs[0]["items_per_min"]), 2
        )
    (args.out / "eval_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    line = "  ".join(
        f"c={r['concurrency']}: {r['items_per_min']} items/min ({r['items']} in {r['wall_s']} s)"
        for r in runs
    )
    print(line + (f"  ratio {result['ratio']}x" if "ratio" in result else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
