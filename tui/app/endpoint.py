"""The server screen's controller for a server o1tui does not manage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backends.redact import redact_url
from backends.state import ServerState

if TYPE_CHECKING:
    from tui.app.app import O1App


class EndpointController:
    """The server screen's view of a server o1tui does not manage (``--endpoint``, or a
    handle given to the app): it shows where it is; start/stop are not ours to do."""

    def __init__(self, app: O1App) -> None:
        self.app = app

    @property
    def state(self) -> ServerState:
        state = self.app.server_state
        return ServerState.EXTERNAL if state is ServerState.READY else state

    def info(self) -> dict[str, Any]:
        app = self.app
        url = app.settings.endpoint or (
            app.server_handle.base_url if app.server_handle is not None else None
        )
        url = redact_url(url) if url else url  # a password or key in it is never shown
        return {
            "model": app.model_name,
            "url": url,
            "engine": "external endpoint",
            "error": app.server_detail if app.server_state is ServerState.ERROR else None,
        }

    def log_lines(self) -> list[str]:
        return list(self.app.server_log)

    async def _not_ours(self) -> None:
        self.app.notify(
            "This server is not managed by o1tui (it was given with --endpoint).",
            severity="warning",
            markup=False,
        )

    async def start(self) -> None:
        await self._not_ours()

    async def stop(self) -> None:
        await self._not_ours()

    async def restart(self) -> None:
        await self._not_ours()

    async def switch_model(self, name: str) -> None:
        await self._not_ours()
