"""How a server state looks: its mark and its theme colour, for the header and the server
screen alike (colours come from the theme, as everywhere in the app)."""

from __future__ import annotations

from backends.state import ServerState

#: State -> (mark, theme variable without ``$``).
STATE_LOOK: dict[ServerState, tuple[str, str]] = {
    ServerState.NONE: ("○", "text-muted"),
    ServerState.NEW: ("○", "text-muted"),
    ServerState.CONNECTING: ("◌", "warning"),
    ServerState.STARTING: ("◌", "warning"),
    ServerState.READY: ("●", "success"),
    ServerState.EXTERNAL: ("●", "success"),
    ServerState.STOPPING: ("◌", "warning"),
    ServerState.STOPPED: ("○", "text-muted"),
    ServerState.EXITED: ("✗", "error"),
    ServerState.CRASHED: ("✗", "error"),
    ServerState.ERROR: ("✗", "error"),
}
#: For a state this table does not know (a controller written elsewhere).
UNKNOWN_LOOK = ("?", "text-muted")


def state_look(state: str) -> tuple[str, str]:
    """The mark and theme variable of ``state`` (a :class:`ServerState` or its value)."""
    try:
        return STATE_LOOK[ServerState(state)]
    except ValueError:
        return UNKNOWN_LOOK
