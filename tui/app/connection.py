"""How the app reaches its model: a client given to it, ``--endpoint``, a server handle, or a
server it starts and manages. Runs as a worker; reports through ServerStateChanged and
ServerLog messages (posting is thread-safe: the manager calls back from its threads)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from backends.errors import ModelNotFound
from backends.state import ServerState
from tui.app.host import Notifies, Posts, RunsWorkers
from tui.app.messages import ServerLog, ServerStateChanged
from tui.core.connect import choose_model, endpoint_client, handle_client
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from backends.client import ChatClient
    from backends.controller import ManagedServer
    from backends.manager import ServerHandle
    from tui.core.config import Settings


def address_of(url: str | None) -> str:
    """``http://127.0.0.1:23333/v1`` -> ``127.0.0.1:23333``."""
    if not url:
        return ""
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1] or url


def one_line(err: BaseException) -> str:
    """An error as one clean line for a notification or the header."""
    return clean_line(str(err), 300) or type(err).__name__


class ConnectHost(Notifies, Posts, RunsWorkers, Protocol):
    """What :class:`Connector` reads and keeps current (the app)."""

    settings: Settings
    #: The user named ``settings.model``: an endpoint that does not serve it is an error.
    model_named: bool
    model_name: str
    client: ChatClient | None
    server_handle: ServerHandle | None
    #: The server was started by o1tui (run_app stops it on exit).
    owns_server: bool
    #: A server o1tui manages, from its start on (the server screen drives it).
    controller: ManagedServer | None


class Connector:
    """Connects ``app`` to its model and keeps ``app.client`` (and the server) current."""

    def __init__(self, app: ConnectHost) -> None:
        self.app = app

    def start(self) -> None:
        """Connect in a worker (or say ready at once when the app was given a client)."""
        app = self.app
        if app.client is not None:
            app.post_message(
                ServerStateChanged(
                    ServerState.READY,
                    model=app.model_name,
                    address=address_of(app.settings.endpoint),
                )
            )
        else:
            app.run_worker(self._work(), name="connect", group="server", exit_on_error=False)

    async def _work(self) -> None:
        app = self.app
        if app.server_handle is not None:
            self.use_handle(app.server_handle)
        elif app.settings.endpoint:
            await self._use_endpoint()
        else:
            await self._start_managed()

    async def _use_endpoint(self) -> None:
        app, settings = self.app, self.app.settings
        address = address_of(settings.endpoint)
        app.post_message(
            ServerStateChanged(
                ServerState.CONNECTING, "asking for models", model=app.model_name, address=address
            )
        )
        # In a thread: the OpenAI library's import costs a few hundred ms (a frozen screen).
        client = await asyncio.to_thread(endpoint_client, settings)
        try:
            await choose_model(client, model_named=app.model_named)
        except ModelNotFound as err:  # the user named a model this server does not serve
            app.post_message(
                ServerStateChanged(
                    ServerState.ERROR, one_line(err), model=app.model_name, address=address
                )
            )
            return
        except Exception as err:  # noqa: BLE001 - every failure is shown, the app stays up
            app.client = client  # a later chain may still work once the server is up
            app.post_message(
                ServerStateChanged(
                    ServerState.ERROR, one_line(err), model=app.model_name, address=address
                )
            )
            return
        app.client = client
        app.post_message(ServerStateChanged(ServerState.READY, model=client.model, address=address))

    async def _start_managed(self) -> None:
        from backends.controller import ManagedServer

        app = self.app

        def on_change(state: ServerState) -> None:
            # The served name, as the header shows once ready (and the history stores):
            # one name for the model from its start on.
            handle = controller.handle
            ref = handle.model_ref if handle is not None else None
            model = ref.served_name if ref is not None else None
            app.post_message(ServerStateChanged(state, "", model=model))

        def on_line(line: str) -> None:
            app.post_message(ServerLog(clean_line(line, 300)))

        controller = ManagedServer(app.settings, on_change=on_change, on_line=on_line)
        app.controller = controller
        await controller.start()

    def use_handle(self, handle: ServerHandle) -> None:
        """Use a running server: ours (started here or from the server screen) or reused."""
        app = self.app
        app.server_handle = handle
        app.owns_server = handle.started
        client = handle_client(app.settings, handle)
        app.client = client
        if handle.notice:
            app.notify(clean_line(handle.notice, 300), severity="warning", markup=False, timeout=10)
        app.post_message(
            ServerStateChanged(
                ServerState.READY, model=client.model, address=address_of(handle.base_url)
            )
        )
