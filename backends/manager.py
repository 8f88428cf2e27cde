"""From settings to a model that answers: reuse a server, or start one and wait for it.

:func:`start_backend` is what ``o1tui``, ``o1tui ask --engine`` and ``o1tui serve`` call. It
is three steps, each testable without a process:

- **plan** (:func:`plan_server`): the settings, read once into :class:`ResolvedSettings`,
  become a :class:`ServerPlan`: the engine (:func:`backends.engines.choose_engine`), the model
  (:func:`backends.presets.resolve`), host, port, replicas, keep-alive, whose key, warnings;
- **reuse** (:func:`look_at_port`, then :func:`reuse_server` deciding on what it found): a
  server already answering on the configured port is used when it is provably the user's (a
  kept-warm one whose keeper owns the port, or one whose listening socket the user owns;
  another user's is refused);
- **spawn** (:func:`spawn_server`): the engine's command (:func:`launch_spec`) started through
  the supervisor with a fresh API key (under the keeper when kept warm), waited for until it
  serves.

The :class:`ServerHandle` it returns gives the URL, key and served name, a ready
:class:`ChatClient`, and ``stop()``.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Protocol, TextIO, TypedDict

from backends import keepalive, trust
from backends.client import ChatClient
from backends.engines import (
    ENGINE_CONCURRENCY,
    EngineChoice,
    EngineUnavailable,
    LaunchSpec,
    ServerOptions,
    build_command,
    choose_engine,
)
from backends.keepalive import KeptServer
from backends.locations import log_dir, runtime_dir
from backends.presets import (
    DEFAULT_CPU_MODEL,
    DEFAULT_GPU_MODEL,
    TINY_MODEL_NOTICE,
    ModelRef,
    resolve,
)
from backends.replicas import MAX_DP, ReplicaInfo, replica_set_command
from backends.state import ServerState
from backends.supervisor import (
    STOP_GRACE_S,
    PortInUse,
    Probe,
    ServerProcess,
    ServerStartError,
    free_port,
    port_is_free,
    probe,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from backends.openai_client import ClientOptions
    from backends.transformers_client import TransformersChatClient

LOOPBACK = "127.0.0.1"


def default_log_dir() -> Path:
    """Where server logs go (``$O1TUI_LOG_DIR`` or the user log dir)."""
    return log_dir()


def new_api_key() -> str:
    """A per-start key: kept in memory, given to the server and the client, never stored.

    Never starting with ``-``: a server's argument parser could read such a key as an option
    (the key is also passed as ``--api-keys=KEY``, which no parser misreads).
    """
    while True:
        key = secrets.token_urlsafe(24)
        if not key.startswith("-"):
            return key


@dataclass
class ServerHandle:
    """A model ready to take requests: a server we started, one we reuse, or in-process."""

    engine: str
    model: str  #: the served name to send with each request
    base_url: str | None  #: ``http://127.0.0.1:PORT/v1``; ``None`` for the in-process engine
    api_key: str | None = field(repr=False)
    model_ref: ModelRef | None = None
    process: ServerProcess | None = None  #: ``None`` when reused or in-process
    reused: bool = False
    warnings: tuple[str, ...] = ()
    #: The in-process engine's model (``None`` for a server: :meth:`client` makes one).
    _client: TransformersChatClient | None = field(default=None, repr=False)
    #: ``keep_alive`` in seconds: a started server outlives o1tui that long idle (0: it stops).
    keep_alive_s: float = 0.0
    #: Where the kept server's record goes once it answers (backends.keepalive).
    state_dir: Path | None = None
    #: Attached to a server an earlier o1tui kept warm (its own timer stops it).
    kept: bool = False
    #: Said whenever a running server is reused: which, and whose (it is always the user's).
    reuse_note: str | None = None
    #: For a kept server attached to: what :meth:`release` says (it stays up after o1tui).
    left_note: str | None = None

    @property
    def started(self) -> bool:
        """Whether this handle started the server (and so stops it); False when reused."""
        return self.process is not None

    @property
    def port(self) -> int | None:
        if self.base_url is None:
            return None
        return int(self.base_url.rsplit(":", 1)[1].split("/", 1)[0])

    @property
    def tiny(self) -> bool:
        return bool(self.model_ref and self.model_ref.tiny)

    @property
    def notice(self) -> str | None:
        """A line the app and CLI show while this model runs (the tiny model's caveat)."""
        return TINY_MODEL_NOTICE if self.tiny else None

    @property
    def concurrency(self) -> int | None:
        """How many requests the model works on at once (None: no limit o1tui needs to
        respect); groups run at most this many chains together."""
        return ENGINE_CONCURRENCY.get(self.engine)

    @property
    def replicas(self) -> list[ReplicaInfo]:
        """The replicas behind the proxy of a set started with ``--dp`` (else empty)."""
        return self.process.replicas if self.process is not None else []

    @property
    def running(self) -> bool:
        """False once a server we started has exited (crash detection for the app)."""
        return self.process.running if self.process is not None else True

    def wait_ready(
        self, timeout_s: float | None = None, on_poll: Callable[[float, Probe], None] | None = None
    ) -> None:
        """Wait for a server started with ``wait=False`` (the in-process engine: load it)."""
        if self.process is not None:
            self.process.wait_ready(timeout_s, on_poll=on_poll)
            if self.keep_alive_s > 0 and self.state_dir is not None and self.process.pid:
                display = self.model_ref.display if self.model_ref else self.model
                keepalive.record(
                    self.state_dir, self.process.spec, self.process.pid, display, self.keep_alive_s
                )
        elif self._client is not None:
            self._client.load()

    def client(self, **options: Unpack[ClientOptions]) -> ChatClient:
        """A chat client for this model (``options`` go to ``OpenAIChatClient``; the
        in-process model is one client, whatever they say)."""
        if self._client is not None:
            return self._client
        from backends.openai_client import OpenAIChatClient

        assert self.base_url is not None
        return OpenAIChatClient(self.base_url, self.model, api_key=self.api_key, **options)

    def release(self) -> str | None:
        """o1tui is done with the server: stop it, unless ``keep_alive`` keeps a ready one
        warm (its keeper stops it once idle; a loading one is stopped: none could attach).

        Returns what to tell the user when the server was left running (for how long, how to
        stop it), else ``None``."""
        if (
            self.process is not None
            and self.keep_alive_s > 0
            and self.process.state is ServerState.READY
            and self.process.running
            and self.process.pid is not None
        ):
            display = self.model_ref.display if self.model_ref else self.model
            return keepalive.left_running(
                self.process.spec.port, self.process.pid, display, self.keep_alive_s
            )
        self.stop()
        return self.left_note

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop the server if we started it (a reused one is left running)."""
        if self.process is not None:
            self.process.stop(grace_s)


class ServerSettings(Protocol):
    """The settings a server is started from: :class:`tui.core.config.Settings` is one (a
    Protocol, because ``backends/`` does not import ``tui/``). Read once, by
    :func:`resolve_settings`, into a :class:`ResolvedSettings` with the defaults filled in."""

    @property
    def engine(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def api_key(self) -> str | None: ...

    @property
    def backend(self) -> str | None: ...

    @property
    def tp(self) -> int: ...

    @property
    def session_len(self) -> int | None: ...

    @property
    def cache_max_entry_count(self) -> float | None: ...

    @property
    def max_batch_size(self) -> int | None: ...

    @property
    def enable_prefix_caching(self) -> bool: ...

    @property
    def lmdeploy_in_process(self) -> bool: ...

    @property
    def lmdeploy_env_check(self) -> bool: ...

    @property
    def lmdeploy_torch_compile(self) -> bool: ...

    @property
    def lmdeploy_bytecode_cache(self) -> bool: ...

    @property
    def keep_alive(self) -> str: ...

    #: Words for the server's command line (a config file may hold them as one string).
    @property
    def server_args(self) -> Sequence[str] | str: ...

    @property
    def dp(self) -> int: ...


@dataclass(frozen=True)
class ResolvedSettings:
    """The server settings with every default filled in: what the plan and the command are
    built from. :func:`resolve_settings` makes one from any :class:`ServerSettings` (or none)."""

    engine: str = "auto"
    model: str | None = None  #: ``None``: the engine's default model
    host: str = LOOPBACK
    port: int | None = None  #: ``None``: a free port, chosen at start
    api_key: str | None = field(default=None, repr=False)  #: ``None``: a fresh key per start
    backend: str | None = None
    tp: int | None = None
    dp: int = 1
    session_len: int | None = None
    cache_max_entry_count: float | None = None
    max_batch_size: int | None = None
    enable_prefix_caching: bool = True
    lmdeploy_in_process: bool = True
    lmdeploy_env_check: bool = False
    lmdeploy_torch_compile: bool = False
    lmdeploy_bytecode_cache: bool = True
    keep_alive: str = "0"  #: a duration (:func:`backends.keepalive.parse_duration`)
    server_args: tuple[str, ...] = ()

    def options(self, port: int, host: str | None = None) -> ServerOptions:
        """The engines' :class:`ServerOptions` for a server on ``port``."""
        return ServerOptions(
            port=port,
            host=host or self.host,
            backend=self.backend,
            tp=self.tp,
            session_len=self.session_len,
            cache_max_entry_count=self.cache_max_entry_count,
            max_batch_size=self.max_batch_size,
            enable_prefix_caching=self.enable_prefix_caching,
            extra_args=self.server_args,
            lmdeploy_in_process=self.lmdeploy_in_process,
            lmdeploy_env_check=self.lmdeploy_env_check,
            lmdeploy_torch_compile=self.lmdeploy_torch_compile,
            lmdeploy_bytecode_cache=self.lmdeploy_bytecode_cache,
        )


#: What the functions below accept as settings: the user's, ones already resolved, or none.
SettingsLike = ServerSettings | ResolvedSettings | None


def resolve_settings(settings: SettingsLike) -> ResolvedSettings:
    """``settings`` with its defaults filled in (an empty value takes the default; already
    resolved ones come back as they are; ``None``: all defaults)."""
    if settings is None:
        return ResolvedSettings()
    if isinstance(settings, ResolvedSettings):
        return settings
    extra = settings.server_args
    # A config file may hold the words as one string: split, never run by a shell.
    words = shlex.split(extra) if isinstance(extra, str) else [str(word) for word in extra]
    return ResolvedSettings(
        engine=settings.engine or "auto",
        model=settings.model or None,
        host=settings.host or LOOPBACK,
        port=settings.port or None,
        api_key=settings.api_key or None,
        backend=settings.backend,
        tp=settings.tp,
        dp=settings.dp,
        session_len=settings.session_len,
        cache_max_entry_count=settings.cache_max_entry_count,
        max_batch_size=settings.max_batch_size,
        enable_prefix_caching=settings.enable_prefix_caching,
        lmdeploy_in_process=settings.lmdeploy_in_process,
        lmdeploy_env_check=settings.lmdeploy_env_check,
        lmdeploy_torch_compile=settings.lmdeploy_torch_compile,
        lmdeploy_bytecode_cache=settings.lmdeploy_bytecode_cache,
        keep_alive=settings.keep_alive or "0",
        server_args=tuple(words),
    )


def server_options(settings: SettingsLike, port: int, host: str = LOOPBACK) -> ServerOptions:
    """:class:`ServerOptions` from a Settings-like object (missing fields take defaults)."""
    return resolve_settings(settings).options(port, host)


def replica_count(settings: SettingsLike) -> int:
    """``dp``: how many replicas to start (1: one server, no proxy)."""
    dp = resolve_settings(settings).dp
    if not 1 <= dp <= MAX_DP:
        raise EngineUnavailable(f"dp must be between 1 and {MAX_DP} (got {dp})")
    return dp


def replica_ports(host: str, count: int, avoid: set[int]) -> list[int]:
    """``count`` distinct free ports (none of ``avoid``) for a replica set's api_servers."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(host)
        if port not in avoid and port not in ports:
            ports.append(port)
    return ports


def check_port_owner(host: str, port: int) -> None:
    """Refuse a port whose listening socket is another user's: o1tui would send it the user's
    questions (and key). Raises :class:`PortInUse` naming the port and the owner; also when
    something listens and ``/proc`` cannot say whose it is."""
    found = trust.listeners(port)
    if found is None:
        if not port_is_free(host, port):
            raise PortInUse(
                f"port {port} is taken and o1tui cannot tell by whom (no /proc/net/tcp): "
                "choose another --port"
            )
        return
    others = sorted({s.uid for s in found} - {os.getuid()})
    if others:
        raise PortInUse(
            f"port {port} is held by {trust.user_name(others[0])}, not by you: o1tui sends "
            "no question or key there; choose another --port"
        )


def _wait_for_other(
    host: str,
    port: int,
    api_key: str | None,
    timeout_s: float,
    on_poll: Callable[[float, Probe], None] | None,
) -> Probe:
    """Another process's server on our port is loading: wait for it rather than fight it."""
    start = time.monotonic()
    while True:
        result = probe(host, port, api_key)
        if on_poll is not None:
            on_poll(time.monotonic() - start, result)
        if result.kind != "starting" or time.monotonic() - start > timeout_s:
            return result
        time.sleep(0.5)


def plan_model(
    settings: SettingsLike = None,
    *,
    engine: str | None = None,
    model: str | None = None,
    available: dict[str, bool] | None = None,
    gpu: bool | None = None,
) -> tuple[EngineChoice, ModelRef, list[str]]:
    """Which engine would serve which model here, and the warnings to show, without starting
    anything: :func:`plan_server`'s first step, and the check before a running server is
    stopped for another model. Raises :class:`EngineUnavailable` or
    :class:`~backends.presets.UnknownModel` when the model cannot run on this machine.
    Blocking (it may ask ``nvidia-smi``): call it from a worker thread in the app.
    """
    resolved = resolve_settings(settings)
    requested = engine or resolved.engine
    model_name = model or resolved.model
    ref = resolve(model_name) if model_name else None
    choice = choose_engine(requested, available=available, gpu=gpu)
    warnings = list(choice.warnings)
    auto = requested == "auto"
    if auto and ref is not None and ref.is_gguf and choice.engine == "lmdeploy":
        choice = choose_engine("llamacpp", available=available, gpu=gpu)
    if (
        ref is not None
        and choice.engine != "lmdeploy"
        and ref.preset is not None
        and ref.preset.name == DEFAULT_GPU_MODEL
        and (choice.engine == "llamacpp" or ref.path is None)
    ):
        # The GPU default (also the config's default model) where it cannot run: fall back to the
        # small CPU model instead of failing, and say so.
        warnings.append(
            f"{ref.display} needs a GPU with LMDeploy; using {DEFAULT_CPU_MODEL} on the CPU"
        )
        ref = None
    if ref is None:
        ref = resolve(choice.default_model)
    if choice.engine == "llamacpp" and not ref.is_gguf:
        raise EngineUnavailable(
            f"{ref.display}: llama.cpp needs a GGUF file; use --engine lmdeploy or transformers"
        )
    if choice.engine == "lmdeploy" and ref.is_gguf:  # (an explicit --engine lmdeploy)
        raise EngineUnavailable(
            f"{ref.display}: LMDeploy does not serve GGUF files; use --engine llamacpp"
        )
    return choice, ref, warnings


def _no_replicas(dp: int, engine: str) -> EngineUnavailable:
    return EngineUnavailable(
        f"--dp {dp} runs LMDeploy replicas behind LMDeploy's proxy; the {engine} engine has "
        "none: use --engine lmdeploy, or --dp 1"
    )


# --- plan: what to run, decided from the settings alone ------------------------------------


@dataclass(frozen=True)
class ServerPlan:
    """What :func:`start_backend` will run, decided before any server is looked for."""

    engine: str  #: ``lmdeploy``, ``llamacpp`` or ``transformers`` (in-process, no server)
    model_ref: ModelRef
    host: str
    #: The configured port: a running server there may be reused, else one starts there.
    #: ``None``: nothing is looked for, and a new server gets a free port.
    port: int | None
    dp: int  #: LMDeploy replicas behind its proxy (1: one server, no proxy)
    keep_alive_s: float  #: a started server outlives o1tui this long idle (0: it stops)
    #: The user's key, sent to a running server and given to a started one; ``None``: a
    #: started server gets a fresh key (:func:`new_api_key`), one that is running gets none.
    user_key: str | None = field(repr=False)
    warnings: tuple[str, ...]
    settings: ResolvedSettings  #: what the server's options are built from
    reuse: bool = True  #: whether a server already answering on :attr:`port` may be used

    @property
    def in_process(self) -> bool:
        """Whether the model runs inside o1tui (no server to reuse or start)."""
        return self.engine == "transformers"

    @property
    def key_source(self) -> str:
        """``user`` (the configured key) or ``generated`` (a fresh one per start)."""
        return "user" if self.user_key else "generated"


def plan_server(
    settings: SettingsLike,
    *,
    engine: str | None = None,
    model: str | None = None,
    port: int | None = None,
    host: str | None = None,
    reuse: bool = True,
    available: dict[str, bool] | None = None,
    gpu: bool | None = None,
) -> ServerPlan:
    """The plan for ``settings`` with the arguments as overrides: no process is started or
    asked; only :func:`plan_model`'s look at the machine (skipped when ``available`` and
    ``gpu`` are given) and at the model's files. Raises what :func:`plan_model` raises, and
    :class:`EngineUnavailable` for a ``dp`` the engine cannot run, or
    :class:`~backends.keepalive.BadDuration` for a ``keep_alive`` that is not a duration."""
    resolved = resolve_settings(settings)
    dp = replica_count(resolved)
    requested = engine or resolved.engine
    if dp > 1 and requested not in ("auto", "lmdeploy"):  # before the model is checked for it
        raise _no_replicas(dp, requested)
    choice, ref, warnings = plan_model(
        resolved, engine=engine, model=model, available=available, gpu=gpu
    )
    if dp > 1 and choice.engine != "lmdeploy":
        raise _no_replicas(dp, choice.engine)
    in_process = choice.engine == "transformers"
    return ServerPlan(
        engine=choice.engine,
        model_ref=ref,
        host=host or resolved.host,
        port=port or resolved.port,
        dp=dp,
        # The in-process model has no server to keep: its keep_alive is not even read.
        keep_alive_s=0.0 if in_process else keepalive.parse_duration(resolved.keep_alive),
        user_key=resolved.api_key,
        warnings=tuple(warnings),
        settings=resolved,
        reuse=reuse,
    )


# --- reuse: a server already on the port, decided on what was found there -----------------


@dataclass(frozen=True)
class PortLook:
    """What :func:`look_at_port` found on the plan's port: the facts :func:`reuse_server`
    decides on (tests build them by hand)."""

    #: A server an earlier o1tui kept warm there, whose keeper's process owns the port.
    kept: KeptServer | None = None
    #: What ``/v1/models`` answered (a loading server waited for); ``None`` when not asked
    #: (a kept server is attached without a request: it may be busy with one).
    probe: Probe | None = None
    #: Whether the port can be bound (nothing listens); only asked when nothing answered.
    free: bool = False


def look_at_port(
    plan: ServerPlan,
    *,
    state_dir: Path,
    wait_s: float = 900.0,
    on_poll: Callable[[float, Probe], None] | None = None,
) -> PortLook | None:
    """Look at the plan's port (``None`` when it has none): a kept-warm server's record (when
    reuse is allowed), whose socket it is (another user's raises :class:`PortInUse`), what
    answers there (a server still loading is waited for up to ``wait_s``)."""
    if plan.port is None:
        return None
    if plan.reuse:
        kept = keepalive.attach(state_dir, plan.host, plan.port)
        if kept is not None:
            return PortLook(kept=kept)
    check_port_owner(plan.host, plan.port)
    found = probe(plan.host, plan.port, plan.user_key)
    if found.kind == "starting":
        found = _wait_for_other(plan.host, plan.port, plan.user_key, wait_s, on_poll)
    free = found.kind == "down" and port_is_free(plan.host, plan.port)
    return PortLook(probe=found, free=free)


def reuse_server(plan: ServerPlan, look: PortLook | None) -> ServerHandle | None:
    """The server to use instead of starting one, decided on ``look`` alone (no I/O): a kept
    one, or the user's server answering on the port when reuse is allowed. ``None``: start
    one (on the plan's port, free, or on a free one when the plan has none). Raises
    :class:`PortInUse` when the port is taken by something o1tui cannot use."""
    if look is None:
        return None
    warnings = list(plan.warnings)
    ref = plan.model_ref
    if look.kept is not None:
        kept = look.kept
        if kept.model != ref.served_name:
            warnings.append(
                f"a server kept warm on port {kept.port} serves {kept.display!r}; using it"
            )
        return ServerHandle(
            kept.engine,
            kept.model,
            kept.base_url,
            kept.api_key,
            ref,
            reused=True,
            warnings=tuple(warnings),
            kept=True,
            reuse_note=(
                f"using the server kept warm on port {kept.port} ({kept.display}, pid "
                f"{kept.pid}); it stops after {keepalive.describe_duration(kept.keep_alive_s)}"
                " without requests"
            ),
            left_note=keepalive.left_running(kept.port, kept.pid, kept.display, kept.keep_alive_s),
        )
    found = look.probe or Probe("down")
    port = plan.port
    if found.kind == "ready" and plan.reuse:
        served = ref.served_name
        if served not in found.models and found.models:
            warnings.append(
                f"the server on port {port} serves {found.models[0]!r}, not {served!r}; using it"
            )
            served = found.models[0]
        return ServerHandle(
            plan.engine,
            served,
            f"http://{plan.host}:{port}/v1",
            plan.user_key,
            ref,
            None,
            reused=True,
            warnings=tuple(warnings),
            reuse_note=f"using your server already running on port {port} ({served})",
        )
    if found.kind == "auth":
        raise PortInUse(
            f"an OpenAI-compatible server on port {port} needs an API key: "
            "give it with --api-key (or choose another --port)"
        )
    if found.kind != "down" or not look.free:
        why = found.detail or "it does not answer as an OpenAI-compatible server"
        raise PortInUse(f"port {port} is taken by something else ({why}); choose another --port")
    return None


# --- spawn: start the planned server ---------------------------------------------------------


def launch_spec(
    plan: ServerPlan, port: int, api_key: str, replica_ports: Sequence[int] = ()
) -> LaunchSpec:
    """The command that starts the plan's server on ``port`` with ``api_key``: the engine's
    own, or for ``dp`` > 1 the replica set's (its api_servers on ``replica_ports``, one each).
    Raises :class:`EngineUnavailable` when the engine cannot be started here."""
    options = plan.settings.options(port, plan.host)
    if plan.dp > 1:
        if len(replica_ports) != plan.dp:
            raise ValueError(f"{plan.dp} replicas need {plan.dp} ports, got {len(replica_ports)}")
        return replica_set_command(plan.model_ref, options, api_key, plan.dp, list(replica_ports))
    return build_command(plan.engine, plan.model_ref, options, api_key)


@dataclass(frozen=True)
class StartHooks:
    """What a start reports, each called from worker threads: the server's log lines, the
    readiness polls, its exit code, and what a replica set says while serving."""

    on_line: Callable[[str], None] | None = None
    on_poll: Callable[[float, Probe], None] | None = None
    on_exit: Callable[[int], None] | None = None
    on_notice: Callable[[str], None] | None = None


def spawn_server(
    plan: ServerPlan,
    hooks: StartHooks,
    *,
    state_dir: Path,
    log_dir: str | os.PathLike[str],
    wait: bool = True,
    ready_timeout_s: float | None = None,
) -> ServerHandle:
    """Start the plan's server (on its port, else a free one) with the user's key or a fresh
    one, under the keeper when ``keep_alive`` is set, and wait until it serves unless ``wait``
    is False. A start interrupted while loading (Ctrl+C, SIGTERM) leaves no server behind."""
    port = plan.port or free_port(plan.host)
    api_key = plan.user_key or new_api_key()
    ports = replica_ports(plan.host, plan.dp, avoid={port}) if plan.dp > 1 else []
    spec = launch_spec(plan, port, api_key, ports)
    process = ServerProcess(
        spec,
        log_dir=log_dir,
        on_line=hooks.on_line,
        on_exit=hooks.on_exit,
        on_notice=hooks.on_notice,
    )
    if plan.keep_alive_s > 0:
        state = keepalive.state_path(state_dir, port)
        process.spec = keepalive.keeper_argv(spec, plan.keep_alive_s, state, process.log_path)
    process.start()
    handle = ServerHandle(
        plan.engine,
        spec.served_name,
        spec.base_url,
        api_key,
        plan.model_ref,
        process,
        warnings=plan.warnings,
        keep_alive_s=plan.keep_alive_s,
        state_dir=state_dir,
    )
    if wait:
        try:
            handle.wait_ready(ready_timeout_s, on_poll=hooks.on_poll)
        except BaseException:  # Ctrl+C or SIGTERM while loading: leave no server behind
            handle.stop()
            raise
    return handle


def load_in_process(plan: ServerPlan, *, wait: bool = True) -> ServerHandle:
    """The plan's model in this process (the transformers engine), loaded unless ``wait`` is
    False (then :meth:`ServerHandle.wait_ready` loads it)."""
    from backends.transformers_client import TransformersChatClient

    ref = plan.model_ref
    handle = ServerHandle(
        plan.engine,
        ref.served_name,
        None,
        None,
        ref,
        warnings=plan.warnings,
        _client=TransformersChatClient.from_model_ref(ref),
    )
    if wait:
        # Loading is this engine's start-up: done here, it is not counted as a step's time.
        handle.wait_ready()
    return handle


class StartChoices(TypedDict, total=False):
    """:func:`start_backend`'s keyword arguments but the log-line callback (which a
    controller that has its own passes itself), for callers that hand them on."""

    engine: str | None
    model: str | None
    port: int | None
    host: str | None
    log_dir: str | os.PathLike[str] | None
    ready_timeout_s: float | None
    wait: bool
    reuse: bool
    on_poll: Callable[[float, Probe], None] | None
    on_exit: Callable[[int], None] | None
    on_notice: Callable[[str], None] | None
    available: dict[str, bool] | None
    gpu: bool | None


class StartOptions(StartChoices, total=False):
    """All of :func:`start_backend`'s keyword arguments."""

    on_line: Callable[[str], None] | None


def start_backend(
    settings: SettingsLike = None,
    *,
    engine: str | None = None,
    model: str | None = None,
    port: int | None = None,
    host: str | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    ready_timeout_s: float | None = None,
    wait: bool = True,
    reuse: bool = True,
    on_line: Callable[[str], None] | None = None,
    on_poll: Callable[[float, Probe], None] | None = None,
    on_exit: Callable[[int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    available: dict[str, bool] | None = None,
    gpu: bool | None = None,
) -> ServerHandle:
    """Give back a model that answers, starting a server when none can be reused:
    :func:`plan_server`, then :func:`look_at_port` and :func:`reuse_server`, else
    :func:`spawn_server` (or :func:`load_in_process` for the in-process engine).

    Arguments override the Settings-like ``settings`` (see :class:`ResolvedSettings`).
    ``on_notice`` gets what a replica set (``dp`` > 1) says while serving (a replica exited).
    ``available``/``gpu`` override detection (tests, unusual boxes). Blocking: call it from a
    worker thread in the app.

    Raises :class:`EngineUnavailable`, :class:`~backends.presets.UnknownModel`,
    :class:`PortInUse` or :class:`ServerStartError` (with the log tail); all are
    :class:`~backends.errors.BackendError`.
    """
    plan = plan_server(
        settings,
        engine=engine,
        model=model,
        port=port,
        host=host,
        reuse=reuse,
        available=available,
        gpu=gpu,
    )
    if plan.in_process:
        return load_in_process(plan, wait=wait)
    state_dir = runtime_dir()
    look = look_at_port(plan, state_dir=state_dir, wait_s=ready_timeout_s or 900.0, on_poll=on_poll)
    reused = reuse_server(plan, look)
    if reused is not None:
        return reused
    return spawn_server(
        plan,
        StartHooks(on_line=on_line, on_poll=on_poll, on_exit=on_exit, on_notice=on_notice),
        state_dir=state_dir,
        log_dir=log_dir or default_log_dir(),
        wait=wait,
        ready_timeout_s=ready_timeout_s,
    )


def poll_reporter(
    progress: Callable[[str], None], every_s: float = 5.0
) -> Callable[[float, Probe], None]:
    """Turn readiness polls into an occasional progress line (a start can take minutes)."""
    last = {"t": -every_s}

    def report(elapsed: float, result: Probe) -> None:
        if elapsed - last["t"] >= every_s:
            last["t"] = elapsed
            what = {"down": "loading (port not open yet)", "starting": "initialising (503)"}.get(
                result.kind, result.kind
            )
            progress(f"waiting for the server: {what}, {elapsed:.0f} s")

    return report


def ensure_server(
    settings: SettingsLike,
    *,
    progress: Callable[[str], None] | None = None,
    **kwargs: Unpack[StartOptions],
) -> ServerHandle:
    """:func:`start_backend` with one ``progress(line)`` callback for log lines, waits and warnings.

    The callback is called from worker threads; it gets raw server lines (clean them for display).
    """
    if progress is not None:
        kwargs.setdefault("on_line", progress)
        kwargs.setdefault("on_poll", poll_reporter(progress))
        kwargs.setdefault("on_notice", progress)
    handle = start_backend(settings, **kwargs)
    if progress is not None:
        for warning in handle.warnings:
            progress(f"warning: {warning}")
        if handle.reuse_note:
            progress(handle.reuse_note)
        if handle.notice:
            progress(handle.notice)
    return handle


def serve_forever(
    settings: ServerSettings,
    *,
    progress: Callable[[str], None] | None = None,
    on_line: Callable[[str], None] | None = None,
    out: TextIO | None = None,
) -> int:
    """``o1tui serve``: start (or find) the server, print its URL, run until Ctrl+C or it exits.

    ``progress`` gets o1tui's own lines (waits, warnings), ``on_line`` the server's log lines
    (default: ``progress`` too), so a caller can mark which are whose. Returns 0 after Ctrl+C,
    1 when the server died by itself.
    """
    out = out or sys.stdout
    interrupt_on_termination()
    try:
        handle = ensure_server(settings, progress=progress, on_line=on_line or progress)
    except KeyboardInterrupt:
        return 130
    if handle.base_url is None:
        raise EngineUnavailable(
            "the transformers engine runs inside o1tui and has no server to serve"
        )
    if handle.reused:
        print(handle.base_url, file=out, flush=True)
        print(
            f"o1tui: a server was already running on port {handle.port}; leaving it be",
            file=sys.stderr,
        )
        return 0
    assert handle.process is not None
    try:
        # The note first: whoever reads the URL and then stops the server (a Ctrl+C at once,
        # a script) has had it.
        if not resolve_settings(settings).api_key:
            print(
                "o1tui: the server requires a generated API key that is not shown; give "
                "--api-key KEY to choose one that other clients can use",
                file=sys.stderr,
                flush=True,
            )
        print(handle.base_url, file=out, flush=True)
        while handle.process.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        # Also when printing failed (`o1tui serve | true`: BrokenPipeError): a server whose
        # user is gone is stopped, never left behind.
        handle.stop()
    tail = "\n".join(handle.process.tail(20))
    print(
        f"o1tui: the server exited (code {handle.process.returncode}); last lines:\n{tail}",
        file=sys.stderr,
    )
    return 1


_interrupted = False


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    # Only the first signal interrupts: the ones after it (a second Ctrl+C, the SIGHUP that
    # follows a SIGTERM) would otherwise break into the clean-up the first one started.
    global _interrupted
    if not _interrupted:
        _interrupted = True
        raise KeyboardInterrupt


def interrupt_on_termination() -> None:
    """Ctrl+C, SIGTERM (kill, systemd) and SIGHUP (the SSH session closed) stop a foreground
    server the same way, once: the first raises KeyboardInterrupt, so the server's process
    group is stopped, never orphaned; later ones are ignored while that clean-up runs."""
    import signal
    import threading

    global _interrupted
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers (tests run serve_forever in threads)
    _interrupted = False
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)


__all__ = [
    "PortLook",
    "ResolvedSettings",
    "ServerPlan",
    "StartChoices",
    "StartHooks",
    "StartOptions",
    "launch_spec",
    "load_in_process",
    "look_at_port",
    "plan_server",
    "resolve_settings",
    "reuse_server",
    "spawn_server",
    "ensure_server",
    "interrupt_on_termination",
    "serve_forever",
    "EngineUnavailable",
    "PortInUse",
    "ServerHandle",
    "ServerStartError",
    "default_log_dir",
    "new_api_key",
    "server_options",
    "start_backend",
]
