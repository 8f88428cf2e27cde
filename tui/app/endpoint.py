"""The server screen's controller for a server o1tui does not manage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from backends.redact import redact_url
from backends.state import ServerState
from tui.app.host import Notifies

if TYPE_CHECKING:
    from backends.manager import ServerHandle
    from tui.core.config import Settings


class EndpointHost(Notifies, Protocol):
    """What :class:`EndpointController` shows (the app's view of its server)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def server_handle(self) -> ServerHandle | None: ...

    @property
    def server_state(self) -> ServerState: ...

    @property
    def server_detail(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    @property
    def server_log(self) -> Sequence[str]: ...


class EndpointController:
    """The server screen's view of a server o1tui does not manage (``--endpoint``, or a
    handle given to the app): it shows where it is; start/stop are not ours to do."""

    def __init__(self, app: EndpointHost) -> None:
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
