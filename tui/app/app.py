"""The o1tui application: ask, watch the chain think step by step, find old chains again.

Structure (after Harlequin): widgets in ``widgets/``, screens in ``screens/``, styles in
``app.tcss``, app-wide messages in ``messages.py``, every user-facing action in
``actions.py``; reaching the model in ``connection.py`` (the server screen's face for an
endpoint in ``endpoint.py``), event batching in ``batcher.py``. Workers (a chain run, the server connection) do I/O and post messages; only
handlers on this class touch widgets. State is kept per chain id, so several chains can run at
once (self-consistency, compare); the screen shows one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
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
from tui.app.copying import CopyMixin
from tui.app.first_frame import FirstFrameMixin
from tui.app.follow import FollowUpsMixin
from tui.app.group_runs import GROUP_MODES, GroupRunsMixin
from tui.app.messages import (
    ChainDone,
    ChainEvent,
    Notify,
    OpenChain,
    RerunChain,
    ServerLog,
    ServerStateChanged,
    Severity,
)
from tui.app.theming import ThemesMixin
from tui.app.widgets.app_footer import AppFooter
from tui.app.widgets.question_input import QuestionInput
from tui.app.widgets.status_header import StatusHeader
from tui.core.strategies import STRATEGY_NAMES, get_strategy
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from backends.client import ChatClient
    from backends.controller import ManagedServer
    from backends.manager import ServerHandle
    from tui.app.batcher import EventBatcher
    from tui.app.connection import Connector
    from tui.app.palette import O1Commands
    from tui.app.widgets.chain_view import ChainView
    from tui.app.widgets.group_view import GroupView
    from tui.core.chain import Chain
    from tui.core.config import Settings
    from tui.store.history import History
    from tui.store.history_writer import WriteStatus

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


@dataclass
class ChainRun:
    """One chain in this app: its data, its view, and the worker running it (if live)."""

    chain: Chain
    view: ChainView
    worker: Worker | None = None
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


class O1App(FirstFrameMixin, FollowUpsMixin, GroupRunsMixin, CopyMixin, ThemesMixin, App[int]):
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
        #: Opens the history after the first frame (run_app); its import and the store's
        #: open are ~20 ms the first frame does not need.
        self._open_history = open_history
        #: What ended the app before it could work (the history could not be opened):
        #: run_app raises it, as the command did before the app started.
        self.startup_error: Exception | None = None
        self.server_handle = server
        self.client = client
        self.clock = clock
        self.env = env
        self.config_path = config_path
        self.connect_on_start = connect
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
        #: The switcher's entries: the strategies, then the group modes (tui.app.group_runs).
        self.strategy_names = STRATEGY_NAMES + tuple(m.label for m in GROUP_MODES)
        self.strategy = settings.strategy if settings.strategy in self.strategy_names else "g1"
        self.last_copied: str | None = None
        self._startup_warnings: list[str] = list(settings.warnings)
        self._theme_names: set[str] = set()
        self._load_themes(user_themes_dir)
        usable, warnings = registry.check_keymap(settings.keymap)
        self.keymap: dict[str, str] = usable
        self._startup_warnings += warnings
        self._ticker: Timer | None = None

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
        header.strategy = self.strategy
        yield header
        # The history sidebar joins #body after the first frame (_mount_history).
        with Horizontal(id="body"), Vertical(id="main"):
            with Vertical(id="chains"):
                yield Static(Content(WELCOME), classes="welcome")
            yield QuestionInput(self.strategy)
        yield AppFooter()

    def on_mount(self) -> None:
        self.set_keymap(self.keymap)
        self._show_strategy()
        self.query_one(QuestionInput).focus()
        for warning in self._startup_warnings:
            self.notify(clean_line(warning, 300), severity="warning", markup=False, timeout=8)
        self._notify_recovery()
        self._ticker = self.set_interval(TICK_S, self._tick, pause=True)
        # After the first frame: the history, its sidebar, the connection (tui/app/first_frame.py).
        self.call_after_refresh(self._after_first_frame)

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
        header = self._header()
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

    def _header(self) -> StatusHeader | None:
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
        header = self._header()
        if header is not None:
            header.progress = controller.progress() if controller is not None else None

    # --- chains --------------------------------------------------------------------------------

    @on(Input.Submitted, "#question")
    def _question_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.start_chain(event.value):
            event.input.value = ""

    def start_chain(self, question: str, strategy: str | None = None) -> Chain | None:
        """Start a chain for ``question``; None (and a message) when it cannot start."""
        mode = self.group_mode(strategy or self.strategy)
        if mode is not None:
            return self.start_group(question, mode)  # type: ignore[return-value]
        checked = askable(self, question)
        if checked is None or self.client is None:
            return None
        from tui.core.chain import Chain

        target = self.follow_target()  # before the new chain replaces the one on screen
        chain = Chain(
            question=checked,
            strategy=strategy or self.strategy,
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
        self._show(run)
        run.worker = self.run_worker(
            self._chain_worker(chain, self.client, thread),
            name=f"chain-{chain.id}",
            group="chains",
            exit_on_error=False,
        )
        self._update_running()
        return chain

    async def _chain_worker(
        self, chain: Chain, client: ChatClient, thread: list[Chain] | None = None
    ) -> None:
        """Run the chain (a follow-up of ``thread``'s last turn when given); report through
        messages only (never touch widgets here)."""
        from tui.core.runner import run_chain
        from tui.core.strategies.base import StrategyOptions

        on_event = self.event_sink(chain.id)
        options = StrategyOptions(lang=chain.lang, max_steps=self.settings.max_steps)
        try:
            if thread:
                from tui.core.threads import continue_thread

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
        from tui.core.chain import ChainFailed, ChainFinished

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
            self._update_running()
            self._history_changed()
            self.update_question_mode()

    def on_chain_done(self, message: ChainDone) -> None:
        run = self.runs.get(message.chain_id)
        if run is not None and run.view.live:
            # The worker ended without a final event (a bug upstream): stop the clocks anyway.
            run.view.live = False
        self._update_running()
        self._history_changed()

    def _history_changed(self) -> None:
        from tui.app.widgets.history_panel import HistoryPanel

        for panel in self.query(HistoryPanel):
            panel.refresh_list()

    def _update_running(self) -> None:
        from tui.core.chain import Status

        live = [r for r in self.runs.values() if r.running]
        # A group's members share its worker: one that has finished no longer counts.
        running = sum(1 for r in live if r.chain.status is Status.RUNNING)
        header = self._header()
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

    def _show(self, run: ChainRun) -> None:
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

    def show_group(self, view: GroupView, worker: Worker | None) -> None:
        """Show a group view; with a worker (a live group) its members join the runs."""
        from tui.app.widgets.chain_view import ChainView

        # A vote's samples have no view until expanded: their runs hold a stand-in.
        runs = [
            ChainRun(chain, member or ChainView(chain, live=False), worker, group=view)
            for chain, member in zip(view.result.chains, view.views, strict=True)
        ]
        for run in runs:
            self.runs[run.chain.id] = run
        self._show(runs[0])
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
        self._show(run)
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
            self._show_saved(chain_id, chain, self.earlier_of(chain) if chain else [])

    def on_open_chain(self, message: OpenChain) -> None:
        """The sidebar's open: the store read runs in a worker, off the UI loop."""
        if self._show_running(message.chain_id) or self.history is None:
            return
        history, chain_id = self.history, message.chain_id

        from tui.app.widgets.history_reads import STORE_ERRORS

        async def read() -> None:
            try:
                chain = await asyncio.to_thread(history.get, chain_id)
                earlier = await asyncio.to_thread(self.earlier_of, chain) if chain else []
            except STORE_ERRORS as err:
                from tui.app.connection import one_line

                self.notify(f"Cannot open the chain: {one_line(err)}", severity="error")
                return
            self._show_saved(chain_id, chain, earlier)

        self.run_worker(read(), group="open-chain", exclusive=True)

    def _show_running(self, chain_id: str) -> bool:
        for run in self.runs.values():
            if run.chain.id == chain_id and run.running:
                self._show(run)
                return True
        return False

    def _show_saved(
        self, chain_id: str, chain: Chain | None, earlier: list[Chain] | None = None
    ) -> None:
        if chain is None and self.open_group(chain_id):
            return
        if chain is None:
            self.notify("That chain is no longer in the history.", severity="warning")
            return
        from tui.app.widgets.chain_view import ChainView

        earlier = earlier or []
        run = ChainRun(chain, ChainView(chain, live=False, earlier=earlier), earlier=earlier)
        self.runs[chain.id] = run
        self._show(run)

    def on_rerun_chain(self, message: RerunChain) -> None:
        self._rerun(message.question, message.strategy)

    def _rerun(self, question: str, strategy: str | None) -> None:
        if self.start_chain(question, strategy):
            self.query_one(QuestionInput).focus()

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
        if self.start_chain(box.value):
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
        names = self.strategy_names
        self.set_strategy(
            names[(names.index(self.strategy) + 1) % len(names)]
            if self.strategy in names
            else names[0]
        )

    def set_strategy(self, name: str) -> None:
        if name not in self.strategy_names:
            self.notify(f"Unknown strategy {name!r}", severity="warning", markup=False)
            return
        self.strategy = name
        self._show_strategy()
        self.update_question_mode()  # a group mode always starts a new thread
        self.notify(f"Strategy: {name}", markup=False, timeout=2)

    def _show_strategy(self) -> None:
        key = registry.display_keys(registry.keys_for(registry.BY_ID["strategy"], self.keymap))
        self.query_one(QuestionInput).show_strategy(self.strategy, key.split(" / ")[0])
        header = self._header()
        if header is not None:
            header.strategy = self.strategy

    async def action_toggle_history(self) -> None:
        panel = await self._mount_history()
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
