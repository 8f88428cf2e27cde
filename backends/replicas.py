"""``--dp N``: N LMDeploy ``api_server`` replicas behind LMDeploy's own ``serve proxy``.

:func:`replica_set_command` turns one server's settings into the launch of a whole set: the proxy
on the server's port, N replicas on free loopback ports, each with ``--tp`` GPUs of its own from the visible ones (``CUDA_VISIBLE_DEVICES``, else ``nvidia-smi``). More
replicas than GPU slots share them, each with its share of the KV cache
(``--cache-max-entry-count``), and the server's log says so. The set runs as one process,
:mod:`backends.replica_runner`, so the supervisor treats it as one server (one process group,
one stop, one key, one URL: the proxy's).

:class:`ReplicaBoard` reads that process's output: each replica's start-up stage (the slowest one
is the set's) and its state, for the start-up line and the server screen.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from backends.engines import (
    KEY_ENV,
    READY_TIMEOUT_S,
    EngineUnavailable,
    LaunchSpec,
    Program,
    ServerOptions,
    find_lmdeploy,
    lmdeploy_command,
    lmdeploy_proxy_command,
)
from backends.presets import ModelRef
from backends.replica_runner import PLAN_ENV, READY_LINE, REPORT
from backends.stages import StageTracker, StartProgress

RUNNER = str(Path(__file__).with_name("replica_runner.py"))
#: The most replicas one o1tui starts (one box has up to 8 GPUs; 64 already means 8 a GPU).
MAX_DP = 64
#: LMDeploy's own ``--cache-max-entry-count`` default (the share of free GPU memory the KV
#: cache takes); replicas sharing a GPU split it.
LMDEPLOY_CACHE_DEFAULT = 0.8


def visible_gpus(environ: Mapping[str, str] | None = None) -> list[str] | None:
    """The GPUs a replica may use: ``CUDA_VISIBLE_DEVICES`` when set, else every GPU
    ``nvidia-smi`` lists; ``None`` when neither says (a CPU box: the replicas share "it")."""
    environ = os.environ if environ is None else environ
    given = environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        ids = [g.strip() for g in given.split(",") if g.strip()]
        return ids or None
    from backends.gpu import query_gpus

    gpus = query_gpus()
    return [str(g.index) for g in gpus] if gpus else None


@dataclass(frozen=True)
class Placement:
    """Where each replica runs: its ``CUDA_VISIBLE_DEVICES`` (None: left as it is), and how many
    replicas share the busiest GPU slot (1: none share)."""

    devices: tuple[str | None, ...]
    share: int


def place(n: int, tp: int, visible: list[str] | None) -> Placement:
    """Spread ``n`` replicas of ``tp`` GPUs each over ``visible`` GPUs, round robin over slots
    of ``tp`` GPUs (fewer GPUs than ``tp``: one slot of all of them)."""
    tp = max(1, tp)
    if not visible:
        return Placement((None,) * n, n)
    slots = [visible[i * tp : (i + 1) * tp] for i in range(max(1, len(visible) // tp))]
    devices = tuple(",".join(slots[i % len(slots)]) for i in range(n))
    return Placement(devices, math.ceil(n / len(slots)))


def cache_share(base: float | None, share: int) -> float | None:
    """Each replica's ``--cache-max-entry-count`` when ``share`` replicas share a GPU."""
    if share <= 1:
        return base
    return round((LMDEPLOY_CACHE_DEFAULT if base is None else base) / share, 3)


def replica_set_command(
    model: ModelRef,
    opts: ServerOptions,
    api_key: str | None,
    dp: int,
    replica_ports: list[int],
    *,
    program: Program | None = None,
    environ: Mapping[str, str] | None = None,
) -> LaunchSpec:
    """The launch of a replica set: the proxy on ``opts.port``, replica ``i`` on
    ``replica_ports[i]``. Raises :class:`EngineUnavailable` when LMDeploy is missing or would
    show the key on a command line."""
    environ = os.environ if environ is None else environ
    program = program or find_lmdeploy()
    proxy = lmdeploy_proxy_command(opts.host, opts.port, api_key, program=program)
    placement = place(dp, opts.tp or 1, visible_gpus(environ))
    cache = cache_share(opts.cache_max_entry_count, placement.share)
    notes: list[str] = [
        f"--dp {dp}: {dp} LMDeploy api_server replicas behind LMDeploy's proxy on port "
        f"{opts.port}; replicas on ports {', '.join(map(str, replica_ports))}"
    ]
    if placement.share > 1:
        where = "the GPU" if len(set(placement.devices)) == 1 else "each GPU slot"
        notes.append(
            f"{placement.share} replicas share {where}: each gets --cache-max-entry-count "
            f"{cache:g} ({cache_share(opts.cache_max_entry_count, 1) or LMDEPLOY_CACHE_DEFAULT:g}"
            f" / {placement.share}) of the free GPU memory for its KV cache"
        )
    replicas = []
    for i, port in enumerate(replica_ports):
        ropts = replace(opts, port=port, cache_max_entry_count=cache)
        spec = lmdeploy_command(model, ropts, api_key, program=program)
        if spec.key_on_command_line:
            raise EngineUnavailable(
                f"{program.argv[0] if program else 'lmdeploy'} is not a Python script: o1tui "
                "cannot keep the key of --dp replicas off the command line"
            )
        env = dict(spec.env)
        env.pop(KEY_ENV, None)  # the runner hands each child the key itself
        device = placement.devices[i]
        if device is not None:
            env["CUDA_VISIBLE_DEVICES"] = device
        replicas.append({"argv": list(spec.argv), "env": env, "port": port})
        notes.append(
            f"replica {i + 1}/{dp}: GPU {device if device is not None else '(default)'}, "
            f"{spec.display()}"
        )
    notes += spec.notes
    proxy_env = {k: v for k, v in proxy.env.items() if k != KEY_ENV}
    plan = {
        "model": model.served_name,
        "key_env": KEY_ENV if api_key else "",
        "proxy": {"argv": list(proxy.argv), "env": proxy_env, "port": opts.port},
        "replicas": replicas,
    }
    env = {"PYTHONUNBUFFERED": "1", PLAN_ENV: json.dumps(plan)}
    if api_key:
        env[KEY_ENV] = api_key
    return LaunchSpec(
        "lmdeploy",
        (sys.executable, RUNNER),
        opts.host,
        opts.port,
        model.served_name,
        api_key,
        env,
        READY_TIMEOUT_S["lmdeploy"],
        notes=tuple(notes),
        health_path=None,
        replicas=dp,
        ready_marker=READY_LINE,
    )


