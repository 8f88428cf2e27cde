"""Threads in the history store: a chain's whole thread, the latest chain, the chain a
follow-up names, and the SQL the sidebar uses to list a thread as one entry.

A thread's chains share ``chains.thread_id`` (the first chain's id; NULL on the first chain
itself, see ``tui/store/migrations/v006_threads.py``). The sidebar's entry for a thread is its
newest chain, with the number of turns; a search finds a thread when any of its turns matches.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from tui.core.chain import Chain
from tui.core.threads import ThreadError, check_parent, turn_count
from tui.store.history import ChainSummary, History, HistoryError
from tui.store.history_rows import CHAIN_COLS, STEP_COLS, chain_from_row, storable

#: Most turns read up or down a thread (a guard against a cycle written by hand).
MAX_TURNS = 10_000

#: True for the chain ``c`` that stands for its thread in a list: the newest of the thread.
THREAD_LEAF = (
    "(CASE WHEN c.thread_id IS NULL"
    " THEN NOT EXISTS (SELECT 1 FROM chains k WHERE k.thread_id = c.id)"
    " ELSE c.rid = (SELECT max(k.rid) FROM chains k WHERE k.thread_id = c.thread_id) END)"
)
#: Chains ``c`` whose thread holds a turn matching the FTS query (one parameter).
THREAD_MATCH = (
    " AND coalesce(c.thread_id, c.id) IN (SELECT coalesce(m.thread_id, m.id) FROM chains m"
    " WHERE m.rid IN (SELECT rowid FROM chain_fts WHERE chain_fts MATCH ?))"
)


def _read(conn: sqlite3.Connection, chain_id: str) -> Chain | None:
    row = conn.execute(f"SELECT {CHAIN_COLS} FROM chains WHERE id = ?", (chain_id,)).fetchone()
    if row is None:
        return None
    steps = conn.execute(
        f"SELECT {STEP_COLS} FROM steps WHERE chain_id = ? ORDER BY idx", (chain_id,)
    ).fetchall()
    return chain_from_row(row, steps)


def thread_of(history: History, chain_id: str) -> list[Chain]:
    """The thread ``chain_id`` belongs to, first turn first: its ancestors, the chain, then
    its newest follow-up, that one's newest, and so on. Empty when there is no such chain."""

    def read(conn: sqlite3.Connection) -> list[Chain]:
        chain = _read(conn, storable(chain_id))
        if chain is None:
            return []
        seen = {chain.id}
        up: list[Chain] = []
        cur = chain
        while cur.parent_id and cur.parent_id not in seen and len(seen) < MAX_TURNS:
            parent = _read(conn, cur.parent_id)
            if parent is None:  # that turn was deleted: the thread starts after it
                break
            seen.add(parent.id)
            up.append(parent)
            cur = parent
        down: list[Chain] = []
        cur = chain
        while len(seen) < MAX_TURNS:
            row = conn.execute(
                "SELECT id FROM chains WHERE parent_id = ? ORDER BY rid DESC LIMIT 1", (cur.id,)
            ).fetchone()
            if row is None or row[0] in seen:
                break
            child = _read(conn, row[0])
            if child is None:
                break
            seen.add(child.id)
            down.append(child)
            cur = child
        return [*reversed(up), chain, *down]

    return history.transaction(read, write=False)


def earlier_turns(history: History, parent_id: str) -> list[Chain]:
    """The turns a follow-up of ``parent_id`` continues: the parent and its ancestors, first
    turn first (never the parent's other follow-ups)."""
    thread = thread_of(history, parent_id)
    ids = [c.id for c in thread]
    return thread[: ids.index(parent_id) + 1] if parent_id in ids else []


def latest_chain(history: History) -> Chain | None:
    """The newest chain asked on its own (a chain of a group or an eval run is skipped)."""

    def read(conn: sqlite3.Connection) -> Chain | None:
        row = conn.execute(
            "SELECT c.id FROM chains c WHERE c.group_id IS NULL AND c.id NOT IN"
            " (SELECT chain_id FROM eval_items WHERE chain_id IS NOT NULL)"
            " ORDER BY c.created_at DESC, c.rid DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _read(conn, row[0])

    return history.transaction(read, write=False)


def parent_for(history: History, ident: str | None) -> Chain:
    """The chain a follow-up continues: ``ident`` (an id or a unique prefix), or the latest
    chain when ``ident`` is None. Raises :class:`ThreadError` (one line) when there is none,
    when the prefix matches several chains (naming them), or when the chain cannot be
    followed up (:func:`tui.core.threads.check_parent`)."""
    if ident is None:
        chain = latest_chain(history)
        if chain is None:
            raise ThreadError("there is no earlier chain to continue: ask a question first")
    else:
        try:
            chain = history.get(ident)
        except HistoryError as err:  # an ambiguous prefix: the message lists the candidates
            raise ThreadError(str(err)) from None
        if chain is None:
            raise ThreadError(f"no chain with id {ident!r} in the history")
    check_parent(chain)
    return chain


def turn_counts(history: History, ids: list[str]) -> dict[str, int]:
    """The number of turns of the thread of each chain in ``ids`` (only those above 1)."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    sql = f"""
        SELECT c.id,
               (SELECT count(*) FROM chains k WHERE k.thread_id = c.thread_id)
               + EXISTS (SELECT 1 FROM chains r WHERE r.id = c.thread_id)
        FROM chains c WHERE c.id IN ({marks}) AND c.thread_id IS NOT NULL
    """
    rows = history.transaction(lambda conn: conn.execute(sql, ids).fetchall(), write=False)
    return {r[0]: int(r[1]) for r in rows if int(r[1]) > 1}


@dataclass(frozen=True)
class ThreadEntry(ChainSummary):
    """A thread as one line of the sidebar: its newest chain, led by the number of turns."""

    turns: int = 1

    @property
    def list_text(self) -> str:
        return f"{turn_count(self.turns)} · {self.question}"


def with_turns(summaries: list[ChainSummary], turns: dict[str, int]) -> list[ChainSummary]:
    """``summaries`` with each chain that ends a thread of several turns as a ThreadEntry."""
    return [
        ThreadEntry(**{**s.__dict__, "turns": turns[s.id]}) if s.id in turns else s
        for s in summaries
    ]


def delete_thread(history: History, chain_id: str) -> int:
    """Delete every turn of the thread ``chain_id`` belongs to (follow-ups on other branches
    too); returns how many. A turn still running is refused like :meth:`History.delete`
    refuses it, after the turns before it are gone."""

    def ids(conn: sqlite3.Connection) -> list[str]:
        row = conn.execute(
            "SELECT coalesce(thread_id, id) FROM chains WHERE id = ?", (storable(chain_id),)
        ).fetchone()
        if row is None:
            return []
        return [
            r[0]
            for r in conn.execute(
                "SELECT id FROM chains WHERE id = ? OR thread_id = ? ORDER BY rid", (row[0], row[0])
            )
        ]

    return sum(1 for cid in history.transaction(ids, write=False) if history.delete(cid))
