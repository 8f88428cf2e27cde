"""``keep_alive``: a server o1tui started stays up after o1tui quits, and the next o1tui attaches.

The server runs under :mod:`backends.keeper`, which stops it after ``keep_alive`` without
requests once o1tui is gone. Once the server answers, o1tui writes a record of it — port,
served model, the keeper's process id and start time, and the API key — to
``runtime_dir()/server-PORT.json``, a file only the user can read (0600, in a 0700 folder). The
next o1tui on that port reads it and attaches in well under a second, when the socket on the
port is the keeper's server's (busy or not); the key never goes anywhere else. The keeper
removes the record when the server stops. A record whose keeper is gone is stale: :func:`attach`
stops whatever the keeper's process group left running, removes the record and o1tui goes on
as if there were none.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from backends import trust
from backends.engines import LaunchSpec
from backends.errors import BackendError
from backends.supervisor import group_members, probe

KEEPER = str(Path(__file__).with_name("keeper.py"))
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")


class BadDuration(BackendError, ValueError):
    """A ``keep_alive`` that is not a duration."""


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``90``, ``90s``, ``10m``, ``1h30m``, ``2d``; ``0`` means off."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        compact = str(text).strip().lower().replace(" ", "")
        parts = _PART.findall(compact)
        if not compact or "".join(n + u for n, u in parts) != compact:
            raise BadDuration(f"not a duration: {text!r} (examples: 0, 90s, 10m, 1h30m)")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < 0:
        raise BadDuration(f"a duration cannot be negative: {text!r}")
    return seconds


def state_path(folder: Path, port: int) -> Path:
    return Path(folder) / f"server-{port}.json"


@dataclass(frozen=True)
class KeptServer:
    """A record of a kept-warm server (what the next o1tui needs to attach)."""

    port: int
    host: str
    engine: str
    model: str  #: the served name
    display: str  #: the model as the user knows it
    api_key: str
    pid: int  #: the keeper: the server's process-group leader
    started: str  #: the keeper's start time (``/proc/PID/stat``), so a reused pid is caught
    keep_alive_s: float

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


def keeper_argv(spec: LaunchSpec, idle_s: float, state: Path, log: Path | None) -> LaunchSpec:
    """``spec`` run under :mod:`backends.keeper` (same environment, same key handling)."""
    from dataclasses import replace

    args = [sys.executable, KEEPER, "--idle-s", f"{idle_s:g}", "--port", str(spec.port)]
    args += ["--state", str(state), *(["--log", str(log)] if log else []), "--", *spec.argv]
    return replace(spec, argv=tuple(args))


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``None``: no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return None
        return ""  # alive, start time unknown (no /proc)
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


def write_state(path: Path, kept: KeptServer) -> None:
    """Write the record readable by the user alone: a fresh temporary file (``mkstemp``:
    ``O_EXCL``, 0600, a name no one can guess, so no planted link is followed) in the same
    folder, then renamed over ``path`` (a rename replaces a link, never writes through it)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(kept), fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_state(path: Path) -> KeptServer | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, encoding="utf-8") as fh:
            return KeptServer(**json.load(fh))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        path.unlink(missing_ok=True)  # unreadable, or a link: nothing can attach with it
        return None


def keeper_alive(kept: KeptServer) -> bool:
    """Whether the record's keeper still runs (the same process: its start time matches)."""
    started = process_start(kept.pid)
    return started is not None and (started == "" or started == kept.started)


def serves_port(pgid: int, port: int) -> bool | None:
    """Whether the socket listening on ``port`` belongs to a process of group ``pgid`` (the
    keeper's: the server is in it); ``None`` where ``/proc`` cannot tell."""
    found = trust.listeners(port)
    if found is None or not Path("/proc").is_dir():
        return None
    inodes = {s.inode for s in found}
    return any(inodes & trust.socket_inodes(pid) for pid in group_members(pgid))


def stop_orphans(kept: KeptServer, grace_s: float = 10.0) -> bool:
    """Stop what is left of a kept server whose keeper is gone (killed with SIGKILL): the
    processes of the keeper's group that are the user's. Returns whether any were found.

    Only when no process has the keeper's pid: a pid is not reused while its process group has
    members, so the group is then the keeper's; a live process with that pid (a reused one) means
    the keeper's group ended long ago, and the group of that number is someone else's."""
    if process_start(kept.pid) is not None:
        return False
    mine = [pid for pid in group_members(kept.pid) if _owner(pid) == os.getuid()]
    if not mine:
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in mine:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            mine = [pid for pid in mine if pid in group_members(kept.pid)]
            if not mine:
                return True
            time.sleep(0.1)
    return True


def _owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def attach(folder: Path, host: str, port: int) -> KeptServer | None:
    """The kept server on ``port`` when its record is valid: its keeper runs and the socket on
    the port is its server's. A busy server is alive: it is attached without asking it anything
    (a server that works on one request at a time answers nothing else meanwhile).

    A record is stale only when its keeper is gone; then whatever its group left running is
    stopped (it would hold the port and the GPU with a key no one has), and the record removed.
    Returns ``None`` when there is nothing to attach to.
    """
    path = state_path(folder, port)
    kept = read_state(path)
    if kept is None:
        return None
    if not keeper_alive(kept):
        stop_orphans(kept)
        path.unlink(missing_ok=True)
        return None
    if kept.host != host:
        return None
    ours = serves_port(kept.pid, port)
    if ours is None:  # no /proc: the server must answer with its key and model
        found = probe(host, port, kept.api_key)
        ours = found.kind == "ready" and kept.model in found.models
    return kept if ours else None


def record(
    folder: Path, spec: LaunchSpec, pid: int, display: str, keep_alive_s: float
) -> KeptServer:
    """Write the record of a server that just became ready under the keeper ``pid``."""
    kept = KeptServer(
        spec.port,
        spec.host,
        spec.engine,
        spec.served_name,
        display,
        spec.api_key or "",
        pid,
        process_start(pid) or "",
        keep_alive_s,
    )
    write_state(state_path(folder, spec.port), kept)
    return kept


def left_running(port: int, pid: int, model: str, keep_alive_s: float) -> str:
    """What o1tui says when it quits and leaves a server to its keeper: for how long, and how
    to stop it now."""
    return (
        f"the server on port {port} ({model}) was left running: it stops after "
        f"{describe_duration(keep_alive_s)} without requests, or now with: kill {pid}"
    )


def describe_duration(seconds: float) -> str:
    """``90 s``, ``5 min``, ``1 h 30 min``, ``2 d``: as a person says it."""
    whole = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size} {unit}")
            whole %= size
    return " ".join(parts) or "0 s"
