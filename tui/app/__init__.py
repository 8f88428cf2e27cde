"""The Textual app. ``import tui.app`` is cheap: Textual loads when :func:`run_app` runs."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backends.manager import ServerHandle
    from tui.core.config import Settings
    from tui.store.history import History


#: How long an exit after SIGHUP/SIGTERM may take before the process ends without waiting.
EXIT_GRACE_S = 3.0


def _exit_after(delay_s: float, code: int) -> None:
    """End the process with ``code`` after ``delay_s`` unless it has ended by then."""
    import threading

    timer = threading.Timer(delay_s, os._exit, args=(code,))
    timer.daemon = True
    timer.start()


def run_app(
    settings: Settings,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    server: ServerHandle | None = None,
    config_path: str | os.PathLike[str] | None = None,
    model_named: bool = False,
) -> int:
    """Open the full-screen app; returns the exit status.

    ``settings``: a ``tui.core.config.Settings``. ``data_dir``: where the history lives (None: the
    default place). ``server``: a managed server handle to use (one with ``client(...)`` and
    ``stop()``); None: connect to ``settings.endpoint`` or start one. ``config_path``: the
    config file the theme choice is saved to (None: the default file). ``model_named``: the
    user named the model, so an endpoint that does not serve it is an error. A server the app
    started itself is stopped on exit unless ``settings.keep_server``, or left to its keeper
    for ``settings.keep_alive`` (backends.keepalive).
    """
    from tui.app.app import O1App

    def open_history() -> History:  # after the first frame: the app calls it (O1App)
        from tui.store.history import History

        return History.open(data_dir)

    app = O1App(
        settings,
        open_history=open_history,
        server=server,
        model_named=model_named,
        config_path=Path(config_path) if config_path is not None else None,
    )

    left: list[str] = []  # what to say about a server left to its keeper (keep_alive)

    def stop_server() -> None:
        if settings.keep_server:
            return
        if app.server_handle is not None and app.owns_server:
            left.append(app.server_handle.release() or "")  # stops it, unless kept warm
        # A server still loading is known only to the controller that is starting it.
        if app.controller is not None:
            left.append(app.controller.shutdown() or "")  # no-op: a server o1tui did not start

    closing = {"signal": 0, "timer": 0}

    def on_termination(signum: int, frame: FrameType | None) -> None:
        # The SSH session closed (SIGHUP) or someone sent SIGTERM: the terminal may be gone,
        # so stop the server first, then unwind; the default action would orphan it.
        stop_server()
        if not closing["timer"]:
            # Unwinding can hang where the terminal is gone (Textual's output thread is not a
            # daemon and may wait on a dead tty): the server is down and every step is saved,
            # so after a short grace the process ends regardless.
            closing["timer"] = 1
            _exit_after(EXIT_GRACE_S, 128 + signum)
        if closing["signal"]:
            return  # already on the way out (a quit, or a signal before): let that exit finish
        closing["signal"] = signum
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, on_termination) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        result = app.run()
    finally:
        closing["signal"] = closing["signal"] or -1  # a signal from here on only stops
        if app.history is not None:
            app.history.close()
        stop_server()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for line in dict.fromkeys(filter(None, left)):
            try:
                print(f"o1tui: {line}", file=sys.stderr)
            except (OSError, ValueError):  # the terminal is gone (SIGHUP): no one to tell
                break
    if app.startup_error is not None:
        raise app.startup_error
    return int(result or 0) if app.return_code in (None, 0) else int(app.return_code)
