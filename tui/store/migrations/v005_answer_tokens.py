"""Schema 5: the tokens of a chain's final answer that no step counts.

g1 asks for the final answer in a call of its own after the last step (and a reasoning model's
answer follows its thinking); the chain's time always covered that call, its token total did
not. ``chains.answer_tokens`` (nullable: unknown for chains saved before, and for strategies
whose steps hold every token) completes the total.
"""

from __future__ import annotations

import sqlite3

VERSION = 5


def upgrade(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE chains ADD COLUMN answer_tokens INTEGER")
