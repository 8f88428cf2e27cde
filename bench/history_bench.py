"""History store speed with a large database: what the history sidebar and `o1tui history` feel.

Builds a database of N chains (default 100 000) with 5 steps each, written in one
transaction (the generation is not what is measured), then times the store's own calls:
open (includes the integrity check and the interrupted-run check), count, the first page,
a deep page, and searches for a common word, a rare word and a typed prefix.

    python bench/history_bench.py [--chains N] [--steps 5] [--repeat 5] [--keep DIR]

Prints one table in milliseconds: the first (cold) call and the median of the repeats.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.store.history import DB_NAME, History, fts_text  # noqa: E402

COMMON = "answer"  # in every chain
RARE = "quokka"  # in one chain in 10 000
WORDS = (
    "prime number triangle probability integer sequence letter count apple train speed "
    "distance river bridge coin dice algebra geometry matrix vector angle circle square "
    "strawberry banana compare larger smaller sum product divisor remainder clock minute"
).split()
ZH = ["草莓里有几个字母", "火车的速度是多少", "这个数是质数吗", "比较两个小数的大小"]


def build(path: Path, n_chains: int, n_steps: int, seed: int = 1) -> float:
    """Create the schema through History, then bulk-insert; returns seconds taken."""
    t0 = time.perf_counter()
    History(path).close()
    rng = random.Random(seed)
    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    chains, steps, docs = [], [], []
    for i in range(n_chains):
        cid = f"{rng.getrandbits(48):012x}"
        words = rng.sample(WORDS, 6)
        question = f"Question {i}: how does {words[0]} relate to {words[1]} and {words[2]}?"
        if i % 10 == 0:
            question += " " + ZH[i % len(ZH)]
        if i % 10_000 == 7:
            question += f" ({RARE})"
        created = (base + timedelta(seconds=30 * i)).isoformat()
        answer = f"The {COMMON} is {rng.randint(1, 999)}."
        chains.append(
            (
                i + 1,
                cid,
                question,
                "g1",
                "internlm3-8b-instruct",
                "done",
                answer,
                12.5,
                created,
                created,
            )
        )
        body = []
        for k in range(1, n_steps + 1):
            title = f"Step about {rng.choice(WORDS)}"
            content = " ".join(rng.choices(WORDS, k=40))
            steps.append((cid, k, title, content, 1.5, 0.1, 300, 200, 1, "stop"))
            body.append(f"{title}\n{content}")
        docs.append((i + 1, fts_text(question), fts_text("\n".join(body)), fts_text(answer)))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO chains (rid, id, question, strategy, model, status, final_answer, total_s,"
        " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        chains,
    )
    conn.executemany(
        "INSERT INTO steps (chain_id, idx, title, content, elapsed_s, ttft_s, prompt_tokens,"
        " completion_tokens, parsed, finish_reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
        steps,
    )
    conn.executemany("INSERT INTO chain_fts (rowid, question, body, answer) VALUES (?,?,?,?)", docs)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - t0


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(first call ms, median of the next `repeat` calls ms, the last result)."""
    t0 = time.perf_counter()
    result = fn()
    first = (time.perf_counter() - t0) * 1000
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return first, statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep the database")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / DB_NAME
        if path.exists():
            path.unlink()
        build_s = build(path, args.chains, args.steps)
        size_mb = path.stat().st_size / 1e6
        print(
            f"built {args.chains} chains x {args.steps} steps in {build_s:.1f} s, "
            f"{size_mb:.0f} MB  (SQLite {sqlite3.sqlite_version})"
        )

        rows: list[tuple[str, float, float, str]] = []

        def opened() -> History:
            return History(path)

        first, med, h = timed(lambda: opened().close(), args.repeat)
        rows.append(("open + close (schema check, migrate, interrupted)", first, med, ""))
        history = opened()
        deep = args.chains // 2
        cases: list[tuple[str, Callable[[], object]]] = [
            ("count()", history.count),
            ("list() first page of 50", lambda: history.list(limit=50)),
            (f"list() page at offset {deep}", lambda: history.list(limit=50, offset=deep)),
            (f"count('{COMMON}') (every chain)", lambda: history.count(COMMON)),
            (f"list('{COMMON}') first page", lambda: history.list(COMMON, limit=50)),
            (f"list('{RARE}') rare word", lambda: history.list(RARE, limit=50)),
            (f"count('{RARE}')", lambda: history.count(RARE)),
            ("list('strawb') typed prefix", lambda: history.list("strawb", limit=50)),
            ("list('草莓') Chinese", lambda: history.list("草莓", limit=50)),
            ("list('prime river') two words", lambda: history.list("prime river", limit=50)),
            ("get(prefix) with 5 steps", lambda: history.get(first_id[:6])),
        ]
        first_id = history.list(limit=1)[0].id
        for name, fn in cases:
            first, med, result = timed(fn, args.repeat)
            shown = (
                str(result)
                if isinstance(result, int)
                else (f"{len(result)} rows" if isinstance(result, list) else "1 chain")
            )
            rows.append((name, first, med, shown))
        first, med, result = timed(history.integrity_check, 1)
        rows.append(("integrity_check() (on demand; at open < 32 MB)", first, med, str(result)))
        history.close()

        width = max(len(r[0]) for r in rows)
        print(f"{'operation':<{width}}  {'first ms':>9}  {'median ms':>9}  result")
        for name, first, med, shown in rows:
            print(f"{name:<{width}}  {first:9.2f}  {med:9.2f}  {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
