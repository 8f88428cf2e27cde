"""One chain in the app: its data, its view, and the worker running it (if live). The app
keeps one per chain id, so several chains can run at once (a group's members, a chain still
running while another is shown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.widget import Widget
    from textual.worker import Worker

    from tui.app.widgets.chain_view import ChainView
    from tui.app.widgets.group_view import GroupView
    from tui.core.chain import Chain


@dataclass
class ChainRun:
    """One chain in this app: its data, its view, and the worker running it (if live)."""

    chain: Chain
    view: ChainView
    worker: Worker[None] | None = None
    #: The group view (tui.app.widgets.group_view) when the chain is a member of a group.
    group: GroupView | None = None
    #: A follow-up's earlier turns, oldest first (tui.core.threads); empty for a first turn.
    earlier: list[Chain] = field(default_factory=list)

    @property
    def top(self) -> Widget:
        """The widget that holds this chain in #chains: its group's view, or its own."""
        return self.group if self.group is not None else self.view

    @property
    def running(self) -> bool:
        return self.worker is not None and not self.worker.is_finished
