"""Signals around a headless run (``o1tui ask``, one chain or a group).

While chains run, Ctrl+C, SIGTERM and SIGHUP cancel them (they are saved as cancelled). Once
they are over, the same signals must not end o1tui before the server it started is stopped:
asyncio's ``remove_signal_handler`` would reset SIGTERM and SIGHUP to their default action
(death, leaving the server running), so the handlers are swapped for a no-op, with the signals
blocked during the swap. :func:`handlers_restored` puts the process's own handlers back at the
end (the CLI also runs in-process, under tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import Any

#: Signals that cancel a running chain (kept as cancelled): Ctrl+C, kill, the SSH session closing.
CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _after_the_chain(signum: int, frame: Any) -> None:
    """A termination signal once the chains are over: they are saved and o1tui is already
    stopping its server and leaving; raising here would break into that clean-up."""


@contextlib.contextmanager
def cancel_on_termination(task: asyncio.Future[Any]) -> Iterator[None]:
    """Cancel ``task`` on a termination signal while the body runs (inside the event loop)."""
    loop = asyncio.get_running_loop()
    for sig in CANCEL_SIGNALS:
        loop.add_signal_handler(sig, task.cancel)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, CANCEL_SIGNALS)
        try:
            for sig in CANCEL_SIGNALS:
                loop.remove_signal_handler(sig)
                signal.signal(sig, _after_the_chain)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, CANCEL_SIGNALS)


@contextlib.contextmanager
def handlers_restored() -> Iterator[None]:
    """Put back the termination handlers in place before the body (main thread only)."""
    saved = {sig: signal.getsignal(sig) for sig in CANCEL_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)
