"""Test helpers for the Textual app (after oterm): wait for a condition instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


async def wait_until(
    pilot: Any, predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.02
) -> None:
    """Let the app run until ``predicate()`` is true; fail with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        await pilot.pause(interval)


def poll_until(
    predicate: Callable[[], Any], timeout: float = 10.0, what: str = "", interval: float = 0.02
) -> Any:
    """Outside an app (processes, threads, tmux): poll until ``predicate()`` is truthy and
    return its value; fail with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)
    return value


def server_pgid(port: int) -> int | None:
    """The process group of the model server listening (by its command line) on ``port``."""
    import os
    from pathlib import Path

    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if str(port).encode() in argv and b"api_server" in argv:
                    return os.getpgid(int(entry.name))
            except OSError:
                continue
    return None
