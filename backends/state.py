"""The one enum of a model server's states, from the process up to what the app shows.

The supervisor moves a process through NEW → STARTING → READY → STOPPING → STOPPED (or
EXITED when it ends on its own); the manager reports STARTING, READY, EXTERNAL (a server we
reuse), STOPPING, STOPPED and CRASHED; the app adds NONE (nothing yet), CONNECTING and ERROR
(an endpoint that does not answer). The status header and the server screen show the value.
"""

from __future__ import annotations

import enum


class ServerState(str, enum.Enum):
    """A server's state; a ``str`` so ``state == "ready"`` and JSON keep working."""

    NONE = "none"  #: no server yet
    NEW = "new"  #: a process not started yet
    CONNECTING = "connecting"  #: asking an endpoint what it serves
    STARTING = "starting"  #: launched, not answering yet
    READY = "ready"  #: answering, started by us
    EXTERNAL = "external"  #: answering, not ours (reused, or ``--endpoint``)
    STOPPING = "stopping"
    STOPPED = "stopped"  #: stopped by us
    EXITED = "exited"  #: the process ended on its own (crash, or start-up failure)
    CRASHED = "crashed"  #: a managed server that failed to start or died
    ERROR = "error"  #: an endpoint that cannot be used

    def __str__(self) -> str:
        return self.value

    @property
    def serving(self) -> bool:
        """Whether requests can go to the server now."""
        return self in (ServerState.READY, ServerState.EXTERNAL)
