"""The one supervisor for model-server subprocesses (LMDeploy, llama.cpp, the stand-in).

It starts a :class:`~backends.engines.LaunchSpec` in its own session (so the server and the
engine processes it spawns share one process group), captures its output into a log file and
a ring buffer of the last lines, polls it until it serves, notices when it dies, and stops
the whole group: SIGTERM, a grace period, then SIGKILL, so nothing is left behind.

The API key never reaches the log: the command line is written with the key replaced by
``***``, and so is any output line that contains it. Output lines are cleaned of terminal
control sequences before they are stored (the app shows them; a log may be ``cat``-ed).

Threads: a reader thread drains the output, a waiter thread reaps the process. ``on_line``
and ``on_exit`` are called from those threads; a UI must hand them to its own loop.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from backends import trust
from backends.engines import LaunchSpec
from backends.errors import BackendError
from backends.locations import ensure_private_dir
from backends.replicas import ReplicaBoard, ReplicaInfo
from backends.sanitize import clean
from backends.signals import termination_deferred
from backends.stages import StageTracker, failure_line
from backends.state import ServerState

RING_LINES = 1000
STOP_GRACE_S = 10.0


class ServerStartError(BackendError):
    """The server did not become ready; carries the last lines of its log."""

    def __init__(
        self,
        message: str,
        *,
        log_tail: list[str] | None = None,
        returncode: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        super().__init__(message)
        self.log_tail = list(log_tail or [])
        self.returncode = returncode
        self.log_path = log_path

    def details(self, lines: int = 20) -> str:
        """The message, then the server's last log lines (already cleaned)."""
        out = [str(self)]
        if self.log_tail:
            out.append("last lines of the server log:")
            out += ["  " + line for line in self.log_tail[-lines:]]
        if self.log_path:
            out.append(f"full log: {self.log_path}")
        return "\n".join(out)


class PortInUse(ServerStartError):
    """The port is held by something that is not a usable OpenAI-compatible server."""


