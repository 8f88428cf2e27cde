"""The ``o1tui`` command line (no Textual; the app is started lazily by ``o1tui`` alone).

- :mod:`tui.cli.entry` -- :func:`~tui.cli.entry.main`, the console script;
- :mod:`tui.cli.parser` -- the parser; :mod:`tui.cli.options` -- the options subcommands share;
- :mod:`tui.cli.common` -- what every subcommand shares (exit statuses, settings, history);
- :mod:`tui.cli.commands` -- ``ask``, ``serve``, ``models``, ``download`` and the app;
  :mod:`tui.cli.ask_group`, :mod:`tui.cli.eval_cmd`, :mod:`tui.cli.history_cmd` -- the rest;
- :mod:`tui.cli.printer`, :mod:`tui.cli.ask_progress`, :mod:`tui.cli.ask_signals`,
  :mod:`tui.cli.listing`, :mod:`tui.cli.thread_export` -- what they print and how they stop.

Nothing is imported here: ``o1tui --version`` stays quick.
"""
