"""A damaged history database: set aside by one process, what can be read brought back.

When the history fails its check (at open, or later with "database disk image is malformed"),
exactly one process, holding an exclusive lock on ``history.db.lock``, renames the damaged
file aside (``history.db.corrupt-<time>``, never deleted) and starts a fresh one; every other
process waits on that lock and then opens the fresh file. The one that set it aside then reads
the damaged copy: the whole ``chains`` table when it can, else row by row (a lookup by key only
touches the pages on its path, so one bad page loses only the rows on it), and each chain's
steps the same way, saving every chain it can read into the fresh database.

Recovered: chains and their steps (and so the search index, rebuilt from them). Not
recovered: group and evaluation records; a recovered chain that was ``running`` becomes
interrupted, like any chain whose process is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from datetime import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tui.chain import Chain

#: Columns read back (the ones every schema version has).
CHAIN_COLS = (
    "rid, id, question, strategy, model, status, final_answer, total_s, created_at, error, "
    "lang, group_id"
)
STEP_COLS = (
    "idx, title, content, elapsed_s, ttft_s, prompt_tokens, completion_tokens, parsed, "
    "finish_reason"
)
#: Row-by-row step reading stops after this many missing indexes in a row.
_STEP_GAP = 8


@dataclass(frozen=True)
class Recovery:
    """What was brought back from a damaged file."""

    damaged: Path
    chains: int  #: chains saved into the fresh database
    steps: int

    def message(self) -> str:
        """The warning a user sees."""
        return (
            f"the history database was damaged; {self.chains} chain(s) with {self.steps} "
            f"step(s) were recovered into a new one; the damaged file is kept as {self.damaged}"
        )


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the set-aside lock of the database at ``path`` (waits for another holder)."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def set_aside(path: Path) -> Path:
    """Rename a damaged database (and its -wal/-shm) to ``<name>.corrupt-<timestamp>``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            side.rename(Path(f"{target}{suffix}"))
    return target


def same_file(path: Path, ino: int | None) -> bool:
    """Whether ``path`` is still the file (inode) a connection was opened on."""
    try:
        return ino is not None and os.stat(path).st_ino == ino
    except OSError:
        return False


def inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _open_damaged(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    # Text that is not UTF-8 on disk comes back with replacement characters, not an error.
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    return conn


def _chain_rows(conn: sqlite3.Connection) -> Iterator[tuple]:
    """Every readable chain row: the whole table if it reads, else row by row."""
    try:
        rows = conn.execute(f"SELECT {CHAIN_COLS} FROM chains ORDER BY rid").fetchall()
    except sqlite3.DatabaseError:
        pass
    else:
        yield from rows
        return
    high = _max_rid(conn)
    found = 0
    for rid in range(1, high + 1):
        try:
            row = conn.execute(f"SELECT {CHAIN_COLS} FROM chains WHERE rid = ?", (rid,)).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None:
            found += 1
            yield row
    if not found:  # the table's root page itself is gone: its indexes may still tell
        yield from _rows_from_indexes(conn)


#: What a chain rebuilt from the indexes says about what was lost with its row.
LOST = "recovered from a damaged history: its strategy, model and status were lost"


def _rows_from_indexes(conn: sqlite3.Connection) -> Iterator[tuple]:
    """Chain rows rebuilt without the table: ids from the unique index on ``id``, times from
    ``chains_newest``, question and answer from the search index (its spaced CJK form)."""
    try:
        pairs = conn.execute(
            "SELECT id, rid FROM chains INDEXED BY sqlite_autoindex_chains_1"
        ).fetchall()
    except sqlite3.DatabaseError:
        return
    try:
        created = dict(
            conn.execute("SELECT rid, created_at FROM chains INDEXED BY chains_newest").fetchall()
        )
    except sqlite3.DatabaseError:
        created = {}
    for chain_id, rid in pairs:
        try:
            text = conn.execute(
                "SELECT question, answer FROM chain_fts WHERE rowid = ?", (rid,)
            ).fetchone()
        except sqlite3.DatabaseError:
            text = None
        question, answer = text or ("(the question was lost)", "")
        when = created.get(rid) or datetime.now().astimezone().isoformat(timespec="seconds")
        yield (
            rid,
            chain_id,
            question,
            "unknown",
            "unknown",
            "error",
            answer,
            0.0,
            when,
            LOST,
            None,
            None,
        )


def _max_rid(conn: sqlite3.Connection) -> int:
    """The highest chain key, or a bound from the file's size when even that cannot be read."""
    for sql in (
        "SELECT max(rid) FROM chains",
        "SELECT max(rid) FROM chains INDEXED BY chains_newest",
    ):
        try:
            value = conn.execute(sql).fetchone()[0]
            if value:
                return int(value)
        except sqlite3.DatabaseError:
            continue
    try:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    except sqlite3.DatabaseError:
        pages = 1000
    return pages * 40  # no page holds more chain rows than that


def _step_rows(conn: sqlite3.Connection, chain_id: str) -> list[tuple]:
    sql = f"SELECT {STEP_COLS} FROM steps WHERE chain_id = ? ORDER BY idx"
    try:
        return conn.execute(sql, (chain_id,)).fetchall()
    except sqlite3.DatabaseError:
        pass
    rows: list[tuple] = []
    missing = 0
    idx = 0
    while missing < _STEP_GAP:
        try:
            row = conn.execute(
                f"SELECT {STEP_COLS} FROM steps WHERE chain_id = ? AND idx = ?", (chain_id, idx)
            ).fetchone()
        except sqlite3.DatabaseError:
            row = None
        if row is None:
            missing += 1
        else:
            missing = 0
            rows.append(row)
        idx += 1
    return rows


def recover(
    damaged: Path, save: Callable[[Chain], None], make_chain: Callable[..., Chain]
) -> Recovery:
    """Read every chain (and its steps) that can be read from ``damaged`` and ``save`` it."""
    chains = steps = 0
    try:
        conn = _open_damaged(damaged)
    except sqlite3.Error:
        return Recovery(damaged, 0, 0)
    try:
        for row in _chain_rows(conn):
            try:
                chain = make_chain(row[1:], _step_rows(conn, row[1]))
                save(chain)
            except Exception:  # noqa: BLE001 - a row too damaged to use: the others still count
                continue
            chains += 1
            steps += len(chain.steps)
    finally:
        conn.close()
    return Recovery(damaged, chains, steps)