# --- probing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """What answered on a port.

    ``kind``: ``down`` (nothing listens), ``starting`` (503: loading), ``ready`` (``/v1/models``
    answered with a model list), ``auth`` (401/403: an OpenAI server that wants another key),
    ``other`` (something that is not an OpenAI-compatible server).
    """

    kind: str
    models: tuple[str, ...] = ()
    detail: str = ""


def _get(
    host: str, port: int, path: str, api_key: str | None, timeout_s: float
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(1_000_000)
    finally:
        conn.close()


def probe(
    host: str,
    port: int,
    api_key: str | None = None,
    timeout_s: float = 2.0,
    *,
    health_path: str | None = "/health",
) -> Probe:
    """Ask ``health_path`` (when given) then ``/v1/models`` what serves on ``host:port``;
    never raises."""
    try:
        if health_path is not None:
            status, _ = _get(host, port, health_path, None, timeout_s)
            if status == 503:
                return Probe("starting", detail="health: 503")
        status, body = _get(host, port, "/v1/models", api_key, timeout_s)
    except ConnectionRefusedError:
        return Probe("down")
    except (OSError, http.client.HTTPException) as err:
        return Probe("other", detail=f"{type(err).__name__}: {err}")
    if status in (401, 403):
        return Probe("auth", detail=f"HTTP {status}")
    if status == 503:
        return Probe("starting", detail="models: 503")
    if status != 200:
        return Probe("other", detail=f"/v1/models answered HTTP {status}")
    try:
        data = json.loads(body)
        models = tuple(str(m["id"]) for m in data["data"])
    except (ValueError, KeyError, TypeError):
        return Probe("other", detail="/v1/models did not answer a model list")
    return Probe("ready", models)


def port_is_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound right now by a server.

    SO_REUSEADDR as uvicorn and llama.cpp set it: a port whose last server stopped seconds ago
    sits in TIME_WAIT, which servers may bind but a plain bind() refuses.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free (another process may still take it before the server does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# --- process groups -------------------------------------------------------------------------


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: signal 0 tells whether anything of the group is left
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[0] != "Z" and fields[2] == str(pgid):
            found.append(int(entry.name))
    return found


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


_LINE_SPLIT = re.compile(rb"\r\n|\r|\n")  # progress bars redraw with \r: each redraw is a line


@dataclass
class _Log:
    """The ring buffer and the log file, written from the reader and waiter threads."""

    ring: collections.deque[str]
    path: Path | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    fd: int | None = None
    #: The file's lines carry seconds since start: where a slow start-up spends its time.
    t0: float = field(default_factory=time.monotonic)

    def open(self) -> None:
        if self.path is not None:
            ensure_private_dir(self.path.parent)  # LocationError: one line naming the folder
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                self.fd = os.open(self.path, flags, 0o600)
            except OSError as err:
                raise ServerStartError(
                    f"cannot write the server log {self.path}: {err.strerror or err}"
                ) from None

    def write(self, line: str, *, ring: bool = True) -> None:
        with self.lock:
            if ring:
                self.ring.append(line)
            if self.fd is not None:
                stamp = f"[{time.monotonic() - self.t0:7.1f}s] " if ring else ""
                os.write(self.fd, (stamp + line + "\n").encode("utf-8", "replace"))

    def lines(self) -> list[str]:
        with self.lock:
            return list(self.ring)

    def close(self) -> None:
        with self.lock:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


#: Every server this process started and has not stopped (see :func:`stop_all_servers`).
_STARTED: weakref.WeakSet[ServerProcess] = weakref.WeakSet()


def stop_all_servers() -> None:
    """Stop every server this process started: the last resort of a command interrupted at a
    moment when no handle was at hand (a signal between a start and its ``try``)."""
    for process in list(_STARTED):
        process.stop()


class ServerProcess:
    """One supervised server process (and its process group)."""

    def __init__(
        self,
        spec: LaunchSpec,
        *,
        log_dir: str | os.PathLike[str] | None = None,
        ring_lines: int = RING_LINES,
        on_line: Callable[[str], None] | None = None,
        on_exit: Callable[[int], None] | None = None,
        base_env: Mapping[str, str] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.on_line = on_line
        #: Called with what a replica set says the user must hear (a replica exited).
        self.on_notice = on_notice
        self.on_exit = on_exit
        self._base_env = dict(os.environ if base_env is None else base_env)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(log_dir) / f"{spec.engine}-{spec.port}-{stamp}.log" if log_dir else None
        self._log = _Log(collections.deque(maxlen=ring_lines), path)
        self._proc: subprocess.Popen[bytes] | None = None
        self._state = ServerState.NEW
        self._returncode: int | None = None
        self._exited = threading.Event()
        # Re-entrant: a stop called again from the thread already stopping returns at once
        # instead of waiting on itself.
        self._stop_lock = threading.RLock()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.started_at: float | None = None  #: time.monotonic() at start
        self.ready_at: float | None = None
        #: The start-up's stages, read from the output (backends.stages); for a replica set
        #: (``--dp``) the board of its replicas, which also follows them while serving.
        self.stages: StageTracker | ReplicaBoard = self._tracker(None)
        self._marker_seen = threading.Event()

    def _tracker(self, started_at: float | None) -> StageTracker | ReplicaBoard:
        if self.spec.replicas:
            return ReplicaBoard(self.spec.replicas, started_at)
        if started_at is None:
            return StageTracker(self.spec.engine)
        return StageTracker(self.spec.engine, started_at=started_at)

    # -- facts --
    @property
    def replicas(self) -> list[ReplicaInfo]:
        """The replicas of a replica set and their states (empty for one server)."""
        board = self.stages
        return list(board.replicas) if isinstance(board, ReplicaBoard) else []

    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def pgid(self) -> int | None:
        """The process group: the server is its leader (started in a new session)."""
        return self.pid

    @property
    def returncode(self) -> int | None:
        return self._returncode

    @property
    def running(self) -> bool:
        return self._proc is not None and not self._exited.is_set()

    @property
    def log_path(self) -> Path | None:
        return self._log.path

    @property
    def base_url(self) -> str:
        return self.spec.base_url

    @property
    def uptime_s(self) -> float | None:
        if self.started_at is None:
            return None
        return time.monotonic() - self.started_at

    def poll(self) -> int | None:
        """The exit code once the process has ended, else ``None``."""
        return self._returncode

    def lines(self) -> list[str]:
        """The last lines of output (up to the ring size), cleaned and redacted."""
        return self._log.lines()

    def tail(self, n: int = 30) -> list[str]:
        return self._log.lines()[-n:]

    # -- life cycle --
    def start(self) -> None:
        """Start the process in a new session; returns at once (see :meth:`wait_ready`)."""
        if self._proc is not None:
            raise RuntimeError("server already started")
        self._log.open()
        self._log.write(f"# command: {self.spec.display()}", ring=False)
        for note in self.spec.notes:
            self._log.write(f"o1tui: {note}")
        env = {**self._base_env, **self.spec.env}
        try:
            self._proc = subprocess.Popen(
                list(self.spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # own process group: the engine's children go with it
                close_fds=True,
            )
        except OSError as err:
            self._state = ServerState.EXITED
            self._log.close()
            raise ServerStartError(
                f"could not run {self.spec.argv[0]}: {err.strerror or err}"
            ) from err
        _STARTED.add(self)
        self.started_at = time.monotonic()
        self.stages = self._tracker(self.started_at)
        self._state = ServerState.STARTING
        for target, name in ((self._read, "reader"), (self._wait, "waiter")):
            thread = threading.Thread(
                target=target, name=f"server-{name}-{self._proc.pid}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            *complete, buf = _LINE_SPLIT.split(buf)
            for raw in complete:
                self._emit(raw)
            if len(buf) > 65536:  # a line with no end: keep the log moving
                self._emit(buf)
                buf = b""
        if buf:
            self._emit(buf)

    def _emit(self, raw: bytes) -> None:
        line = clean(self.spec.redact(raw.decode("utf-8", "replace"))).rstrip()
        if not line:
            return
        self._log.write(line)
        if self.spec.ready_marker is not None and line == self.spec.ready_marker:
            self._marker_seen.set()
        if self._state == ServerState.STARTING or isinstance(self.stages, ReplicaBoard):
            self.stages.feed(line)
        notice = ReplicaBoard.notice(line) if isinstance(self.stages, ReplicaBoard) else None
        if notice is not None and self.on_notice is not None:
            # A UI callback must not kill the log reader.
            with contextlib.suppress(Exception):
                self.on_notice(notice)
        if self.on_line is not None:
            with contextlib.suppress(Exception):
                self.on_line(line)

    def _wait(self) -> None:
        assert self._proc is not None
        code = self._proc.wait()
        self._returncode = code
        unexpected = self._state not in (ServerState.STOPPING, ServerState.STOPPED)
        if unexpected:
            self._state = ServerState.EXITED
            # The leader is gone; its engine children would serve no one: take the group down.
            self._terminate_group(grace_s=2.0)
        self._log.write(f"# exited with code {code}", ring=False)
        self._exited.set()
        if unexpected and self.on_exit is not None:
            with contextlib.suppress(Exception):
                self.on_exit(code)

    def wait_ready(
        self,
        timeout_s: float | None = None,
        *,
        poll_interval_s: float = 0.25,
        on_poll: Callable[[float, Probe], None] | None = None,
    ) -> None:
        """Block until ``/v1/models`` answers with the key.

        Raises :class:`ServerStartError` (with the log tail) when the process exits first or
        the deadline passes; in both cases the process group is stopped before raising.
        """
        if self._proc is None:
            raise RuntimeError("server not started")
        timeout = self.spec.ready_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while True:
            if self._exited.wait(0):
                self._exited_during_start()
            result = (
                probe(
                    self.spec.host,
                    self.spec.port,
                    self.spec.api_key,
                    timeout_s=min(2.0, timeout),
                    health_path=self.spec.health_path,
                )
                if self._listening_is_ours()
                else Probe("down", detail="another server of yours holds the port")
            )
            elapsed = time.monotonic() - (self.started_at or time.monotonic())
            if on_poll is not None:
                on_poll(elapsed, result)
            if result.kind == "ready" and (
                self.spec.ready_marker is None or self._marker_seen.is_set()
            ):
                if self._exited.is_set():  # answered by someone else on a port we never bound
                    self._exited_during_start()
                self._state = ServerState.READY
                self.ready_at = time.monotonic()
                self.stages.finish()
                return
            if time.monotonic() >= deadline:
                self.stop(grace_s=5.0)
                raise ServerStartError(
                    f"{self.spec.engine} server not ready after {timeout:.0f} s (stopped it)",
                    log_tail=self.tail(),
                    returncode=self._returncode,
                    log_path=self.log_path,
                )
            if self._exited.wait(poll_interval_s):
                self._exited_during_start()

    def _listening_is_ours(self) -> bool:
        """Whether what listens on the port (if anything) is this server's process group: a
        server another process started there meanwhile must get neither the key nor, later,
        the user's questions. Another user's is an error at once (the server is stopped);
        one of the user's own is waited out (ours fails to bind, and says so). True where
        ``/proc`` cannot tell."""
        found = trust.listeners(self.spec.port)
        if not found or self.pgid is None or not Path("/proc").is_dir():
            return True
        ours: set[int] = set()
        for pid in group_members(self.pgid):
            ours |= trust.socket_inodes(pid)
        strangers = [s for s in found if s.inode not in ours]
        others = sorted({s.uid for s in strangers} - {os.getuid()})
        if others:
            self.stop(grace_s=5.0)
            raise PortInUse(
                f"port {self.spec.port} was taken by {trust.user_name(others[0])} while the "
                "server started (stopped it): choose another --port",
                log_tail=self.tail(),
                returncode=self._returncode,
                log_path=self.log_path,
            )
        return not strangers or any(s.inode in ours for s in found)

    def _exited_during_start(self) -> None:
        # Give the reader a moment to drain the last lines: they usually say why.
        for thread in self._threads:
            if thread.name.startswith("server-reader"):
                thread.join(timeout=1.0)
        # The server's own words first (the header shows one line), then the exit code.
        why = failure_line(self.tail(60))
        raise ServerStartError(
            (f"{why} ({self.spec.engine} server exited during start-up, code {self._returncode})")
            if why
            else f"{self.spec.engine} server exited during start-up (exit code {self._returncode})",
            log_tail=self.tail(),
            returncode=self._returncode,
            log_path=self.log_path,
        )

    def _terminate_group(self, grace_s: float) -> None:
        pgid = self.pgid
        if pgid is None:
            return
        _killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if self._returncode is not None and not group_members(pgid):
                return
            time.sleep(0.05)
        _killpg(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM the process group, wait ``grace_s``, SIGKILL what is left. Idempotent.

        Returns the exit code (``None`` if the server was never started).
        """
        with termination_deferred(), self._stop_lock:
            if self._proc is None:
                return None
            if self._stopping:  # called again from inside a stop on this thread
                return self._returncode
            self._stopping = True
            try:
                return self._stop(grace_s)
            finally:
                self._stopping = False
                _STARTED.discard(self)

    def _stop(self, grace_s: float) -> int | None:
        assert self._proc is not None
        if self._state not in (ServerState.STOPPED, ServerState.EXITED):
            self._state = ServerState.STOPPING
        if self.pgid is not None and (not self._exited.is_set() or group_members(self.pgid)):
            self._terminate_group(grace_s)
        self._exited.wait(5.0)
        for thread in self._threads:
            thread.join(timeout=2.0)
        if self._state == ServerState.STOPPING:
            self._state = ServerState.STOPPED
        self._log.close()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        return self._returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
