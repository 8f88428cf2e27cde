"""Keeps a model server warm after o1tui quits, then stops it once it has been idle.

o1tui runs the server under this small program when ``keep_alive`` is set::

    python keeper.py --idle-s SECONDS --port PORT --state FILE --log FILE -- SERVER ARGV...

It is the process-group leader; the server is its child in the same group, so o1tui's usual
stop (SIGTERM to the group) still stops both. While o1tui runs it only passes the server's
output through. Once its parent (the o1tui that started it) is gone, it:

- writes the server's output to the log file itself (o1tui's pipe is closed by then);
- counts a request in flight as activity: an open TCP connection to the server's port made by
  one of the user's own processes (``/proc/net/tcp`` and ``tcp6`` name each socket's owner;
  clients such as o1tui keep one open while they stream). Another user's idle connection does
  not count. Where ``/proc`` is missing, the timer runs from o1tui's exit;
- after ``--idle-s`` seconds without activity stops the server (SIGTERM to the group, SIGKILL
  after a grace period), removes the state file (o1tui's record of the server and its key) and
  exits. It also removes the state file when the server exits by itself or the group is stopped.

The server gets SIGTERM when the keeper dies, even by SIGKILL (``PR_SET_PDEATHSIG``); what the
group leaves behind then is stopped by the next o1tui (``keepalive.attach``).

Standard library only (and ``trust.py`` beside it); run by path with any Python 3.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

if __package__:
    from backends import trust
else:  # run by path: this file's folder is sys.path[0]
    import trust  # type: ignore[import-not-found, no-redef]


POLL_S = 0.5
GRACE_S = 10.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    opts: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0] != "--":
        if len(rest) < 2 or rest[0] not in ("--idle-s", "--port", "--state", "--log"):
            raise SystemExit(f"keeper: bad arguments: {rest[:2]}")
        opts[rest[0]] = rest[1]
        rest = rest[2:]
    if not rest[1:] or not {"--idle-s", "--port", "--state"} <= set(opts):
        raise SystemExit("keeper: usage: --idle-s S --port P --state FILE [--log FILE] -- ARGV")
    return opts, rest[1:]


def active(port: int, proc_net: str = "/proc/net") -> bool:
    """Whether the server is in use: a connection to it is open from one of the user's own
    processes (clients such as o1tui keep one open while they stream). Another user's
    connections never count: they cannot hold the server, and the GPU, up. Without ``/proc``
    nothing counts, and the timer runs from o1tui's exit."""
    return bool(trust.clients_of(port, os.getuid(), proc_net))


def die_with_parent() -> Callable[[], None] | None:
    """What the server's process runs before the server: SIGTERM to it when the keeper dies,
    even by SIGKILL (Linux ``PR_SET_PDEATHSIG``), so the server never outlives the one that
    stops it. Prepared here, before the fork: the child must not import. ``None`` where there
    is no ``prctl`` (the next o1tui then stops what is left: keepalive.attach)."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


class Relay:
    """Copies the server's output to our stdout, and to the log file once stdout is gone."""

    def __init__(self, source: io.BufferedReader, log_path: str | None) -> None:
        self.source = source
        self.log_path = log_path
        self.out = sys.stdout.buffer
        self.lock = threading.Lock()

    def detach(self) -> None:
        """o1tui is gone: write to the log file from now on."""
        with self.lock:
            if self.log_path:
                flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                fd = os.open(self.log_path, flags, 0o600)
                self.out = os.fdopen(fd, "ab", buffering=0)
                self.out.write(
                    b"# o1tui quit; the server stays up while it is in use (keep_alive)\n"
                )
            else:
                self.out = open(os.devnull, "wb")  # noqa: SIM115 - lives as long as the relay

    def run(self) -> None:
        for chunk in iter(lambda: self.source.read1(65536), b""):
            with self.lock:
                try:
                    self.out.write(chunk)
                    self.out.flush()
                except (BrokenPipeError, OSError, ValueError):
                    pass  # stdout gone before detach() noticed: this chunk is lost


def main() -> int:
    opts, argv = parse(sys.argv[1:])
    idle_s, port, state = float(opts["--idle-s"]), int(opts["--port"]), opts["--state"]
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal; never a reason to stop
    parent = os.getppid()
    child = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),  # before any thread of ours starts
    )
    assert child.stdout is not None
    relay = Relay(child.stdout, opts.get("--log"))  # type: ignore[arg-type]
    threading.Thread(target=relay.run, daemon=True).start()
    detached = False
    last_active = time.monotonic()
    code: int | None = None
    while code is None and not stopping.wait(POLL_S):
        code = child.poll()
        now = time.monotonic()
        if not detached and os.getppid() != parent:
            detached = True
            relay.detach()
            last_active = now
        if not detached or active(port):
            last_active = now
        elif now - last_active >= idle_s:
            break
    hung = False
    if code is None:  # stop the server: idle, or our group was told to stop
        try:
            os.killpg(os.getpgrp(), signal.SIGTERM)  # our own handler only sets the flag
        except OSError:
            child.terminate()
        try:
            code = child.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            hung = True
    _remove(state)
    if hung:
        os.killpg(os.getpgrp(), signal.SIGKILL)  # the rest of the group, and us
    return 0 if code is None or code < 0 else code


def _remove(path: str) -> None:
    """Remove the record, only while it is this keeper's: a later o1tui may have written its
    own for a new server on the port once ours was gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, encoding="utf-8") as fh:
            ours = json.load(fh).get("pid") == os.getpid()
    except (OSError, ValueError, AttributeError):
        ours = os.path.lexists(path) and not os.path.islink(path)  # unreadable: ours to clear
    if ours:
        with contextlib.suppress(OSError):
            os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
