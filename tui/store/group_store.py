"""Groups in the history store: the ``groups`` table of schema 2 (see
:mod:`tui.store.migrations.v002_groups`), on top of :class:`tui.store.history.History`.

- :func:`save_group` writes (inserts or updates) a group's row; its chains are saved by the
  runner like any chain, each with ``group_id`` set.
- :func:`load_group` reads a group and its chains back, in the group's order, as a
  :class:`tui.core.group.GroupResult` (the app reopens it in its group view).
- :func:`list_groups` lists groups newest first (optionally only those with a chain matching a
  full-text search), :func:`delete_group` removes a group with its chains.

A group left ``running`` by a process that is gone (a crash, SIGKILL) is settled when it is
read: status ``error`` with the message "interrupted" and the vote recomputed from the chains
that had finished, so it reads like an interrupted chain does. Nothing here imports Textual.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tui.core.chain import Chain, Status, utc_now_iso
from tui.core.group import Group, GroupKind, GroupResult, group_status, vote_of
from tui.core.votes import vote_label
from tui.store.history import (
    INTERRUPTED,
    SUMMARY_QUESTION_CHARS,
    AmbiguousId,
    ChainSummary,
    History,
    _pid_alive,
)
from tui.store.history_rows import fts_query, status_of, storable
from tui.store.thread_store import THREAD_LEAF, THREAD_MATCH, turn_counts, with_turns

_GROUP_COLS = (
    "id, kind, question, model, strategies, chain_ids, temperature, status, answer, votes, "
    "wall_s, created_at, error, pid"
)


@dataclass(frozen=True)
class GroupSummary:
    """One line of a group list (the question cut like a chain summary's)."""

    id: str
    kind: GroupKind
    question: str
    model: str
    strategies: tuple[str, ...]
    status: Status
    answer: str | None
    votes: dict[str, int]
    wall_s: float
    created_at: str
    size: int

    @property
    def winner_votes(self) -> int:
        return max(self.votes.values(), default=0)

    @property
    def ballots(self) -> int:
        return sum(self.votes.values())


def save_group(history: History, group: Group) -> None:
    """Insert or update ``group``'s row (the process id marks a running group as ours)."""
    history.transaction(group_tx(group), write=True)


def group_tx(group: Group) -> Callable[[sqlite3.Connection], None]:
    """The transaction that saves ``group``'s row as it is now (a queued save writes that)."""
    pid = os.getpid() if group.status == Status.RUNNING else None
    now = utc_now_iso()
    params = (
        storable(group.id),
        GroupKind(group.kind).value,
        storable(group.question),
        storable(group.model),
        json.dumps(group.strategies),
        json.dumps(group.chain_ids),
        group.temperature,
        Status(group.status).value,
        storable(group.answer),
        json.dumps(group.votes, ensure_ascii=False),
        float(group.wall_s or 0.0),
        storable(group.created_at),
        now,
        storable(group.error),
        pid,
    )

    def tx(conn: sqlite3.Connection) -> None:
        conn.execute(
            """
            INSERT INTO groups (id, kind, question, model, strategies, chain_ids, temperature,
                                status, answer, votes, wall_s, created_at, updated_at, error, pid)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                status = excluded.status, answer = excluded.answer, votes = excluded.votes,
                wall_s = excluded.wall_s, error = excluded.error,
                updated_at = excluded.updated_at, pid = excluded.pid
            """,
            params,
        )

    return tx


def _group_from_row(row: tuple[Any, ...]) -> Group:
    return Group(
        id=row[0],
        kind=GroupKind(row[1]),
        question=row[2],
        model=row[3],
        strategies=list(json.loads(row[4] or "[]")),
        chain_ids=list(json.loads(row[5] or "[]")),
        temperature=row[6],
        status=status_of(row[7]),
        answer=row[8],
        votes=dict(json.loads(row[9] or "{}")),
        wall_s=float(row[10] or 0.0),
        created_at=row[11],
        error=row[12],
    )


def _settle(history: History, group: Group, chains: list[Chain], pid: int | None) -> None:
    """Finish a group whose process is gone: status, vote and message from its chains."""
    if group.status != Status.RUNNING or _pid_alive(pid):
        return
    group.status = group_status(chains, cancelled=False)
    if group.status == Status.DONE:
        group.status = Status.ERROR  # the process died before it could finish the group
    if group.kind == GroupKind.VOTE:
        result = vote_of(chains, [])
        group.answer, group.votes = result.answer, dict(result.votes)
    group.error = INTERRUPTED
    history.write_soon(group_tx(group))  # a read (maybe on the event loop) waits no longer


def _find(conn: sqlite3.Connection, key: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None
    row = conn.execute(f"SELECT {_GROUP_COLS} FROM groups WHERE id = ?", (key,)).fetchone()
    if row is not None:
        return row
    rows = conn.execute(
        f"SELECT {_GROUP_COLS} FROM groups WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
        (key, key + "\U0010ffff"),
    ).fetchall()
    if len(rows) > 1:
        raise AmbiguousId(key, "groups", [r[0] for r in rows])
    return rows[0] if rows else None


def load_group(history: History, id_or_prefix: str) -> GroupResult | None:
    """The group with this id (or the only one it prefixes) and its chains, in order.

    Chains deleted since are left out. None when there is no such group.
    """
    key = storable(id_or_prefix.strip()) or ""
    if not key:
        return None
    row = history.transaction(lambda conn: _find(conn, key), write=False)
    if row is None:
        return None
    group = _group_from_row(row)
    chains = [c for c in (history.get(cid) for cid in group.chain_ids) if c is not None]
    _settle(history, group, chains, row[13])
    result = GroupResult(group, chains)
    if group.kind == GroupKind.VOTE:
        result.vote = vote_of(chains, [])
        # The stored tally was taken in finishing order (ties): keep its winner.
        result.vote = _stored_vote(group, result.vote)
    return result


def _stored_vote(group: Group, recomputed: Any) -> Any:
    """The vote as saved (winner and tally) when the group saved one, else ``recomputed``."""
    if not group.votes:
        return recomputed
    from tui.core.answers import VoteResult

    key = next(iter(group.votes))
    return VoteResult(
        key=key,
        answer=group.answer,
        votes=dict(group.votes),
        ballots=sum(group.votes.values()),
        abstained=max(0, len(group.chain_ids) - sum(group.votes.values())),
    )


def list_groups(
    history: History, search: str | None = None, limit: int = 50, offset: int = 0
) -> list[GroupSummary]:
    """Groups newest first; with ``search``, only those having a chain that matches it."""
    limit, offset = max(int(limit), 0), max(int(offset), 0)
    query = fts_query(search) if search else None
    where, params = "", []
    if query is not None:
        where = (
            "WHERE g.id IN (SELECT c.group_id FROM chains c WHERE c.group_id IS NOT NULL AND "
            "c.rid IN (SELECT rowid FROM chain_fts WHERE chain_fts MATCH ?))"
        )
        params = [query]
    sql = f"{_SUMMARY_SELECT} {where} ORDER BY g.created_at DESC, g.rid DESC LIMIT ? OFFSET ?"
    rows = history.transaction(
        lambda conn: conn.execute(sql, (*params, limit, offset)).fetchall(), write=False
    )
    return [_summary_of(history, r) for r in rows]


_SUMMARY_SELECT = f"""
    SELECT g.id, g.kind, substr(g.question, 1, {SUMMARY_QUESTION_CHARS}), g.model,
           g.strategies, g.status, g.answer, g.votes, g.wall_s, g.created_at, g.chain_ids, g.pid
    FROM groups g
"""


def _summary_of(history: History, r: tuple[Any, ...]) -> GroupSummary:
    status = status_of(r[5])
    answer, votes = r[6], dict(json.loads(r[7] or "{}"))
    if status == Status.RUNNING and not _pid_alive(r[11]):
        settled = load_group(history, r[0])  # settles it
        if settled is not None:
            status, answer, votes = settled.status, settled.group.answer, settled.group.votes
        else:
            status = Status.ERROR
    return GroupSummary(
        id=r[0],
        kind=GroupKind(r[1]),
        question=r[2],
        model=r[3],
        strategies=tuple(json.loads(r[4] or "[]")),
        status=status,
        answer=answer,
        votes=votes,
        wall_s=float(r[8] or 0.0),
        created_at=r[9],
        size=len(json.loads(r[10] or "[]")),
    )


def delete_group(history: History, id_or_prefix: str) -> bool:
    """Delete a group and its chains; False when there is no such group."""
    found = load_group(history, id_or_prefix)
    if found is None:
        return False
    for chain_id in found.group.chain_ids:
        history.delete(chain_id)
    history.transaction(
        lambda conn: conn.execute("DELETE FROM groups WHERE id = ?", (found.group.id,)),
        write=True,
    )
    return True


# --- the history as the sidebar lists it: single chains and groups, one entry each ----------


@dataclass(frozen=True)
class GroupEntry(ChainSummary):
    """A group as one line of the history list: a chain's summary line whose ``id`` and
    ``group_id`` are the group's.

    ``strategy`` is short (``g1@8``, ``compare``); ``list_text`` leads with the outcome:
    ``3 (5/8) · question`` for a vote.
    """

    list_text: str = ""


def _entry_of(summary: GroupSummary) -> GroupEntry:
    if summary.kind == GroupKind.VOTE:
        name = summary.strategies[0] if summary.strategies else "?"
        label = vote_label(name, summary.size)
        outcome = (
            f"{summary.answer} ({summary.winner_votes}/{summary.size})"
            if summary.answer
            else "no answer"
        )
    else:
        label, outcome = "compare", "/".join(summary.strategies)
    return GroupEntry(
        id=summary.id,
        question=summary.question,
        strategy=label,
        model=summary.model,
        status=summary.status,
        total_s=summary.wall_s,
        created_at=summary.created_at,
        n_steps=0,
        list_text=f"{outcome} · {summary.question}",
        group_id=summary.id,
    )


# Chains and groups of eval runs stay out of the sidebar: a run of 120 questions under four
# strategies is 480 chains, which would bury the user's own; the Evaluations screen lists them
# by run and opens each one (and `o1tui history` still shows every chain).
_NOT_EVAL_CHAIN = " AND c.id NOT IN (SELECT chain_id FROM eval_items WHERE chain_id IS NOT NULL)"
_NOT_EVAL_GROUP = "g.id NOT IN (SELECT group_id FROM eval_items WHERE group_id IS NOT NULL)"
_NOT_EVAL_GROUP_WHERE = f" WHERE {_NOT_EVAL_GROUP}"


class GroupedHistory:
    """A :class:`~tui.store.history.History` whose ``list``/``count`` give single chains and whole
    groups, newest first, each once (the app's sidebar); ``get``/``delete`` accept a group id
    too (``get`` gives the group's first chain: its question re-runs, it exports)."""

    def __init__(self, history: History) -> None:
        self.history = history

    def __getattr__(self, name: str) -> Any:  # everything else is the store's own
        return getattr(self.history, name)

    def _match(self, search: str | None) -> tuple[str, str, list[Any]]:
        query = fts_query(search) if search else None
        if query is None:
            return "", _NOT_EVAL_GROUP_WHERE, []
        chain_where = THREAD_MATCH  # a thread matches when any of its turns does
        group_where = (
            " WHERE g.id IN (SELECT c2.group_id FROM chains c2 WHERE c2.group_id IS NOT NULL"
            " AND c2.rid IN (SELECT rowid FROM chain_fts WHERE chain_fts MATCH ?))"
            f" AND {_NOT_EVAL_GROUP}"
        )
        return chain_where, group_where, [query, query]

    def count(self, search: str | None = None) -> int:
        chain_where, group_where, params = self._match(search)
        # Eval chains are subtracted rather than filtered out row by row: a NOT IN probe on
        # every one of 100 000 chains made the count 2-3x slower.
        sql = (
            "SELECT (SELECT count(*) FROM chains c WHERE c.group_id IS NULL"
            f" AND {THREAD_LEAF}{chain_where})"
            " - (SELECT count(*) FROM eval_items e JOIN chains c ON c.id = e.chain_id"
            f" WHERE c.group_id IS NULL AND {THREAD_LEAF}{chain_where})"
            f" + (SELECT count(*) FROM groups g{group_where})"
        )
        params = [*params[:1], *params[:1], *params[1:]]
        return int(
            self.history.transaction(lambda c: c.execute(sql, params).fetchone()[0], write=False)
        )

    def list(self, search: str | None = None, limit: int = 50, offset: int = 0) -> list[Any]:
        limit, offset = max(int(limit), 0), max(int(offset), 0)
        chain_where, group_where, params = self._match(search)
        sql = f"""
            SELECT 'c', c.id, c.created_at, c.rid FROM chains c
            WHERE c.group_id IS NULL AND {THREAD_LEAF}{_NOT_EVAL_CHAIN}{chain_where}
            UNION ALL
            SELECT 'g', g.id, g.created_at, g.rid FROM groups g{group_where}
            ORDER BY 3 DESC, 4 DESC LIMIT ? OFFSET ?
        """
        rows = self.history.transaction(
            lambda c: c.execute(sql, (*params, limit, offset)).fetchall(), write=False
        )
        if not rows:
            return []
        # The page's chains and groups in two queries, placed back in the page's order.
        chain_ids = [r[1] for r in rows if r[0] == "c"]
        # A thread is one entry: its newest chain, with its number of turns.
        summaries = with_turns(
            _chain_summaries(self.history, chain_ids), turn_counts(self.history, chain_ids)
        )
        chains = {s.id: s for s in summaries}
        groups = {
            g.id: _entry_of(g)
            for g in _group_summaries(self.history, [r[1] for r in rows if r[0] == "g"])
        }
        out: list[Any] = []
        for kind, ident, _created, _rid in rows:
            found = chains.get(ident) if kind == "c" else groups.get(ident)
            if found is not None:
                out.append(found)
        return out

    def get(self, id_or_prefix: str) -> Chain | None:
        chain = self.history.get(id_or_prefix)
        if chain is not None:
            return chain
        group = load_group(self.history, id_or_prefix)
        return group.chains[0] if group is not None and group.chains else None

    def delete(self, row_id: str) -> bool:
        if self.history.delete(row_id):
            return True
        return delete_group(self.history, row_id)


def _chain_summaries(history: History, ids: list[str]) -> list[ChainSummary]:
    """Summaries of the chains with these ids (any order)."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    sql = f"""
        SELECT c.id, substr(c.question, 1, {SUMMARY_QUESTION_CHARS}), c.strategy, c.model,
               c.status, c.total_s, c.created_at,
               (SELECT count(*) FROM steps s WHERE s.chain_id = c.id), c.group_id
        FROM chains c WHERE c.id IN ({marks})
    """
    rows = history.transaction(lambda c: c.execute(sql, ids).fetchall(), write=False)
    return [
        ChainSummary(r[0], r[1], r[2], r[3], status_of(r[4]), r[5], r[6], r[7], r[8]) for r in rows
    ]


def _group_summaries(history: History, ids: list[str]) -> list[GroupSummary]:
    """Summaries of the groups with these ids (any order)."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = history.transaction(
        lambda c: c.execute(f"{_SUMMARY_SELECT} WHERE g.id IN ({marks})", ids).fetchall(),
        write=False,
    )
    return [_summary_of(history, r) for r in rows]
