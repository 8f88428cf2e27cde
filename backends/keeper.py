"""Keeps a model server warm after o1tui quits, then stops it once it has been idle.

o1tui runs the server under this small program when ``keep_alive`` is set::

    python keeper.py --idle-s SECONDS --port PORT --state FILE --log FILE -- SERVER ARGV...

It is the process-group leader; the server is its child in the same group, so o1tui's usual
stop (SIGTERM to the group) still stops both. While o1tui runs it only passes the server's
output through. Once its parent (the o1tui that started it) is gone, it:

- writes the server's output to the log file itself (o1tui's pipe is closed by then);
- counts a request in flight as activity: a TCP connection to the server's port in the
  ESTABLISHED state (``/proc/net/tcp`` and ``tcp6``; clients such as o1tui keep one open while
  they stream). Where ``/proc`` is missing, the timer runs from o1tui's exit;
- after ``--idle-s`` seconds without activity stops the server (SIGTERM to the group, SIGKILL
  after a grace period), removes the state file (o1tui's record of the server and its key) and
  exits. It also removes the state file when the server exits by itself or the group is stopped.

Standard library only; run by path with any Python 3.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time


POLL_S = 0.5
GRACE_S = 10.0


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


def connections_to(port: int, proc: str = "/proc/net") -> int | None:
    """ESTABLISHED TCP connections whose local port is ``port``; ``None`` without ``/proc``."""
    found, readable = 0, False
    for name in ("tcp", "tcp6"):
        try:
            with open(os.path.join(proc, name), encoding="ascii") as fh:
                lines = fh.readlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 3
                and fields[3] == "01"
                and fields[1].rsplit(":", 1)[-1] == f"{port:04X}"
            ):
                found += 1
    return found if readable else None


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
                fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
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
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
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
        if not detached or connections_to(port):
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
    try:
        os.unlink(path)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
