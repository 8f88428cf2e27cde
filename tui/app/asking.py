"""Whether the app can ask a question now: one check for a single chain and for a group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tui.app.host import Notifies
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from backends.client import ChatClient
    from backends.manager import ServerHandle
    from backends.state import ServerState
    from tui.core.config import Settings
    from tui.store.history import History


class AskHost(Notifies, Protocol):
    """What :func:`askable` reads: the client and, without one, why there is none."""

    @property
    def client(self) -> ChatClient | None: ...

    @property
    def server_state(self) -> ServerState: ...

    @property
    def server_detail(self) -> str: ...


class RunHost(AskHost, Protocol):
    """What a part that runs questions (:class:`tui.app.chains.Chains`,
    :class:`tui.app.group_runs.GroupRuns`) reads from the app besides :class:`AskHost`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def history(self) -> History | None: ...

    @property
    def server_handle(self) -> ServerHandle | None: ...

    def clock(self) -> float: ...


def askable(app: AskHost, question: str) -> str | None:
    """``question`` cleaned when it can be asked now; else None, and a toast says why (a bad
    question, or no model server yet)."""
    from tui.core.chain import validate_question  # not needed for the first frame

    try:
        question = validate_question(question)
    except ValueError as err:
        app.notify(f"Cannot ask: {err}", severity="warning", markup=False)
        return None
    if app.client is None:
        why = app.server_detail or app.server_state
        app.notify(
            clean_line(f"No model server yet ({why}).", 300), severity="warning", markup=False
        )
        return None
    return question


def pinned_lang(settings: Settings) -> str | None:
    """The g1 prompt language the settings pin; None: detected from each question."""
    return None if settings.lang in (None, "auto") else settings.lang
