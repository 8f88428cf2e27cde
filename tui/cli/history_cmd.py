"""``o1tui history list|show|export|delete``: the saved chains, from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from tui.cli.common import UserError, open_history
from tui.core.chain import Chain
from tui.store.history import ChainSummary, History


def _get_chain(history: History, ident: str) -> Chain:
    chain = history.get(ident)
    if chain is None:
        raise UserError(f"no chain with id {ident!r} in the history")
    return chain


def cmd_history(args: argparse.Namespace) -> int:
    history = open_history(args)
    try:
        action = args.history_command
        if action == "list":
            if args.limit < 1:
                raise UserError("--limit must be at least 1")
            rows = history.list(search=args.search, limit=args.limit)
            if args.json:
                print(json.dumps([_summary_dict(r) for r in rows], ensure_ascii=False, indent=2))
                return 0
            if not rows:
                print("no chains" + (" match" if args.search else " yet"), file=sys.stderr)
                return 0
            from tui.cli.listing import history_table, terminal_width

            lines = history_table(rows, header=sys.stdout.isatty(), width=terminal_width())
            print("\n".join(lines))
            return 0
        chain = _get_chain(history, args.id)
        # show and export print the whole thread the chain belongs to (tui.cli.thread_export).
        from tui.cli.thread_export import print_thread, thread_json, thread_markdown
        from tui.store.thread_store import thread_of

        thread = thread_of(history, chain.id) if action in ("show", "export") else [chain]
        if action == "show":
            if args.json:
                print(thread_json(thread))
            elif args.markdown:
                print(thread_markdown(thread))
            else:
                print_thread(thread)
        elif action == "export":
            text = thread_json(thread) if args.format == "json" else thread_markdown(thread)
            if args.output:
                from tui.output import write_file

                write_file(args.output, text + "\n", mode_like=history.path)
                print(f"wrote {args.output}", file=sys.stderr)
            else:
                print(text)
        elif action == "delete":
            history.delete(chain.id)
            print(f"deleted {chain.id}", file=sys.stderr)
        return 0
    finally:
        history.close()


def _summary_dict(summary: ChainSummary) -> dict[str, Any]:
    """A summary for ``--json``: model text cleaned like everything else printed."""
    from tui.sanitize import clean

    data = dataclasses.asdict(summary)
    return {k: clean(v) if isinstance(v, str) else v for k, v in data.items()}
