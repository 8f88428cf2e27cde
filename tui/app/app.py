"""The o1tui application: ask, watch the chain think step by step, find old chains again.

Structure (after Harlequin): widgets in ``widgets/``, screens in ``screens/``, styles in
``app.tcss``, app-wide messages in ``messages.py``, every user-facing action in
``actions.py``, event batching in ``batcher.py``. Workers (a chain run, a group, the server
connection) do I/O and post messages; the app's handlers hand each message to the part it
concerns, which changes the widgets, on the app's loop.

The app composes its parts, each given what it needs when made (the Textual app, and a
Protocol of its own for the app's state, which this class meets, or callables): the chains,
one run per chain id, so several can run at once, and the one on screen (``chains.py``),
groups (``group_runs.py``), follow-ups (``follow.py``), the work after the first frame
(``first_frame.py``), copy and export (``copying.py``), themes (``theming.py``), reaching the
model (``connection.py``; the server screen's face for an endpoint in ``endpoint.py``) and
what is shown of it (``server_status.py``). No part imports this module. Textual looks for
actions and ``on_*`` handlers on the app, so those stay here and hand the work on. What the
strategy switcher offers, a strategy or a group mode, is a :data:`~tui.app.choices.Choice`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, Static

import tui.app.actions as registry
from backends.state import ServerState
from tui.app.chains import WELCOME, Chains
from tui.app.choices import CHOICES, Choice, StrategyChoice, choice_named, next_choice
from tui.app.copying import Copier
from tui.app.first_frame import AfterFirstFrame, notify_recovery
from tui.app.follow import FollowUps
from tui.app.group_runs import GroupRuns
from tui.app.messages import (
    ChainDone,
    ChainEvent,
    GroupDone,
    Notify,
    OpenChain,
    RerunChain,
    ServerLog,
    ServerStateChanged,
    Severity,
    TypeToAsk,
)
from tui.app.server_status import ServerStatus
from tui.app.theming import Themes
from tui.app.widgets.app_footer import AppFooter
from tui.app.widgets.question_input import QuestionInput
from tui.app.widgets.status_header import StatusHeader
from tui.clipboard import passthrough_copy
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from backends.client import ChatClient
    from backends.controller import ManagedServer
    from backends.manager import ServerHandle
    from tui.app.connection import Connector
    from tui.app.palette import O1Commands
    from tui.core.config import Settings
    from tui.store.history import History
    from tui.store.history_writer import WriteStatus


def _o1_commands() -> type[O1Commands]:
    """The palette's commands, imported when the palette first opens."""
    from tui.app.palette import O1Commands

    return O1Commands


