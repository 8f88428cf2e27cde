"""The ``o1tui`` command line's parser: the command's own options and every subcommand's.

Building every subcommand's options is most of the parsing cost at start-up, so the app (no
subcommand) is parsed by a quick parser of the command's own options first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from tui import __version__
from tui.cli.common import PROG

if TYPE_CHECKING:
    import argparse

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
        help="a vote (self-consistency): N samples (2-32) of the strategy at once, sampled at its "
        "temperature if above 0 else 0.7, then a majority vote on their answers (written S@N, "
        "e.g. g1@8, in eval and the app)",
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
