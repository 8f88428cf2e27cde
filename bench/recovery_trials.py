"""Random page damage to a history: how many chains does o1tui bring back?

Each trial writes ``--chains`` chains of 3 steps into a fresh history, overwrites one random
page of the file with random bytes (any page but the first: page 1 starts the schema, and
without it nothing can be read by anyone), opens it with ``o1tui history list`` as a user would,
and counts the chains in the fresh database against the chains written.

    python bench/recovery_trials.py --trials 20 --chains 200

Prints one JSON document: trials, chains written, chains recovered, the rate, and per trial.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.damage import PAGE, fill, smash  # noqa: E402


def trial(work: Path, chains: int, rng: random.Random) -> dict[str, int]:
    ids = set(fill(work, chains))
    db = work / "history.db"
    pages = db.stat().st_size // PAGE
    page = rng.randrange(2, pages + 1)
    smash(db, page, rng)
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "history", "list", "--json", "--limit", str(chains * 2)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "O1TUI_DATA_DIR": str(work)},
        cwd=REPO,
        timeout=120,
    )
    listed = {c["id"] for c in json.loads(out.stdout)} if out.returncode == 0 else set()
    return {
        "page": page,
        "pages": pages,
        "written": chains,
        "recovered": len(listed & ids),
        "exit": out.returncode,
        "warned": int("recovered" in out.stderr),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--chains", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.monotonic()
    rows = []
    for _ in range(args.trials):
        with tempfile.TemporaryDirectory(prefix="o1tui-damage-") as tmp:
            rows.append(trial(Path(tmp), args.chains, rng))
    written = sum(r["written"] for r in rows)
    recovered = sum(r["recovered"] for r in rows)
    result = {
        "trials": len(rows),
        "written": written,
        "recovered": recovered,
        "rate": round(recovered / written, 4) if written else None,
        "failed_exits": sum(r["exit"] != 0 for r in rows),
        "seconds": round(time.monotonic() - started, 1),
        "per_trial": rows,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
