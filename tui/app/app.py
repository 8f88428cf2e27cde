"""The o1tui application: ask, watch the chain think step by step, find old chains again.

Structure (after Harlequin): widgets in ``widgets/``, screens in ``screens/``, styles in
``app.tcss``, app-wide messages in ``messages.py``, every user-facing action in
``actions.py``; reaching the model in ``connection.py`` (the server screen's face for an
endpoint in ``endpoint.py``), event batching in ``batcher.py``. Workers (a chain run, the server connection) do I/O and post messages; only
handlers on this class touch widgets. State is kept per chain id (``runs.py``), so several
chains can run at once (self-consistency, compare); the screen shows one of them.

The app composes its parts, each given what it needs when made (a Protocol of its own, which
this class meets): the work after the first frame (``first_frame.py``), follow-ups
(``follow.py``), groups (``group_runs.py``), copy and export (``copying.py``), themes
(``theming.py``), the connection (``connection.py``). Textual finds actions and ``on_*``
handlers on the app, so those stay here and hand the work on. What the strategy switcher
offers, a strategy or a group mode, is a :data:`~tui.app.choices.Choice`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static
from textual.worker import Worker

from backends.state import ServerState
from tui.app import actions as registry
from tui.app.asking import askable, pinned_lang
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
from tui.app.runs import ChainRun
from tui.app.theming import Themes
from tui.app.widgets.app_footer import AppFooter
from tui.app.widgets.question_input import QuestionInput
from tui.app.widgets.status_header import StatusHeader
from tui.clipboard import passthrough_copy
from tui.sanitize import clean_line
from tui.strategies import get_strategy

if TYPE_CHECKING:
    from backends.client import ChatClient
    from backends.controller import ManagedServer
    from backends.manager import ServerHandle
    from tui.app.batcher import EventBatcher
    from tui.app.connection import Connector
    from tui.app.palette import O1Commands
    from tui.app.widgets.chain_view import ChainView
    from tui.app.widgets.group_view import GroupView
    from tui.chain import Chain
    from tui.config import Settings
    from tui.history import History
    from tui.history_writer import WriteStatus

log = logging.getLogger(__name__)

#: Seconds between updates of running steps' clocks.
TICK_S = 0.1
#: Most server start-up lines kept for the server screen.
SERVER_LOG_LINES = 1000

WELCOME = (
    "Ask a question below; Enter runs it.\n\n"
    "Each reasoning step appears as it starts, with its time and tokens.\n"
)


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
        self.runs: dict[str, ChainRun] = {}
        self.current_id: str | None = None
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
        self._ticker: Timer | None = None
        #: The app's parts (see the module docstring).
        self.first_frame = AfterFirstFrame(
            self,
            self,
            # Opens the history after the first frame (run_app); its import and the store's
            # open are ~20 ms the first frame does not need.
            open_history=open_history,
            connect=self._connect if connect else None,
        )
        self.follow_ups = FollowUps(self, self)
        self.groups = GroupRuns(self, self)
        self.copier = Copier(self, current=self.current_run, keymap=self.keymap, env=env)

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

    def _connect(self) -> None:
        self.connector.start()

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
        self._ticker = self.set_interval(TICK_S, self._tick, pause=True)
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
        controller = self.controller
        handle = controller.handle if controller is not None else None
        if message.state.serving and handle is not None and handle is not self.server_handle:
            self.connector.use_handle(handle)  # (re)started from the server screen
            return
        refused_or_died = message.state in (ServerState.CRASHED, ServerState.ERROR)
        if refused_or_died and controller is not None and controller.error:
            message.detail = controller.error
        self.server_state, self.server_detail = message.state, message.detail
        if message.model:
            self.model_name = message.model
        header = self.header()
        if header is not None:
            header.state, header.detail = message.state, message.detail
            if message.model:
                header.model = message.model
            if message.address is not None:
                header.address = message.address
        if message.state is ServerState.ERROR:
            self.notify(
                clean_line(message.detail, 300),
                title="Server",
                severity="error",
                markup=False,
                timeout=10,
            )

    def header(self) -> StatusHeader | None:
        """The header lives on the main screen; messages also arrive while another screen (the
        server screen, help) is on top, where ``self.query_one`` would not find it. None once
        the app has closed its screens: the server's threads and the chain workers still post
        while the app exits, and what they would show has nowhere to go."""
        if not self.screen_stack:
            return None
        return self.screen_stack[0].query_one(StatusHeader)

    def on_server_log(self, message: ServerLog) -> None:
        self.server_log.append(message.line)
        del self.server_log[:-SERVER_LOG_LINES]
        # The header shows the start-up's stage, never the raw line (loader output is noise).
        controller = self.controller
        header = self.header()
        if header is not None:
            header.progress = controller.progress() if controller is not None else None

    # --- chains --------------------------------------------------------------------------------

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
            return self.start_chain(question, choice.name) is not None
        return self.groups.start(question, choice) is not None

    def start_chain(self, question: str, strategy: str) -> Chain | None:
        """Start a chain of ``strategy`` for ``question``; None (and a message) when it
        cannot start."""
        checked = askable(self, question)
        if checked is None or self.client is None:
            return None
        from tui.chain import Chain

        target = self.follow_ups.target()  # before the new chain replaces the one on screen
        chain = Chain(
            question=checked,
            strategy=strategy,
            model=self.client.model,
            lang=pinned_lang(self.settings),
        )
        thread = [*target[1], target[0]] if target is not None else []
        if target is not None:
            chain.parent_id = target[0].id
        from tui.app.widgets.chain_view import ChainView

        view = ChainView(chain, live=True, now=self.clock(), earlier=thread)
        run = ChainRun(chain, view, earlier=thread)
        self.runs[chain.id] = run
        self.show(run)
        run.worker = self.run_worker(
            self._chain_worker(chain, self.client, thread),
            name=f"chain-{chain.id}",
            group="chains",
            exit_on_error=False,
        )
        self.update_running()
        return chain

    async def _chain_worker(
        self, chain: Chain, client: ChatClient, thread: list[Chain] | None = None
    ) -> None:
        """Run the chain (a follow-up of ``thread``'s last turn when given); report through
        messages only (never touch widgets here)."""
        from tui.runner import run_chain
        from tui.strategies.base import StrategyOptions

        on_event = self.event_sink(chain.id)
        options = StrategyOptions(lang=chain.lang, max_steps=self.settings.max_steps)
        try:
            if thread:
                from tui.threads import continue_thread

                handle = self.server_handle
                options = await continue_thread(
                    chain,
                    options,
                    client,
                    thread,
                    engine=handle.engine if handle is not None else None,
                    session_len=self.settings.session_len,
                )
            await run_chain(
                chain,
                get_strategy(chain.strategy),
                client,
                options,
                history=self.history,
                on_event=on_event,
            )
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - run_chain saved it and sent ChainFailed
            log.exception("chain %s failed", chain.id)
            from tui.app.connection import one_line

            self.post_message(Notify(f"Chain failed: {one_line(err)}", "error"))
        finally:
            self.post_message(ChainDone(chain.id))

    def event_sink(self, chain_id: str) -> EventBatcher:
        """The ``on_event`` callable for chain ``chain_id``: events become ChainEvent
        messages to this app, deltas merged to about one a frame."""
        from tui.app.batcher import EventBatcher

        return EventBatcher(lambda event: self.post_message(ChainEvent(chain_id, event)))

    async def on_chain_event(self, message: ChainEvent) -> None:
        from tui.chain import ChainFailed, ChainFinished

        run = self.runs.get(message.chain_id)
        if run is None:
            return
        event = message.event
        if run.group is not None:  # the group's view passes it on to the member's, if shown
            await run.group.apply(run.chain.id, event, self.clock())
        else:
            await run.view.apply(event, self.clock())
        if isinstance(event, (ChainFinished, ChainFailed)):
            run.chain = event.chain
            self.update_running()
            self.history_changed()
            self.update_question_mode()

    def on_chain_done(self, message: ChainDone) -> None:
        run = self.runs.get(message.chain_id)
        if run is not None and run.view.live:
            # The worker ended without a final event (a bug upstream): stop the clocks anyway.
            run.view.live = False
        self.update_running()
        self.history_changed()

    def history_changed(self) -> None:
        from tui.app.widgets.history_panel import HistoryPanel

        for panel in self.query(HistoryPanel):
            panel.refresh_list()

    def update_running(self) -> None:
        from tui.chain import Status

        live = [r for r in self.runs.values() if r.running]
        # A group's members share its worker: one that has finished no longer counts.
        running = sum(1 for r in live if r.chain.status is Status.RUNNING)
        header = self.header()
        if header is not None:
            # A server that works on fewer requests at once (llama.cpp: one) queues the rest.
            handle = self.server_handle
            slots = handle.concurrency if handle is not None else None
            header.running = min(running, slots) if slots else running
            header.waiting = running - header.running
        if self._ticker is not None:
            if live:
                self._ticker.resume()
            else:
                self._ticker.pause()

    def _tick(self) -> None:
        now = self.clock()
        for run in self.runs.values():
            if run.view.live:
                run.view.tick(now)

    def show(self, run: ChainRun) -> None:
        """Make ``run`` the chain on screen. Running chains that are not shown stay mounted
        (hidden) and keep streaming; finished ones leave the screen (they are in the history)."""
        top = run.top
        container = self.query_one("#chains")
        with self.batch_update():
            self._clear_chains(keep=top)
            if top.parent is None:
                container.mount(top)
            top.display = True
        for chain_id in [cid for cid, r in self.runs.items() if r.top is not top and not r.running]:
            del self.runs[chain_id]
        self.current_id = run.chain.id
        self.update_question_mode()

    def show_group(self, view: GroupView, worker: Worker[None] | None) -> None:
        """Show a group view; with a worker (a live group) its members join the runs."""
        from tui.app.widgets.chain_view import ChainView

        # A vote's samples have no view until expanded: their runs hold a stand-in.
        runs = [
            ChainRun(chain, member or ChainView(chain, live=False), worker, group=view)
            for chain, member in zip(view.result.chains, view.views, strict=True)
        ]
        for run in runs:
            self.runs[run.chain.id] = run
        self.show(runs[0])
        if not view.compare:
            self.call_after_refresh(view.focus_first_sample)

    def _clear_chains(self, keep: Widget | None = None) -> None:
        running = {id(r.top) for r in self.runs.values() if r.running}
        for child in list(self.query_one("#chains").children):
            if child is keep:
                continue
            if id(child) in running:
                child.display = False
            else:
                child.remove()

    def attach_chain(self, chain: Chain, *, live: bool = True) -> ChainView:
        """Show a chain driven from outside by ChainEvent messages (benchmarks, tests,
        and later: chains started by another part of the app)."""
        from tui.app.widgets.chain_view import ChainView

        run = ChainRun(chain, ChainView(chain, live=live, now=self.clock()))
        self.runs[chain.id] = run
        self.show(run)
        return run.view

    def current_run(self) -> ChainRun | None:
        return self.runs.get(self.current_id) if self.current_id else None

    def current_view(self) -> ChainView | None:
        run = self.current_run()
        return run.view if run is not None else None

    def open_chain(self, chain_id: str) -> None:
        """Show a chain: its live view when it runs here, else the saved one (read-only)."""
        if not self._show_running(chain_id) and self.history is not None:
            chain = self.history.get(chain_id)
            self._show_saved(chain_id, chain, self.follow_ups.earlier_of(chain) if chain else [])

    def on_open_chain(self, message: OpenChain) -> None:
        """The sidebar's open: the store read runs in a worker, off the UI loop."""
        if self._show_running(message.chain_id) or self.history is None:
            return
        history, chain_id = self.history, message.chain_id

        from tui.app.widgets.history_reads import STORE_ERRORS

        async def read() -> None:
            try:
                chain = await asyncio.to_thread(history.get, chain_id)
                earlier = (
                    await asyncio.to_thread(self.follow_ups.earlier_of, chain) if chain else []
                )
            except STORE_ERRORS as err:
                from tui.app.connection import one_line

                self.notify(f"Cannot open the chain: {one_line(err)}", severity="error")
                return
            self._show_saved(chain_id, chain, earlier)

        self.run_worker(read(), group="open-chain", exclusive=True)

    def _show_running(self, chain_id: str) -> bool:
        for run in self.runs.values():
            if run.chain.id == chain_id and run.running:
                self.show(run)
                return True
        return False

    def _show_saved(
        self, chain_id: str, chain: Chain | None, earlier: list[Chain] | None = None
    ) -> None:
        if chain is None and self.groups.open(chain_id):
            return
        if chain is None:
            self.notify("That chain is no longer in the history.", severity="warning")
            return
        from tui.app.widgets.chain_view import ChainView

        earlier = earlier or []
        run = ChainRun(chain, ChainView(chain, live=False, earlier=earlier), earlier=earlier)
        self.runs[chain.id] = run
        self.show(run)

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

    def update_question_mode(self) -> None:
        """Tell the question box whether Enter follows up or starts a new thread."""
        self.follow_ups.update_question_mode()

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
        run = self.current_run()
        if run is None or not run.running:
            running = [r for r in self.runs.values() if r.running]
            run = running[-1] if running else None
        if run is not None and run.worker is not None:
            run.worker.cancel()
            (run.group or run.view).show_cancelling()  # in its status line until it has ended
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
        self.update_question_mode()  # a group mode always starts a new thread
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
        view = self.current_view()
        step = view.focused_step() if view else None
        if step is None:
            self.notify("No step to fold.", markup=False, timeout=2)
            return
        step.collapsed = not step.collapsed

    def action_toggle_all(self) -> None:
        view = self.current_view()
        steps = view.step_views() if view else []
        if not steps:
            return
        fold = any(not s.collapsed for s in steps)
        with self.batch_update():
            for step in steps:
                step.collapsed = fold

    def action_new_question(self) -> None:
        with self.batch_update():
            self._clear_chains()
            self.query_one("#chains").mount(Static(Content(WELCOME), classes="welcome"))
        self.current_id = None
        self.update_question_mode()
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
            self.push_screen(EvaluationsScreen(self.history, lambda: self.client, self.open_chain))

    def action_help(self) -> None:
        from tui.app.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    async def action_quit(self) -> None:
        """Cancel running chains and let them save as cancelled, then leave."""
        workers = [r.worker for r in self.runs.values() if r.running and r.worker]
        for worker in workers:
            worker.cancel()
        if workers:
            with contextlib.suppress(Exception):  # a timeout or a worker's failure: leaving anyway
                await asyncio.wait_for(self.workers.wait_for_complete(workers), 3.0)
        self.exit(0)
