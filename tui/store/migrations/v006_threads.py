"""Schema 6: threads — a chain may follow up another (``parent_id``).

``parent_id`` names the chain a follow-up continues; chains made before this version have
none, so each is a one-turn thread. ``thread_id`` is the id of the thread's first chain, set
on every follow-up when it is saved (NULL on a first turn: its own id is the thread's), so the
history lists a thread as one entry and its search finds any turn with one indexed lookup. ``dropped_turns`` counts the oldest earlier turns a
follow-up left out to fit the model's context (the chain's note says so). The parent is not a
foreign key: deleting one turn of a thread keeps its follow-ups, which then start the thread.
"""

from __future__ import annotations

import sqlite3

VERSION = 6

STATEMENTS = (
    "ALTER TABLE chains ADD COLUMN parent_id TEXT",
    "ALTER TABLE chains ADD COLUMN dropped_turns INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE chains ADD COLUMN thread_id TEXT",
    "CREATE INDEX chains_parent ON chains (parent_id) WHERE parent_id IS NOT NULL",
    "CREATE INDEX chains_thread ON chains (thread_id) WHERE thread_id IS NOT NULL",
)


def upgrade(conn: sqlite3.Connection) -> None:
    for statement in STATEMENTS:
        conn.execute(statement)
