"""Schema 1: chains, their steps, and a full-text index over both.

``chains.rid`` is an explicit integer key so that the full-text table can point at a chain by
rowid and that link survives ``VACUUM`` (an implicit rowid may be renumbered). Users and the
CLI still address chains by the text ``id``.

``chain_fts`` holds one document per chain: question, step titles and contents, final answer.
It keeps its own copy of the text, written by the store in the same transaction as the
chain, because the indexed text is transformed (CJK characters are spaced apart so Chinese
can be searched without word breaks) and so never equals the rows it came from.
"""

from __future__ import annotations

import sqlite3

VERSION = 1

STATEMENTS = (
    """
    CREATE TABLE chains (
        rid          INTEGER PRIMARY KEY,
        id           TEXT NOT NULL UNIQUE,
        question     TEXT NOT NULL,
        strategy     TEXT NOT NULL,
        model        TEXT NOT NULL,
        status       TEXT NOT NULL,
        final_answer TEXT NOT NULL DEFAULT '',
        total_s      REAL NOT NULL DEFAULT 0,
        created_at   TEXT NOT NULL,
        error        TEXT,
        lang         TEXT,
        group_id     TEXT,
        updated_at   TEXT NOT NULL,
        pid          INTEGER
    )
    """,
    """
    CREATE TABLE steps (
        chain_id          TEXT NOT NULL REFERENCES chains(id) ON DELETE CASCADE,
        idx               INTEGER NOT NULL,
        title             TEXT NOT NULL DEFAULT '',
        content           TEXT NOT NULL DEFAULT '',
        elapsed_s         REAL NOT NULL DEFAULT 0,
        ttft_s            REAL,
        prompt_tokens     INTEGER,
        completion_tokens INTEGER,
        parsed            INTEGER NOT NULL DEFAULT 1,
        finish_reason     TEXT,
        PRIMARY KEY (chain_id, idx)
    ) WITHOUT ROWID
    """,
    # Newest first: created_at, then rid (implicitly the last column of every index).
    "CREATE INDEX chains_newest ON chains (created_at)",
    "CREATE INDEX chains_group ON chains (group_id) WHERE group_id IS NOT NULL",
    # Only running chains are looked at when the store opens (interrupted-run check).
    "CREATE INDEX chains_running ON chains (status) WHERE status = 'running'",
    """
    CREATE VIRTUAL TABLE chain_fts USING fts5 (
        question, body, answer,
        tokenize = 'unicode61 remove_diacritics 2'
    )
    """,
)


def upgrade(conn: sqlite3.Connection) -> None:
    for statement in STATEMENTS:
        conn.execute(statement)
