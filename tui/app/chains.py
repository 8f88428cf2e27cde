"""The chains in the app: one run per chain id (tui.app.runs), so several can run at once
(a group's members, a chain still running while another is shown), and the one on screen.

Starting a chain runs it in a worker, which only posts messages (each event as a ChainEvent,
deltas merged to about one a frame; ChainDone at its end); the app's handlers hand those to
:meth:`Chains.apply` and :meth:`Chains.done`, which change the widgets, on the app's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from textual.app import App
from textual.content import Content
from textual.widgets import Static

from tui.app.asking import RunHost, askable, pinned_lang
from tui.app.messages import ChainDone, ChainEvent, Notify
from tui.app.runs import ChainRun
from tui.core.strategies import get_strategy

if TYPE_CHECKING:
    from textual.timer import Timer
    from textual.widget import Widget
    from textual.worker import Worker

    from backends.client import ChatClient
    from tui.app.batcher import EventBatcher
    from tui.app.widgets.chain_view import ChainView
    from tui.app.widgets.group_view import GroupView
    from tui.app.widgets.status_header import StatusHeader
    from tui.core.chain import Chain

log = logging.getLogger(__name__)

#: Seconds between updates of running steps' clocks.
TICK_S = 0.1

WELCOME = (
    "Ask a question below; Enter runs it.\n\n"
    "Each reasoning step appears as it starts, with its time and tokens.\n"
)

#: A follow-up's parent and the turns before it (tui.app.follow.FollowUps.target).
Thread = tuple["Chain", list["Chain"]]


class ChainsHost(RunHost, Protocol):
    """What :class:`Chains` reads from the app."""

    def header(self) -> StatusHeader | None: ...


class Chains:
    """The chains of ``app`` (see the module docstring). ``follow_target`` gives what a new
    chain follows up (None: a new thread); ``earlier_of`` the saved turns before a chain (a
    store read); ``open_group`` shows a saved group (False: no such group); ``shown`` is
    called when the chain on screen changes or ends (the question box's words follow it)."""

    def __init__(
        self,
        app: App[Any],
        host: ChainsHost,
        *,
        follow_target: Callable[[], Thread | None],
        earlier_of: Callable[[Chain], list[Chain]],
        open_group: Callable[[str], bool],
        shown: Callable[[], None],
    ) -> None:
        self.app = app
        self.host = host
        self._follow_target = follow_target
        self._earlier_of = earlier_of
        self._open_group = open_group
        self._shown = shown
        self.runs: dict[str, ChainRun] = {}
        #: The chain on screen (None: the welcome, or a new question).
        self.current_id: str | None = None
        self._ticker: Timer | None = None

    def start_clock(self) -> None:
        """Tick running steps' clocks while chains run (once the app is mounted)."""
        self._ticker = self.app.set_interval(TICK_S, self._tick, pause=True)

    # --- running a chain ---------------------------------------------------------------------

    def start(self, question: str, strategy: str) -> Chain | None:
        """Start a chain of ``strategy`` for ``question``; None (and a message) when it
        cannot start."""
        host = self.host
        checked = askable(host, question)
        if checked is None or host.client is None:
            return None
        from tui.core.chain import Chain

        target = self._follow_target()  # before the new chain replaces the one on screen
        chain = Chain(
            question=checked,
            strategy=strategy,
            model=host.client.model,
            lang=pinned_lang(host.settings),
        )
        thread = [*target[1], target[0]] if target is not None else []
        if target is not None:
            chain.parent_id = target[0].id
        from tui.app.widgets.chain_view import ChainView

        view = ChainView(chain, live=True, now=host.clock(), earlier=thread)
        run = ChainRun(chain, view, earlier=thread)
        self.runs[chain.id] = run
        self.show(run)
        run.worker = self.app.run_worker(
            self._work(chain, host.client, thread),
            name=f"chain-{chain.id}",
            group="chains",
            exit_on_error=False,
        )
        self.update_running()
        return chain

    async def _work(self, chain: Chain, client: ChatClient, thread: list[Chain]) -> None:
        """Run the chain (a follow-up of ``thread``'s last turn when given); report through
        messages only (never touch widgets here)."""
        from tui.core.runner import run_chain
        from tui.core.strategies.base import StrategyOptions

        host = self.host
        on_event = self.event_sink(chain.id)
        options = StrategyOptions(lang=chain.lang, max_steps=host.settings.max_steps)
        try:
            if thread:
                from tui.core.threads import continue_thread

                options = await continue_thread(
                    chain, options, client, thread, host.server_handle, host.settings
                )
            await run_chain(
                chain,
                get_strategy(chain.strategy),
                client,
                options,
                history=host.history,
                on_event=on_event,
            )
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - run_chain saved it and sent ChainFailed
            log.exception("chain %s failed", chain.id)
            from tui.app.connection import one_line

            self.app.post_message(Notify(f"Chain failed: {one_line(err)}", "error"))
        finally:
            self.app.post_message(ChainDone(chain.id))

    def event_sink(self, chain_id: str) -> EventBatcher:
        """The ``on_event`` callable for chain ``chain_id``: events become ChainEvent
        messages to the app, deltas merged to about one a frame."""
        from tui.app.batcher import EventBatcher

        app = self.app
        return EventBatcher(lambda event: app.post_message(ChainEvent(chain_id, event)))

    async def apply(self, message: ChainEvent) -> None:
        """Show one event of a chain (the ChainEvent handler's work)."""
        from tui.core.chain import ChainFailed, ChainFinished

        run = self.runs.get(message.chain_id)
        if run is None:
            return
        event = message.event
        now = self.host.clock()
        if run.group is not None:  # the group's view passes it on to the member's, if shown
            await run.group.apply(run.chain.id, event, now)
        else:
            await run.view.apply(event, now)
        if isinstance(event, (ChainFinished, ChainFailed)):
            run.chain = event.chain
            self.ended()

    def done(self, chain_id: str) -> None:
        """The worker of ``chain_id`` ended (the ChainDone handler's work)."""
        run = self.runs.get(chain_id)
        if run is not None and run.view.live:
            # The worker ended without a final event (a bug upstream): stop the clocks anyway.
            run.view.live = False
        self.update_running()
        self.history_changed()

    def ended(self) -> None:
        """A chain or a group has ended: the header's counts, the sidebar and the question
        box's words follow."""
        self.update_running()
        self.history_changed()
        self._shown()

    def history_changed(self) -> None:
        """A chain was saved: the sidebar lists it."""
        from tui.app.widgets.history_panel import HistoryPanel

        for panel in self.app.query(HistoryPanel):
            panel.refresh_list()

    def update_running(self) -> None:
        """The header's count of running and waiting chains; the clocks tick while any runs."""
        from tui.core.chain import Status

        live = [r for r in self.runs.values() if r.running]
        # A group's members share its worker: one that has finished no longer counts.
        running = sum(1 for r in live if r.chain.status is Status.RUNNING)
        header = self.host.header()
        if header is not None:
            # A server that works on fewer requests at once (llama.cpp: one) queues the rest.
            handle = self.host.server_handle
            slots = handle.concurrency if handle is not None else None
            header.running = min(running, slots) if slots else running
            header.waiting = running - header.running
        if self._ticker is not None:
            if live:
                self._ticker.resume()
            else:
                self._ticker.pause()

    def _tick(self) -> None:
        now = self.host.clock()
        for run in self.runs.values():
            if run.view.live:
                run.view.tick(now)

    def cancel(self) -> bool:
        """Cancel the chain on screen, else the last one running; False when none runs."""
        run = self.current_run()
        if run is None or not run.running:
            running = [r for r in self.runs.values() if r.running]
            run = running[-1] if running else None
        if run is None or run.worker is None:
            return False
        run.worker.cancel()
        (run.group or run.view).show_cancelling()  # in its status line until it has ended
        return True

    async def stop(self, wait_s: float) -> None:
        """Cancel every running chain and give them ``wait_s`` to save as cancelled."""
        workers = [r.worker for r in self.runs.values() if r.running and r.worker]
        for worker in workers:
            worker.cancel()
        if workers:
            with contextlib.suppress(Exception):  # a timeout or a worker's failure: leaving anyway
                await asyncio.wait_for(self.app.workers.wait_for_complete(workers), wait_s)

    # --- what is on screen ---------------------------------------------------------------------

    def show(self, run: ChainRun) -> None:
        """Make ``run`` the chain on screen. Running chains that are not shown stay mounted
        (hidden) and keep streaming; finished ones leave the screen (they are in the history)."""
        top = run.top
        container = self.app.query_one("#chains")
        with self.app.batch_update():
            self._clear(keep=top)
            if top.parent is None:
                container.mount(top)
            top.display = True
        for chain_id in [cid for cid, r in self.runs.items() if r.top is not top and not r.running]:
            del self.runs[chain_id]
        self.current_id = run.chain.id
        self._shown()

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
            self.app.call_after_refresh(view.focus_first_sample)

    def new_question(self) -> None:
        """Clear the screen for a new question (running chains stay, hidden)."""
        with self.app.batch_update():
            self._clear()
            self.app.query_one("#chains").mount(Static(Content(WELCOME), classes="welcome"))
        self.current_id = None
        self._shown()

    def _clear(self, keep: Widget | None = None) -> None:
        running = {id(r.top) for r in self.runs.values() if r.running}
        for child in list(self.app.query_one("#chains").children):
            if child is keep:
                continue
            if id(child) in running:
                child.display = False
            else:
                child.remove()

    def attach(self, chain: Chain, *, live: bool = True) -> ChainView:
        """Show a chain driven from outside by ChainEvent messages (benchmarks, tests)."""
        from tui.app.widgets.chain_view import ChainView

        run = ChainRun(chain, ChainView(chain, live=live, now=self.host.clock()))
        self.runs[chain.id] = run
        self.show(run)
        return run.view

    def current_run(self) -> ChainRun | None:
        return self.runs.get(self.current_id) if self.current_id else None

    def current_view(self) -> ChainView | None:
        run = self.current_run()
        return run.view if run is not None else None

    def toggle_step(self) -> None:
        """Fold or unfold the focused step of the chain on screen."""
        view = self.current_view()
        step = view.focused_step() if view else None
        if step is None:
            self.app.notify("No step to fold.", markup=False, timeout=2)
            return
        step.collapsed = not step.collapsed

    def toggle_all(self) -> None:
        """Fold every step of the chain on screen, or unfold them all when all are folded."""
        view = self.current_view()
        steps = view.step_views() if view else []
        if not steps:
            return
        fold = any(not s.collapsed for s in steps)
        with self.app.batch_update():
            for step in steps:
                step.collapsed = fold

    # --- opening a saved chain ---------------------------------------------------------------

    def open(self, chain_id: str) -> None:
        """Show a chain: its live view when it runs here, else the saved one (read-only)."""
        history = self.host.history
        if not self._show_running(chain_id) and history is not None:
            chain = history.get(chain_id)
            self._show_saved(chain_id, chain, self._earlier_of(chain) if chain else [])

    def open_in_worker(self, chain_id: str) -> None:
        """:meth:`open`, with the store read in a worker, off the UI loop (the sidebar's)."""
        history = self.host.history
        if self._show_running(chain_id) or history is None:
            return
        from tui.app.widgets.history_reads import STORE_ERRORS

        async def read() -> None:
            try:
                chain = await asyncio.to_thread(history.get, chain_id)
                earlier = await asyncio.to_thread(self._earlier_of, chain) if chain else []
            except STORE_ERRORS as err:
                from tui.app.connection import one_line

                self.app.notify(f"Cannot open the chain: {one_line(err)}", severity="error")
                return
            self._show_saved(chain_id, chain, earlier)

        self.app.run_worker(read(), group="open-chain", exclusive=True)

    def _show_running(self, chain_id: str) -> bool:
        for run in self.runs.values():
            if run.chain.id == chain_id and run.running:
                self.show(run)
                return True
        return False

    def _show_saved(
        self, chain_id: str, chain: Chain | None, earlier: list[Chain] | None = None
    ) -> None:
        if chain is None and self._open_group(chain_id):
            return
        if chain is None:
            self.app.notify("That chain is no longer in the history.", severity="warning")
            return
        from tui.app.widgets.chain_view import ChainView

        earlier = earlier or []
        run = ChainRun(chain, ChainView(chain, live=False, earlier=earlier), earlier=earlier)
        self.runs[chain.id] = run
        self.show(run)
