"""Runs a replica set: LMDeploy's ``serve proxy`` and N ``serve api_server`` replicas behind it,
as one process group that o1tui supervises like one server.

o1tui's supervisor starts this program in a new session; the proxy and the replicas are its
children in the same process group, so the supervisor's usual stop (SIGTERM to the group, then
SIGKILL), the keeper of ``keep_alive`` and the signal handling cover the whole set. The plan
(each child's argv, environment and port) comes as JSON in :data:`PLAN_ENV`; the API key comes
in ``key_env`` and is handed to each child in its own environment (the children start through
``keyed_exec.py``, which puts it into LMDeploy's ``--api-keys`` inside the process): no argv of
the set holds it.

What it does:

1. starts the proxy and every replica at once;
2. once the proxy answers ``/nodes/status``, adds each replica to the proxy (``/nodes/add`` with its URL, its model
   list and the key) as soon as it serves (``/v1/models`` with the key). Not ``--proxy-url``:
   LMDeploy's api_server registers with no key, and o1tui's proxy wants one on ``/nodes``
   (:mod:`backends.proxy_guard`);
3. prints :data:`READY_LINE` once every replica is ready and registered. A replica that exits
   first fails the start: its own error line, prefixed ``ERROR: replica i/N``, then exit 1;
4. while serving: a replica that exits is reported and removed from the proxy (``/nodes/remove``:
   the real proxy drops a dead node only at its 90 s heart beat), and the others carry on; when
   none is left, or the proxy exits, the set exits 1. Should the proxy's ``/nodes`` routes answer
   without the key (an LMDeploy the guard does not know), any local user could add a node: then
   every node that is not one of the set's replicas is removed and reported;
5. SIGTERM, SIGINT or SIGHUP: every child gets SIGTERM, SIGKILL after a grace period.

Each child's output is passed on prefixed ``proxy | `` or ``replica i/N | ``; o1tui reads the
start-up stages and the replicas' states from those lines (:mod:`backends.replicas`).

Standard library only, plus ``stages.py`` and ``keeper.py`` beside it; run by path.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

if __package__:
    from backends.keeper import die_with_parent
    from backends.stages import failure_line
else:  # run by path: this file's folder is sys.path[0]
    from keeper import die_with_parent  # type: ignore[import-not-found, no-redef]
    from stages import failure_line  # type: ignore[import-not-found, no-redef]

PLAN_ENV = "O1TUI_REPLICA_PLAN"
#: What the set prints once every replica serves and is registered with the proxy.
READY_LINE = "o1tui replicas: every replica is ready and registered with the proxy"
#: The prefix of the set's own report lines (o1tui reads the replicas' states from them).
REPORT = "o1tui replicas: "
POLL_S = 0.25
#: While serving: how soon a replica's exit is seen (and the proxy stops sending it requests).
SERVE_POLL_S = 0.1
GRACE_S = 10.0
#: How often, while serving, the proxy's node list is checked for strangers.
WATCH_S = 2.0


@dataclass
class Child:
    """One process of the set."""

    name: str  #: ``proxy`` or ``replica i/N``
    argv: list[str]
    env: dict[str, str]
    port: int
    proc: subprocess.Popen[bytes] | None = None
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None
    ready: bool = False
    registered: bool = False
    gone: bool = False  #: its exit was reported

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


_out_lock = threading.Lock()


def say(line: str) -> None:
    """One line to our output; o1tui may be gone (a kept set, ``serve | true``): never fatal."""
    with _out_lock:
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass


def report(text: str) -> None:
    say(REPORT + text)


def relay(child: Child) -> None:
    """Pass the child's output on, prefixed with its name; keep the last lines for errors."""
    assert child.proc is not None and child.proc.stdout is not None
    buf = b""
    fd = child.proc.stdout.fileno()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk.replace(b"\r", b"\n")
        *complete, buf = buf.split(b"\n")
        for raw in complete:
            text = raw.decode("utf-8", "replace").rstrip()
            if text:
                child.lines = (child.lines + [text])[-60:]
                say(f"{child.name} | {text}")
    if buf.strip():
        text = buf.decode("utf-8", "replace").rstrip()
        child.lines = (child.lines + [text])[-60:]
        say(f"{child.name} | {text}")


