"""Schema 3: eval runs, their questions, and one row per answered (question, strategy) item.

An eval run keeps its questions (``eval_questions``: the question, the gold answer, the
answers also accepted and the item's other fields), so ``--resume`` and re-scoring never
depend on a set file still being there or unchanged. ``eval_items`` is written once per
(question, strategy) as it finishes, in one transaction, and links the item to its chain
(``chain_id``) or, for a self-consistency strategy ``S@N``, to its group (``group_id``): the
chains themselves are ordinary chains of the history. ``predicted`` and ``correct`` are what
the scorer said then; re-scoring recomputes them from the chains' final answers.
"""

from __future__ import annotations

import sqlite3

VERSION = 3

STATEMENTS = (
    """
    CREATE TABLE eval_runs (
        rid          INTEGER PRIMARY KEY,
        id           TEXT NOT NULL UNIQUE,
        set_name     TEXT NOT NULL,
        source       TEXT,
        seed         INTEGER,
        model        TEXT NOT NULL,
        strategies   TEXT NOT NULL,
        options      TEXT NOT NULL DEFAULT '{}',
        n_questions  INTEGER NOT NULL,
        status       TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        pid          INTEGER
    )
    """,
    "CREATE INDEX eval_runs_newest ON eval_runs (created_at)",
    """
    CREATE TABLE eval_questions (
        run_id    TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
        idx       INTEGER NOT NULL,
        question  TEXT NOT NULL,
        gold      TEXT NOT NULL,
        accept    TEXT NOT NULL DEFAULT '[]',
        meta      TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, idx)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE eval_items (
        run_id       TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
        idx          INTEGER NOT NULL,
        strategy     TEXT NOT NULL,
        chain_id     TEXT,
        group_id     TEXT,
        status       TEXT NOT NULL,
        predicted    TEXT,
        correct      INTEGER NOT NULL DEFAULT 0,
        wall_s       REAL NOT NULL DEFAULT 0,
        tokens       INTEGER,
        steps        REAL,
        finished_at  TEXT NOT NULL,
        PRIMARY KEY (run_id, strategy, idx)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX eval_items_chain ON eval_items (chain_id) WHERE chain_id IS NOT NULL",
)


def upgrade(conn: sqlite3.Connection) -> None:
    for statement in STATEMENTS:
        conn.execute(statement)
