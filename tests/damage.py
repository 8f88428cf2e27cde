"""Damage a history database the way a disk or a crash does: one page overwritten."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from tui.chain import Chain, Status, Step
from tui.history import History

PAGE = 4096


def fill(data_dir: Path, chains: int, steps: int = 3, pad: int = 200) -> list[str]:
    """A history of ``chains`` finished chains of ``steps`` steps; their ids."""
    ids = []
    with History.open(data_dir) as history:
        for n in range(chains):
            chain = Chain(question=f"question {n}", strategy="g1", model="m", status=Status.DONE)
            chain.steps = [
                Step(index=i + 1, title=f"step {i + 1}", content=f"chain {n} " + "x" * pad)
                for i in range(steps)
            ]
            chain.final_answer = f"answer {n}"
            history.start_chain(chain)
            history.finish_chain(chain)
            ids.append(chain.id)
    return ids


def pages_of(path: Path, table: str, kind: str = "leaf") -> list[int]:
    """Page numbers of ``table``'s b-tree pages of ``kind`` (SQLite's dbstat table)."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ?", (table, kind)
        ).fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows]


def smash(path: Path, page: int, rng: random.Random | None = None) -> None:
    """Overwrite page ``page`` (1-based) with random bytes."""
    rng = rng or random.Random(page)
    with open(path, "r+b") as fh:
        fh.seek((page - 1) * PAGE)
        fh.write(bytes(rng.randrange(256) for _ in range(PAGE)))
