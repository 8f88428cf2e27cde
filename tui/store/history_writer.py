"""The history's one writer: a thread that runs every write, in order, off the caller's thread.

A write to the history waits for SQLite's write lock whenever another process (an
``o1tui ask`` or ``o1tui eval`` in another terminal) is writing. That wait must never happen on
the app's event loop: the screen would freeze for as long as the other process holds the lock.
So every write of a :class:`tui.store.history.History` is a job for its :class:`Writer`, one thread
that takes the jobs first in, first out (the order of a chain's saves is kept) and does the
waiting:

- synchronous callers (the CLI's ``history delete``, a thread worker) wait for their job,
  up to the history's ``lock_wait_s``, then get a one-line error;
- async callers (the chain runner, groups, eval runs) go through :class:`AsyncHistory`: they
  await a save for at most :data:`WRITE_PATIENCE_S`; a save still waiting for the lock then
  stays queued and is written when the lock is released, and the caller goes on. Nothing is
  dropped while the history is open (closing gives the queue ``lock_wait_s`` more);
- a write that has waited :data:`NOTICE_S` for the lock is reported to the listeners as a
  :class:`WriteStatus` (the app shows it as one line), again every :data:`NOTICE_EVERY_S`, and
  once more when it got the lock; a queued save that fails later is reported there too.

Nothing here imports Textual or SQLite; :mod:`tui.store.history` gives the jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import sqlite3

    from tui.core.chain import Chain, Step

T = TypeVar("T")
log = logging.getLogger(__name__)

#: How long a write waits for the lock before the listeners hear of it.
NOTICE_S = 1.0
#: How often they hear of it again while it waits (a status line stays up).
NOTICE_EVERY_S = 4.0
#: How long an async caller awaits one save before it goes on (the save stays queued).
WRITE_PATIENCE_S = 1.0


@dataclass(frozen=True)
class WriteStatus:
    """Where the history's writes stand, for a status line."""

    #: How long the write at the head of the queue has waited for the lock (0: not waiting).
    waiting_s: float
    #: Writes not written yet (the waiting one included).
    queued: int
    #: A queued save that nobody was awaiting any more failed: one line.
    error: str | None = None

    @property
    def busy(self) -> bool:
        return self.error is None and self.waiting_s > 0

    def line(self) -> str:
        """The status as one line for people."""
        if self.error is not None:
            return f"history: a queued save failed: {self.error}"
        if self.busy:
            saves = "save" if self.queued == 1 else "saves"
            return (
                "history busy: another process is writing to it "
                f"(waiting {self.waiting_s:.0f} s); {self.queued} {saves} queued, none lost"
            )
        return "history free again: the queued saves are being written"


@dataclass
class _Job:
    run: Callable[[], Any]
    future: Future[Any]
    #: time.monotonic() after which the job gives up (None: it waits as long as it takes).
    deadline: float | None


Listener = Callable[[WriteStatus], None]


class Writer:
    """One thread running jobs in order (see the module notes); started by the first job.

    ``closed_error`` makes the error a job submitted after :meth:`stop` fails with.
    """

    def __init__(self, name: str, closed_error: Callable[[], Exception]) -> None:
        self._name = name
        self._closed_error = closed_error
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._current: _Job | None = None
        self._stopped = False
        #: time.monotonic() after which every job gives up (set by stop()).
        self._give_up_at: float | None = None
        self._listeners: list[Listener] = []
        self._next_notice_s = NOTICE_S
        self._noticed = False

    # --- for the callers ---------------------------------------------------------------------

    def on_thread(self) -> bool:
        """Whether the caller is the writer thread (a job's nested write runs inline)."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, run: Callable[[], T], deadline: float | None = None) -> Future[T]:
        """Queue ``run``; its future completes when it has run on the writer thread."""
        future: Future[T] = Future()
        with self._cond:
            if self._stopped:
                future.set_exception(self._closed_error())
                return future
            self._jobs.append(_Job(run, future, deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return future

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` (on the writer thread) with each :class:`WriteStatus` report."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def stop(self, wait_s: float) -> None:
        """Run what is queued, giving every job at most ``wait_s`` more, then end the thread."""
        with self._cond:
            self._stopped = True
            self._give_up_at = time.monotonic() + wait_s
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    # --- for the jobs (on the writer thread) ------------------------------------------------

    def give_up_at(self) -> float | None:
        """When the running job must give up waiting for the lock (None: never)."""
        deadlines = [d for d in (self._give_up_at, self._current_deadline()) if d is not None]
        return min(deadlines) if deadlines else None

    def _current_deadline(self) -> float | None:
        job = self._current
        return job.deadline if job is not None else None

    def waiting(self, waited_s: float) -> None:
        """The running job has waited ``waited_s`` for the lock so far: tell the listeners at
        :data:`NOTICE_S`, then every :data:`NOTICE_EVERY_S`."""
        if waited_s < self._next_notice_s:
            return
        self._next_notice_s = waited_s + NOTICE_EVERY_S
        self._noticed = True
        self._report(WriteStatus(waited_s, self.queued()))

    def report_failure(self, error: BaseException) -> None:
        """A save nobody awaits any more failed: tell the listeners (and the log)."""
        log.error("a queued history save failed: %s", error)
        self._report(WriteStatus(0.0, self.queued(), error=str(error) or type(error).__name__))

    def settle_or_report(self, future: Future[Any], patience_s: float) -> bool:
        """Wait (this thread) at most ``patience_s`` for ``future``: True when it is done (its
        error raised here); else it stays queued and a later failure is reported."""
        try:
            future.result(timeout=patience_s)
        except FutureTimeout:  # TimeoutError itself from Python 3.11
            self.report_if_fails(future)
            return False
        return True

    def report_if_fails(self, future: Future[Any]) -> None:
        """Report ``future``'s failure, when it comes, to the listeners (nobody awaits it)."""

        def report(done: Future[Any]) -> None:
            err = None if done.cancelled() else done.exception()
            if err is not None:
                self.report_failure(err)

        future.add_done_callback(report)

    def queued(self) -> int:
        """Jobs not finished yet, the running one included."""
        return len(self._jobs) + (1 if self._current is not None else 0)

    # --- the thread ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopped:
                    self._cond.wait()
                if not self._jobs:
                    return  # stopped and drained
                job = self._jobs.popleft()
                self._current = job
            ok = False
            try:
                if job.future.set_running_or_notify_cancel():
                    try:
                        job.future.set_result(job.run())
                        ok = True
                    except BaseException as err:  # noqa: BLE001 - handed to whoever waits
                        job.future.set_exception(err)
            finally:
                self._current = None
                if self._noticed and ok:
                    self._noticed = False  # the lock was got: say so once
                    self._report(WriteStatus(0.0, self.queued()))
                self._next_notice_s = NOTICE_S

    def _report(self, status: WriteStatus) -> None:
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:  # noqa: BLE001 - a listener's fault must not stop the writes
                log.exception("history status listener failed")


