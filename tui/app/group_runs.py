"""Groups in the app: the group modes of the strategy switcher, running a group from the
question box, feeding its views, and opening a saved group again.

:class:`GroupRunsMixin` is mixed into :class:`tui.app.app.O1App`; like the app's own chain
code, the worker only posts messages (each member's events go through the app's
``event_sink`` as ChainEvent messages, so a member chain is drawn exactly like a single chain)
and handlers on the app change widgets.

Group modes sit in the strategy switcher after the strategies (Ctrl+T cycles through them,
the palette lists them as "Strategy: …"); F5 (action ``group``) picks one from a list and, when
the question box holds a question, runs it at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from tui.app.asking import askable, pinned_lang
from tui.app.messages import ChainDone, GroupDone, Notify, TypeToAsk
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from tui.app.app import O1App
    from tui.core.group import GroupResult, GroupSpec
    from tui.core.group_runner import GroupRunner

# tui.core.group (the runner, the strategies, the vote) is imported when a group starts, not with
# the app: the first frame does not wait for it. Its GroupKind values are these strings.
SELF_CONSISTENCY = "self-consistency"
COMPARE = "compare"

log = logging.getLogger(__name__)

#: Samples of the switcher's vote modes.
VOTE_SAMPLES = 8


@dataclass(frozen=True)
class GroupMode:
    """A way to run a question as a group, as the switcher names it."""

    label: str
    kind: str  #: a tui.core.group.GroupKind value
    strategies: tuple[str, ...]
    samples: int = 0

    def spec(self, question: str) -> GroupSpec:
        from tui.core.group import GroupKind, GroupSpec

        if GroupKind(self.kind) is GroupKind.SELF_CONSISTENCY:
            return GroupSpec.self_consistency(question, self.strategies[0], self.samples)
        return GroupSpec.compare(question, self.strategies)


GROUP_MODES: tuple[GroupMode, ...] = (
    GroupMode(f"g1 ×{VOTE_SAMPLES} vote", SELF_CONSISTENCY, ("g1",), VOTE_SAMPLES),
    GroupMode(f"thinking ×{VOTE_SAMPLES} vote", SELF_CONSISTENCY, ("thinking",), VOTE_SAMPLES),
    GroupMode("compare plain/g1/thinking", COMPARE, ("plain", "g1", "thinking")),
)
GROUP_MODE_BY_LABEL: dict[str, GroupMode] = {m.label: m for m in GROUP_MODES}


class GroupRunsMixin:
    """Group behaviour of :class:`~tui.app.app.O1App` (see the module docstring)."""

    def group_mode(self, name: str | None) -> GroupMode | None:
        """The group mode ``name`` (a switcher entry) stands for, or None for a strategy."""
        return GROUP_MODE_BY_LABEL.get(name or "")

    def start_group(self, question: str, mode: GroupMode) -> GroupResult | None:
        """Run ``question`` as a group; None (and a message) when it cannot start."""
        app = cast("O1App", self)
        checked = askable(app, question)
        if checked is None or app.client is None:
            return None
        spec = mode.spec(checked)
        from tui.core.group_runner import GroupRunner
        from tui.core.strategies.base import StrategyOptions

        runner = GroupRunner(
            spec,
            app.client,
            StrategyOptions(lang=pinned_lang(app.settings), max_steps=app.settings.max_steps),
            history=app.history,
            concurrency=app.server_handle.concurrency if app.server_handle is not None else None,
            lang=pinned_lang(app.settings),
        )
        from tui.app.widgets.group_view import GroupView  # after the first frame (Markdown)

        view = GroupView(runner.result, live=True, now=app.clock(), clock=app.clock)
        worker = app.run_worker(
            app._group_worker(runner),
            name=f"group-{runner.result.group.id}",
            group="chains",
            exit_on_error=False,
        )
        app.show_group(view, worker)
        app._update_running()
        return runner.result

    def group_events(self, runner: GroupRunner) -> Callable[[Any], None]:
        """What ``runner`` calls with each event: a member's goes to its chain's sink (batched
        like a single chain's events); the group's end flushes them all and posts GroupDone."""
        from tui.core.group import GroupFinished, MemberEvent

        app = cast("O1App", self)
        sinks = [app.event_sink(chain.id) for chain in runner.result.chains]

        def on_event(event: Any) -> None:
            if isinstance(event, MemberEvent):
                sinks[event.index](event.event)
            elif isinstance(event, GroupFinished):
                for sink in sinks:
                    sink.flush()
                app.post_message(GroupDone(event.result.group.id, event.result))

        return on_event

    async def _group_worker(self, runner: GroupRunner) -> None:
        """Run the group; report through messages only (never touch widgets here)."""
        app = cast("O1App", self)
        chains = runner.result.chains
        runner.on_event = self.group_events(runner)
        try:
            await runner.run()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - the chains are saved; the app stays up
            log.exception("group %s failed", runner.result.group.id)
            app.post_message(Notify(f"Group failed: {clean_line(str(err), 200)}", "error"))
        finally:
            for chain in chains:
                app.post_message(ChainDone(chain.id))

    def on_group_done(self, message: GroupDone) -> None:
        from tui.app.widgets.group_view import GroupView

        app = cast("O1App", self)
        for view in app.query(GroupView):
            if view.result.group.id == message.group_id:
                view.finish(message.result)
        app._update_running()
        app._history_changed()
        app.update_question_mode()

    def open_group(self, group_id: str) -> bool:
        """Show a group: its live view when it runs here, else the saved one. False when the
        history has no such group."""
        app = cast("O1App", self)
        for run in app.runs.values():
            view = run.group
            if view is not None and view.result.group.id == group_id and run.running:
                app._show(run)
                return True
        if app.history is None:
            return False
        from tui.store.group_store import load_group

        result = load_group(app.history, group_id)
        if result is None or not result.chains:
            return False
        from tui.app.widgets.group_view import GroupView

        app.show_group(GroupView(result, live=False, clock=app.clock), None)
        return True

    def action_group_mode(self) -> None:
        """Pick a group mode; with a question in the box, run it at once."""
        app = cast("O1App", self)
        from tui.app.screens.confirm import ChoiceScreen
        from tui.app.widgets.question_input import QuestionInput

        labels = [m.label for m in GROUP_MODES]

        def chosen(label: str | None) -> None:
            if not label:
                return
            app.set_strategy(label)
            box = app.query_one(QuestionInput)
            if box.value.strip():
                app.action_run()
            else:
                box.focus()

        current = app.strategy if app.strategy in labels else None
        app.push_screen(ChoiceScreen("Run the question as…", labels, current=current), chosen)

    def on_type_to_ask(self, message: TypeToAsk) -> None:
        """Typing on a sample row goes on in the question box."""
        from tui.app.widgets.question_input import QuestionInput

        box = cast("O1App", self).query_one(QuestionInput)
        if not box.has_focus:
            # An Input selects its text when focused: the next key would replace this one.
            box.select_on_focus = False
            box.focus()
            box.call_after_refresh(setattr, box, "select_on_focus", True)
        box.insert_text_at_cursor(message.character)
