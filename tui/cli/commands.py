"""The ``o1tui`` command: the app, ``ask``, ``history``, ``serve``, ``models``, ``download``.

Imports stay lazy: ``o1tui ask`` and ``o1tui history`` never import Textual, and nothing
heavy (openai, torch, modelscope) is imported before the subcommand that needs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from backends.errors import O1Error
from tui import __version__

if TYPE_CHECKING:  # imported for real where used: the CLI stays quick to start
    import argparse

    from backends.client import ChatClient
    from backends.manager import ServerHandle
    from tui.core.chain import Chain, Event
    from tui.core.config import Settings
    from tui.store.history import History
    from tui.core.strategies import StrategyOptions

PROG = "o1tui"

#: Exit statuses besides the chain statuses of tui.cli.printer.EXIT_CODES.
EXIT_USAGE = 2
EXIT_FAILURE = 1


class UserError(O1Error):
    """A problem the user can fix; printed as one line, exit status 2 unless given."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = code


# --- argument parsing ---------------------------------------------------------------------


def _top_level_parser(
    parents: Sequence[argparse.ArgumentParser], cls: type[argparse.ArgumentParser] | None = None
) -> argparse.ArgumentParser:
    """The command's own options (before any subcommand); ``cls``: the parser class."""
    import argparse

    from tui.core.strategies import STRATEGY_NAMES

    parser = (cls or argparse.ArgumentParser)(
        prog=PROG,
        parents=parents,
        description="o1-like reasoning chains from local 7-8B models. Without a subcommand, "
        "opens the full-screen app (starting or reusing a model server unless "
        "--endpoint is given).",
        add_help=cls is None,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--strategy",
        choices=STRATEGY_NAMES,
        default=argparse.SUPPRESS,
        help="strategy the app starts with (default g1)",
    )
    parser.add_argument("--theme", default=argparse.SUPPRESS, help="theme name for the app")
    parser.add_argument(
        "--keep-server",
        action="store_true",
        default=argparse.SUPPRESS,
        help="leave a server the app started running when it quits",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the command's options and every subcommand's."""
    import argparse
    from pathlib import Path

    from tui.cli.options import (
        add_lang_and_steps,
        add_param,
        common_options,
        model_options,
        server_options,
    )
    from tui.core.strategies import STRATEGY_NAMES

    common, model, server = common_options(), model_options(), server_options()
    parser = _top_level_parser([common, model, server])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = sub.add_parser(
        "ask",
        parents=[common, model, server],
        help="run one chain headless",
        description="Run one reasoning chain, print each step as it finishes, "
        "save it to the history. Exit 0 only when the chain finished "
        "(1 error, 2 bad input, 3 step limit, 130 cancelled). With --samples or --compare, "
        "run a group of chains at once: one line per chain as it finishes, then the vote; "
        "exit 0 only when every chain finished (1 if any failed or hit the step limit).",
    )
    ask.add_argument("question", help="the question; '-' reads it from standard input")
    ask.add_argument(
        "--strategy",
        choices=STRATEGY_NAMES,
        default=argparse.SUPPRESS,
        help="g1 step chain (default), InternLM3 thinking mode, plain answer, or "
        "native <think> reasoning",
    )
    add_lang_and_steps(ask, "g1 prompt language (default: from the question)")
    ask.add_argument("--json", action="store_true", help="print one JSON document at the end")
    several = ask.add_mutually_exclusive_group()
    several.add_argument(
        "--samples",
        type=int,
        metavar="N",
        help="self-consistency: N samples (2-32) of the strategy at once, sampled at its "
        "temperature if above 0 else 0.7, then a majority vote on their answers",
    )
    several.add_argument(
        "--compare",
        metavar="S1,S2",
        help="one chain per strategy at once, e.g. plain,g1,thinking (no vote)",
    )
    add_param(ask, "max_tokens=400 or ignore_eos=true")
    thread = ask.add_mutually_exclusive_group()
    thread.add_argument(
        "-c",
        "--continue",
        dest="continue_latest",
        action="store_true",
        help="follow up the latest chain: the model gets its earlier questions and answers",
    )
    thread.add_argument(
        "--cid", metavar="ID", help="follow up the chain ID (a unique prefix is enough)"
    )

    hist = sub.add_parser("history", parents=[common], help="list, show, export, delete chains")
    hsub = hist.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    hl = hsub.add_parser("list", parents=[common], help="newest chains first")
    hl.add_argument("--search", metavar="TEXT", help="full-text search in questions and steps")
    hl.add_argument("--limit", type=int, default=20, metavar="N", help="how many (default 20)")
    hl.add_argument("--json", action="store_true", help="JSON list of chain summaries")
    hs = hsub.add_parser("show", parents=[common], help="one chain, whole")
    hs.add_argument("id", help="chain id (a unique prefix is enough)")
    fmt = hs.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the chain as JSON")
    fmt.add_argument("--markdown", action="store_true", help="the chain as Markdown")
    he = hsub.add_parser("export", parents=[common], help="write a chain to Markdown or JSON")
    he.add_argument("id", help="chain id (a unique prefix is enough)")
    he.add_argument("--format", choices=("md", "json"), default="md")
    he.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="file to write (default: standard output)"
    )
    hd = hsub.add_parser(
        "delete", parents=[common], help="delete a chain (not one still running: stop it first)"
    )
    hd.add_argument("id", help="chain id (a unique prefix is enough)")

    from tui.cli.eval_cmd import add_parser as add_eval_parser

    add_eval_parser(sub, [common, model, server])

    sub.add_parser(
        "serve",
        parents=[common, model, server],
        help="run only the model server, in the foreground; Ctrl+C stops it",
    )

    sub.add_parser("models", parents=[common], help="list the model presets")
    dl = sub.add_parser(
        "download", parents=[common], help="download a model or a benchmark set from ModelScope"
    )
    dl.add_argument(
        "name", metavar="MODEL|SET", help="preset name, ModelScope id, or a set (gsm8k, math500…)"
    )
    return parser


class _NeedFullParser(Exception):
    """The quick parser met what only the full one answers: a subcommand, help, an error."""


def _quick_parser() -> argparse.ArgumentParser:
    """The command's own options only, for the app (no subcommand): building every
    subcommand's options is most of the parsing cost at start-up. Whatever else it meets
    (a subcommand, ``--help``, a mistake) raises :class:`_NeedFullParser`; ``--engine`` and
    ``--backend`` are left to the full parser, which checks their names."""
    import argparse

    from tui.cli.options import common_options, model_options, server_options

    class Quick(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise _NeedFullParser(message)

    class Escalate(argparse.Action):
        def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
            raise _NeedFullParser("--help")

    parser = _top_level_parser(
        [common_options(), model_options(checked=False), server_options(checked=False)], Quick
    )
    parser.add_argument("-h", "--help", nargs=0, action=Escalate, default=argparse.SUPPRESS)
    parser.add_argument("rest", nargs=argparse.REMAINDER)  # a subcommand and its arguments
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``build_parser().parse_args(argv)``, the same result, quicker for the app."""
    try:
        args = _quick_parser().parse_args(argv)
    except _NeedFullParser:
        return build_parser().parse_args(argv)
    if args.rest or hasattr(args, "engine") or hasattr(args, "backend"):
        return build_parser().parse_args(argv)
    del args.rest
    args.command = None
    return args


# --- settings -----------------------------------------------------------------------------


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Defaults < config file < environment < flags."""
    import dataclasses

    from tui.core.config import SETTING_NAMES, ConfigError, check_setting, load_settings

    settings = load_settings(getattr(args, "config", None))
    # A flag is stored under its setting's name, and only when given (defaults are SUPPRESSed),
    # and checked like the same key in the file (--port 70000, --endpoint with port 99999).
    try:
        changes = {
            name: check_setting(name, getattr(args, name), "--" + name.replace("_", "-"))
            for name in SETTING_NAMES
            if hasattr(args, name)
        }
    except ConfigError as err:  # a flag's value: bad input, exit 2
        raise UserError(str(err)) from None
    settings = dataclasses.replace(settings, **changes)
    if settings.endpoint and settings.dp > 1:
        raise UserError(
            f"--dp {settings.dp} starts LMDeploy replicas; it cannot go with --endpoint "
            "(a server o1tui does not start)"
        )
    for warning in settings.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    return settings


def model_given(args: argparse.Namespace) -> bool:
    """Whether the user named a model (flag or env); else a running endpoint's own is used."""
    return hasattr(args, "model") or bool(os.environ.get("O1TUI_MODEL"))


def open_history(args: argparse.Namespace) -> History:
    from tui.store.history import History
    from tui.locations import data_dir
    from tui.sanitize import clean_line

    history = History.open(data_dir(getattr(args, "data_dir", None)))
    if history.recovery is not None:
        print(f"{PROG}: warning: {history.recovery.message()}", file=sys.stderr)
    for warning in history.warnings:
        print(f"{PROG}: warning: {clean_line(warning, 500)}", file=sys.stderr)
    # A save waiting for another process's write lock, or failing after the chain went on,
    # is said as it happens (the app shows the same line).
    history.add_listener(
        lambda status: print(f"{PROG}: {clean_line(status.line(), 500)}", file=sys.stderr)
    )
    return history


# --- ask ----------------------------------------------------------------------------------


async def _connect(
    settings: Settings, args: argparse.Namespace, handle: ServerHandle | None
) -> ChatClient:
    """A chat client for --endpoint, or for the managed server ``handle`` (tui.core.connect)."""
    from tui.core.connect import handle_client, open_endpoint

    if settings.endpoint:
        return await open_endpoint(settings, model_named=model_given(args))
    assert handle is not None
    return handle_client(settings, handle)


def _progress_line(line: str) -> None:
    """``serve``: the server's log lines go to stderr as the server wrote them."""
    from tui.sanitize import clean_line

    print(clean_line(line, 200), file=sys.stderr, flush=True)


def _serve_note(line: str) -> None:
    """``serve``: o1tui's own lines (waits, warnings) on stderr, marked as o1tui's."""
    from tui.sanitize import clean_line

    print(f"{PROG}: {clean_line(line, 300)}", file=sys.stderr, flush=True)


async def _run_ask(
    args: argparse.Namespace,
    settings: Settings,
    question: str,
    handle: ServerHandle | None,
    thread: list[Chain] | None = None,
) -> Chain:
    import asyncio

    from tui.core.chain import Chain
    from tui.lang import detect_lang
    from tui.output import GuardedPrinter
    from tui.cli.printer import StepPrinter
    from tui.core.runner import run_chain
    from tui.core.strategies import get_strategy

    lang = (None if settings.lang == "auto" else settings.lang) or detect_lang(question)
    options = strategy_options(settings, lang, dict(getattr(args, "param", None) or []))
    history = open_history(args)
    try:
        client = await _connect(settings, args, handle)
    except BaseException:
        history.close()
        raise
    chain = Chain(question=question, strategy=settings.strategy, model=client.model, lang=lang)
    if thread:
        from tui.core.threads import continue_thread

        options = await continue_thread(
            chain,
            options,
            client,
            thread,
            engine=handle.engine if handle is not None else None,
            session_len=settings.session_len,
        )
    on_event: Callable[[Event], None] | None = None
    if not args.json:
        on_event = GuardedPrinter(
            StepPrinter(sys.stdout, progress=sys.stderr if sys.stderr.isatty() else None)
        )
    task = asyncio.ensure_future(
        run_chain(
            chain,
            get_strategy(settings.strategy),
            client,
            options,
            history=history,
            on_event=on_event,
        )
    )
    from tui.cli.ask_signals import cancel_on_termination

    try:
        with cancel_on_termination(task):
            await task
    except asyncio.CancelledError:
        pass  # run_chain saved the chain as cancelled before re-raising
    finally:
        await client.aclose()
        history.close()
    if isinstance(on_event, GuardedPrinter) and on_event.error is not None:
        from tui.output import OutputError, describe

        raise OutputError(
            f"{describe(on_event.error, 'the output')}; the chain {chain.id} is in the history "
            f"({chain.status.value})"
        )
    return chain


def strategy_options(
    settings: Settings, lang: str | None, params: dict[str, Any]
) -> StrategyOptions:
    """StrategyOptions from settings and ``--param`` fields; max_tokens and temperature are
    options of their own (strategies have per-language defaults), the rest goes to the server."""
    from tui.core.strategies import StrategyOptions

    params = dict(params)
    for key, value in params.items():
        if not _finite(value):  # JSON reads Infinity, NaN and 1e400; no server takes them
            raise UserError(f"--param {key}: numbers must be finite, got {value!r}")
    max_tokens = params.pop("max_tokens", None)
    temperature = params.pop("temperature", None)
    if max_tokens is not None and (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, (int, float))
        or max_tokens != int(max_tokens)
        or not 1 <= max_tokens <= 2**31
    ):
        raise UserError(f"--param max_tokens must be a whole number from 1, got {max_tokens!r}")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, (int, float))
    ):
        raise UserError(f"--param temperature must be a number, got {temperature!r}")
    return StrategyOptions(
        lang=lang,
        max_steps=settings.max_steps,
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        temperature=float(temperature) if temperature is not None else None,
        extra_body=params or None,
    )


