"""What ``o1tui ask`` says on stderr while it starts a managed server.

The server's own output (llama.cpp prints ~2 000 loader and timing lines) belongs in its log
file, which the app's server screen and ``o1tui serve`` show; ``ask`` prints only o1tui's own
progress: which engine and model start and where their log is, a live wait line on a terminal,
the warnings, and — only when the server fails — its last lines and the log's path.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, TextIO, TypeVar

from tui.sanitize import clean_line

PROG = "o1tui"

#: Without a terminal, a "still starting" line this often (LMDeploy can take minutes).
QUIET_EVERY_S = 30.0

#: Server log lines shown when a server fails.
TAIL_LINES = 15

T = TypeVar("T")

ENGINE_LABELS = {"llamacpp": "llama.cpp", "lmdeploy": "LMDeploy", "transformers": "transformers"}


class AskProgress:
    """o1tui's own start-up progress on ``stream`` (stderr): permanent lines for facts and
    warnings, and on a terminal one transient line that counts the wait."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._transient = False
        self._last_quiet = 0.0

    def note(self, line: str) -> None:
        """A permanent line (a fact, a warning), prefixed with the program's name."""
        self.clear()
        self.stream.write(f"{PROG}: {clean_line(line, 300)}\n")
        self.stream.flush()

    def waiting(self, elapsed_s: float, result: Any = None) -> None:
        """A readiness poll (``on_poll``): the transient wait line, or a rare line off a TTY."""
        what = {"down": "loading the model", "starting": "initialising"}.get(
            getattr(result, "kind", ""), "starting"
        )
        if self.tty:
            self.stream.write(f"\r\x1b[2K… server {what}, {elapsed_s:.0f} s")
            self.stream.flush()
            self._transient = True
        elif elapsed_s - self._last_quiet >= QUIET_EVERY_S:
            self._last_quiet = elapsed_s
            self.note(f"still waiting for the server ({what}, {elapsed_s:.0f} s)")

    def clear(self) -> None:
        """Erase the transient line, if one is shown."""
        if self._transient:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._transient = False

    def server_failed(self, tail: list[str], log_path: Any, headline: str | None = None) -> None:
        """The server's last lines (cleaned) and its log's path: shown only on failure."""
        self.clear()
        if headline:
            self.note(headline)
        if tail:
            self.stream.write("last lines of the server log:\n")
            for line in tail[-TAIL_LINES:]:
                self.stream.write("  " + clean_line(line, 300) + "\n")
        if log_path:
            self.stream.write(f"full log: {clean_line(str(log_path), 500)}\n")
        self.stream.flush()


def start_server(settings: Any, progress: AskProgress) -> Any:
    """Start (or reuse) the managed server for ``ask`` with only o1tui's own progress shown.

    Returns the ready :class:`backends.manager.ServerHandle`. Raises what
    :func:`backends.manager.start_backend` raises; a server that fails to start has its last
    lines printed first. Ctrl+C (or SIGTERM, SIGHUP) during the load stops the server.
    """
    from backends.manager import ensure_server
    from backends.supervisor import ServerStartError

    began = time.monotonic()
    # on_line=None: the server's lines go to its log file only (ensure_server would send them
    # to ``progress`` by default).
    handle = ensure_server(
        settings, progress=progress.note, on_line=None, on_poll=progress.waiting, wait=False
    )
    try:
        engine = ENGINE_LABELS.get(handle.engine, handle.engine)
        if handle.process is not None:
            progress.note(
                f"starting {engine} with {handle.model}; server log: {handle.process.log_path}"
            )
        elif handle.engine == "transformers":
            progress.note(f"loading {handle.model} into o1tui (transformers)")
        handle.wait_ready(None, on_poll=progress.waiting)
    except ServerStartError as err:
        handle.stop()
        progress.server_failed(err.log_tail, err.log_path)
        raise
    except BaseException:
        handle.stop()
        raise
    finally:
        progress.clear()
    if handle.process is not None:
        progress.note(f"{engine} ready after {time.monotonic() - began:.1f} s")
    return handle


def report_server_exit(handle: Any, progress: AskProgress) -> None:
    """After a failed chain: when the server we started has died, say so with its last lines."""
    process = getattr(handle, "process", None)
    if process is None or process.running:
        return
    progress.server_failed(
        process.tail(TAIL_LINES),
        process.log_path,
        headline=f"the server exited (code {process.returncode})",
    )


def run_with_server(
    settings: Any,
    run: Callable[[Any], Coroutine[Any, Any, T]],
    *,
    failed: Callable[[T], bool] = lambda result: False,
    keep_warm: bool = False,
) -> T:
    """The headless commands' run (``ask``, ``ask --samples/--compare``, ``eval``): start (or
    reuse) the managed server unless ``settings.endpoint`` names one, run ``run(handle)``
    (``handle`` is None for an endpoint) in a fresh event loop, and stop the server after.

    The server is started here, in the main thread, so Ctrl+C (or SIGTERM, SIGHUP) during a
    long model load stops it; the process's own signal handlers are put back at the end. When
    ``failed(result)``, a server that died is reported with its last lines. ``keep_warm``:
    the server is released (``keep_alive`` may keep a ready one warm) instead of stopped.
    """
    from tui.cli.ask_signals import handlers_restored

    with handlers_restored():
        handle = None
        progress = AskProgress()
        if not settings.endpoint:
            from backends.manager import interrupt_on_termination

            interrupt_on_termination()
            handle = start_server(settings, progress)
        try:
            result = asyncio.run(run(handle))
            if failed(result):
                report_server_exit(handle, progress)
            return result
        finally:
            if handle is not None:
                if keep_warm:
                    left = handle.release()  # stops it, unless keep_alive keeps it warm
                    if left:
                        progress.note(left)
                else:
                    handle.stop()
