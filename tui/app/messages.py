"""App-wide messages. Workers and widgets post these; the app's handlers change state.

A worker (a chain run, the server connection) never touches widgets: it posts one of these
and a handler on the app updates the widgets, on the app's own loop.
"""

from __future__ import annotations

from typing import Any, Literal

from textual.message import Message

from backends.state import ServerState

Severity = Literal["information", "warning", "error"]


class OpenChain(Message):
    """Show a saved chain (read-only, with its recorded timings)."""

    def __init__(self, chain_id: str) -> None:
        super().__init__()
        self.chain_id = chain_id


class RerunChain(Message):
    """Run ``question`` again, with ``strategy`` (None: the current one)."""

    def __init__(self, question: str, strategy: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.strategy = strategy


class ChainEvent(Message):
    """One event (a ``tui.core.chain`` Event) of the chain ``chain_id``."""

    # Deltas arrive thousands a second; nothing needs them to bubble past the app.
    bubble = False

    def __init__(self, chain_id: str, event: Any) -> None:
        super().__init__()
        self.chain_id = chain_id
        self.event = event


class ChainDone(Message):
    """The worker of chain ``chain_id`` ended (after its last ChainEvent), for any reason."""

    def __init__(self, chain_id: str) -> None:
        super().__init__()
        self.chain_id = chain_id


class ServerStateChanged(Message):
    """The model server (or endpoint) changed state; ``detail`` is one line for people.

    ``model`` and ``address`` are set once known (``address`` as ``host:port``).
    """

    def __init__(
        self,
        state: ServerState | str,
        detail: str = "",
        *,
        model: str | None = None,
        address: str | None = None,
    ) -> None:
        super().__init__()
        self.state = ServerState(state)  # a plain value ("ready") is accepted too
        self.detail = detail
        self.model = model
        self.address = address


class ServerLog(Message):
    """One line of the managed server's start-up output (already cleaned)."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class Notify(Message, namespace="o1"):
    """Show a toast: anything may post it without holding the app.

    Handled as ``on_o1_notify``: Textual's own toast message is also called Notify."""

    def __init__(self, text: str, severity: Severity = "information") -> None:
        super().__init__()
        self.text = text
        self.severity = severity


class GroupDone(Message):
    """The group ``group_id`` ended (its ``tui.core.group.GroupResult``: vote, status, wall
    time)."""

    def __init__(self, group_id: str, result: Any) -> None:
        super().__init__()
        self.group_id = group_id
        self.result = result


class TypeToAsk(Message):
    """A printable key reached a widget that does not take text (a vote's sample row): the
    question box takes it, so typing the next question is never silently lost."""

    def __init__(self, character: str) -> None:
        super().__init__()
        self.character = character
