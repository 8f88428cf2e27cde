"""``o1tui``'s entry point: :func:`main` parses the command line, runs the subcommand and turns
every failure a user can meet into one line on stderr and an exit status."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from backends.errors import O1Error
from tui.cli.common import EXIT_FAILURE, PROG
from tui.cli.parser import parse_args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Every failure a user can meet ends in one line on stderr, never a traceback."""
    from tui.output import guard_standard_streams
    from tui.startup import pause_gc, resume_gc

    pause_gc()  # on again after the app's first frame, or at once for a subcommand
    restore_streams = guard_standard_streams()  # `>&-`, `2>/dev/full`: still one line
    if not sys.warnoptions:  # -W or PYTHONWARNINGS: asked for; else no library's warning
        import warnings  # (a file path, a deprecation) belongs on the user's terminal

        warnings.simplefilter("ignore")
    try:
        return _run(argv)
    finally:
        restore_streams()
        resume_gc()


def _run(argv: Sequence[str] | None) -> int:
    from backends.redact import redact_urls
    from tui.output import OutputError
    from tui.sanitize import clean_line
    from tui.startup import resume_gc

    args = parse_args(argv)  # --version and --help end here, before the subcommands load
    from tui.cli.commands import COMMANDS

    if args.command is not None:
        resume_gc()  # a subcommand may run for hours: only the app's first frame goes without
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a write that fails (a full disk) fails here, not at exit
        return code
    except O1Error as err:  # a server's or a file's words may hold anything: cleaned
        print(f"{PROG}: error: {clean_line(redact_urls(str(err)), 500)}", file=sys.stderr)
        if isinstance(err, OutputError):  # what is still buffered for stdout cannot go out
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return err.exit_code
    except KeyboardInterrupt:
        # A signal can land between a server's start and the ``try`` that would stop it: a
        # command that runs a server in the foreground stops whatever it started.
        if args.command in ("ask", "serve") and "backends.supervisor" in sys.modules:
            from backends.supervisor import stop_all_servers

            stop_all_servers()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `o1tui history list | head`: the reader left; quietly, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as err:  # standard output or a file that cannot be written (disk full)
        from tui.output import describe

        what = err.filename if isinstance(err.filename, str) else "the output"
        print(f"{PROG}: error: {clean_line(describe(err, what), 500)}", file=sys.stderr)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
