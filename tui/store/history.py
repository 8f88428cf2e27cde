"""The history store: every chain and its steps in one SQLite file, searchable.

The store is the user's record of minutes of GPU time, so it is written to survive faults:

* each step is committed in its own transaction as it finishes: a crash (even SIGKILL) loses
  at most the step in flight (and the saves queued while another process held the lock); WAL + ``synchronous=NORMAL`` keeps a committed transaction
  through a process crash (only a power cut can lose the last few);
* two processes (the app and ``o1tui ask``) may write at once: writes take the lock up front
  (``BEGIN IMMEDIATE``), and every write of one :class:`History` runs, in order, on its one
  writer thread (:mod:`tui.store.history_writer`), which does the waiting while another process
  holds the lock: never on the app's event loop, and never holding the connection, so
  reads (the sidebar's, in thread workers) go on meanwhile;
* async callers (the chain runner, groups, eval runs) use :attr:`History.aio` and await a
  save for at most a second; one still waiting for the lock stays queued and is written, in
  order, once the lock is released, so no step is dropped while the history is open. The
  listeners (:meth:`History.add_listener`: a line in the app, on stderr in the CLI) hear of
  a wait longer than a second, and of the lock being got. Closing gives the queue
  ``lock_wait_s`` (:data:`LOCK_WAIT_S`) more; what still waits for the lock then fails, and
  the listeners hear of it. Synchronous writes (``o1tui history delete``) wait up to
  ``lock_wait_s``, then fail with one line that says another process is writing. SQLite's
  "database is locked" is not shown;
* a chain left ``running`` by a process that is gone becomes ``error``/"interrupted" at open
  (while another process writes, the open does not wait: the mark is queued);
* a file that is not a database or fails its check is renamed aside (never deleted) and a
  fresh one started; :attr:`History.recovered_from` says where the old one went.

Search is SQLite FTS5 over question, step titles and contents and the final answer. User text
is never parsed as FTS syntax: every word is quoted, the last one matches as a prefix (search
as you type), and CJK characters are indexed one by one so Chinese can be found without spaces.

Nothing here imports Textual; text is stored as received and cleaned where it is shown.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from backends.errors import O1Error
from tui import locations
from tui.core.chain import Chain, Status, Step, utc_now_iso
from tui.store import recovery
from tui.store.history_rows import (
    CHAIN_COLS,
    MATCH_WHERE,
    STEP_COLS,
    THREAD_OF_PARENT,
    chain_from_row,
    fts_query,
    status_of,
    storable,
    sync_fts,
    upsert_steps,
)
from tui.store.history_writer import WRITE_PATIENCE_S, AsyncHistory, Listener, Writer
from tui.store.migrations import SchemaError, migrate, refuse_foreign

DB_NAME = "history.db"
#: A summary carries at most this much of the question (lists show one line of it).
SUMMARY_QUESTION_CHARS = 300
#: A running chain not updated for this long is interrupted even if its pid is alive again
#: (pids are reused); no step of a live chain takes that long.
STALE_RUNNING_S = 6 * 3600
INTERRUPTED = "interrupted"
#: SQLite's own wait for the lock at open (migrations).
BUSY_TIMEOUT_MS = 5000
#: Its wait once open: longer waits are done by the writer thread with the connection free.
BUSY_SLICE_MS = 20
_LOCK_POLL_S = 0.01
#: How long a synchronous write (or a queued one, once the history closes) waits for the lock.
LOCK_WAIT_S = 20.0
#: Files up to this size get a full ``quick_check`` at open (~1 ms per MB); bigger ones only a
#: read of the header and schema, so that opening a 500 MB history stays instant.
#: :meth:`History.integrity_check` runs the full check on demand.
QUICK_CHECK_MAX_BYTES = 32 * 2**20
#: Times one operation may find the file damaged and replace it before it gives up.
_RECOVERY_TRIES = 4
#: SQLite result codes that mean the file itself is damaged.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_SQLITE_FULL = 13
#: SQLITE_IOERR_WRITE, _FSYNC, _TRUNCATE, _SHMSIZE: the disk did not take a write.
_SQLITE_WRITE_FAILED = frozenset({778, 1034, 1546, 4874})

T = TypeVar("T")
_SQL_INT_MAX = 2**63 - 1


class HistoryError(O1Error):
    """A history operation failed; the message is one line for the user."""


class AmbiguousId(HistoryError):
    """An id prefix that matches several records: bad input (exit 2), like an unknown id.

    ``ids``: a few of the matches (the lookups read at most six), listed on the one line.
    """

    exit_code = 2

    def __init__(self, key: str, what: str, ids: Sequence[str]) -> None:
        more = ", …" if len(ids) > 5 else ""
        super().__init__(
            f"{key!r} matches several {what} ({', '.join(ids[:5])}{more}); type more of the id"
        )


class _Corrupt(Exception):
    pass


@dataclass(frozen=True)
class ChainSummary:
    """One line of the history list (the question is cut to SUMMARY_QUESTION_CHARS)."""

    id: str
    question: str
    strategy: str
    model: str
    status: Status
    total_s: float
    created_at: str
    n_steps: int
    #: The group the chain was run in (self-consistency, compare); None for a single chain.
    group_id: str | None = None
    #: The chain this one follows up (tui.core.threads); None for the first turn of a thread.
    parent_id: str | None = None


# --- opening -------------------------------------------------------------------------------


def _describe(path: Path, err: sqlite3.Error) -> str:
    """One line for a failed history operation; a full disk is said in words."""
    code = getattr(err, "sqlite_errorcode", 0) or 0
    if code & 0xFF == _SQLITE_FULL or "disk is full" in str(err).lower():
        return f"history database {path}: disk full, nothing more can be saved (reading works)"
    if code in _SQLITE_WRITE_FAILED:
        return (
            f"history database {path}: writing failed (disk full, or a file size limit); "
            "nothing more can be saved (reading works)"
        )
    return f"history database {path}: {err}"


def _is_busy(err: sqlite3.Error) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


def _is_corrupt(err: sqlite3.Error) -> bool:
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(err).lower()
    return "not a database" in text or "malformed" in text


def _make_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (SQLite copies it to -wal/-shm), or tighten it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(p, 0o600)


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: every transaction below is explicit. One connection is shared by the
    # app's threads behind a lock (check_same_thread off).
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    # Text that is not valid UTF-8 on disk (a damaged page, another program's write) is read
    # with replacement characters instead of failing the whole read.
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        refuse_foreign(conn)  # before WAL mode rewrites the header of someone else's file
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _open_checked(path: Path) -> sqlite3.Connection:
    """Open, check and migrate; raise _Corrupt when the file is damaged."""
    _make_private_file(path)
    try:
        conn = _connect(path)
    except sqlite3.DatabaseError as err:
        if _is_corrupt(err):
            raise _Corrupt(str(err)) from err
        raise
    try:
        # quick_check reads every page: it finds garbage pages, not only a bad header.
        if path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise _Corrupt(result)
        else:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        migrate(conn)
    except sqlite3.DatabaseError as err:
        conn.close()
        if _is_corrupt(err):
            raise _Corrupt(str(err)) from err
        raise
    except BaseException:
        conn.close()
        raise
    return conn


def _stale(updated_at: str | None) -> bool:
    """Whether a running chain has not been written for STALE_RUNNING_S (its pid may be reused)."""
    limit = datetime.now(timezone.utc) - timedelta(seconds=STALE_RUNNING_S)
    return (updated_at or "") < limit.replace(microsecond=0).isoformat()


def _sliced(conn: sqlite3.Connection) -> sqlite3.Connection:
    """``conn`` with SQLite's own wait cut to a slice: the history waits longer itself, with
    the connection free for reads (:meth:`History._execute`)."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_SLICE_MS}")
    return conn