def call(
    port: int, method: str, path: str, key: str | None, body: object = None, timeout: float = 2.0
) -> tuple[int, object]:
    """One request to ``127.0.0.1:port``; the JSON answer (or None; callers check its shape).
    Raises OSError."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read(4_000_000)
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, None
    except http.client.HTTPException as err:
        raise OSError(str(err)) from err
    finally:
        conn.close()


class ReplicaSet:
    """The proxy and the replicas of one plan."""

    # Any: the plan is JSON from the environment, written by backends.replicas (this program
    # runs by path, standard library only, and shares no types with it).
    def __init__(self, plan: dict[str, Any], key: str | None, key_env: str = "") -> None:
        self.key = key
        self.key_env = key_env
        self.model = str(plan["model"])
        self.proxy = Child(
            "proxy", plan["proxy"]["argv"], plan["proxy"]["env"], plan["proxy"]["port"]
        )
        count = len(plan["replicas"])
        self.replicas = [
            Child(f"replica {i + 1}/{count}", r["argv"], r["env"], r["port"])
            for i, r in enumerate(plan["replicas"])
        ]
        self.stop_requested = threading.Event()
        self._pdeath: Callable[[], None] | None = die_with_parent()

    # -- children --
    def spawn(self, child: Child) -> None:
        env = dict(os.environ)
        env.update(child.env)
        if self.key and self.key_env:
            env[self.key_env] = self.key  # keyed_exec.py reads it, then removes it
        child.proc = subprocess.Popen(
            child.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            close_fds=True,
            preexec_fn=self._pdeath,  # the set never outlives this runner, even a SIGKILLed one
        )
        child.reader = threading.Thread(target=relay, args=(child,), daemon=True)
        child.reader.start()

    def everyone(self) -> list[Child]:
        return [self.proxy, *self.replicas]

    def stop_all(self) -> None:
        alive = [c for c in self.everyone() if c.proc is not None and c.proc.poll() is None]
        for child in alive:
            with contextlib.suppress(OSError):
                child.proc.terminate()  # type: ignore[union-attr]
        deadline = time.monotonic() + GRACE_S
        for child in alive:
            assert child.proc is not None
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
        for child in self.everyone():
            if child.reader is not None:
                child.reader.join(timeout=1.0)  # their last lines say how they stopped

    def exit_line(self, child: Child) -> str:
        assert child.proc is not None
        if child.reader is not None:
            child.reader.join(timeout=1.0)
        why = failure_line(child.lines)
        code = child.proc.returncode
        return f"{why} (exit code {code})" if why else f"exit code {code}"

    # -- the proxy's node list --
    def node_urls(self, key: str | None = "") -> set[str] | None:
        """The proxy's nodes (``None``: no answer); asked with the key unless ``key`` is given."""
        try:
            status, nodes = call(
                self.proxy.port, "GET", "/nodes/status", self.key if key == "" else key
            )
        except OSError:
            return None
        return set(nodes) if status == 200 and isinstance(nodes, dict) else None

    def add_node(self, child: Child) -> None:
        body = {"url": child.url, "status": {"models": [self.model]}}
        with contextlib.suppress(OSError):
            call(self.proxy.port, "POST", "/nodes/add", self.key, body)

    def remove_node(self, url: str) -> None:
        with contextlib.suppress(OSError):
            call(self.proxy.port, "POST", "/nodes/remove", self.key, {"url": url})

    def serves(self, child: Child) -> bool:
        try:
            status, body = call(child.port, "GET", "/v1/models", self.key)
        except OSError:
            return False
        return status == 200 and isinstance(body, dict)

    # -- the life of the set --
    def start(self) -> int:
        """Start everything and wait until it serves; 0 when ready, else the exit status.

        The proxy and the replicas start together: the proxy's imports take seconds that the
        replicas' model loading hides."""
        self.spawn(self.proxy)
        for child in self.replicas:
            self.spawn(child)
            report(f"{child.name} starting on port {child.port}")
        proxy_up = False
        while not all(c.registered for c in self.replicas):
            for child in self.replicas:
                assert child.proc is not None
                if child.proc.poll() is not None:
                    say(f"ERROR: {child.name} failed to start: {self.exit_line(child)}")
                    return 1
            if self.proxy.proc is not None and self.proxy.proc.poll() is not None:
                say(f"ERROR: the proxy failed to start: {self.exit_line(self.proxy)}")
                return 1
            if not proxy_up and self.node_urls() is not None:
                proxy_up = True
                report(f"proxy on port {self.proxy.port}")
            if proxy_up:
                self._check_registration()
            if self.stop_requested.wait(POLL_S):
                return 0
        say(READY_LINE)
        return 0

    def _check_registration(self) -> None:
        urls = self.node_urls() or set()
        for child in self.replicas:
            if child.registered:
                continue
            if child.ready and child.url in urls:
                child.registered = True
                report(f"{child.name} registered with the proxy")
            elif not child.ready and self.serves(child):
                child.ready = True
                report(f"{child.name} ready on port {child.port}")
                self.add_node(child)

    def nodes_open(self) -> bool:
        """Whether the proxy's ``/nodes`` routes answer without the key (LMDeploy's default)."""
        return self.node_urls(key=None) is not None

    def serve(self) -> int:
        """Watch the set until a stop is asked (0) or nothing can serve any more (1)."""
        ours = {c.url for c in self.replicas}
        watch = self.nodes_open()
        if watch:
            report(
                "the proxy's /nodes routes answer without the key: nodes that are not o1tui's "
                "replicas will be removed"
            )
        next_watch = time.monotonic()
        while not self.stop_requested.wait(SERVE_POLL_S):
            if self.proxy.proc is not None and self.proxy.proc.poll() is not None:
                say(f"ERROR: the proxy exited: {self.exit_line(self.proxy)}")
                return 1
            for child in self.replicas:
                if child.gone or child.proc is None or child.proc.poll() is None:
                    continue
                child.gone = True
                self.remove_node(child.url)
                left = sum(1 for c in self.replicas if not c.gone)
                report(
                    f"{child.name} exited: {self.exit_line(child)}; the proxy no longer sends it "
                    f"requests; {left} of {len(self.replicas)} replicas serve"
                )
            if all(c.gone for c in self.replicas):
                say("ERROR: every replica has exited")
                return 1
            if watch and time.monotonic() >= next_watch:
                next_watch = time.monotonic() + WATCH_S
                for url in sorted((self.node_urls() or set()) - ours):
                    self.remove_node(url)
                    report(f"removed {url} from the proxy: not one of o1tui's replicas")
        return 0


def main() -> int:
    plan = json.loads(os.environ.pop(PLAN_ENV))
    key_env = plan.get("key_env") or ""
    key = os.environ.pop(key_env, None) if key_env else None
    replica_set = ReplicaSet(plan, key, key_env)

    def on_signal(signum: int, frame: object) -> None:
        replica_set.stop_requested.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        code = replica_set.start()
        if code == 0 and not replica_set.stop_requested.is_set():
            code = replica_set.serve()
    finally:
        replica_set.stop_all()
    return code


if __name__ == "__main__":
    sys.exit(main())