def _finite(value: Any) -> bool:
    """Whether every number in a ``--param`` value (nested lists and objects too) is finite."""
    import math

    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def cmd_ask(args: argparse.Namespace) -> int:
    from tui.cli.ask_progress import run_with_server
    from tui.core.chain import MAX_QUESTION_CHARS, validate_question
    from tui.cli.printer import EXIT_CODES
    from tui.sanitize import clean_line

    if args.question == "-":
        if sys.stdin is None:  # started with `<&-`: Python has no stdin at all
            raise UserError("standard input is closed: there is no question to read from it")
        # Read no further than the limit: `yes | o1tui ask -` must end, not fill the memory.
        text = sys.stdin.read(MAX_QUESTION_CHARS + 1)
        if len(text) > MAX_QUESTION_CHARS and text[MAX_QUESTION_CHARS:].strip():
            raise UserError(
                f"the question on standard input is too long (the limit is "
                f"{MAX_QUESTION_CHARS:,} characters)"
            )
    else:
        text = args.question
    try:
        question = validate_question(text)
    except ValueError as err:
        raise UserError(str(err)) from None
    thread = _thread_to_continue(args)
    if thread and (args.samples is not None or args.compare is not None):
        raise UserError("-c/--continue and --cid follow up with one chain, not a group")
    if args.samples is not None or args.compare is not None:
        from tui.cli.ask_group import cmd_ask_group

        return cmd_ask_group(args, question)
    settings = resolve_settings(args)
    if settings.max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    strategy_options(settings, None, dict(args.param or []))  # bad --param: refused before any run
    chain = run_with_server(
        settings,
        lambda handle: _run_ask(args, settings, question, handle, thread),
        failed=lambda chain: chain.status.value == "error",
        keep_warm=True,
    )
    if args.json:
        from tui.core.export import to_json

        print(to_json(chain))
    if chain.status.value == "cancelled":
        print(f"{PROG}: cancelled; the partial chain {chain.id} is in the history", file=sys.stderr)
    elif chain.error:
        print(f"{PROG}: {clean_line(chain.error, 500)}", file=sys.stderr)
    elif chain.status.value == "step_limit":
        print(
            f"{PROG}: the model did not finish within {settings.max_steps} steps "
            f"(chain {chain.id})",
            file=sys.stderr,
        )
    return EXIT_CODES[chain.status]


