"""From settings to a model that answers: reuse a server, or start one and wait for it.

:func:`start_backend` is what ``o1tui``, ``o1tui ask --engine`` and ``o1tui serve`` call. It
picks the engine (:func:`backends.engines.choose_engine`), resolves the model
(:func:`backends.presets.resolve`), reuses a server already answering on the configured
port when it is provably the user's (a kept-warm one whose keeper owns the port, or one whose
listening socket the user owns; another user's is refused), or else builds the engine's
command, starts it through the supervisor with a fresh API key and waits until it serves. The
:class:`ServerHandle` it returns gives the URL, key and served name, a ready
:class:`ChatClient`, and ``stop()``.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO

from backends import keepalive, trust
from backends.client import ChatClient
from backends.engines import (
    ENGINE_CONCURRENCY,
    EngineChoice,
    EngineUnavailable,
    ServerOptions,
    build_command,
    choose_engine,
)
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
    _client: ChatClient | None = field(default=None, repr=False)
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
        elif self._client is not None and hasattr(self._client, "load"):
            self._client.load()

    def client(self, **kwargs: Any) -> ChatClient:
        """A chat client for this model (``OpenAIChatClient`` kwargs pass through)."""
        if self._client is not None:
            return self._client
        from backends.openai_client import OpenAIChatClient

        assert self.base_url is not None
        return OpenAIChatClient(self.base_url, self.model, api_key=self.api_key, **kwargs)

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
    Protocol, because ``backends/`` does not import ``tui/``). Read through :func:`_get`, so a
    field left at None takes the default here."""

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

    @property
    def server_args(self) -> list[str]: ...

    @property
    def dp(self) -> int: ...


def setting(settings: ServerSettings | None, name: str, default: Any = None) -> Any:
    """Setting ``name``, or ``default`` when there are no settings or the value is None."""
    value = getattr(settings, name, default) if settings is not None else default
    return default if value is None else value


def server_options(
    settings: ServerSettings | None, port: int, host: str = LOOPBACK
) -> ServerOptions:
    """:class:`ServerOptions` from a Settings-like object (missing fields take defaults)."""
    extra = setting(settings, "server_args", ())
    if isinstance(extra, str):
        extra = shlex.split(
            extra
        )  # config holds one string; split into words, never run by a shell
    return ServerOptions(
        port=port,
        host=host,
        backend=setting(settings, "backend"),
        tp=setting(settings, "tp"),
        session_len=setting(settings, "session_len"),
        cache_max_entry_count=setting(settings, "cache_max_entry_count"),
        max_batch_size=setting(settings, "max_batch_size"),
        enable_prefix_caching=bool(setting(settings, "enable_prefix_caching", True)),
        extra_args=tuple(str(a) for a in extra),
        lmdeploy_in_process=bool(setting(settings, "lmdeploy_in_process", True)),
        lmdeploy_env_check=bool(setting(settings, "lmdeploy_env_check", False)),
        lmdeploy_torch_compile=bool(setting(settings, "lmdeploy_torch_compile", False)),
        lmdeploy_bytecode_cache=bool(setting(settings, "lmdeploy_bytecode_cache", True)),
    )


def _reuse(
    probe_result: Probe,
    ref: ModelRef,
    engine: str,
    host: str,
    port: int,
    api_key: str | None,
    warnings: list[str],
) -> ServerHandle:
    served = ref.served_name
    if served not in probe_result.models and probe_result.models:
        warnings.append(
            f"the server on port {port} serves {probe_result.models[0]!r}, not {served!r}; using it"
        )
        served = probe_result.models[0]
    return ServerHandle(
        engine,
        served,
        f"http://{host}:{port}/v1",
        api_key,
        ref,
        None,
        reused=True,
        warnings=tuple(warnings),
        reuse_note=f"using your server already running on port {port} ({served})",
    )


def replica_count(settings: ServerSettings | None) -> int:
    """``dp``: how many replicas to start (1: one server, no proxy)."""
    dp = int(setting(settings, "dp", 1))
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
    settings: ServerSettings | None = None,
    *,
    engine: str | None = None,
    model: str | None = None,
    available: dict[str, bool] | None = None,
    gpu: bool | None = None,
) -> tuple[EngineChoice, ModelRef, list[str]]:
    """Which engine would serve which model here, and the warnings to show, without starting
    anything: :func:`start_backend`'s first step, and the check before a running server is
    stopped for another model. Raises :class:`EngineUnavailable` or
    :class:`~backends.presets.UnknownModel` when the model cannot run on this machine.
    Blocking (it may ask ``nvidia-smi``): call it from a worker thread in the app.
    """
    requested = engine or setting(settings, "engine")
    model_name = model or setting(settings, "model")
    ref = resolve(model_name) if model_name else None
    choice = choose_engine(requested, available=available, gpu=gpu)
    warnings = list(choice.warnings)
    auto = (requested or "auto") == "auto"
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


