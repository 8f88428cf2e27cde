"""Small protocols for what the app's parts need from the Textual app they work in.

Each part (connection.py, follow.py, group_runs.py, …) declares the app state it reads in a
Protocol of its own and builds on these; the app passes itself. So no part imports the app
module (tui/app/app.py), which composes them.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from textual.message import Message
    from textual.notifications import SeverityLevel
    from textual.worker import Worker


class Notifies(Protocol):
    """Shows a toast (Textual's ``App.notify``)."""

    def notify(
        self,
        message: str,
        *,
        title: str = ...,
        severity: SeverityLevel = ...,
        timeout: float | None = ...,
        markup: bool = ...,
    ) -> None: ...


class Posts(Protocol):
    """Takes messages, from any thread (Textual's ``post_message``)."""

    def post_message(self, message: Message) -> bool: ...


class RunsWorkers(Protocol):
    """Runs a coroutine as a worker (Textual's ``run_worker``)."""

    def run_worker(
        self,
        work: Coroutine[Any, Any, None],
        name: str | None = ...,
        group: str = ...,
        description: str = ...,
        exit_on_error: bool = ...,
        start: bool = ...,
        exclusive: bool = ...,
        thread: bool = ...,
    ) -> Worker[None]: ...
