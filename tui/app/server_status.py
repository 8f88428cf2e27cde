"""What the app shows of its model server: the state, its one-line detail and the model in
the header, start-up lines kept for the server screen, and a failure as a toast. The
connection (connection.py) and the managed server report through ServerStateChanged and
ServerLog messages; the app's handlers hand them here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from backends.state import ServerState
from tui.app.host import Notifies
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from backends.controller import ManagedServer
    from backends.manager import ServerHandle
    from tui.app.messages import ServerLog, ServerStateChanged
    from tui.app.widgets.status_header import StatusHeader

#: Most server start-up lines kept for the server screen.
SERVER_LOG_LINES = 1000


class ServerStatusHost(Notifies, Protocol):
    """The app's record of its server, which :class:`ServerStatus` keeps current."""

    server_state: ServerState
    #: One line for people: why it is not ready, or how far the start-up is.
    server_detail: str
    #: The model's name as the header shows it (the served name once ready).
    model_name: str

    @property
    def server_log(self) -> list[str]: ...

    @property
    def controller(self) -> ManagedServer | None: ...

    @property
    def server_handle(self) -> ServerHandle | None: ...

    def header(self) -> StatusHeader | None: ...


class ServerStatus:
    """Keeps ``host``'s record of its server and the header current; ``use_handle`` takes
    on a server (re)started from the server screen (Connector.use_handle)."""

    def __init__(
        self, host: ServerStatusHost, *, use_handle: Callable[[ServerHandle], None]
    ) -> None:
        self.host = host
        self._use_handle = use_handle

    def changed(self, message: ServerStateChanged) -> None:
        """The server (or endpoint) changed state."""
        host = self.host
        controller = host.controller
        handle = controller.handle if controller is not None else None
        if message.state.serving and handle is not None and handle is not host.server_handle:
            self._use_handle(handle)  # (re)started from the server screen
            return
        refused_or_died = message.state in (ServerState.CRASHED, ServerState.ERROR)
        if refused_or_died and controller is not None and controller.error:
            message.detail = controller.error
        host.server_state, host.server_detail = message.state, message.detail
        if message.model:
            host.model_name = message.model
        header = host.header()
        if header is not None:
            header.state, header.detail = message.state, message.detail
            if message.model:
                header.model = message.model
            if message.address is not None:
                header.address = message.address
        if message.state is ServerState.ERROR:
            host.notify(
                clean_line(message.detail, 300),
                title="Server",
                severity="error",
                markup=False,
                timeout=10,
            )

    def logged(self, message: ServerLog) -> None:
        """A line of the server's start-up: kept for the server screen; the header shows
        the start-up's stage, never the raw line (loader output is noise)."""
        log = self.host.server_log
        log.append(message.line)
        del log[:-SERVER_LOG_LINES]
        controller = self.host.controller
        header = self.host.header()
        if header is not None:
            header.progress = controller.progress() if controller is not None else None
