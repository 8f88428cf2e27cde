"""The server screen: the model server's state, where it runs, the GPU, and its live log.

The screen talks to a :class:`ServerController` (the app passes one backed by the server
manager) and polls it once a second; it never touches processes itself. Start, stop,
restart and model switches run as workers so the screen stays live while a server loads
(LMDeploy takes minutes). Log lines and every value shown come from outside (server output,
model names, paths): they are cleaned and shown as ``Text``, never as markup.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Log, Static

from backends.stages import bar_text
from backends.state import ServerState
from tui.app.screens.confirm import ChoiceScreen
from tui.app.state_look import state_look
from tui.app.widgets.app_footer import AppFooter
from tui.formatting import format_uptime
from tui.sanitize import clean, clean_line

#: Lines the log view keeps (the supervisor's ring buffer holds as many).
LOG_LINES = 1000
#: Seconds between polls of the controller.
REFRESH_S = 1.0
#: Seconds between GPU queries (``nvidia-smi`` costs tens of milliseconds).
GPU_REFRESH_S = 5.0


@runtime_checkable
class ServerController(Protocol):
    """What the server screen needs from whoever manages the model server.

    ``info()`` keys (all optional; missing ones show as ``—``): ``engine``, ``model``,
    ``host``, ``port``, ``pid``, ``uptime_s`` (float), ``url``, ``log_path``, ``error``
    (one line: why it crashed), ``presets`` (model names offered by *switch model*).
    ``state`` is one of starting, ready, stopped, crashed (a server that started and died),
    error (a start that was refused), external (others are shown as is).
    While a server loads, ``stage`` (``weights 2/4 · stage 3/5 · 12 s``) and ``stage_fraction``
    (0..1) give the start-up's progress. ``replicas`` (``--dp``): one line per replica
    behind the proxy (``replica 2/2 · port 40123 · serving``).
    ``state``, ``info()`` and ``log_lines()`` are read on the UI loop once a second, so they
    must answer from memory, without I/O.

    A controller may also have ``model_problems(names) -> {name: why}`` (blocking; the screen
    calls it in a thread): the models this machine cannot run, greyed in *switch model*.
    """

    @property
    def state(self) -> ServerState: ...

    def info(self) -> dict[str, Any]: ...

    def log_lines(self) -> list[str]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def restart(self) -> None: ...

    async def switch_model(self, name: str) -> None: ...


def describe_gpus(gpus: Sequence[Any] | None) -> str:
    """One line per GPU (``name · used/total GiB``), or ``no GPU``."""
    if not gpus:
        return "no GPU"
    return "\n".join(clean_line(g.describe(), 120) for g in gpus)


def new_log_lines(shown: list[str], current: list[str]) -> tuple[bool, list[str]]:
    """What to do to turn the log view showing ``shown`` into ``current``.

    Returns ``(reset, lines)``: append ``lines``, after clearing the view when ``reset``.
    The ring buffer drops its oldest lines as new ones come, so ``current`` is usually
    ``shown`` minus some head plus some tail; anything else (a restart) is a reset.
    """
    if not shown:
        return False, list(current)
    n = len(shown)
    if current[:n] == shown:
        return False, current[n:]
    # Rotated: find the shortest dropped head d with shown[d:] == current[:n - d].
    first = current[0] if current else None
    for d in range(1, n):
        if shown[d] == first and current[: n - d] == shown[d:]:
            return False, current[n - d :]
    return True, list(current)


def short_reason(why: str) -> str:
    """Why a model cannot run, short enough for the picker's line: ``Qwen3-8B: llama.cpp
    needs a GGUF file; use --engine …`` -> ``llama.cpp needs a GGUF file`` (the line already
    names the model; the switch's error, if tried, says the rest)."""
    first = why.split("; ")[0]
    return first.split(": ", 1)[1] if ": " in first else first


def _value(info: dict[str, Any], key: str) -> str:
    value = info.get(key)
    return "—" if value in (None, "") else clean_line(str(value), 200)


class ServerScreen(Screen[None]):
    """Server state, GPU and live log, with keys to start, stop, restart and switch model.

    ``controller``: the server manager's face for the UI. ``presets``: model names offered
    by *switch model* (default: ``info()["presets"]``, else the built-in presets).
    ``gpu_query``: returns the GPUs or None (default: ``backends.gpu.query_gpus``).
    """

    DEFAULT_CSS = """
    ServerScreen > Vertical { height: 1fr; }
    ServerScreen #server-info {
        height: auto;
        padding: 0 1;
        border: round $primary 50%;
        border-title-color: $text;
    }
    ServerScreen Log {
        height: 1fr;
        border: round $foreground 20%;
        border-title-color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("x", "stop", "Stop"),
        Binding("r", "restart", "Restart"),
        Binding("m", "switch_model", "Switch model"),
        Binding("escape,q", "close", "Back"),
    ]

    def __init__(
        self,
        controller: ServerController,
        *,
        presets: Sequence[str] | None = None,
        gpu_query: Callable[[], Sequence[Any] | None] | None = None,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.controller = controller
        self._presets = tuple(presets) if presets else None
        self._gpu_query = gpu_query
        self._gpus: Sequence[Any] | None = None
        self._gpu_known = False
        self._shown: list[str] = []
        #: Last action's failure, shown under the state until the next action.
        self.last_error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            info = Static(id="server-info")
            info.border_title = "Server"
            yield info
            log = Log(max_lines=LOG_LINES, id="server-log", auto_scroll=True)
            log.border_title = "Log"
            yield log
        yield AppFooter()

    def on_mount(self) -> None:
        self.refresh_view()
        self.set_interval(REFRESH_S, self.refresh_view)
        self._poll_gpu()
        self.set_interval(GPU_REFRESH_S, self._poll_gpu)

    # --- polling ---------------------------------------------------------------------------

    def refresh_view(self) -> None:
        """Read the controller and redraw the info panel and any new log lines."""
        try:
            info = dict(self.controller.info())
        except Exception as exc:  # noqa: BLE001 - a broken collaborator must not close the screen
            info = {"error": f"cannot read the server state: {exc}"}
        self.query_one("#server-info", Static).update(self._info_table(info))
        self._update_log()

    def _info_table(self, info: dict[str, Any]) -> Table:
        state = getattr(self.controller, "state", "") or info.get("state") or "unknown"
        state = clean_line(str(state), 30)
        mark, variable = state_look(state)
        colours = self.app.get_css_variables()
        colour, error_colour = colours[variable], colours["error"]
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_row("State", Text.assemble((f"{mark} {state}", colour)))
        if info.get("stage"):
            fraction = float(info.get("stage_fraction") or 0.0)
            table.add_row(
                "Start-up",
                Text.assemble(
                    (bar_text(fraction, 20), colour), " ", clean_line(str(info["stage"]), 80)
                ),
            )
        table.add_row("Engine", Text(_value(info, "engine")))
        table.add_row("Model", Text(_value(info, "model")))
        host, port = info.get("host") or "127.0.0.1", info.get("port")
        address = f"{host}:{port}" if port else "—"
        table.add_row("Address", Text(clean_line(address, 200)))
        table.add_row("PID", Text(_value(info, "pid")))
        uptime = info.get("uptime_s")
        table.add_row("Uptime", Text(format_uptime(float(uptime) if uptime is not None else None)))
        gpu = describe_gpus(self._gpus) if self._gpu_known else "…"
        table.add_row("GPU", Text(gpu))
        for i, line in enumerate(info.get("replicas") or ()):
            table.add_row("Replicas" if i == 0 else "", Text(clean_line(str(line), 200)))
        if info.get("log_path"):
            table.add_row("Log file", Text(_value(info, "log_path")))
        for error in (info.get("error"), self.last_error):
            if error:
                table.add_row("Error", Text(clean_line(str(error), 400), style=error_colour))
        return table

    def _update_log(self) -> None:
        try:
            current = list(self.controller.log_lines())[-LOG_LINES:]
        except Exception:  # noqa: BLE001 - keep the last lines shown
            return
        reset, lines = new_log_lines(self._shown, current)
        if not reset and not lines:
            return
        log = self.query_one(Log)
        if reset:
            log.clear()
        if lines:
            # Every line is cleaned: server output can carry escapes (colours, titles).
            log.write_lines([clean(line).replace("\n", " ") for line in lines])
        self._shown = current

    def _poll_gpu(self) -> None:
        self.run_worker(self._read_gpus(), thread=False, group="gpu", exclusive=True)

    async def _read_gpus(self) -> None:
        query = self._gpu_query
        if query is None:
            from backends.gpu import query_gpus

            query = query_gpus
        # nvidia-smi is a subprocess: keep it off the event loop.
        self._gpus = await asyncio.to_thread(query)
        self._gpu_known = True
        self.refresh_view()

    # --- actions ---------------------------------------------------------------------------

    def _run(self, label: str, make: Callable[[], Any]) -> None:
        async def work() -> None:
            self.last_error = None
            try:
                await make()
            except Exception as exc:  # noqa: BLE001 - shown to the user, the screen stays
                self.last_error = clean_line(f"{label} failed: {exc}", 400)
                self.notify(self.last_error, severity="error", markup=False)
            self.refresh_view()

        self.run_worker(work(), group="server", exclusive=True)

    def action_start(self) -> None:
        self._run("start", self.controller.start)

    def action_stop(self) -> None:
        self._run("stop", self.controller.stop)

    def action_restart(self) -> None:
        self._run("restart", self.controller.restart)

    def action_switch_model(self) -> None:
        self.run_worker(self._pick_model(), group="pick-model", exclusive=True)

    async def _pick_model(self) -> None:
        """Offer the presets, those this machine cannot run greyed with the reason (finding
        out may ask ``nvidia-smi``: in a thread)."""
        current = None
        with contextlib.suppress(Exception):  # no current model to mark: offer them all
            current = self.controller.info().get("model")
        presets = self.presets
        problems: dict[str, str] = {}
        check = getattr(self.controller, "model_problems", None)
        if check is not None:
            try:
                found = await asyncio.to_thread(check, list(presets))
                problems = {name: short_reason(why) for name, why in found.items()}
            except Exception:  # noqa: BLE001 - offer them all; switch_model checks again
                problems = {}

        def chosen(name: str | None) -> None:
            if name:
                self._run(f"switch to {name}", lambda: self.controller.switch_model(name))

        dialog = ChoiceScreen(
            "Switch to which model?", presets, current=current, unavailable=problems
        )
        self.app.push_screen(dialog, chosen)

    def action_close(self) -> None:
        self.app.pop_screen()

    @property
    def presets(self) -> tuple[str, ...]:
        if self._presets:
            return self._presets
        try:
            offered = self.controller.info().get("presets")
        except Exception:  # noqa: BLE001
            offered = None
        if offered:
            return tuple(str(p) for p in offered)
        from backends.presets import PRESETS

        return tuple(p.name for p in PRESETS)
