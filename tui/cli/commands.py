"""The ``o1tui`` subcommands: the app, ``ask``, ``history``, ``eval``, ``serve``, ``models``,
``download`` (:data:`COMMANDS`, which :func:`tui.cli.entry.main` runs).

Imports stay lazy: ``o1tui ask`` and ``o1tui history`` never import Textual, and nothing
heavy (openai, torch, modelscope) is imported before the subcommand that needs it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui.cli.common import (
    EXIT_FAILURE,
    PROG,
    UserError,
    connect_client,
    model_given,
    open_history,
    resolve_settings,
    strategy_options,
)

if TYPE_CHECKING:  # imported for real where used: the CLI stays quick to start
    import argparse

    from backends.manager import ServerHandle
    from tui.core.chain import Chain, Event
    from tui.core.config import Settings


# --- ask ----------------------------------------------------------------------------------


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

    from tui.cli.printer import StepPrinter
    from tui.core.chain import Chain
    from tui.core.runner import run_chain
    from tui.core.strategies import get_strategy
    from tui.lang import detect_lang
    from tui.output import GuardedPrinter

    lang = (None if settings.lang == "auto" else settings.lang) or detect_lang(question)
    options = strategy_options(settings, lang, dict(getattr(args, "param", None) or []))
    history = open_history(args)
    try:
        client = await connect_client(settings, args, handle)
    except BaseException:
        history.close()
        raise
    chain = Chain(question=question, strategy=settings.strategy, model=client.model, lang=lang)
    if thread:
        from tui.core.threads import continue_thread

        options = await continue_thread(chain, options, client, thread, handle, settings)
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


def cmd_ask(args: argparse.Namespace) -> int:
    from tui.cli.ask_progress import run_with_server
    from tui.cli.printer import EXIT_CODES
    from tui.core.chain import MAX_QUESTION_CHARS, validate_question
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
    from tui.core.threads import ThreadError
    from tui.store.thread_store import earlier_turns, parent_for

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
