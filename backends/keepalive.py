"""``keep_alive``: a server o1tui started stays up after o1tui quits, and the next o1tui attaches.

The server runs under :mod:`backends.keeper`, which stops it after ``keep_alive`` without
requests once o1tui is gone. Once the server answers, o1tui writes a record of it — port,
served model, the keeper's process id and start time, and the API key — to
``runtime_dir()/server-PORT.json``, a file only the user can read (0600, in a 0700 folder). The
next o1tui on that port reads it and attaches in well under a second; the key never goes
anywhere else. The keeper removes the record when the server stops. A record whose process is
gone, or whose port now answers something else (or not with that key and model), is stale:
:func:`attach` removes it and o1tui goes on as if there were none.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from backends.engines import LaunchSpec
from backends.errors import BackendError
from backends.supervisor import probe

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
    """Write the record readable by the user alone (created 0600, replaced atomically)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(kept), fh)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_state(path: Path) -> KeptServer | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return KeptServer(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        path.unlink(missing_ok=True)  # unreadable: nothing can attach with it
        return None


def attach(folder: Path, host: str, port: int) -> KeptServer | None:
    """The kept server on ``port`` if its record is valid and it answers with its key and model;
    else ``None``, with a stale record removed."""
    path = state_path(folder, port)
    kept = read_state(path)
    if kept is None:
        return None
    started = process_start(kept.pid)
    alive = started is not None and (started == "" or started == kept.started)
    if alive and kept.host == host:
        found = probe(host, port, kept.api_key)
        if found.kind == "ready" and kept.model in found.models:
            return kept
    path.unlink(missing_ok=True)
    return None


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