def _thread_to_continue(args: argparse.Namespace) -> list[Chain]:
    """``ask -c``/``--cid``: the earlier turns to send (the parent last); empty without them.
    A chain that matches nothing or several, or cannot be followed up, is bad input."""
    ident = getattr(args, "cid", None)
    if ident is not None and not ident.strip():
        raise UserError("--cid needs a chain id")
    if ident is None and not getattr(args, "continue_latest", False):
        return []
    from tui.store.thread_store import earlier_turns, parent_for
    from tui.core.threads import ThreadError

    history = open_history(args)
    try:
        parent = parent_for(history, ident)
        return earlier_turns(history, parent.id)
    except ThreadError as err:
        raise UserError(str(err)) from None
    finally:
        history.close()


# --- history ------------------------------------------------------------------------------


def cmd_history(args: argparse.Namespace) -> int:
    from tui.cli.history_cmd import cmd_history as run_history

    return run_history(args)


# --- server, models, download, app ----------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from backends.manager import serve_forever

    settings = resolve_settings(args)
    return serve_forever(settings, progress=_serve_note, on_line=_progress_line)


def cmd_models(args: argparse.Namespace) -> int:
    from tui.cli.listing import models_table

    settings = resolve_settings(args)
    print("\n".join(models_table(settings.model, header=sys.stdout.isatty())))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from backends.download import download_model
    from tui.evals.named import NAMED_SETS, fetch_named_set

    if args.name in NAMED_SETS:
        from tui.evals.sets import SetFileError
        from tui.sanitize import clean_line

        try:
            print(fetch_named_set(args.name).parent)
        except SetFileError as err:
            raise UserError(clean_line(str(err), 500), code=EXIT_FAILURE) from None
        return 0
    path = download_model(args.name)
    print(path)
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from tui.app import run_app
    from tui.locations import data_dir

    settings = resolve_settings(args)
    return run_app(
        settings,
        data_dir=data_dir(getattr(args, "data_dir", None)),
        config_path=getattr(args, "config", None),
        model_named=model_given(args),
    )


def cmd_eval(args: argparse.Namespace) -> int:
    from tui.cli.eval_cmd import cmd_eval as run_eval

    return run_eval(args)


COMMANDS: dict[str | None, Callable[[argparse.Namespace], int]] = {
    None: cmd_app,
    "ask": cmd_ask,
    "history": cmd_history,
    "eval": cmd_eval,
    "serve": cmd_serve,
    "models": cmd_models,
    "download": cmd_download,
}


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

    args = parse_args(argv)
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