async def settle(future: Future[T], patience_s: float | None) -> bool:
    """Await ``future`` for at most ``patience_s`` (None: until it is done); True when done.

    Cancelling the awaiting task, or running out of patience, never cancels the job: a queued
    save is written anyway.
    """
    if future.done():
        return True
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: Future[T]) -> None:
        def set_done() -> None:
            if not waiter.done():
                waiter.set_result(None)

        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(set_done)

    future.add_done_callback(wake)
    try:
        await asyncio.wait_for(waiter, patience_s)
    except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
        return False
    return True


class WritableStore(Protocol):
    """What :class:`AsyncHistory` needs of a :class:`~tui.store.history.History`: a Protocol,
    because that module imports this one."""

    writer: Writer

    def submit_write(
        self, fn: Callable[[sqlite3.Connection], T], deadline: float | None = None
    ) -> Future[T]: ...

    def start_tx(self, chains: Sequence[Chain]) -> Callable[[sqlite3.Connection], None]: ...

    def finish_tx(self, chain: Chain) -> Callable[[sqlite3.Connection], None]: ...

    def step_tx(self, chain_id: str, step: Step) -> Callable[[sqlite3.Connection], None]: ...


class AsyncHistory:
    """The writes of a :class:`~tui.store.history.History` for async code (see the module notes).

    Each save is queued to the history's writer thread and awaited for at most
    ``patience_s``: a save that is still waiting for the lock then completes later, in order,
    and if it fails then, the history's listeners hear of it. A failure within the patience
    is raised here (:class:`~tui.store.history.HistoryError`), as the synchronous call would.
    """

    def __init__(self, history: WritableStore, patience_s: float = WRITE_PATIENCE_S) -> None:
        self.history = history
        self.patience_s = patience_s

    @property
    def aio(self) -> AsyncHistory:
        """Itself (a :class:`~tui.store.history.History`'s ``aio`` is its AsyncHistory)."""
        return self

    async def put(self, tx: Callable[[sqlite3.Connection], object]) -> None:
        """Run ``tx`` in its own write transaction (see the class notes)."""
        await self._settle(self.history.submit_write(tx))

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (synchronous store code that writes) on the writer thread and await its
        result however long the lock is held: for results the caller needs."""
        future = self.history.writer.submit(fn)
        await settle(future, None)
        return future.result()

    async def put_call(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` like :meth:`call`, awaited for at most the patience (it stays queued)."""
        await self._settle(self.history.writer.submit(fn))

    async def flush(self) -> None:
        """Wait until every save queued so far is written (or has failed)."""
        await settle(self.history.writer.submit(lambda: None), None)

    async def start_chain(self, chain: Chain) -> None:
        """Record a new chain (see :meth:`tui.store.history.History.start_chain`)."""
        await self.put(self.history.start_tx([chain]))

    async def start_chains(self, chains: Iterable[Chain]) -> None:
        """Record several new chains in one transaction (a group's, before any runs)."""
        await self.put(self.history.start_tx(list(chains)))

    async def add_step(self, chain_id: str, step: Step) -> None:
        """Save one finished step (see :meth:`tui.store.history.History.add_step`)."""
        await self.put(self.history.step_tx(chain_id, step))

    async def finish_chain(self, chain: Chain) -> None:
        """Record the chain's outcome (see :meth:`tui.store.history.History.finish_chain`)."""
        await self.put(self.history.finish_tx(chain))

    async def _settle(self, future: Future[Any]) -> None:
        if await settle(future, self.patience_s):
            future.result()
        else:
            self.history.writer.report_if_fails(future)
