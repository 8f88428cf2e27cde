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
