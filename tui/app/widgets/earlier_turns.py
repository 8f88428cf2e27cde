"""A follow-up's earlier turns, shown above its chain: folded to one line by default (the
thread so far is context, the new chain is what the user is reading), each turn's question
and final answer when unfolded. Text is model output: cleaned, never markup."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Collapsible, Static

from tui.core.chain import Chain
from tui.core.threads import turn_count
from tui.sanitize import clean, clean_line


def turn_content(n: int, chain: Chain) -> Content:
    """``Turn n · question`` then its final answer (or why it has none)."""
    answer = clean(chain.final_answer or "").strip() or f"({chain.status.value}, no answer)"
    return Content.assemble(
        (f"Turn {n} · ", "bold"),
        clean(chain.question).strip(),
        ("  " + clean_line(chain.strategy, 20), "dim"),
        "\n",
        ("A ", "bold"),
        answer,
    )


class EarlierTurns(Collapsible):
    """The turns before a chain, oldest first, folded by default."""

    DEFAULT_CLASSES = "earlier-turns"

    def __init__(self, turns: Sequence[Chain], *, dropped: int = 0) -> None:
        self.turns = list(turns)
        title = f"Earlier turns · {turn_count(len(self.turns))}"
        if dropped:
            title += f" · {dropped} oldest not sent (context)"
        super().__init__(
            *(
                Static(turn_content(n, chain), classes="earlier-turn")
                for n, chain in enumerate(self.turns, start=1)
            ),
            title=title,
            collapsed=True,
        )
