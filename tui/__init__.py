"""o1tui: o1-like reasoning chains from local 7-8B models, in the terminal.

The package holds the reasoning core, the history store, config and the headless CLI;
only ``tui.app`` imports Textual.
"""

__version__ = "0.1.0"


def _check_parts() -> None:
    """Stop with one line when ``backends`` or ``themes`` is another project's package.

    The three import names are generic (docs/decisions.md, "Installed import names"); two
    distributions that own the same name overwrite each other's files, and the failure would
    otherwise surface later as a confusing ImportError deep in a command.
    """
    import importlib
    import sys

    for name in ("backends", "themes"):
        try:
            part = importlib.import_module(name)
        except ImportError:
            continue  # missing altogether: the first real import says which module
        if getattr(part, "O1TUI_PART", False) is not True:
            where = getattr(part, "__file__", None) or name
            sys.stderr.write(
                f"o1tui: the installed package {name!r} is not o1tui's ({where}): another "
                "project uses the name; install o1tui in an environment of its own "
                "(pipx install o1tui)\n"
            )
            raise SystemExit(1)


_check_parts()
