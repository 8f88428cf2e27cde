"""Eval runs in the history database (tables of migration v003).

A run is created with all its questions before the first item runs; each answered
(question, strategy) item is then saved in its own transaction as it finishes, so Ctrl+C or a
crash loses only the items in flight, and :meth:`EvalStore.pending` tells a resumed run what is
left. The chains themselves are saved by the chain runner as usual; an item row links to them.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from tui.core.chain import new_chain_id, utc_now_iso
from tui.evals.sets import EvalItem, EvalSet
from tui.store.history import AmbiguousId, History, _pid_alive

#: Run statuses. ``interrupted``: the process running it is gone (crash, kill) — resumable,
#: like ``cancelled`` (Ctrl+C).
RUNNING, DONE, CANCELLED, INTERRUPTED = "running", "done", "cancelled", "interrupted"
#: Item statuses kept in eval_items: the chain statuses an item can end with.
ITEM_DONE, ITEM_STEP_LIMIT, ITEM_ERROR = "done", "step_limit", "error"


@dataclass(frozen=True)
class EvalRun:
    """One eval run: which set, model and strategies, and where it stands."""

    id: str
    set_name: str
    source: str | None
    seed: int | None
    model: str
    strategies: tuple[str, ...]
    options: dict[str, Any]
    n_questions: int
    status: str
    created_at: str
    updated_at: str
    #: Items answered so far (all strategies).
    n_answered: int = 0
    #: Per strategy: the prompts it sends (hashes, appended instruction) — schema 4.
    prompts: dict[str, Any] = field(default_factory=dict)
    #: Per strategy: every request parameter it sends — schema 4.
    request: dict[str, Any] = field(default_factory=dict)

    @property
    def limit(self) -> int | None:
        """The run's ``--limit``: only its first questions are run (None: all)."""
        value = self.options.get("limit")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def n_items(self) -> int:
        """Items in all: every question the run asks (the first ``limit`` of them) under
        every strategy."""
        n = self.n_questions if self.limit is None else max(min(self.limit, self.n_questions), 0)
        return n * len(self.strategies)


@dataclass(frozen=True)
class ItemResult:
    """One (question, strategy) item as it ended."""

    idx: int
    strategy: str
    status: str
    predicted: str | None
    correct: bool
    wall_s: float
    tokens: int | None = None
    steps: float | None = None
    chain_id: str | None = None
    group_id: str | None = None
    finished_at: str = field(default_factory=utc_now_iso)


_RUN_COLS = (
    "r.id, r.set_name, r.source, r.seed, r.model, r.strategies, r.options, r.n_questions, "
    "r.status, r.created_at, r.updated_at, "
    "(SELECT count(*) FROM eval_items i WHERE i.run_id = r.id), r.prompts, r.request"
)
_ITEM_COLS = (
    "idx, strategy, status, predicted, correct, wall_s, tokens, steps, chain_id, group_id, "
    "finished_at"
)


def _run_from_row(row: tuple) -> EvalRun:
    return EvalRun(
        id=row[0],
        set_name=row[1],
        source=row[2],
        seed=row[3],
        model=row[4],
        strategies=tuple(json.loads(row[5] or "[]")),
        options=json.loads(row[6] or "{}"),
        n_questions=int(row[7]),
        status=row[8],
        created_at=row[9],
        updated_at=row[10],
        n_answered=int(row[11]),
        prompts=json.loads(row[12] or "{}"),
        request=json.loads(row[13] or "{}"),
    )


def _item_from_row(row: tuple) -> ItemResult:
    return ItemResult(
        idx=int(row[0]),
        strategy=row[1],
        status=row[2],
        predicted=row[3],
        correct=bool(row[4]),
        wall_s=float(row[5] or 0.0),
        tokens=row[6],
        steps=row[7],
        chain_id=row[8],
        group_id=row[9],
        finished_at=row[10],
    )


