"""The app's controller of a managed model server: start, stop, restart, switch model, and
the state, log and start-up progress the server screen and the header show (it is the
``tui.app.screens.server.ServerController`` the app hands the server screen).

Everything it does goes through :mod:`backends.manager`; ``on_change(state)`` and
``on_line(line)`` are called from worker threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backends.engines import EngineUnavailable
from backends.errors import BackendError
from backends.manager import (
    ServerHandle,
    ServerSettings,
    StartChoices,
    ensure_server,
    plan_model,
    poll_reporter,
    resolve_settings,
)
from backends.presets import resolve
from backends.stages import StartProgress
from backends.state import ServerState
from backends.supervisor import ServerStartError

if TYPE_CHECKING:
    from typing_extensions import Unpack


@dataclass(frozen=True)
class Machine:
    """The engine choice's inputs (:func:`backends.manager.plan_model`): the engine asked
    for, the engines installed and whether there is a GPU."""

    engine: str | None
    available: dict[str, bool]
    gpu: bool


class ManagedServer:
    """The server screen's controller over :mod:`backends.manager` (see the module)."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        on_change: Callable[[ServerState], None] | None = None,
        on_line: Callable[[str], None] | None = None,
        **start_kwargs: Unpack[StartChoices],
    ) -> None:
        self.settings = settings
        self.on_change = on_change
        self.on_line = on_line
        self.start_kwargs = start_kwargs
        self.handle: ServerHandle | None = None
        self.error: str | None = None
        self.model_name: str | None = resolve_settings(settings).model
        self._state = ServerState.STOPPED
        self._closed = False
        #: The last thing a replica set reported while serving (a replica exited).
        self.notice: str | None = None

    @property
    def state(self) -> ServerState:
        if self._state is ServerState.READY and self.handle is not None and not self.handle.running:
            return ServerState.CRASHED
        return self._state

    def _set(self, state: ServerState) -> None:
        self._state = state
        if self.on_change is not None:
            self.on_change(state)

    def _on_notice(self, text: str) -> None:
        # The line itself reaches the log through on_line; the screen and header redraw.
        self.notice = text
        if self.on_change is not None:
            self.on_change(self.state)

    # Any: the server screen's view model (tui's ServerController protocol), values of mixed
    # kinds that the screen only formats.
    def info(self) -> dict[str, Any]:
        from backends.presets import PRESETS

        handle, proc = self.handle, self.handle.process if self.handle else None
        info: dict[str, Any] = {
            "presets": [p.name for p in PRESETS],
            "model": self.model_name,
            "error": self.error,
        }
        if self.notice:
            info["notice"] = self.notice
        if handle is not None:
            info.update(
                engine=handle.engine,
                model=handle.model,
                url=handle.base_url,
                port=handle.port,
                host="127.0.0.1" if handle.base_url else None,
            )
        if proc is not None:
            info.update(
                pid=proc.pid,
                uptime_s=proc.uptime_s if proc.running else None,
                log_path=str(proc.log_path) if proc.log_path else None,
            )
            if proc.replicas:
                info["replicas"] = [r.describe() for r in proc.replicas]
            if not proc.running and self._state is ServerState.READY:
                info["error"] = f"the server exited with code {proc.returncode}"
        progress = self.progress()
        if progress is not None:
            info.update(stage=progress.describe(), stage_fraction=progress.fraction)
        return info

    def log_lines(self) -> list[str]:
        proc = self.handle.process if self.handle else None
        return proc.lines() if proc is not None else []

    @property
    def display_model(self) -> str | None:
        """The model this server serves or is loading, as resolved (the CPU fallback's small
        model, not the configured GPU default); ``None`` until the start has chosen it."""
        ref = self.handle.model_ref if self.handle is not None else None
        return ref.display if ref is not None else None

    def progress(self) -> StartProgress | None:
        """Where a start-up stands (stages read from the server's log); ``None`` when not
        starting a server process. Answers from memory (the UI calls it on every log line)."""
        proc = self.handle.process if self.handle is not None else None
        if proc is None or self._state is not ServerState.STARTING:
            return None
        return proc.stages.progress

    async def start(self) -> None:
        import asyncio

        if self.handle is not None and self.handle.running and self._state is ServerState.READY:
            return
        self.error = None
        self._set(ServerState.STARTING)
        settings = self.settings
        kwargs = self.start_kwargs.copy()
        if self.model_name:  # switched from the server screen, or the configured one
            kwargs["model"] = self.model_name
        timeout_s = kwargs.pop("ready_timeout_s", None)
        on_poll = poll_reporter(self.on_line) if self.on_line is not None else None

        def start_and_wait() -> None:
            # One thread does both, so the handle is ours before the long load: shutdown()
            # (a quit, a SIGHUP) during the load reaches the starting server, even when the
            # app's event loop is already gone.
            kwargs.setdefault("on_notice", self._on_notice)
            kwargs["wait"] = False
            self.handle = ensure_server(settings, progress=self.on_line, **kwargs)
            self._set(ServerState.STARTING)  # again, now that the model to load is known
            if self._closed:
                self.handle.stop()
                raise ServerStartError("o1tui is closing")
            try:
                self.handle.wait_ready(timeout_s, on_poll)
            except BaseException:
                self.handle.stop()
                raise

        previous = self.handle
        try:
            await asyncio.to_thread(start_and_wait)
        except Exception as err:  # noqa: BLE001 - shown on the screen; the app stays usable
            self.error = str(err).splitlines()[0] if str(err) else type(err).__name__
            # No new process: the start was refused (an engine or model that cannot run here);
            # "crashed" is for a server that started and died.
            launched = self.handle is not previous
            if not launched and previous is not None and not previous.running:
                self.handle = None  # its model and pid are no longer what the screen is about
            self._set(ServerState.CRASHED if launched else ServerState.ERROR)
            return
        reused = self.handle is not None and self.handle.reused
        self._set(ServerState.EXTERNAL if reused else ServerState.READY)

    def shutdown(self) -> str | None:
        """Stop the server, also one still loading, and start no other (the app is closing);
        a ready one is left to its keeper when ``keep_alive`` is set, and what to tell the user
        about it is returned (:meth:`ServerHandle.release`)."""
        self._closed = True
        if self.handle is not None:
            return self.handle.release()
        return None

    async def stop(self) -> None:
        import asyncio

        if self.handle is not None:
            self._set(ServerState.STOPPING)
            await asyncio.to_thread(self.handle.stop)
        self._set(ServerState.STOPPED)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def _machine(self) -> Machine:
        """The engine choice's inputs: given ones (tests), else this machine's, found once."""
        from backends.engines import available_engines
        from backends.gpu import has_gpu

        given = self.start_kwargs
        available = given.get("available")
        gpu = given.get("gpu")
        return Machine(
            engine=given.get("engine"),
            available=available if available is not None else available_engines(),
            gpu=gpu if gpu is not None else has_gpu(),
        )

    def check_model(self, name: str, machine: Machine | None = None) -> None:
        """Raise the :class:`BackendError` that says why ``name`` cannot be served on this
        machine with these settings; return when it can.

        A model that would be replaced by the small CPU one counts as one that cannot: it is
        not what the user picked. Blocking (it may ask ``nvidia-smi``): run it in a thread.
        """
        m = machine if machine is not None else self._machine()
        asked = resolve(name)
        _, ref, warnings = plan_model(
            self.settings, engine=m.engine, model=name, available=m.available, gpu=m.gpu
        )
        if ref.served_name != asked.served_name:  # ("…needs a GPU; using … on the CPU")
            why = warnings[-1].split(";")[0] if warnings else f"{asked.display} cannot run here"
            raise EngineUnavailable(why)

    def model_problems(self, names: list[str]) -> dict[str, str]:
        """Why each of ``names`` cannot run here (:meth:`check_model`), for those that
        cannot; blocking."""
        problems: dict[str, str] = {}
        machine = self._machine()  # one nvidia-smi for all of them
        for name in names:
            try:
                self.check_model(name, machine)
            except BackendError as err:
                problems[name] = str(err).splitlines()[0] if str(err) else type(err).__name__
        return problems

    async def switch_model(self, name: str) -> None:
        import asyncio

        # Checked before the running server is stopped: a model this machine cannot run
        # (unknown, no GGUF for llama.cpp, no GPU) leaves the working server as it is.
        await asyncio.to_thread(self.check_model, name)
        await self.stop()
        self.model_name = name
        await self.start()
