"""A whole thread (tui.core.threads) as Markdown, JSON or the terminal's text: each turn, in order,
as its chain alone would be. A one-turn thread is exactly its chain's document, so scripts
that read a chain's export see no change for chains that are not follow-ups."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TextIO

from tui.core.chain import Chain
from tui.core.export import to_dict, to_json, to_markdown
from tui.core.threads import turn_count

_HEADING = re.compile(r"^(#+) ", re.MULTILINE)


def thread_markdown(thread: Sequence[Chain]) -> str:
    """Each turn's Markdown under ``# Turn N of M``, its own headings one level down."""
    if len(thread) == 1:
        return to_markdown(thread[0])
    out = [f"# Thread · {turn_count(len(thread))}", ""]
    for n, chain in enumerate(thread, start=1):
        out += [f"# Turn {n} of {len(thread)}", ""]
        # Headings are only at line starts, and step text never starts a line with "#" there
        # unless it was Markdown of its own: it is demoted with the rest, which keeps its order.
        out.append(_HEADING.sub(lambda m: "#" + m.group(1) + " ", to_markdown(chain)))
    return "\n".join(out)


def thread_dict(thread: Sequence[Chain]) -> dict[str, Any]:
    """``{"thread_id", "turns": [chain documents]}``, first turn first (several turns only)."""
    return {"thread_id": thread[0].id, "turns": [to_dict(c) for c in thread]}


def thread_json(thread: Sequence[Chain]) -> str:
    """The thread's JSON: a one-turn thread is its chain's document (:func:`to_json`)."""
    if len(thread) == 1:
        return to_json(thread[0])
    return json.dumps(thread_dict(thread), ensure_ascii=False, indent=2)


def print_thread(thread: Sequence[Chain], out: TextIO | None = None) -> None:
    """Print each turn the way ``ask`` printed it, with a ``Turn N of M`` line before it."""
    import sys

    from tui.cli.printer import print_chain

    out = out if out is not None else sys.stdout
    for n, chain in enumerate(thread, start=1):
        if len(thread) > 1:
            out.write(f"{'' if n == 1 else chr(10)}── Turn {n} of {len(thread)} ──\n")
        print_chain(chain, out)