class EvalStore:
    """Eval runs kept in a :class:`~tui.store.history.History` (the same file and connection)."""

    def __init__(self, history: History) -> None:
        self.history = history

    # --- runs --------------------------------------------------------------------------------

    def create_run(
        self,
        eval_set: EvalSet,
        *,
        model: str,
        strategies: tuple[str, ...] | list[str],
        options: dict[str, Any] | None = None,
        run_id: str | None = None,
        created_at: str | None = None,
        prompts: dict[str, Any] | None = None,
        request: dict[str, Any] | None = None,
    ) -> EvalRun:
        """Record a new run with all its questions; ``options`` must hold no secrets.
        ``run_id`` and ``created_at`` default to a new id and now (given: imports, tests);
        ``prompts`` and ``request``: what each strategy sends (:mod:`tui.evals.specs`)."""
        run_id = run_id or new_chain_id()
        now = created_at or utc_now_iso()
        strategies = tuple(strategies)

        def tx(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO eval_runs (id, set_name, source, seed, model, strategies, options,"
                " n_questions, status, created_at, updated_at, pid, prompts, request)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    eval_set.name,
                    eval_set.source,
                    eval_set.seed,
                    model,
                    json.dumps(list(strategies)),
                    json.dumps(options or {}, ensure_ascii=False),
                    len(eval_set.items),
                    RUNNING,
                    now,
                    now,
                    os.getpid(),
                    json.dumps(prompts or {}, ensure_ascii=False),
                    json.dumps(request or {}, ensure_ascii=False),
                ),
            )
            conn.executemany(
                "INSERT INTO eval_questions (run_id, idx, question, gold, accept, meta)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        i,
                        item.question,
                        item.answer,
                        json.dumps(list(item.accept), ensure_ascii=False),
                        json.dumps(item.meta, ensure_ascii=False, default=str),
                    )
                    for i, item in enumerate(eval_set.items)
                ],
            )

        self.history.transaction(tx, write=True)
        run = self.get_run(run_id)
        assert run is not None
        return run

    def get_run(self, id_or_prefix: str) -> EvalRun | None:
        """The run with this id, or the only one whose id starts with it (AmbiguousId when
        several do)."""
        self.mark_interrupted()
        key = id_or_prefix.strip()
        if not key:
            return None

        def read(conn: sqlite3.Connection) -> EvalRun | None:
            row = conn.execute(
                f"SELECT {_RUN_COLS} FROM eval_runs r WHERE r.id = ?", (key,)
            ).fetchone()
            if row is not None:
                return _run_from_row(row)
            rows = conn.execute(
                f"SELECT {_RUN_COLS} FROM eval_runs r WHERE r.id >= ? AND r.id < ?"
                " ORDER BY r.id LIMIT 6",
                (key, key + "\U0010ffff"),
            ).fetchall()
            if len(rows) > 1:
                raise AmbiguousId(key, "eval runs", [r[0] for r in rows])
            return _run_from_row(rows[0]) if rows else None

        return self.history.transaction(read, write=False)

    def list_runs(self, limit: int = 100) -> list[EvalRun]:
        """Runs newest first."""
        self.mark_interrupted()

        def read(conn: sqlite3.Connection) -> list[EvalRun]:
            rows = conn.execute(
                f"SELECT {_RUN_COLS} FROM eval_runs r ORDER BY r.created_at DESC, r.rid DESC"
                " LIMIT ?",
                (max(int(limit), 0),),
            ).fetchall()
            return [_run_from_row(r) for r in rows]

        return self.history.transaction(read, write=False)

    def set_status(self, run_id: str, status: str) -> None:
        """Mark the run ``status``; a running run is tagged with this process (for the
        interrupted check), a finished one with none."""
        pid = os.getpid() if status == RUNNING else None
        self.history.transaction(
            lambda c: c.execute(
                "UPDATE eval_runs SET status = ?, updated_at = ?, pid = ? WHERE id = ?",
                (status, utc_now_iso(), pid, run_id),
            ),
            write=True,
        )

    def claim(self, run_id: str, limit: int | None = None) -> bool:
        """Mark the run ``running`` in this process unless a live process (this one too) is
        running it; False then. The check and the mark are one write transaction, which
        takes the database's write lock up front (``BEGIN IMMEDIATE``): of two resumes at
        once, exactly one gets the run. ``limit``: a new ``--limit`` the run goes on with."""

        def tx(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT status, pid, options FROM eval_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None or (row[0] == RUNNING and _pid_alive(row[1])):
                return False
            options = json.loads(row[2] or "{}")
            if limit is not None:
                options["limit"] = limit
            return (
                conn.execute(
                    "UPDATE eval_runs SET status = ?, updated_at = ?, pid = ?, options = ?"
                    " WHERE id = ?",
                    (
                        RUNNING,
                        utc_now_iso(),
                        os.getpid(),
                        json.dumps(options, ensure_ascii=False),
                        run_id,
                    ),
                ).rowcount
                == 1
            )

        return bool(self.history.transaction(tx, write=True))

    def delete_run(self, run_id: str) -> bool:
        """Delete the run and its rows (its chains stay in the history)."""
        return bool(
            self.history.transaction(
                lambda c: c.execute("DELETE FROM eval_runs WHERE id = ?", (run_id,)).rowcount,
                write=True,
            )
        )

    def mark_interrupted(self) -> int:
        """Runs left ``running`` by a process that is gone become ``interrupted``."""

        def find(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT id, pid FROM eval_runs WHERE status = ?", (RUNNING,)
            ).fetchall()
            return [rid for rid, pid in rows if not _pid_alive(pid)]

        gone = self.history.transaction(find, write=False)
        for run_id in gone:

            def mark(c: sqlite3.Connection, rid: str = run_id) -> sqlite3.Cursor:
                return c.execute(
                    "UPDATE eval_runs SET status = ?, pid = NULL WHERE id = ? AND status = ?",
                    (INTERRUPTED, rid, RUNNING),
                )

            self.history.transaction(
                mark,
                write=True,
            )
        return len(gone)

    # --- questions and items ---------------------------------------------------------------

    def questions(self, run_id: str) -> list[EvalItem]:
        """The run's questions in order."""

        def read(conn: sqlite3.Connection) -> list[EvalItem]:
            rows = conn.execute(
                "SELECT question, gold, accept, meta FROM eval_questions WHERE run_id = ?"
                " ORDER BY idx",
                (run_id,),
            ).fetchall()
            return [
                EvalItem(q, gold, tuple(json.loads(accept or "[]")), json.loads(meta or "{}"))
                for q, gold, accept, meta in rows
            ]

        return self.history.transaction(read, write=False)

    def save_item(self, run_id: str, item: ItemResult) -> None:
        """Record one finished item (replacing an earlier try of the same one)."""

        def tx(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO eval_items (run_id, {_ITEM_COLS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    item.idx,
                    item.strategy,
                    item.status,
                    item.predicted,
                    int(item.correct),
                    float(item.wall_s),
                    item.tokens,
                    item.steps,
                    item.chain_id,
                    item.group_id,
                    item.finished_at,
                ),
            )
            conn.execute(
                "UPDATE eval_runs SET updated_at = ? WHERE id = ?", (utc_now_iso(), run_id)
            )

        self.history.transaction(tx, write=True)

    def items(self, run_id: str, strategy: str | None = None) -> list[ItemResult]:
        """Answered items, by strategy then question."""
        where, params = ("run_id = ?", [run_id])
        if strategy is not None:
            where += " AND strategy = ?"
            params.append(strategy)

        def read(conn: sqlite3.Connection) -> list[ItemResult]:
            rows = conn.execute(
                f"SELECT {_ITEM_COLS} FROM eval_items WHERE {where} ORDER BY strategy, idx",
                params,
            ).fetchall()
            return [_item_from_row(r) for r in rows]

        return self.history.transaction(read, write=False)

    def pending(self, run: EvalRun, *, retry_errors: bool = True) -> list[tuple[int, str]]:
        """(question index, strategy) items still to run, question by question; items that
        ended in an error are run again unless ``retry_errors`` is False."""
        done = {
            (it.idx, it.strategy)
            for it in self.items(run.id)
            if not (retry_errors and it.status == ITEM_ERROR)
        }
        return [
            (idx, strategy)
            for idx in range(run.n_questions)
            for strategy in run.strategies
            if (idx, strategy) not in done
        ]
