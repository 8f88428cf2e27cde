"""Hold termination signals back while a server is being stopped.

Stopping a server is the one thing a Ctrl+C, SIGTERM or SIGHUP must not interrupt: a handler
that raises (``KeyboardInterrupt``, ``SystemExit``) in the middle of a stop leaves the process
group running, and a handler that stops the server again while the first stop holds its lock
waits forever. :func:`termination_deferred` swaps the handlers for a recorder while the stop
runs, then puts the old ones back and, if a signal came meanwhile, delivers it once: the user's
request is honoured, only after the server is down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

#: Ctrl+C, kill, the SSH session closing.
TERMINATION_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: What ``signal.signal`` gives back: a Python handler, SIG_DFL or SIG_IGN, or ``None`` (one
#: set outside Python).
Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


@contextlib.contextmanager
def termination_deferred() -> Iterator[None]:
    """Run the body with termination signals recorded instead of handled (main thread only;
    elsewhere Python delivers no signal to the running code, so there is nothing to hold)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous: dict[int, Handler] = {}
    try:
        for sig in TERMINATION_SIGNALS:
            previous[sig] = signal.signal(sig, record)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            _deliver(received[0], previous.get(received[0]))


def _deliver(signum: int, handler: Handler) -> None:
    """Act on a held-back signal as its handler would have."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signum)  # the default action: the process ends by that signal
    # SIG_IGN (or None: set outside Python): nothing to do
