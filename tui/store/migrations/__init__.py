"""Schema migrations for the history database, keyed on ``PRAGMA user_version``.

One module per schema version (``v001_initial.py``, ``v002_...``), each with ``VERSION`` and
``upgrade(conn)``. :func:`migrate` applies the missing ones in order, each in its own
transaction together with the new ``user_version``, so a crash leaves the database at the
previous version, never half-way. A database from a newer o1tui is refused, not touched.
"""

from __future__ import annotations

import sqlite3
from types import ModuleType

from tui.store.migrations import (
    v001_initial,
    v002_groups,
    v003_eval,
    v004_eval_prompts,
    v005_answer_tokens,
    v006_threads,
)

#: Every migration, oldest first. Add new modules here.
MIGRATIONS: tuple[ModuleType, ...] = (
    v001_initial,
    v002_groups,
    v003_eval,
    v004_eval_prompts,
    v005_answer_tokens,
    v006_threads,
)

LATEST: int = MIGRATIONS[-1].VERSION


class SchemaError(Exception):
    """A database o1tui must not touch; the message says why."""


class NewerSchemaError(SchemaError):
    """The database was written by a newer o1tui than this one."""


class ForeignDatabaseError(SchemaError):
    """An SQLite file of another program (tables, but no o1tui schema version)."""


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def refuse_foreign(conn: sqlite3.Connection) -> None:
    """Raise ForeignDatabaseError for a file with tables but no o1tui schema version (run
    before anything is written to it, even the journal mode)."""
    if current_version(conn) != 0:
        return
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    # Tables and the version are committed together: a process that migrated the file
    # between our two reads shows its version now.
    if tables and current_version(conn) == 0:  # never migrated into: someone else's
        shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
        raise ForeignDatabaseError(
            f"this SQLite file is not an o1tui history (it holds: {shown}); it was left as "
            "it is: choose another --data-dir"
        )


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to :data:`LATEST`; return the version it was at.

    ``conn`` must be in autocommit mode (``isolation_level=None``): transactions are explicit.
    """
    before = current_version(conn)
    if before > LATEST:
        raise NewerSchemaError(
            f"the history database has schema version {before}; this o1tui knows up to "
            f"{LATEST}. Upgrade o1tui."
        )
    if before == 0:
        refuse_foreign(conn)
    for module in MIGRATIONS:
        if before >= module.VERSION:
            continue
        # IMMEDIATE: take the write lock first, then re-read the version, so two processes
        # opening a fresh database at once do not both run the same migration.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if current_version(conn) < module.VERSION:
                module.upgrade(conn)
                conn.execute(f"PRAGMA user_version = {int(module.VERSION)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return before