_REPLICA_LINE = re.compile(r"^replica (\d+)/(\d+) \| (.*)$")
_REPORT_LINE = re.compile(
    re.escape(REPORT) + r"replica (\d+)/\d+ (starting on port (\d+)|ready on port|registered"
    r"|exited: (.*))"
)
_FAILED_LINE = re.compile(r"^ERROR: replica (\d+)/\d+ failed to start: (.*)$")


@dataclass
class ReplicaInfo:
    """One replica as the server screen lists it."""

    index: int  #: 1-based
    count: int
    port: int | None = None
    #: starting, loaded (answers, not added to the proxy yet), serving, failed, exited
    state: str = "starting"
    detail: str = ""  #: why it failed or exited
    stage: str = ""  #: while starting: its start-up stage (``weights 3/4``)

    @property
    def name(self) -> str:
        return f"replica {self.index}/{self.count}"

    def describe(self) -> str:
        """``replica 2/2 · port 40123 · starting · weights 3/4``, ``… · serving``."""
        port = f" · port {self.port}" if self.port else ""
        extra = self.detail or (self.stage if self.state == "starting" else "")
        return f"{self.name}{port} · {self.state}" + (f" · {extra}" if extra else "")


class ReplicaBoard:
    """Reads a replica set's output: each replica's state, and its start-up stages (a
    :class:`StageTracker` each). Has the tracker's ``feed``/``finish``/``progress``, so the
    supervisor uses it in a tracker's place."""

    def __init__(self, count: int, started_at: float | None = None) -> None:
        self.started_at = time.monotonic() if started_at is None else started_at
        self.replicas = [ReplicaInfo(i + 1, count) for i in range(count)]
        self.trackers = [StageTracker("lmdeploy", started_at=self.started_at) for _ in range(count)]

    def _at(self, index: str) -> int | None:
        i = int(index) - 1
        return i if 0 <= i < len(self.replicas) else None

    def feed(self, line: str) -> bool:
        """Read one (cleaned) line of the set's output; True when something moved."""
        match = _REPLICA_LINE.match(line)
        if match:
            i = self._at(match.group(1))
            if i is None or not self.trackers[i].feed(match.group(3)):
                return False
            self.replicas[i].stage = self.trackers[i].progress.label
            return True
        failed = _FAILED_LINE.match(line)
        if failed and (i := self._at(failed.group(1))) is not None:
            self.replicas[i].state, self.replicas[i].detail = "failed", failed.group(2)
            return True
        report = _REPORT_LINE.match(line)
        if not report or (i := self._at(report.group(1))) is None:
            return False
        info, what = self.replicas[i], report.group(2)
        if report.group(3):
            info.port = int(report.group(3))
        elif what.startswith("ready"):
            info.state = "loaded"
        elif what == "registered":
            info.state = "serving"
            self.trackers[i].finish()
        elif what.startswith("exited"):
            info.state, info.detail = "exited", report.group(4) or ""
        return True

    @staticmethod
    def notice(line: str) -> str | None:
        """What of a serving set's line the user must hear at once (a replica exited, a
        stranger's node removed from the proxy), without the set's prefix; else ``None``."""
        if line.startswith(REPORT) and (" exited: " in line or "from the proxy: " in line):
            return line[len(REPORT) :]
        return None

    def finish(self) -> None:
        for tracker in self.trackers:
            tracker.finish()

    @property
    def progress(self) -> StartProgress:
        """The slowest replica's start-up (the set is ready when it is), naming the replica."""
        at = min(range(len(self.trackers)), key=lambda i: self.trackers[i].progress.fraction)
        slowest = self.trackers[at].progress
        return replace(
            slowest,
            replica=(at + 1, len(self.trackers)),
            elapsed_s=time.monotonic() - self.started_at,
        )

    @property
    def serving(self) -> int:
        return sum(1 for r in self.replicas if r.state == "serving")
