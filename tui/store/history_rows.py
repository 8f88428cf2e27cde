"""How chains are stored as rows: the columns read back, rows to a Chain, steps written, the
full-text index kept in step, and text made storable. Used by :mod:`tui.store.history`."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from typing import overload

from tui.core.chain import Chain, Status, Step

# --- full-text search --------------------------------------------------------------------

# Han, kana, Hangul: written without spaces between words, so each character is made a token.
_CJK = re.compile(
    "([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f])"
)
# A character unicode61 keeps in a token (letters and digits); the rest separate tokens.
_TOKEN_CHAR = re.compile(r"[^\W_]")
_QUERY_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def fts_text(text: str) -> str:
    """``text`` as it is indexed: CJK characters spaced apart."""
    return _CJK.sub(r" \1 ", text) if text else ""


def fts_query(search: str) -> str | None:
    """An FTS5 query matching chains that contain every word of ``search``.

    Each word becomes a quoted phrase, so operators (OR, NOT, NEAR, ``*``, ``"``, ``:``)
    typed by the user are plain text. The last word matches as a prefix unless the user
    ended with a space. Returns None when nothing searchable is left (only punctuation).
    """
    # FTS5's parser stops at a NUL; no control character belongs in a search anyway.
    search = _QUERY_CONTROLS.sub(" ", storable(search) or "")
    words = search.split()
    phrases: list[str] = []
    last_kept = False
    for word in words:
        spaced = " ".join(fts_text(word).split())
        last_kept = bool(_TOKEN_CHAR.search(spaced))
        if last_kept:
            phrases.append('"' + spaced.replace('"', '""') + '"')
    if not phrases:
        return None
    if last_kept and not search[-1].isspace():
        phrases[-1] += "*"
    return " ".join(phrases)


_SURROGATE = re.compile("[\ud800-\udfff]")


@overload
def storable(text: str) -> str: ...
@overload
def storable(text: None) -> None: ...
def storable(text: str | None) -> str | None:
    """Text SQLite can store: a lone surrogate (JSON's "\\ud800" decodes to one) is not UTF-8."""
    if text is None or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


# --- rows --------------------------------------------------------------------------------------

# ``+c.rid`` keeps the planner from looking chains up by the matches' rowids and sorting them
# all (0.6 s for a word in all of 100 000 chains): it walks chains_newest instead and stops
# after one page (< 30 ms at 100 000, found or not; see bench/history_bench.py).
MATCH_WHERE = "WHERE +c.rid IN (SELECT rowid FROM chain_fts WHERE chain_fts MATCH ?)"
CHAIN_COLS = (
    "id, question, strategy, model, status, final_answer, total_s, created_at, error, lang, "
    "group_id, answer_tokens, parent_id, dropped_turns"
)
#: ``chains.thread_id`` of a chain saved with a parent (two parameters: the parent's id twice):
#: the parent's thread, or the parent itself when it starts one (or is no longer there).
THREAD_OF_PARENT = "coalesce((SELECT coalesce(p.thread_id, p.id) FROM chains p WHERE p.id = ?), ?)"
STEP_COLS = "idx, title, content, elapsed_s, ttft_s, prompt_tokens, completion_tokens, parsed, finish_reason"


def status_of(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        return Status.ERROR  # written by a newer version: show it as not finished


def chain_from_row(row: tuple, steps: Iterable[tuple]) -> Chain:
    """A Chain from :data:`CHAIN_COLS` (a row without the thread columns, as a file of an
    older schema gives, is a one-turn thread)."""
    return Chain(
        id=row[0],
        question=row[1],
        strategy=row[2],
        model=row[3],
        status=status_of(row[4]),
        final_answer=row[5] or "",
        total_s=float(row[6] or 0.0),
        created_at=row[7],
        error=row[8],
        lang=row[9],
        group_id=row[10],
        # Rows salvaged from a damaged file (tui.store.recovery) are read without the later columns,
        # which files from before schemas 5 and 6 lack.
        answer_tokens=row[11] if len(row) > 11 else None,
        parent_id=row[12] if len(row) > 12 else None,
        dropped_turns=int(row[13] or 0) if len(row) > 13 else 0,
        steps=[
            Step(
                index=s[0],
                title=s[1],
                content=s[2],
                elapsed_s=float(s[3] or 0.0),
                ttft_s=s[4],
                prompt_tokens=s[5],
                completion_tokens=s[6],
                parsed=bool(s[7]),
                finish_reason=s[8],
            )
            for s in steps
        ],
    )


def upsert_steps(conn: sqlite3.Connection, chain_id: str, steps: Iterable[Step]) -> None:
    conn.executemany(
        """
        INSERT INTO steps (chain_id, idx, title, content, elapsed_s, ttft_s, prompt_tokens,
                           completion_tokens, parsed, finish_reason)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (chain_id, idx) DO UPDATE SET
            title = excluded.title, content = excluded.content,
            elapsed_s = excluded.elapsed_s, ttft_s = excluded.ttft_s,
            prompt_tokens = excluded.prompt_tokens,
            completion_tokens = excluded.completion_tokens,
            parsed = excluded.parsed, finish_reason = excluded.finish_reason
        """,
        [
            (
                storable(chain_id),
                s.index,
                storable(s.title or ""),
                storable(s.content or ""),
                float(s.elapsed_s or 0.0),
                s.ttft_s,
                s.prompt_tokens,
                s.completion_tokens,
                int(bool(s.parsed)),
                storable(s.finish_reason),
            )
            for s in steps
        ],
    )


def sync_fts(conn: sqlite3.Connection, chain_id: str) -> None:
    """Rewrite the chain's search document from its stored rows (≤ a few dozen steps)."""
    row = conn.execute(
        "SELECT rid, question, final_answer FROM chains WHERE id = ?", (chain_id,)
    ).fetchone()
    if row is None:
        return
    rid, question, answer = row
    body = "\n".join(
        f"{title}\n{content}"
        for title, content in conn.execute(
            "SELECT title, content FROM steps WHERE chain_id = ? ORDER BY idx", (chain_id,)
        )
    )
    conn.execute("DELETE FROM chain_fts WHERE rowid = ?", (rid,))
    conn.execute(
        "INSERT INTO chain_fts (rowid, question, body, answer) VALUES (?, ?, ?, ?)",
        (rid, fts_text(question), fts_text(body), fts_text(answer or "")),
    )