class O1App(App[int]):
    """The full-screen app. ``client`` may be given (tests); otherwise it is made from
    ``settings`` (``endpoint``) or from the managed ``server`` handle. ``model_named``: the
    user named ``settings.model`` (flag or environment), so an endpoint that does not serve
    it is an error rather than a reason to use the model it does serve."""

    CSS_PATH = "app.tcss"
    TITLE = "o1tui"
    COMMANDS = {_o1_commands}
    COMMAND_PALETTE_DISPLAY = "Ctrl+p"
    BINDINGS = registry.bindings()
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    NOTIFICATION_TIMEOUT = 4

    def __init__(
        self,
        settings: Settings,
        *,
        history: History | None = None,
        open_history: Callable[[], History] | None = None,
        server: ServerHandle | None = None,
        client: ChatClient | None = None,
        model_named: bool = False,
        clock: Callable[[], float] = time.perf_counter,
        env: Mapping[str, str] = os.environ,
        config_path: Path | None = None,
        user_themes_dir: Path | None = None,
        connect: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self._history: History | None = None
        self.history = history
        #: What ended the app before it could work (the history could not be opened):
        #: run_app raises it, as the command did before the app started.
        self.startup_error: Exception | None = None
        self.server_handle = server
        self.client = client
        self.clock = clock
        self.env = env
        self.model_named = model_named
        self.owns_server = False
        #: What the server screen drives (tui.app.screens.server.ServerController).
        self.controller: ManagedServer | None = None
        self.server_state = ServerState.NONE
        self.server_detail = ""
        self.server_log: list[str] = []
        self.model_name: str = settings.model
        #: The switcher's entries: the strategies, then the group modes (tui.app.choices).
        self.choices: tuple[Choice, ...] = CHOICES
        #: What the next question runs as: a strategy, or a group mode.
        self.choice: Choice = choice_named(settings.strategy, self.choices) or StrategyChoice("g1")
        self._startup_warnings: list[str] = list(settings.warnings)
        self.themes = Themes(self, env=env, config_path=config_path)
        self._startup_warnings += self.themes.load(user_themes_dir, settings.theme)
        usable, warnings = registry.check_keymap(settings.keymap)
        self.keymap: dict[str, str] = usable
        self._startup_warnings += warnings
        #: The app's parts (see the module docstring).
        self.first_frame = AfterFirstFrame(
            self,
            self,
            # Opens the history after the first frame (run_app); its import and the store's
            # open are ~20 ms the first frame does not need.
            open_history=open_history,
            connect=(lambda: self.connector.start()) if connect else None,
        )
        # The parts call on each other through these (each is made before any is called).
        self.chains = Chains(
            self,
            self,
            follow_target=lambda: self.follow_ups.target(),
            earlier_of=lambda chain: self.follow_ups.earlier_of(chain),
            open_group=lambda group_id: self.groups.open(group_id),
            shown=lambda: self.follow_ups.update_question_mode(),
        )
        self.follow_ups = FollowUps(self, self, current=self.chains.current_run)
        self.groups = GroupRuns(self, self, self.chains)
        self.server_status = ServerStatus(
            self, use_handle=lambda handle: self.connector.use_handle(handle)
        )
        self.copier = Copier(self, current=self.chains.current_run, keymap=self.keymap, env=env)

    @property
    def history(self) -> History | None:
        """The history store (None until opened, or when it could not be)."""
        return self._history

    @history.setter
    def history(self, history: History | None) -> None:
        # Its writes run on its own thread; while another process holds its lock, the
        # app says so in a line (_history_status) and the saves wait in its queue.
        self._history = history
        if history is not None:
            history.add_listener(self._history_status)

    def _history_status(self, status: WriteStatus) -> None:
        """How the history's writes stand (on the history's writer thread): a toast line."""
        severity: Severity = (
            "error" if status.error else "warning" if status.busy else "information"
        )
        self.post_message(Notify(status.line(), severity))

    @cached_property
    def connector(self) -> Connector:
        """Connects the app to its model (tui/app/connection.py), from after the first frame."""
        from tui.app.connection import Connector

        return Connector(self)

    # --- set-up ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        header = StatusHeader(id="header")
        header.strategy = self.choice.label
        yield header
        # The history sidebar joins #body after the first frame (first_frame.py).
        with Horizontal(id="body"), Vertical(id="main"):
            with Vertical(id="chains"):
                yield Static(Content(WELCOME), classes="welcome")
            yield QuestionInput(self.choice.label)
        yield AppFooter()

    def on_mount(self) -> None:
        self.set_keymap(self.keymap)
        self._show_strategy()
        self.query_one(QuestionInput).focus()
        for warning in self._startup_warnings:
            self.notify(clean_line(warning, 300), severity="warning", markup=False, timeout=8)
        notify_recovery(self, self.history)
        self.chains.start_clock()
        # After the first frame: the history, its sidebar, the connection (tui/app/first_frame.py).
        self.call_after_refresh(self._after_first_frame)

    async def _after_first_frame(self) -> None:
        await self.first_frame.run()

    def refresh_css(self, animate: bool = True) -> None:
        """Textual's refresh, except for the one the theme chosen in ``__init__`` queues.

        Textual answers a theme change with a re-parse of every style sheet in a new
        style sheet whose parse cache is then dropped, so the app's first frame would parse
        them all twice (~10 ms). Before the app is mounted nothing is styled for good yet:
        the theme's variables and one parse are enough.
        """
        if self.screen_stack:  # a screen exists: its widgets may be styled, re-style them
            super().refresh_css(animate)
            return
        self.stylesheet.set_variables(self.get_css_variables())
        self.stylesheet.parse()
        self.stylesheet.update(self, animate=False)

    def copy_to_clipboard(self, text: str) -> None:
        """Textual's copy (its paste buffer for ctrl+v, the plain OSC 52), and inside tmux the
        same sequence in tmux's passthrough too (tui.clipboard.passthrough_copy)."""
        super().copy_to_clipboard(text)
        extra = passthrough_copy(text, self.env)
        if extra and self._driver is not None:  # where Textual's own copy writes, too
            self._driver.write(extra)

    # --- the model server / endpoint (connection.py connects; these handlers show it) -----

    async def on_server_state_changed(self, message: ServerStateChanged) -> None:
        self.server_status.changed(message)

    def header(self) -> StatusHeader | None:
        """The header lives on the main screen; messages also arrive while another screen (the
        server screen, help) is on top, where ``self.query_one`` would not find it. None once
        the app has closed its screens: the server's threads and the chain workers still post
        while the app exits, and what they would show has nowhere to go."""
        if not self.screen_stack:
            return None
        return self.screen_stack[0].query_one(StatusHeader)

    def on_server_log(self, message: ServerLog) -> None:
        self.server_status.logged(message)

    # --- chains (chains.py runs and shows them; these handlers hand the messages on) -------

    @on(Input.Submitted, "#question")
    def _question_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.ask(event.value):
            event.input.value = ""

    def question_box(self) -> QuestionInput:
        return self.query_one(QuestionInput)

    def ask(self, question: str, choice: Choice | None = None) -> bool:
        """Run ``question`` as ``choice`` (None: the switcher's): one chain, or a group.
        False (and a message) when it cannot start."""
        choice = choice or self.choice
        if isinstance(choice, StrategyChoice):
            return self.chains.start(question, choice.name) is not None
        return self.groups.start(question, choice) is not None

    async def on_chain_event(self, message: ChainEvent) -> None:
        await self.chains.apply(message)

    def on_chain_done(self, message: ChainDone) -> None:
        self.chains.done(message.chain_id)

    def on_open_chain(self, message: OpenChain) -> None:
        """The sidebar's open: the store read runs in a worker, off the UI loop."""
        self.chains.open_in_worker(message.chain_id)

    def on_rerun_chain(self, message: RerunChain) -> None:
        """The sidebar's re-run: with the switcher's choice, or the one it names."""
        choice = self.choice if message.strategy is None else self._choice_named(message.strategy)
        if choice is not None and self.ask(message.question, choice):
            self.query_one(QuestionInput).focus()

    def on_group_done(self, message: GroupDone) -> None:
        self.groups.finish(message)

    def on_type_to_ask(self, message: TypeToAsk) -> None:
        self.groups.type_to_ask(message.character)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.follow_ups.focused(event.widget)

    def on_o1_notify(self, message: Notify) -> None:
        self.notify(clean_line(message.text, 300), severity=message.severity, markup=False)

    # --- actions (each is in the registry, actions.py) ------------------------------------------

    async def run_registry_action(self, action_id: str) -> None:
        """Run an action by its registry id (the palette's way in)."""
        action = registry.BY_ID[action_id]
        if action.id == "run":
            self.action_run()
        else:
            await self.run_action(action.action)

    def action_run(self) -> None:
        box = self.query_one(QuestionInput)
        if self.ask(box.value):
            box.value = ""

    def action_cancel(self) -> None:
        if self.chains.cancel():
            return
        box = self.query_one(QuestionInput)
        if self.focused is not box:
            box.focus()

    def action_next_strategy(self) -> None:
        self.choose(next_choice(self.choice, self.choices))

    def set_strategy(self, label: str) -> None:
        """Choose the switcher's entry named ``label`` (a strategy or a group mode)."""
        choice = self._choice_named(label)
        if choice is not None:
            self.choose(choice)

    def _choice_named(self, label: str) -> Choice | None:
        choice = choice_named(label, self.choices)
        if choice is None:
            self.notify(f"Unknown strategy {label!r}", severity="warning", markup=False)
        return choice

    def choose(self, choice: Choice) -> None:
        """Run the next questions as ``choice``, and show it."""
        self.choice = choice
        self._show_strategy()
        self.follow_ups.update_question_mode()  # a group mode always starts a new thread
        self.notify(f"Strategy: {choice.label}", markup=False, timeout=2)

    def _show_strategy(self) -> None:
        key = registry.display_keys(registry.keys_for(registry.BY_ID["strategy"], self.keymap))
        self.query_one(QuestionInput).show_strategy(self.choice.label, key.split(" / ")[0])
        header = self.header()
        if header is not None:
            header.strategy = self.choice.label

    async def action_toggle_history(self) -> None:
        panel = await self.first_frame.sidebar()
        if panel is None:
            self.notify("No history here (it could not be opened).", severity="warning")
            return
        hidden = panel.has_class("-hidden")
        panel.set_class(not hidden, "-hidden")
        self.query_one("#body").set_class(hidden, "-history-open")
        if hidden:
            panel.focus_list()
        else:
            self.query_one(QuestionInput).focus()

    def action_toggle_step(self) -> None:
        self.chains.toggle_step()

    def action_toggle_all(self) -> None:
        self.chains.toggle_all()

    def action_new_question(self) -> None:
        self.chains.new_question()
        self.query_one(QuestionInput).focus()

    def action_toggle_earlier(self) -> None:
        self.follow_ups.toggle_earlier()

    def action_group_mode(self) -> None:
        self.groups.pick()

    def action_copy_step(self) -> None:
        self.copier.copy_step()

    def action_copy_answer(self) -> None:
        self.copier.copy_answer()

    def action_export_chain(self) -> Path | None:
        return self.copier.export_chain()

    def action_server_screen(self) -> None:
        from tui.app.screens.server import ServerScreen

        if not isinstance(self.screen, ServerScreen):
            from tui.app.endpoint import EndpointController

            self.push_screen(ServerScreen(self.controller or EndpointController(self)))

    def action_evaluations(self) -> None:
        from tui.app.screens.evaluations import EvaluationsScreen

        if not isinstance(self.screen, EvaluationsScreen):
            self.push_screen(
                EvaluationsScreen(
                    self.history,
                    lambda: self.client,
                    self.chains.open,
                    show_group=self.groups.show_saved,
                )
            )

    def action_help(self) -> None:
        from tui.app.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    async def action_quit(self) -> None:
        """Cancel running chains and let them save as cancelled, then leave."""
        await self.chains.stop(wait_s=3.0)
        self.exit(0)
