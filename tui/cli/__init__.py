"""The ``o1tui`` command line (no Textual; the app is started lazily by ``o1tui`` alone).

- :mod:`tui.cli.entry` -- :func:`~tui.cli.entry.main`, the console script;
- :mod:`tui.cli.parser` -- the parser; :mod:`tui.cli.options` -- the options subcommands share;
- :mod:`tui.cli.common` -- what every subcommand shares (exit statuses, settings, history);
- :mod:`tui.cli.commands` -- ``ask``, ``serve``, ``models``, ``download`` and the app;
  :mod:`tui.cli.ask_group`, :mod:`tui.cli.eval_cmd`, :mod:`tui.cli.history_cmd` -- the rest;
- :mod:`tui.cli.printer`, :mod:`tui.cli.ask_progress`, :mod:`tui.cli.ask_signals`,
  :mod:`tui.cli.listing`, :mod:`tui.cli.thread_export` -- what they print and how they stop.

Nothing is imported here until used: ``o1tui --version`` stays quick.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``from tui.cli import main``: what console scripts installed before the package split
    import (``pip install`` writes the new ``tui.cli.entry:main``); loaded on first use."""
    if name == "main":
        from tui.cli.entry import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