def start_backend(
    settings: ServerSettings | None = None,
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
    """Give back a model that answers, starting a server when none can be reused.

    Arguments override the Settings-like ``settings`` (fields ``engine``, ``model``, ``port``,
    ``api_key``, ``backend``, ``tp``, ``session_len``, ``cache_max_entry_count``,
    ``max_batch_size``, ``enable_prefix_caching``, ``server_args``, ``dp``). ``on_notice``
    gets what a replica set (``dp`` > 1) says while serving (a replica exited). ``available``/``gpu``
    override detection (tests, unusual boxes). Blocking: call it from a worker thread in the app.

    Raises :class:`EngineUnavailable`, :class:`~backends.presets.UnknownModel`,
    :class:`PortInUse` or :class:`ServerStartError` (with the log tail); all are
    :class:`~backends.errors.BackendError`.
    """
    host = host or setting(settings, "host", LOOPBACK)
    dp = replica_count(settings)
    requested = engine or setting(settings, "engine") or "auto"
    if dp > 1 and requested not in ("auto", "lmdeploy"):  # before the model is checked for it
        raise _no_replicas(dp, requested)
    choice, ref, warnings = plan_model(
        settings, engine=engine, model=model, available=available, gpu=gpu
    )
    if dp > 1 and choice.engine != "lmdeploy":
        raise _no_replicas(dp, choice.engine)
    if choice.engine == "transformers":
        from backends.transformers_client import TransformersChatClient

        client = TransformersChatClient.from_model_ref(ref)
        handle = ServerHandle(
            "transformers",
            ref.served_name,
            None,
            None,
            ref,
            warnings=tuple(warnings),
            _client=client,
        )
        if wait:
            # Loading is this engine's start-up: done here, it is not counted as a step's time.
            handle.wait_ready()
        return handle
    user_key = setting(settings, "api_key")
    configured_port = port or setting(settings, "port")
    keep_alive_s = keepalive.parse_duration(setting(settings, "keep_alive", 0))
    state_dir = runtime_dir()
    if configured_port and reuse:
        kept = keepalive.attach(state_dir, host, int(configured_port))
        if kept is not None:
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
                left_note=keepalive.left_running(
                    kept.port, kept.pid, kept.display, kept.keep_alive_s
                ),
            )
    if configured_port:
        check_port_owner(host, int(configured_port))
        found = probe(host, int(configured_port), user_key)
        if found.kind == "starting":
            found = _wait_for_other(
                host, int(configured_port), user_key, ready_timeout_s or 900.0, on_poll
            )
        if found.kind == "ready" and reuse:
            return _reuse(found, ref, choice.engine, host, int(configured_port), user_key, warnings)
        if found.kind == "auth":
            raise PortInUse(
                f"an OpenAI-compatible server on port {configured_port} needs an API key: "
                "give it with --api-key (or choose another --port)"
            )
        if found.kind in ("other", "ready", "starting") or not port_is_free(
            host, int(configured_port)
        ):
            why = found.detail or "it does not answer as an OpenAI-compatible server"
            raise PortInUse(
                f"port {configured_port} is taken by something else ({why}); choose another --port"
            )
        server_port = int(configured_port)
    else:
        server_port = free_port(host)

    api_key = user_key or new_api_key()
    if dp > 1:
        ports = replica_ports(host, dp, avoid={server_port})
        spec = replica_set_command(
            ref, server_options(settings, server_port, host), api_key, dp, ports
        )
    else:
        spec = build_command(
            choice.engine, ref, server_options(settings, server_port, host), api_key
        )
    process = ServerProcess(
        spec,
        log_dir=log_dir or default_log_dir(),
        on_line=on_line,
        on_exit=on_exit,
        on_notice=on_notice,
    )
    if keep_alive_s > 0:
        state = keepalive.state_path(state_dir, server_port)
        process.spec = keepalive.keeper_argv(spec, keep_alive_s, state, process.log_path)
    process.start()
    handle = ServerHandle(
        choice.engine,
        spec.served_name,
        spec.base_url,
        api_key,
        ref,
        process,
        warnings=tuple(warnings),
        keep_alive_s=keep_alive_s,
        state_dir=state_dir,
    )
    if wait:
        try:
            handle.wait_ready(ready_timeout_s, on_poll=on_poll)
        except BaseException:  # Ctrl+C or SIGTERM while loading: leave no server behind
            handle.stop()
            raise
    return handle


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
    settings: ServerSettings, *, progress: Callable[[str], None] | None = None, **kwargs: Any
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
        print(handle.base_url, file=out, flush=True)
        if not setting(settings, "api_key"):
            print(
                "o1tui: the server requires a generated API key that is not shown; give "
                "--api-key KEY "
                "to choose one that other clients can use",
                file=sys.stderr,
            )
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
