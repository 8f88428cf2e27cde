"""A damaged history database: set aside by one process, what can be read brought back.

When the history fails its check (at open, or later with "database disk image is malformed"),
exactly one process, holding an exclusive lock on ``history.db.lock``, renames the damaged
file aside (``history.db.corrupt-<time>``, never deleted) and starts a fresh one; every other
process waits on that lock and then opens the fresh file. The one that set it aside then reads
the damaged copy: each table whole when it can, else row by row (a lookup by key only touches
the pages on its path, so one bad page loses only the rows on it), saving what it reads into
the fresh database.

- A file cut short (its header counts pages that are gone) is read up to where it ends.
- A damaged 100-byte file header is repaired in a private copy beside the kept file (the
  fields SQLite checks set to what o1tui writes); the copy is removed afterwards.
- A damaged schema page (page 1 or a page the schema continues on) is rebuilt in that copy
  from the schema o1tui creates: each table at the root page the damaged schema still gives,
  else where a history created at this version has it, when a b-tree page of the right kind
  is there and its first rows look like that table's.
- Chains whose table rows are lost are rebuilt from the indexes (id, time, question and
  answer; marked as such), with the steps that can be read.

Recovered: chains and their steps (and so the search index, rebuilt from them), groups, eval
runs with their questions (gold answers included) and answered items. A recovered chain, group
or eval run that was ``running`` becomes interrupted, like any whose process is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tui.core.chain import Chain

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
    groups: int = 0
    eval_runs: int = 0
    questions: int = 0  #: eval questions (with their gold answers)
    items: int = 0  #: answered eval items

    def message(self) -> str:
        """The warning a user sees: every count, so nothing is dropped silently."""
        return (
            f"the history database was damaged; recovered into a new one: {self.chains} "
            f"chain(s) with {self.steps} step(s), {self.groups} group(s), {self.eval_runs} "
            f"eval run(s) with {self.questions} question(s) and {self.items} answered item(s); "
            f"the damaged file is kept as {self.damaged}"
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


# --- opening the damaged file ----------------------------------------------------------------

#: The first 16 bytes of every SQLite database file.
MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
#: Page sizes tried when the header's is damaged (SQLite's default first).
_PAGE_SIZES = (4096, 8192, 16384, 32768, 65536, 1024, 2048, 512)
#: First byte of a b-tree page: interior index, interior table, leaf index, leaf table.
_BTREE_TYPES = frozenset({2, 5, 10, 13})


def _page_size(header: bytes) -> int | None:
    """The page size a header names, None when it names none SQLite accepts."""
    raw = int.from_bytes(header[16:18], "big")
    size = 65536 if raw == 1 else raw
    return size if 512 <= size <= 65536 and size & (size - 1) == 0 else None


def header_ok(header: bytes) -> bool:
    """Whether the 100-byte file header holds what o1tui's databases hold where SQLite
    checks it (magic, page size, versions, payload fractions, format, UTF-8, no vacuum)."""
    return (
        len(header) == HEADER_BYTES
        and header[:16] == MAGIC
        and _page_size(header) is not None
        and header[18] in (1, 2)
        and header[19] in (1, 2)
        and header[20] == 0
        and header[21:24] == b"\x40\x20\x20"
        and 1 <= int.from_bytes(header[44:48], "big") <= 4
        and header[52:60] == b"\x00\x00\x00\x00\x00\x00\x00\x01"
        and header[64:68] == bytes(4)
    )


def _guess_page_size(path: Path, header: bytes) -> int:
    """The header's page size if page 2 starts a b-tree page there, else the first size at
    which it does (o1tui's page 2 is the root of ``chains``), else SQLite's default."""
    named = _page_size(header)
    with open(path, "rb") as f:
        for size in ((named,) if named else ()) + _PAGE_SIZES:
            f.seek(size)
            first = f.read(1)
            if first and first[0] in _BTREE_TYPES:
                return size
    return _PAGE_SIZES[0]


def repaired_header(header: bytes, page_size: int) -> bytes:
    """A sound header for a file whose own is damaged: the fields SQLite checks set to what
    o1tui writes, the page count left to SQLite to take from the file's size."""
    h = bytearray(header.ljust(HEADER_BYTES, b"\x00")[:HEADER_BYTES])
    h[0:16] = MAGIC
    h[16:18] = (1 if page_size == 65536 else page_size).to_bytes(2, "big")
    h[18] = h[19] = 1  # rollback journal: the copy has no WAL beside it
    h[20] = 0
    h[21:24] = b"\x40\x20\x20"
    h[32:40] = bytes(8)  # no freelist: nothing is written, and a bad pointer misleads
    h[44:48] = (4).to_bytes(4, "big")
    h[52:56] = bytes(4)
    h[56:60] = (1).to_bytes(4, "big")  # UTF-8
    h[64:68] = bytes(4)
    h[72:92] = bytes(20)
    # A version-valid-for that differs from the change counter makes SQLite ignore the
    # header's page count and count the pages in the file.
    counter = int.from_bytes(h[24:28], "big")
    h[92:96] = ((counter + 1) % 2**32).to_bytes(4, "big")
    return bytes(h)


def _repaired_copy(damaged: Path, header: bytes) -> Path:
    """A private copy of ``damaged`` beside it with its header repaired (the kept file is
    never changed)."""
    fd, name = tempfile.mkstemp(prefix=f".{damaged.name}.", suffix=".reading", dir=damaged.parent)
    copy = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, open(damaged, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.seek(0)
            out.write(repaired_header(header, _guess_page_size(damaged, header)))
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    return copy


def _connect_ro(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    # Text that is not UTF-8 on disk comes back with replacement characters, not an error.
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    # A file cut short (its header counts more pages than there are) is refused as malformed
    # unless the schema is "writable": then SQLite reads the pages that are there. The
    # connection is read-only, so nothing is written through it.
    conn.execute("PRAGMA writable_schema = ON")
    return conn


@contextlib.contextmanager
def readable(damaged: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to ``damaged``, through a repaired copy (removed afterwards)
    when its header is damaged or a page of its schema is."""
    with open(damaged, "rb") as fh:
        header = fh.read(HEADER_BYTES)
    copy = None if header_ok(header) else _repaired_copy(damaged, header)
    try:
        conn = _connect_ro(copy or damaged)
        try:
            if _missing_tables(conn, header):
                try:
                    copy = copy or _repaired_copy(damaged, header)
                    rebuilt = _with_rebuilt_schema(copy)
                except (sqlite3.Error, OSError):  # no room for a copy: read what there is
                    pass
                else:
                    conn.close()
                    conn = rebuilt
            yield conn
        finally:
            conn.close()
    finally:
        if copy is not None:
            copy.unlink(missing_ok=True)


# --- a damaged schema: rebuilt from o1tui's own --------------------------------------------

#: The tables read back, by the schema version that added them.
_TABLES_SINCE = {
    "chains": 1,
    "steps": 1,
    "groups": 2,
    "eval_runs": 3,
    "eval_questions": 3,
    "eval_items": 3,
}
#: Indexes worth having back (the chains rebuilt from them); others are left out.
_INDEXES = ("sqlite_autoindex_chains_1", "chains_newest")
_TABLE_PAGES = frozenset({5, 13})
_INDEX_PAGES = frozenset({2, 10})


def _missing_tables(conn: sqlite3.Connection, header: bytes) -> list[str]:
    """The tables the file's schema version has that its schema (as read) lacks."""
    version = int.from_bytes(header[60:64], "big") if header[:16] == MAGIC else 0
    version = version if 1 <= version <= 1000 else max(_TABLES_SINCE.values())
    return [t for t, since in _TABLES_SINCE.items() if since <= version and not _has_table(conn, t)]


def _template(page_size: int) -> list[tuple[str, str, str, int, str | None]]:
    """The schema o1tui creates, as ``sqlite_master`` rows, for a file of ``page_size``: a
    history created at this version has its tables at exactly these root pages."""
    from tui.store.migrations import migrate

    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size = {int(page_size)}")
        migrate(conn)
        return conn.execute(
            "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master"
        ).fetchall()
    finally:
        conn.close()


def _page_type(path: Path, page: int, page_size: int) -> int | None:
    with open(path, "rb") as fh:
        fh.seek((page - 1) * page_size)
        first = fh.read(1)
    return first[0] if first else None


def _schema_rows(copy: Path, known: dict[str, int], page_size: int) -> list[tuple]:
    """The ``sqlite_master`` rows to read ``copy`` with: o1tui's tables (and the indexes the
    rebuild uses), each at its root page as the damaged schema still tells it, else where a
    history created at this version has it, when a b-tree page of the right kind is there."""
    rows = []
    for kind, name, table, root, sql in _template(page_size):
        if table not in _TABLES_SINCE or (kind == "index" and name not in _INDEXES):
            continue
        root = known.get(name, root)
        index_like = kind == "index" or "WITHOUT ROWID" in (sql or "").upper()
        if root < 2 or _page_type(copy, root, page_size) not in (
            _INDEX_PAGES if index_like else _TABLE_PAGES
        ):
            continue
        rows.append((kind, name, table, root, sql))
    return rows


def _write_schema(copy: Path, rows: list[tuple], page_size: int) -> None:
    """Make page 1 of ``copy`` a schema page listing ``rows`` (SQLite writes the page, in a
    scratch file; it must fit on one page). A table whose unique index is left out is listed
    without the constraint, which reading does not need."""
    names = {r[1] for r in rows}
    fixed = []
    for kind, name, table, root, sql in rows:
        if kind == "table" and f"sqlite_autoindex_{name}_1" not in names and sql:
            sql = sql.replace(" UNIQUE", "")
        fixed.append((kind, name, table, root, sql))
    fd, scratch_name = tempfile.mkstemp(suffix=".schema", dir=copy.parent)
    os.close(fd)
    scratch = Path(scratch_name)
    try:
        scratch.unlink()
        conn = sqlite3.connect(scratch, isolation_level=None)
        try:
            conn.execute(f"PRAGMA page_size = {int(page_size)}")
            conn.execute("PRAGMA user_version = 1")  # writes page 1
            conn.execute("PRAGMA writable_schema = ON")
            conn.executemany(
                "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES (?, ?, ?, ?, ?)",
                fixed,
            )
        finally:
            conn.close()
        page = scratch.read_bytes()
        if len(page) != page_size:
            raise OSError("the rebuilt schema does not fit on one page")
        with open(copy, "r+b") as fh:
            fh.seek(HEADER_BYTES)
            fh.write(page[HEADER_BYTES:])
    finally:
        scratch.unlink(missing_ok=True)


#: A few rows of each table as o1tui writes them, to tell a guessed root page right.
_PLAUSIBLE = {
    "chains": "SELECT count(*) = 0 OR min(status IN ('running', 'done', 'cancelled', 'error', "
    "'step_limit')) FROM (SELECT status FROM chains LIMIT 20)",
    "steps": "SELECT count(*) = 0 OR min(typeof(idx) = 'integer' AND typeof(chain_id) = 'text')"
    " FROM (SELECT idx, chain_id FROM steps LIMIT 20)",
    "groups": "SELECT count(*) = 0 OR min(kind IN ('self-consistency', 'compare'))"
    " FROM (SELECT kind FROM groups LIMIT 20)",
    "eval_runs": "SELECT count(*) = 0 OR min(typeof(n_questions) = 'integer' AND json_valid("
    "strategies)) FROM (SELECT n_questions, strategies FROM eval_runs LIMIT 20)",
    "eval_questions": "SELECT count(*) = 0 OR min(typeof(idx) = 'integer' AND typeof(accept) ="
    " 'text' AND json_valid(accept)) FROM (SELECT idx, accept FROM eval_questions LIMIT 20)",
    "eval_items": "SELECT count(*) = 0 OR min(typeof(idx) = 'integer' AND typeof(finished_at) ="
    " 'text') FROM (SELECT idx, finished_at FROM eval_items LIMIT 20)",
    "sqlite_autoindex_chains_1": "SELECT count(*) = 0 OR min(typeof(id) = 'text' AND typeof(rid)"
    " = 'integer') FROM (SELECT id, rid FROM chains INDEXED BY sqlite_autoindex_chains_1 LIMIT 20)",
    "chains_newest": "SELECT count(*) = 0 OR min(typeof(rid) = 'integer') FROM (SELECT rid FROM"
    " chains INDEXED BY chains_newest LIMIT 20)",
}


def _plausible(conn: sqlite3.Connection, name: str) -> bool:
    sql = _PLAUSIBLE.get(name)
    if sql is None:
        return True
    try:
        return bool(conn.execute(sql).fetchone()[0])
    except sqlite3.DatabaseError:
        return False


def _with_rebuilt_schema(copy: Path) -> sqlite3.Connection:
    """A connection to ``copy`` whose schema page is rebuilt from o1tui's own schema; a
    guessed root page whose rows do not look like that table's is left out."""
    with open(copy, "rb") as fh:
        page_size = _page_size(fh.read(HEADER_BYTES)) or _PAGE_SIZES[0]
    damaged_schema = _connect_ro(copy)
    try:
        known = {
            name: root
            for name, root in _read_until_error(
                damaged_schema, "SELECT name, rootpage FROM sqlite_master"
            )
            if isinstance(root, int)
        }
    finally:
        damaged_schema.close()
    rows = _schema_rows(copy, known, page_size)
    for _ in range(len(rows)):
        _write_schema(copy, rows, page_size)
        conn = _connect_ro(copy)
        keep = [r for r in rows if _plausible(conn, r[1])]
        if len(keep) == len(rows):
            return conn
        conn.close()
        rows = keep
    _write_schema(copy, rows, page_size)
    return _connect_ro(copy)


# --- reading rows --------------------------------------------------------------------------


def _has_table(conn: sqlite3.Connection, table: str) -> bool:
    try:
        conn.execute(f"SELECT 1 FROM {table} LIMIT 0")
    except sqlite3.DatabaseError:
        return False
    return True


def _max_rid(conn: sqlite3.Connection, table: str, index: str) -> int:
    """The highest key of ``table``, from the table or its time ``index`` (every index ends
    with the key), or a bound from the file's size when neither can be read."""
    for sql in (
        f"SELECT max(rid) FROM {table}",
        f"SELECT max(rid) FROM {table} INDEXED BY {index}",
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
    return pages * 40  # no page holds more rows of these tables than that


def table_rows(
    conn: sqlite3.Connection, table: str, cols: str, index: str
) -> tuple[list[tuple], bool]:
    """Every readable row of ``table`` (keyed by ``rid``), and whether that is all of them:
    the whole table if it reads, else row by row (a lookup by key only touches the pages on
    its path, so one bad page loses only the rows on it)."""
    if not _has_table(conn, table):
        return [], False  # its schema row is lost: rows of it may still be found elsewhere
    try:
        return conn.execute(f"SELECT {cols} FROM {table} ORDER BY rid").fetchall(), True
    except sqlite3.DatabaseError:
        pass
    rows = []
    for rid in range(1, _max_rid(conn, table, index) + 1):
        try:
            row = conn.execute(f"SELECT {cols} FROM {table} WHERE rid = ?", (rid,)).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None:
            rows.append(row)
    return rows, False


def keyed_rows(
    conn: sqlite3.Connection,
    cols: str,
    table: str,
    where: str,
    params: tuple,
    keys: Iterable[tuple],
) -> list[tuple]:
    """The rows of ``table`` matching ``where``: all in one read when it reads, else one
    lookup per key (``{where} AND`` the key columns, given in ``keys``' order)."""
    base = f"SELECT {cols} FROM {table} WHERE {where}"
    try:
        return conn.execute(base, params).fetchall()
    except sqlite3.DatabaseError:
        pass
    rows = []
    for names, values in keys:
        sql = base + "".join(f" AND {n} = ?" for n in names)
        try:
            row = conn.execute(sql, (*params, *values)).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None:
            rows.append(row)
    return rows


#: What a chain rebuilt from the indexes says about what was lost with its row.
LOST = "recovered from a damaged history: its strategy, model and status were lost"


def _rows_from_indexes(conn: sqlite3.Connection, have: set[str]) -> Iterator[tuple]:
    """Chain rows whose table row is lost, rebuilt from the indexes: ids from the unique
    index on ``id``, times from ``chains_newest``, question and answer from the search index
    (its spaced CJK form). ``have``: ids already read from the table."""
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
        if chain_id in have:
            continue
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


def _chain_rows(conn: sqlite3.Connection) -> Iterator[tuple]:
    """Every chain row that can be read, and those lost from the table rebuilt from its
    indexes."""
    rows, complete = table_rows(conn, "chains", CHAIN_COLS, "chains_newest")
    yield from rows
    if not complete:
        yield from _rows_from_indexes(conn, {r[1] for r in rows})


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


# --- groups and eval runs ----------------------------------------------------------------

GROUP_COLS = (
    "id, kind, question, model, strategies, chain_ids, temperature, status, answer, votes, "
    "wall_s, created_at, updated_at, error"
)
RUN_COLS = (
    "id, set_name, source, seed, model, strategies, options, n_questions, status, created_at, "
    "updated_at"
)
QUESTION_COLS = "idx, question, gold, accept, meta"
ITEM_COLS = (
    "idx, strategy, chain_id, group_id, status, predicted, correct, wall_s, tokens, steps, "
    "finished_at"
)
#: A run that was running when the file was damaged: its process is not running it now.
_INTERRUPTED_RUN = "interrupted"


def _marks(cols: str) -> str:
    return ", ".join("?" * len(cols.split(",")))


def _save_group(conn: sqlite3.Connection, row: tuple) -> bool:
    """Insert one group row; False when it was not (a row too damaged to keep)."""
    # pid NULL: a group left running is settled (interrupted) when it is next read.
    return (
        conn.execute(
            f"INSERT OR IGNORE INTO groups ({GROUP_COLS}, pid) VALUES ({_marks(GROUP_COLS)}, NULL)",
            row,
        ).rowcount
        == 1
    )


def _run_questions_items(conn: sqlite3.Connection, run: tuple) -> tuple[list[tuple], list[tuple]]:
    """A run's questions and answered items, each looked up by key if a read of all fails."""
    run_id, n_questions = run[0], int(run[7] or 0)
    try:
        strategies = [str(s) for s in json.loads(run[5] or "[]")]
    except ValueError:
        strategies = []
    questions = keyed_rows(
        conn,
        QUESTION_COLS,
        "eval_questions",
        "run_id = ?",
        (run_id,),
        ((("idx",), (i,)) for i in range(n_questions)),
    )
    items = keyed_rows(
        conn,
        ITEM_COLS,
        "eval_items",
        "run_id = ?",
        (run_id,),
        ((("strategy", "idx"), (s, i)) for s in strategies for i in range(n_questions)),
    )
    return questions, items


#: What a run rebuilt from its questions and items says about what was lost with its row.
LOST_RUN = "(recovered run: its set name, settings and status were lost)"


def _read_until_error(conn: sqlite3.Connection, sql: str, params: tuple = ()) -> list[tuple]:
    """The rows of ``sql`` up to the first one that cannot be read."""
    rows: list[tuple] = []
    try:
        for row in conn.execute(sql, params):
            rows.append(row)
    except sqlite3.DatabaseError:
        pass
    return rows


def _runs_from_their_rows(conn: sqlite3.Connection, have: set[str]) -> list[tuple]:
    """Run rows whose own row is lost, rebuilt from their questions and items: the id, the
    number of questions, the strategies answered, the model of a linked chain. ``have``:
    ids of the runs read from the table."""
    ids = {
        r[0]
        for table in ("eval_questions", "eval_items")
        for r in _read_until_error(conn, f"SELECT DISTINCT run_id FROM {table}")
    } - have
    rebuilt = []
    for run_id in sorted(i for i in ids if isinstance(i, str)):
        try:
            rebuilt.append(_run_from_its_rows(conn, run_id))
        except (TypeError, ValueError):  # rows too damaged to tell: the others still count
            continue
    return rebuilt


def _run_from_its_rows(conn: sqlite3.Connection, run_id: str) -> tuple:
    items = _read_until_error(
        conn,
        "SELECT idx, strategy, chain_id, finished_at FROM eval_items WHERE run_id = ?",
        (run_id,),
    )
    asked = _read_until_error(
        conn, "SELECT max(idx) FROM eval_questions WHERE run_id = ?", (run_id,)
    )
    top = max(
        [int(i[0]) for i in items] + [int(a[0]) for a in asked if a[0] is not None], default=-1
    )
    strategies = sorted({str(i[1]) for i in items})
    model = "unknown"
    for chain_id in (i[2] for i in items if i[2]):
        found = _read_until_error(conn, "SELECT model FROM chains WHERE id = ?", (chain_id,))
        if found:
            model = str(found[0][0])
            break
    when = min(
        (str(i[3]) for i in items if i[3]),
        default=datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    return (run_id, LOST_RUN, None, None, model, json.dumps(strategies), "{}", top + 1,
            _INTERRUPTED_RUN, when, when)  # fmt: skip


def _save_run(
    conn: sqlite3.Connection, run: tuple, questions: list[tuple], items: list[tuple]
) -> None:
    status = _INTERRUPTED_RUN if run[8] == "running" else run[8]
    conn.execute(
        f"INSERT INTO eval_runs ({RUN_COLS}, pid) VALUES ({_marks(RUN_COLS)}, NULL)",
        (*run[:8], status, *run[9:]),
    )
    conn.executemany(
        f"INSERT OR IGNORE INTO eval_questions (run_id, {QUESTION_COLS})"
        f" VALUES (?, {_marks(QUESTION_COLS)})",
        [(run[0], *q) for q in questions],
    )
    conn.executemany(
        f"INSERT OR IGNORE INTO eval_items (run_id, {ITEM_COLS}) VALUES (?, {_marks(ITEM_COLS)})",
        [(run[0], *i) for i in items],
    )


# --- the whole recovery ------------------------------------------------------------------

#: ``write(fn)`` runs ``fn(conn)`` in one write transaction of the fresh database.
Write = Callable[[Callable[[sqlite3.Connection], object]], object]


def recover(
    damaged: Path,
    save: Callable[[Chain], None],
    make_chain: Callable[..., Chain],
    write: Write | None = None,
) -> Recovery:
    """Read every chain (and its steps) that can be read from ``damaged`` and ``save`` it;
    with ``write``, its groups and eval runs (questions and items) too."""
    counts = dict.fromkeys(("chains", "steps", "groups", "eval_runs", "questions", "items"), 0)
    try:
        with readable(damaged) as conn:
            for row in _chain_rows(conn):
                try:
                    chain = make_chain(row[1:], _step_rows(conn, row[1]))
                    save(chain)
                except Exception:  # noqa: BLE001 - a row too damaged to use: the others still count
                    continue
                counts["chains"] += 1
                counts["steps"] += len(chain.steps)
            if write is not None:
                _recover_records(conn, write, counts)
    except (sqlite3.Error, OSError):
        pass  # nothing more can be read: what was saved so far stays
    return Recovery(damaged, **counts)


def _recover_records(conn: sqlite3.Connection, write: Write, counts: dict[str, int]) -> None:
    """Groups, then eval runs with their questions and items, each in its own transaction."""
    groups, _ = table_rows(conn, "groups", GROUP_COLS, "groups_newest")
    for row in groups:
        try:
            saved = write(functools.partial(_save_group, row=row))
        except Exception:  # noqa: BLE001 - a row too damaged to use: the others still count
            continue
        counts["groups"] += int(bool(saved))
    runs, complete = table_rows(conn, "eval_runs", RUN_COLS, "eval_runs_newest")
    if not complete:
        runs += _runs_from_their_rows(conn, {r[0] for r in runs})
    for run in runs:
        try:
            questions, items = _run_questions_items(conn, run)
            write(functools.partial(_save_run, run=run, questions=questions, items=items))
        except Exception:  # noqa: BLE001 - a row too damaged to use: the others still count
            continue
        counts["eval_runs"] += 1
        counts["questions"] += len(questions)
        counts["items"] += len(items)
