"""Schema 2: groups of chains run together on one question (self-consistency, compare).

Each chain of a group stays a chain of its own (``chains.group_id``, nullable, indexed since
schema 1, names the group); the group row adds what belongs to the whole: its kind, the
strategies in the order asked, its chains in that order (``chain_ids``, a JSON list, so sample 3
stays sample 3 whatever order the chains were saved in), the voted answer and the votes (a JSON
object: normalized answer → count), the group's wall time and status.

``pid``/``updated_at`` serve the same purpose as on chains: a group left ``running`` by a
process that is gone is settled (status ``error``, votes from the chains that finished) when it
is next read.
"""

from __future__ import annotations

import sqlite3

VERSION = 2

STATEMENTS = (
    """
    CREATE TABLE groups (
        rid         INTEGER PRIMARY KEY,
        id          TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        question    TEXT NOT NULL,
        model       TEXT NOT NULL,
        strategies  TEXT NOT NULL DEFAULT '[]',
        chain_ids   TEXT NOT NULL DEFAULT '[]',
        temperature REAL,
        status      TEXT NOT NULL,
        answer      TEXT,
        votes       TEXT NOT NULL DEFAULT '{}',
        wall_s      REAL NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        error       TEXT,
        pid         INTEGER
    )
    """,
    "CREATE INDEX groups_newest ON groups (created_at)",
    "CREATE INDEX groups_running ON groups (status) WHERE status = 'running'",
)


def upgrade(conn: sqlite3.Connection) -> None:
    for statement in STATEMENTS:
        conn.execute(statement)
