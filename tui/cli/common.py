"""What every ``o1tui`` subcommand shares: the program name, exit statuses, the user's error,
the settings from flags, the history and the chat client.

Imports stay lazy: this module is imported by every subcommand, before it knows what it needs.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from backends.errors import O1Error

if TYPE_CHECKING:  # imported for real where used: the CLI stays quick to start
    import argparse

    from backends.client import ChatClient
    from backends.manager import ServerHandle
    from tui.core.config import Settings
    from tui.core.strategies import StrategyOptions
    from tui.store.history import History

PROG = "o1tui"

#: Exit statuses besides the chain statuses of tui.cli.printer.EXIT_CODES.
EXIT_USAGE = 2
EXIT_FAILURE = 1


class UserError(O1Error):
    """A problem the user can fix; printed as one line, exit status 2 unless given."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = code


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
    """The history of ``--data-dir`` (or the default), its warnings said on stderr."""
    from tui.locations import data_dir
    from tui.sanitize import clean_line
    from tui.store.history import History

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


async def connect_client(
    settings: Settings, args: argparse.Namespace, handle: ServerHandle | None
) -> ChatClient:
    """A chat client for --endpoint, or for the managed server ``handle`` (tui.core.connect)."""
    from tui.core.connect import handle_client, open_endpoint

    if settings.endpoint:
        return await open_endpoint(settings, model_named=model_given(args))
    assert handle is not None
    return handle_client(settings, handle)


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