def _lock_held(path: Path, waited_s: float) -> str:
    return (
        f"history database {path}: another process has been writing to it for "
        f"{waited_s:.0f} s; try again when it is done"
    )


def _interrupt_tx(chain_ids: list[str]) -> Callable[[sqlite3.Connection], int]:
    """The transaction that turns these running chains into interrupted errors."""

    def tx(conn: sqlite3.Connection) -> int:
        now = utc_now_iso()
        n = 0
        for cid in chain_ids:
            n += conn.execute(
                "UPDATE chains SET status = 'error', error = ?, updated_at = ?, pid = NULL"
                " WHERE id = ? AND status = 'running'",
                (INTERRUPTED, now, cid),
            ).rowcount
        return n

    return tx


def _copy(chain: Chain) -> Chain:
    """A copy of ``chain`` to save later, unchanged by the run going on."""
    return replace(chain, steps=[replace(step) for step in chain.steps])


def _pid_alive(pid: int | None) -> bool:
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


# --- the store -----------------------------------------------------------------------------


class History:
    """The history database at ``path`` (created private to the user).

    Safe to share between threads; each write is its own committed transaction, run on the
    history's writer thread. ``lock_wait_s``: how long a synchronous write waits while another
    process writes (see the module notes).
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_wait_s: float = LOCK_WAIT_S) -> None:
        self.path = Path(path).expanduser()
        self.lock_wait_s = lock_wait_s
        #: Where a damaged database found at open was moved to, for the UI to mention.
        self.recovered_from: Path | None = None
        #: Problems found at open that do not stop reading (shown as warnings).
        self.warnings: list[str] = []
        #: What was brought back from it (chains and steps counted).
        self.recovery: recovery.Recovery | None = None
        self._lock = threading.RLock()
        self._closed = False
        self.writer = Writer(
            "o1tui-history-writer", lambda: HistoryError("the history database is closed")
        )
        try:
            locations.ensure_private_dir(self.path.parent)
            try:
                self._conn = _sliced(_open_checked(self.path))
            except _Corrupt:
                self._conn = _sliced(self._replace_damaged(None))
        except SchemaError as err:
            raise HistoryError(f"{self.path}: {err}") from None
        except (_Corrupt, sqlite3.Error, OSError) as err:
            raise HistoryError(f"cannot open the history database {self.path}: {err}") from None
        self._ino = recovery.inode(self.path)
        try:
            gone = self._run(self._find_interrupted, write=False)
            if gone:
                # The open (the app's first frame) does not wait for another process's lock.
                self.write_soon(_interrupt_tx(gone))
        except HistoryError as err:
            # A full disk (or a read-only file) must not keep the history from being read:
            # the chains stay "running" until a later open can write.
            self.warnings.append(f"could not mark interrupted chains: {err}")

    def _replace_damaged(self, ino: int | None) -> sqlite3.Connection:
        """Set the damaged file aside and recover it, one process at a time; a process that
        waited for another's set-aside just opens the fresh file. ``ino``: the file this
        instance found damaged (None at open)."""
        with recovery.exclusive(self.path):
            if ino is not None and not recovery.same_file(self.path, ino):
                return _open_checked(self.path)  # another process replaced it meanwhile
            if ino is None:
                try:
                    return _open_checked(self.path)  # replaced while this one waited?
                except _Corrupt:
                    pass
            self.recovered_from = recovery.set_aside(self.path)
            conn = _open_checked(self.path)
            self._conn = conn
            self.recovery = recovery.recover(
                self.recovered_from,
                lambda chain: self._attempt(lambda c: self._save_chain(c, chain, None), True),
                chain_from_row,
                lambda fn: self._attempt(fn, True),  # groups and eval runs
            )
            return conn

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str] | None = None) -> History:
        """The history in ``data_dir`` (flag), ``$O1TUI_DATA_DIR`` or the platform data dir."""
        return cls(locations.data_dir(data_dir) / DB_NAME)

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @cached_property
    def aio(self) -> AsyncHistory:
        """This history's writes for async code (:class:`tui.store.history_writer.AsyncHistory`)."""
        return AsyncHistory(self)

    def add_listener(self, listener: Listener) -> None:
        """Hear how the writes stand (a wait for another process's lock, a queued save that
        failed), on the writer thread: :class:`tui.store.history_writer.WriteStatus`."""
        self.writer.add_listener(listener)

    def remove_listener(self, listener: Listener) -> None:
        self.writer.remove_listener(listener)

    def close(self) -> None:
        """Write what is queued (each save waiting at most ``lock_wait_s`` more), then close."""
        with self._lock:
            if self._closed:
                return
        self.writer.stop(self.lock_wait_s)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                # Keeps the planner's statistics fresh; the limit bounds its cost on big files.
                self._conn.execute("PRAGMA analysis_limit = 400")
                self._conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass  # best effort; closing must not fail
            self._conn.close()

    # --- transactions ----------------------------------------------------------------------

    def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run ``fn`` (in a write transaction when ``write``), waiting while the file is busy.

        A write is a job for the writer thread (run inline when this is that thread); the
        caller waits for it up to ``lock_wait_s``.
        """
        if not write or self.writer.on_thread():
            return self._execute(fn, write)
        future = self.submit_write(fn, deadline=time.monotonic() + self.lock_wait_s)
        try:
            return future.result(timeout=self.lock_wait_s)
        except FutureTimeout:  # TimeoutError itself from Python 3.11
            if not future.cancel():  # running: it gives up by its own deadline
                return future.result()
            raise HistoryError(_lock_held(self.path, self.lock_wait_s)) from None

    def submit_write(
        self, fn: Callable[[sqlite3.Connection], T], deadline: float | None = None
    ) -> Future[T]:
        """Queue ``fn`` as one write transaction on the writer thread; ``deadline``
        (``time.monotonic()``): when it stops waiting for the lock (None: never, until close)."""
        if self._closed:
            raise HistoryError("the history database is closed")
        return self.writer.submit(lambda: self._execute(fn, True), deadline)

    def write_soon(self, fn: Callable[[sqlite3.Connection], object]) -> None:
        """Run ``fn`` as a write, waiting at most :data:`~tui.store.history_writer.WRITE_PATIENCE_S`
        for it: after that it stays queued (a failure then goes to the listeners). For the
        writes a read makes on its way (marking what a dead process left running), which must
        not hold their caller, maybe the event loop, while another process writes."""
        if self.writer.on_thread():
            self._execute(fn, True)
        else:
            self.writer.settle_or_report(self.submit_write(fn), WRITE_PATIENCE_S)

    def _execute(self, fn: Callable[[sqlite3.Connection], T], write: bool) -> T:
        """Run ``fn`` on this thread; while the file is busy, wait here with the connection
        free: a writer-thread job until its deadline, any other caller ``lock_wait_s``."""
        started = time.monotonic()
        on_writer = self.writer.on_thread()
        give_up_at = self.writer.give_up_at() if on_writer else started + self.lock_wait_s
        recoveries = 0
        while True:
            with self._lock:
                if self._closed:
                    raise HistoryError("the history database is closed")
                try:
                    if write and not recovery.same_file(self.path, self._ino):
                        self._reopen()  # set aside by another process: write into the new file
                    return self._attempt(fn, write)
                except sqlite3.DatabaseError as err:
                    if _is_corrupt(err) and recoveries < _RECOVERY_TRIES:
                        recoveries += 1
                        try:
                            self._recover_now()  # never keep writing into a damaged file
                        except (_Corrupt, sqlite3.Error, OSError) as again:
                            raise HistoryError(_describe(self.path, err) + f"; {again}") from None
                        continue
                    if not isinstance(err, sqlite3.OperationalError) or not _is_busy(err):
                        raise HistoryError(_describe(self.path, err)) from None
                except sqlite3.Error as err:
                    raise HistoryError(_describe(self.path, err)) from None
                except (_Corrupt, OSError) as err:
                    raise HistoryError(f"the history database {self.path}: {err}") from None
            now = time.monotonic()
            if on_writer:
                self.writer.waiting(now - started)
                give_up_at = self.writer.give_up_at()  # closing sets one
            if give_up_at is not None and now >= give_up_at:
                raise HistoryError(_lock_held(self.path, now - started))
            time.sleep(_LOCK_POLL_S)

    def _reopen(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        self._conn = _sliced(_open_checked(self.path))
        self._ino = recovery.inode(self.path)

    def _recover_now(self) -> None:
        """The file failed mid-use (a big file is not fully checked at open): replace it."""
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        self._conn = _sliced(self._replace_damaged(self._ino))
        self._ino = recovery.inode(self.path)

    def _attempt(self, fn: Callable[[sqlite3.Connection], T], write: bool) -> T:
        conn = self._conn
        if not write:
            return fn(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def transaction(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run ``fn(conn)`` under the store's lock (in one write transaction on the writer
        thread when ``write``), waiting while another process writes, errors as
        :class:`HistoryError`: for store extensions (:mod:`tui.store.group_store`) that keep their
        own tables. From async code, write through :attr:`aio` instead."""
        return self._run(fn, write=write)

    # --- writing ---------------------------------------------------------------------------

    def start_chain(self, chain: Chain) -> None:
        """Record a new chain (status as given, usually running) with any steps it has."""
        self._run(self.start_tx([chain]), write=True)

    def add_step(self, chain_id: str, step: Step) -> None:
        """Save one finished step of a started chain (replacing one of the same index)."""
        self._run(self.step_tx(chain_id, step), write=True)

    def finish_chain(self, chain: Chain) -> None:
        """Record the chain's outcome (status, answer, time, error) and all its steps."""
        self._run(self.finish_tx(chain), write=True)

    # The transactions of the writes above, for the synchronous calls and :attr:`aio`. Each
    # takes a copy of the chain now: a queued save writes the chain as it was when queued.

    def start_tx(self, chains: Sequence[Chain]) -> Callable[[sqlite3.Connection], None]:
        """The transaction that records new ``chains`` as this process's."""
        pid, copies = os.getpid(), [_copy(chain) for chain in chains]

        def tx(conn: sqlite3.Connection) -> None:
            for chain in copies:
                self._save_chain(conn, chain, pid)

        return tx

    def finish_tx(self, chain: Chain) -> Callable[[sqlite3.Connection], None]:
        """The transaction that records ``chain``'s outcome and steps."""
        copy = _copy(chain)
        return lambda conn: self._save_chain(conn, copy, None)

    @staticmethod
    def step_tx(chain_id: str, step: Step) -> Callable[[sqlite3.Connection], None]:
        """The transaction that saves one finished step of a started chain."""
        step = replace(step)

        def tx(conn: sqlite3.Connection) -> None:
            if not conn.execute(
                "SELECT 1 FROM chains WHERE id = ?", (storable(chain_id),)
            ).fetchone():
                raise HistoryError(f"no chain {chain_id!r} in the history")
            upsert_steps(conn, chain_id, [step])
            conn.execute(
                "UPDATE chains SET updated_at = ? WHERE id = ?", (utc_now_iso(), storable(chain_id))
            )
            sync_fts(conn, storable(chain_id))

        return tx

    @staticmethod
    def _save_chain(conn: sqlite3.Connection, chain: Chain, pid: int | None) -> None:
        now = utc_now_iso()
        conn.execute(
            f"""
            INSERT INTO chains (id, question, strategy, model, status, final_answer, total_s,
                               created_at, error, lang, group_id, updated_at, pid, answer_tokens,
                               parent_id, dropped_turns, thread_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {THREAD_OF_PARENT})
            ON CONFLICT (id) DO UPDATE SET
                question = excluded.question, strategy = excluded.strategy,
                model = excluded.model, status = excluded.status,
                final_answer = excluded.final_answer, total_s = excluded.total_s,
                error = excluded.error, lang = excluded.lang, group_id = excluded.group_id,
                updated_at = excluded.updated_at, pid = coalesce(excluded.pid, chains.pid),
                answer_tokens = excluded.answer_tokens,
                parent_id = excluded.parent_id, dropped_turns = excluded.dropped_turns,
                thread_id = coalesce(chains.thread_id, excluded.thread_id)
            """,
            (
                storable(chain.id),
                storable(chain.question),
                storable(chain.strategy),
                storable(chain.model),
                Status(chain.status).value,
                storable(chain.final_answer or ""),
                float(chain.total_s or 0.0),
                storable(chain.created_at),
                storable(chain.error),
                storable(chain.lang),
                storable(chain.group_id),
                now,
                pid,
                chain.answer_tokens,
                storable(chain.parent_id),
                int(chain.dropped_turns or 0),
                storable(chain.parent_id),
                storable(chain.parent_id),
            ),
        )
        upsert_steps(conn, chain.id, chain.steps)
        sync_fts(conn, storable(chain.id))

    def delete(self, chain_id: str) -> bool:
        """Delete the chain with exactly this id and its steps; False when there is none.

        A chain still running in a live process is refused (HistoryError): its process would
        write it back with its next step. Cancel it first.
        """

        def tx(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT rid, status, pid, updated_at FROM chains WHERE id = ?",
                (storable(chain_id),),
            ).fetchone()
            if row is None:
                return False
            if row[1] == Status.RUNNING.value and _pid_alive(row[2]) and not _stale(row[3]):
                # Deleted now, it would come back when its process saves the next step.
                raise HistoryError(
                    f"chain {chain_id} is still running (process {row[2]}); stop it first "
                    "(Ctrl+C, or Esc in the app), then delete it"
                )
            conn.execute("DELETE FROM chain_fts WHERE rowid = ?", (row[0],))
            conn.execute("DELETE FROM chains WHERE rid = ?", (row[0],))  # steps cascade
            return True

        return self._run(tx, write=True)

    def mark_interrupted(self) -> int:
        """Turn chains left running by a process that is gone into errors; return how many."""
        gone = self._run(self._find_interrupted, write=False)
        return self._run(_interrupt_tx(gone), write=True) if gone else 0

    @staticmethod
    def _find_interrupted(conn: sqlite3.Connection) -> list[str]:
        """Ids of the chains left running by a process that is gone (or long silent)."""
        stale_before = (
            (datetime.now(timezone.utc) - timedelta(seconds=STALE_RUNNING_S))
            .replace(microsecond=0)
            .isoformat()
        )
        rows = conn.execute("SELECT id, pid, updated_at FROM chains WHERE status = 'running'")
        return [
            cid
            for cid, pid, updated in rows.fetchall()
            if not _pid_alive(pid) or (updated or "") < stale_before
        ]

    # --- reading ---------------------------------------------------------------------------

    def integrity_check(self) -> list[str]:
        """SQLite's full ``integrity_check``: an empty list when the database is sound."""
        rows = self._run(lambda c: c.execute("PRAGMA integrity_check").fetchall(), write=False)
        problems = [r[0] for r in rows]
        return [] if problems == ["ok"] else problems

    def get(self, id_or_prefix: str) -> Chain | None:
        """The chain with this id, or the only one whose id starts with it.

        Raises :class:`AmbiguousId` when the prefix matches several chains.
        """
        key = storable(id_or_prefix.strip()) or ""
        if not key:
            return None

        def read(conn: sqlite3.Connection) -> Chain | None:
            row = conn.execute(f"SELECT {CHAIN_COLS} FROM chains WHERE id = ?", (key,)).fetchone()
            if row is None:
                rows = conn.execute(
                    f"SELECT {CHAIN_COLS} FROM chains WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
                    (key, key + "\U0010ffff"),
                ).fetchall()
                if not rows:
                    return None
                if len(rows) > 1:
                    raise AmbiguousId(key, "chains", [r[0] for r in rows])
                row = rows[0]
            steps = conn.execute(
                f"SELECT {STEP_COLS} FROM steps WHERE chain_id = ? ORDER BY idx", (row[0],)
            ).fetchall()
            return chain_from_row(row, steps)

        return self._run(read, write=False)

    def list(
        self, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[ChainSummary]:
        """Chains newest first, optionally only those matching ``search`` (all its words)."""
        # SQLite integers stop at 2**63 - 1; a larger limit (or offset) means "all".
        limit, offset = (
            min(max(int(limit), 0), _SQL_INT_MAX),
            min(max(int(offset), 0), _SQL_INT_MAX),
        )
        query = fts_query(search) if search else None
        where, params = ("", []) if query is None else (MATCH_WHERE, [query])
        sql = f"""
            SELECT c.id, substr(c.question, 1, {SUMMARY_QUESTION_CHARS}), c.strategy, c.model,
                   c.status, c.total_s, c.created_at,
                   (SELECT count(*) FROM steps s WHERE s.chain_id = c.id), c.group_id,
                   c.parent_id
            FROM chains c {where}
            ORDER BY c.created_at DESC, c.rid DESC
            LIMIT ? OFFSET ?
        """

        def read(conn: sqlite3.Connection) -> list[ChainSummary]:
            rows = conn.execute(sql, (*params, limit, offset)).fetchall()
            return [
                ChainSummary(r[0], r[1], r[2], r[3], status_of(r[4]), r[5], r[6], r[7], r[8], r[9])
                for r in rows
            ]

        return self._run(read, write=False)

    def count(self, search: str | None = None) -> int:
        """How many chains there are (matching ``search`` when given)."""
        query = fts_query(search) if search else None

        def read(conn: sqlite3.Connection) -> int:
            if query is None:
                return int(conn.execute("SELECT count(*) FROM chains").fetchone()[0])
            return int(
                conn.execute(
                    "SELECT count(*) FROM chain_fts WHERE chain_fts MATCH ?", (query,)
                ).fetchone()[0]
            )

        return self._run(read, write=False)
