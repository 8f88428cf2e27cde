"""Damage a history, open it as a user would: how many chains and eval runs come back?

Each trial writes ``--chains`` chains of 3 steps and ``--runs`` eval runs (10 questions under
``g1`` and ``g1@3``: 10 chains and 10 three-sample groups each) into a fresh history, damages
the file one way (``--damage``), opens it with ``o1tui history list`` as a user would, lists
the eval runs with ``o1tui eval --runs``, and counts both against what was written.

Damage (``--damage``):

- ``page``: one random page (any but page 1, which starts the schema) overwritten with random
  bytes;
- ``zero``: one random page (any but page 1) overwritten with zeros;
- ``header``: the 100-byte file header overwritten with random bytes;
- ``schema``: one page of the schema (page 1 or one of the pages it continues on)
  overwritten with random bytes;
- ``cut``: the last ``--cut-kb`` KiB cut off (``truncate -s -N``; several values: one series
  of trials each).

    python bench/recovery_trials.py --trials 20 --chains 200
    python bench/recovery_trials.py --damage cut --cut-kb 4 8 40 200 --trials 5 --chains 123 --runs 3

Prints one JSON document: per damage (and cut), trials, chains and runs written and
recovered, the rates, and per trial.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.damage import (  # noqa: E402
    PAGE,
    cut,
    fill,
    fill_evals,
    hit_header,
    pages_of,
    smash,
    zero,
)


def _cli(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "O1TUI_DATA_DIR": str(work)},
        cwd=REPO,
        timeout=300,
    )


def damage(db: Path, how: str, rng: random.Random, cut_kb: int) -> dict[str, Any]:
    """Damage ``db`` the way ``how`` says; what was done."""
    pages = db.stat().st_size // PAGE
    if how == "header":
        hit_header(db, rng)
        return {"pages": pages}
    if how == "cut":
        cut(db, cut_kb * 1024)
        return {"pages": pages, "cut_kb": cut_kb}
    if how == "schema":
        page = rng.choice(sorted({1, *pages_of(db, "sqlite_schema")}))
    else:
        page = rng.randrange(2, pages + 1)
    if how == "zero":
        zero(db, page)
    else:
        smash(db, page, rng)
    return {"pages": pages, "page": page}


def trial(
    work: Path, template: Path, ids: set[str], runs: set[str], how: str, cut_kb: int,
    rng: random.Random,
) -> dict[str, Any]:  # fmt: skip
    shutil.copy(template, work / "history.db")
    done = damage(work / "history.db", how, rng, cut_kb)
    out = _cli(work, "history", "list", "--json", "--limit", str(len(ids) * 2))
    listed = {c["id"] for c in json.loads(out.stdout)} if out.returncode == 0 else set()
    listed_runs = _cli(work, "eval", "--runs")
    found_runs = {line.split()[0] for line in listed_runs.stdout.splitlines() if line.strip()}
    return {
        **done,
        "written": len(ids),
        "recovered": len(listed & ids),
        "runs_written": len(runs),
        "runs_recovered": len(found_runs & runs),
        "exit": max(out.returncode, listed_runs.returncode),
        "warned": int("recovered" in out.stderr),
    }


def series(args: argparse.Namespace, how: str, cut_kb: int, rng: random.Random) -> dict[str, Any]:
    """``args.trials`` trials of one kind of damage, each on a fresh copy of one history."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="o1tui-damage-") as tmp:
        base = Path(tmp) / "base"
        ids = set(fill(base, args.chains))
        runs = set(fill_evals(base, args.runs)) if args.runs else set()
        ids |= _all_chain_ids(base)
        for n in range(args.trials):
            work = Path(tmp) / f"trial-{n}"
            work.mkdir()
            rows.append(trial(work, base / "history.db", ids, runs, how, cut_kb, rng))
    written, recovered = sum(r["written"] for r in rows), sum(r["recovered"] for r in rows)
    runs_written = sum(r["runs_written"] for r in rows)
    runs_recovered = sum(r["runs_recovered"] for r in rows)
    return {
        "damage": how if how != "cut" else f"cut {cut_kb} KiB",
        "trials": len(rows),
        "written": written,
        "recovered": recovered,
        "rate": round(recovered / written, 4) if written else None,
        "runs_written": runs_written,
        "runs_recovered": runs_recovered,
        "runs_rate": round(runs_recovered / runs_written, 4) if runs_written else None,
        "failed_exits": sum(r["exit"] != 0 for r in rows),
        "per_trial": rows,
    }


def _all_chain_ids(data_dir: Path) -> set[str]:
    """Every chain of the history (eval runs add their own)."""
    import sqlite3

    conn = sqlite3.connect(data_dir / "history.db")
    try:
        return {r[0] for r in conn.execute("SELECT id FROM chains")}
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--chains", type=int, default=200)
    parser.add_argument("--runs", type=int, default=0, help="eval runs written (default 0)")
    parser.add_argument(
        "--damage", choices=("page", "zero", "header", "schema", "cut"), default="page"
    )
    parser.add_argument("--cut-kb", type=int, nargs="+", default=[4], metavar="KB")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.monotonic()
    cuts = args.cut_kb if args.damage == "cut" else [0]
    result: dict[str, Any] = {
        "series": [series(args, args.damage, kb, rng) for kb in cuts],
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
