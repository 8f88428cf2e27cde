"""Groups in the app: running a question as a group (a vote or a compare, tui.app.choices),
feeding its views, and opening a saved group again.

Like the app's own chain code, the worker only posts messages (each member's events go
through the app's ``event_sink`` as ChainEvent messages, so a member chain is drawn exactly
like a single chain) and handlers on the app change widgets.

The group modes sit in the strategy switcher after the strategies (Ctrl+T cycles through
them, the palette lists them as "Strategy: …"); F5 (action ``group``) picks one from a list
and, when the question box holds a question, runs it at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from textual.app import App

from tui.app.asking import RunHost, askable, pinned_lang
from tui.app.choices import GROUP_CHOICES
from tui.app.messages import ChainDone, GroupDone, Notify
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from tui.app.chains import Chains
    from tui.app.choices import Choice, GroupChoice
    from tui.app.widgets.question_input import QuestionInput
    from tui.core.group import GroupResult
    from tui.core.group_runner import GroupRunner

log = logging.getLogger(__name__)


class GroupHost(RunHost, Protocol):
    """What :class:`GroupRuns` reads from the app, and the switcher it sets (F5)."""

    @property
    def choice(self) -> Choice: ...

    def choose(self, choice: Choice) -> None: ...

    def ask(self, question: str) -> bool: ...

    def question_box(self) -> QuestionInput: ...


class GroupRuns:
    """The group behaviour of ``app`` (see the module docstring); a group's members join
    ``chains``, the app's chains, and are shown and fed like any chain."""

    def __init__(self, app: App[Any], host: GroupHost, chains: Chains) -> None:
        self.app = app
        self.host = host
        self.chains = chains

    def start(self, question: str, choice: GroupChoice) -> GroupResult | None:
        """Run ``question`` as a group; None (and a message) when it cannot start."""
        host = self.host
        checked = askable(host, question)
        if checked is None or host.client is None:
            return None
        spec = choice.spec(checked)
        from tui.core.group_runner import GroupRunner
        from tui.core.strategies.base import StrategyOptions

        handle = host.server_handle
        runner = GroupRunner(
            spec,
            host.client,
            StrategyOptions(lang=pinned_lang(host.settings), max_steps=host.settings.max_steps),
            history=host.history,
            concurrency=handle.concurrency if handle is not None else None,
            lang=pinned_lang(host.settings),
        )
        from tui.app.widgets.group_view import GroupView  # after the first frame (Markdown)

        view = GroupView(runner.result, live=True, now=host.clock(), clock=host.clock)
        worker = self.app.run_worker(
            self._work(runner),
            name=f"group-{runner.result.group.id}",
            group="chains",
            exit_on_error=False,
        )
        self.chains.show_group(view, worker)
        self.chains.update_running()
        return runner.result

    def events(self, runner: GroupRunner) -> Callable[[Any], None]:
        """What ``runner`` calls with each event: a member's goes to its chain's sink (batched
        like a single chain's events); the group's end flushes them all and posts GroupDone."""
        from tui.core.group import GroupFinished, MemberEvent

        app = self.app
        sinks = [self.chains.event_sink(chain.id) for chain in runner.result.chains]

        def on_event(event: Any) -> None:
            if isinstance(event, MemberEvent):
                sinks[event.index](event.event)
            elif isinstance(event, GroupFinished):
                for sink in sinks:
                    sink.flush()
                app.post_message(GroupDone(event.result.group.id, event.result))

        return on_event

    async def _work(self, runner: GroupRunner) -> None:
        """Run the group; report through messages only (never touch widgets here)."""
        app = self.app
        chains = runner.result.chains
        runner.on_event = self.events(runner)
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

    def finish(self, message: GroupDone) -> None:
        """The group ``message`` names has ended: its view shows the result."""
        from tui.app.widgets.group_view import GroupView

        for view in self.app.query(GroupView):
            if view.result.group.id == message.group_id:
                view.finish(message.result)
        self.chains.ended()

    def open(self, group_id: str) -> bool:
        """Show a group: its live view when it runs here, else the saved one. False when the
        history has no such group."""
        for run in self.chains.runs.values():
            view = run.group
            if view is not None and view.result.group.id == group_id and run.running:
                self.chains.show(run)
                return True
        history = self.host.history
        if history is None:
            return False
        from tui.store.group_store import load_group

        result = load_group(history, group_id)
        if result is None or not result.chains:
            return False
        self.show_saved(result)
        return True

    def show_saved(self, result: GroupResult) -> None:
        """Show a finished group (read-only)."""
        from tui.app.widgets.group_view import GroupView

        view = GroupView(result, live=False, clock=self.host.clock)
        self.chains.show_group(view, None)

    def pick(self) -> None:
        """Pick a group mode; with a question in the box, run it at once."""
        from tui.app.screens.confirm import ChoiceScreen

        host = self.host
        by_label = {choice.label: choice for choice in GROUP_CHOICES}

        def chosen(label: str | None) -> None:
            choice = by_label.get(label or "")
            if choice is None:
                return
            host.choose(choice)
            box = host.question_box()
            if box.value.strip():
                if host.ask(box.value):
                    box.value = ""
            else:
                box.focus()

        current = host.choice.label if host.choice in GROUP_CHOICES else None
        self.app.push_screen(
            ChoiceScreen("Run the question as…", list(by_label), current=current), chosen
        )

    def type_to_ask(self, character: str) -> None:
        """Typing on a sample row goes on in the question box."""
        box = self.host.question_box()
        if not box.has_focus:
            # An Input selects its text when focused: the next key would replace this one.
            box.select_on_focus = False
            box.focus()
            box.call_after_refresh(setattr, box, "select_on_focus", True)
        box.insert_text_at_cursor(character)
