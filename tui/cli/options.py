"""The option groups of the ``o1tui`` command line that several subcommands share: where the
data lives, which model and how to reach it, how a started server is configured, and the
chain options of ``ask`` and ``eval``. Defaults are SUPPRESSed, so a value given before the
subcommand is not overwritten by the subcommand's copy (and the config file still counts).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tui.lang import LANG_CHOICES


def common_options() -> argparse.ArgumentParser:
    """Options accepted before or after any subcommand (defaults SUPPRESSed so the
    subcommand's copy does not overwrite a value given before it)."""
    p = argparse.ArgumentParser(add_help=False)
    S = argparse.SUPPRESS
    p.add_argument(
        "--data-dir",
        type=Path,
        default=S,
        metavar="DIR",
        help="where the history lives (env O1TUI_DATA_DIR; default: the user data dir)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=S,
        metavar="FILE",
        help="config file (default: config.toml in the user config dir)",
    )
    return p


def _engine_tables(checked: bool) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """``--engine``'s and ``--backend``'s choices; None without ``checked`` (the app's quick
    parse: the engine tables are not imported before its first frame)."""
    if not checked:
        return None, None
    from backends.engines import BACKEND_NAMES, ENGINE_CHOICES

    return ENGINE_CHOICES, BACKEND_NAMES


def model_options(checked: bool = True) -> argparse.ArgumentParser:
    """Options that pick the model and how to reach it; ``checked``: see _engine_tables."""
    p = argparse.ArgumentParser(add_help=False)
    S = argparse.SUPPRESS
    p.add_argument(
        "--endpoint",
        default=S,
        metavar="URL",
        help="use a running OpenAI-compatible server (e.g. http://127.0.0.1:23333/v1) "
        "instead of starting one",
    )
    p.add_argument(
        "--api-key",
        default=S,
        metavar="KEY",
        help="API key for --endpoint (env O1TUI_API_KEY); never saved",
    )
    p.add_argument(
        "--model",
        default=S,
        metavar="M",
        help="preset name, ModelScope id or local directory/file; with --endpoint, "
        "the served model name (default: the first the server lists)",
    )
    p.add_argument(
        "--engine",
        choices=_engine_tables(checked)[0],
        default=S,
        help="what runs the model when o1tui starts it (default auto: lmdeploy with "
        "a GPU, else llama.cpp, else transformers)",
    )
    p.add_argument("--port", type=int, default=S, help="port of the managed server (default 23333)")
    return p


def server_options(checked: bool = True) -> argparse.ArgumentParser:
    """How a server that o1tui starts is configured (ignored with --endpoint); ``checked``:
    see _engine_tables."""
    p = argparse.ArgumentParser(add_help=False)
    S = argparse.SUPPRESS
    g = p.add_argument_group("managed server")
    g.add_argument(
        "--backend",
        choices=_engine_tables(checked)[1],
        default=S,
        help="LMDeploy engine (default: LMDeploy's choice)",
    )
    g.add_argument("--tp", type=int, default=S, metavar="N", help="tensor-parallel GPUs")
    g.add_argument(
        "--dp",
        type=int,
        default=S,
        metavar="N",
        help="N LMDeploy replicas (--tp GPUs each) behind LMDeploy's proxy (default 1)",
    )
    g.add_argument(
        "--session-len",
        type=int,
        default=S,
        metavar="TOKENS",
        help="LMDeploy context length per conversation",
    )
    g.add_argument(
        "--max-batch-size",
        type=int,
        default=S,
        metavar="N",
        help="LMDeploy's cap on concurrent sequences, at least 32 (default: LMDeploy's own)",
    )
    g.add_argument(
        "--keep-alive",
        default=S,
        metavar="DURATION",
        help="after o1tui quits, keep a server it started up this long without requests "
        "(e.g. 10m, 1h; default 0: stop it); the next o1tui attaches to it at once",
    )
    g.add_argument(
        "--no-prefix-caching",
        dest="enable_prefix_caching",
        action="store_false",
        default=S,
        help="turn off LMDeploy's prefix cache (on by default: g1 re-sends "
        "a growing prefix every step)",
    )
    return p


def parse_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as JSON when it parses (numbers, true/false), else a string."""
    import json  # here: the app's start-up has no --param to read

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def add_lang_and_steps(parser: argparse.ArgumentParser, lang_help: str) -> None:
    """``--lang`` and ``--max-steps``, as ``ask`` and ``eval`` take them."""
    parser.add_argument("--lang", choices=LANG_CHOICES, default=argparse.SUPPRESS, help=lang_help)
    parser.add_argument(
        "--max-steps",
        type=int,
        default=argparse.SUPPRESS,
        metavar="N",
        help="g1 step cap before the final answer (default 25)",
    )


def add_param(parser: argparse.ArgumentParser, examples: str) -> None:
    """``--param KEY=VALUE`` (repeatable), as ``ask`` and ``eval`` take it."""
    parser.add_argument(
        "--param",
        type=parse_param,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"extra request field for the server, e.g. {examples} (repeatable)",
    )
