"""One way to reach a model, for the CLI and the app alike.

``--endpoint URL``: a client for the server there. A model the user named (flag or
environment) that the server does not serve is an error listing what it does serve; with no
model named, the configured default is kept when the server serves it, else the server's
first model is used. A managed server's handle gives
its own client. Nothing here imports Textual; the OpenAI client is imported on first use.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from backends.errors import model_not_served

if TYPE_CHECKING:
    from backends.client import ChatClient
    from backends.manager import ServerHandle
    from backends.openai_client import OpenAIChatClient
    from tui.core.config import Settings


def endpoint_client(settings: Settings) -> OpenAIChatClient:
    """A client for ``settings.endpoint`` (not contacted yet). Importing the OpenAI library
    costs a few hundred ms: callers on an event loop run this in a thread."""
    from backends.openai_client import OpenAIChatClient

    assert settings.endpoint, "endpoint_client needs settings.endpoint"
    return OpenAIChatClient(
        settings.endpoint,
        settings.model,
        settings.api_key,
        timeout_s=settings.request_timeout_s,
        stall_timeout_s=settings.stall_timeout_s,
    )


async def choose_model(client: OpenAIChatClient, *, model_named: bool) -> list[str]:
    """Ask the server what it serves and settle ``client.model``; returns the served names.

    Raises ``ModelNotFound`` (listing the served names) when the user named a model the
    server does not serve, and the client's errors when the server cannot be asked.
    """
    served = await client.list_models()
    if not served or client.model in served:
        return served
    if model_named:
        raise model_not_served(client.base_url, client.model, served)
    client.model = served[0]  # the default names a preset; the endpoint serves what it serves
    return served


async def open_endpoint(settings: Settings, *, model_named: bool) -> OpenAIChatClient:
    """A client for ``settings.endpoint`` (the CLI's way; the app asks for the list itself,
    to show the endpoint's state).

    With no model named, the server is asked what it serves (:func:`choose_model`). A named
    model is not checked up front: the first request is the check, and a 404 for the model
    names what the server serves (``backends.openai_client``); a server that cannot be
    reached then fails that request, which is saved with the chain.
    """
    client = await asyncio.to_thread(endpoint_client, settings)
    if not model_named:
        await choose_model(client, model_named=False)
    return client


def handle_client(settings: Settings, handle: ServerHandle) -> ChatClient:
    """The client of a managed server, with the configured time-outs."""
    return handle.client(
        timeout_s=settings.request_timeout_s, stall_timeout_s=settings.stall_timeout_s
    )
