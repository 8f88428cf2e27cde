"""Damage a history database the way a disk or a crash does: one page overwritten or zeroed,
the header hit, the file cut short. And a history to damage: chains, groups and eval runs."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

from tui.core.chain import Chain, Status, Step
from tui.store.history import History

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


def fill_evals(data_dir: Path, runs: int, questions: int = 10, samples: int = 3) -> list[str]:
    """``runs`` eval runs of ``questions`` questions under ``g1`` and ``g1@samples``, every
    item answered: a chain per g1 item, a self-consistency group of ``samples`` chains per
    S@N item (as the eval runner stores them). The run ids."""
    from tui.core.group import Group, GroupKind
    from tui.evals.sets import EvalItem, EvalSet
    from tui.evals.store import DONE, EvalStore, ItemResult
    from tui.store.group_store import save_group

    ids = []
    with History.open(data_dir) as history:
        store = EvalStore(history)
        for r in range(runs):
            items = tuple(
                EvalItem(f"run {r} question {q}", str(q), (f"{q}.0",)) for q in range(questions)
            )
            label = f"g1@{samples}"
            run = store.create_run(EvalSet(f"set {r}", items), model="m", strategies=["g1", label])
            for q in range(questions):
                chain = _answered(history, f"run {r} question {q}", str(q))
                store.save_item(
                    run.id, ItemResult(q, "g1", "done", str(q), True, 1.0, chain_id=chain.id)
                )
                members = [
                    _answered(history, f"run {r} question {q}", str(q)) for _ in range(samples)
                ]
                group = Group(
                    GroupKind.VOTE,
                    f"run {r} question {q}",
                    "m",
                    ["g1"] * samples,
                    [c.id for c in members],
                    status=Status.DONE,
                    answer=str(q),
                    votes={str(q): samples},
                )
                for chain in members:
                    chain.group_id = group.id
                    history.finish_chain(chain)
                save_group(history, group)
                store.save_item(
                    run.id, ItemResult(q, label, "done", str(q), True, 2.0, group_id=group.id)
                )
            store.set_status(run.id, DONE)
            ids.append(run.id)
    return ids


def _answered(history: History, question: str, answer: str) -> Chain:
    chain = Chain(question=question, strategy="g1", model="m", status=Status.DONE)
    chain.steps = [Step(index=1, title="step 1", content="x" * 200)]
    chain.final_answer = f"The answer is {answer}"
    history.start_chain(chain)
    history.finish_chain(chain)
    return chain


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


def zero(path: Path, page: int) -> None:
    """Overwrite page ``page`` (1-based) with zeros (a lost write, a bad sector read back)."""
    with open(path, "r+b") as fh:
        fh.seek((page - 1) * PAGE)
        fh.write(bytes(PAGE))


def hit_header(path: Path, rng: random.Random, nbytes: int = 100) -> None:
    """Overwrite the file's first ``nbytes`` bytes (the 100-byte header) with random bytes."""
    with open(path, "r+b") as fh:
        fh.write(bytes(rng.randrange(256) for _ in range(nbytes)))


def cut(path: Path, nbytes: int) -> None:
    """Cut the last ``nbytes`` bytes off the file (``truncate -s -N``)."""
    os.truncate(path, max(os.path.getsize(path) - nbytes, 0))
