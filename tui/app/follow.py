"""Follow-ups in the app: with a finished chain on screen, the next question continues its
thread (tui.core.threads); Ctrl+n (new question) clears the screen, so the next one starts a new
thread. The question box says which of the two Enter will do.

A follow-up to a vote continues from the voted answer's chain, one to a compare from the
focused column (the first one when none has focus). A question asked in a group mode
(vote / compare) always starts a new thread.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from textual.app import App

from tui.app.choices import StrategyChoice
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from tui.app.choices import Choice
    from tui.app.runs import ChainRun
    from tui.app.widgets.group_view import GroupView
    from tui.core.chain import Chain
    from tui.store.history import History


class FollowHost(Protocol):
    """What :class:`FollowUps` reads from the app (``current`` gives the chain on screen)."""

    @property
    def choice(self) -> Choice: ...

    @property
    def history(self) -> History | None: ...

    @property
    def keymap(self) -> Mapping[str, str]: ...


def focused_column(view: GroupView, focused: DOMNode | None) -> int:
    """The compare column holding focus, else 0."""
    node = focused
    while node is not None and node is not view:
        for index, member in enumerate(view.views):
            if node is member:
                return index
        node = node.parent
    return 0


def group_parent(view: GroupView, column: int) -> Chain | None:
    """The chain of a shown group that a follow-up continues (see the module docstring):
    compare column ``column``, or the voted answer's chain."""
    from tui.core.threads import voted_chain

    chains = view.result.chains
    if view.compare:
        return chains[min(column, len(chains) - 1)] if chains else None
    result = view.vote_now()
    return voted_chain(chains, result.key if result is not None else None)


class FollowUps:
    """The app's side of threads: what the next question follows up, and the box's words."""

    def __init__(
        self, app: App[Any], host: FollowHost, *, current: Callable[[], ChainRun | None]
    ) -> None:
        self.app = app
        self.host = host
        self.current = current
        #: The compare view and column that last held focus (the question box takes the
        #: focus back before a follow-up is asked, so the column is remembered).
        self._last_column: tuple[GroupView, int] | None = None

    def focused(self, widget: DOMNode) -> None:
        """``widget`` took the focus: remember it when it is in a compare's column."""
        # No group view exists until its module is loaded: importing it here would pull the
        # group runner and Markdown in before the first frame (the first focus comes before).
        module = sys.modules.get("tui.app.widgets.group_view")
        if module is None:
            return
        group_view = module.GroupView
        node: DOMNode | None = widget
        while node is not None:
            if isinstance(node, group_view):
                if node.compare:
                    self._last_column = (node, focused_column(node, widget))
                    self.update_question_mode()
                return
            node = node.parent

    def target(self) -> tuple[Chain, list[Chain]] | None:
        """The chain the next question follows up and the turns before it; None when the
        next question starts a new thread."""
        if not isinstance(self.host.choice, StrategyChoice):
            return None  # a group always starts a new thread
        run = self.current()
        if run is None or run.running or getattr(run.top, "live", False):
            return None  # still running: the next question starts a thread of its own
        if run.group is not None:
            last = self._last_column
            column = last[1] if last is not None and last[0] is run.group else 0
            parent = group_parent(run.group, column)
            earlier: list[Chain] = []
        else:
            parent, earlier = run.chain, list(run.earlier)
        if parent is None or not (parent.final_answer or "").strip():
            return None
        return parent, earlier

    def update_question_mode(self) -> None:
        """Tell the question box whether Enter follows up or starts a new thread."""
        import tui.app.actions as registry
        from tui.app.widgets.question_input import QuestionInput

        target = self.target()
        keys = registry.keys_for(registry.BY_ID["new"], self.host.keymap)
        key = registry.display_keys(keys).split(" / ")[0]
        for box in self.app.query(QuestionInput):
            box.show_follow_up(clean_line(target[0].question, 40) if target else None, key)

    def earlier_of(self, chain: Chain) -> list[Chain]:
        """The saved turns before ``chain`` (store read: call from a worker thread)."""
        history = self.host.history
        if not chain.parent_id or history is None:
            return []
        from tui.store.thread_store import earlier_turns

        return earlier_turns(history, chain.parent_id)

    def toggle_earlier(self) -> None:
        """Fold or unfold the earlier turns above the chain on screen."""
        from tui.app.widgets.earlier_turns import EarlierTurns

        run = self.current()
        found = list(run.view.query(EarlierTurns)) if run is not None else []
        if not found:
            self.app.notify("No earlier turns: this chain starts its thread.", timeout=2)
            return
        found[0].collapsed = not found[0].collapsed
