"""o1tui's launcher for Python model servers: the API key off the process list, and LMDeploy's
PyTorch engine kept in the API server's own process.

The key: LMDeploy takes its keys only as ``--api-keys KEY`` on its command line, and every local
user can read a command line (``ps``, ``/proc/PID/cmdline``). This launcher reads the key from an
environment variable (``/proc/PID/environ`` is readable by the owner only), removes the variable
so the server's own children do not inherit it, appends ``FLAG=KEY`` to ``sys.argv`` *inside* the
process (``sys.argv`` is a Python list; the kernel's copy of the command line stays as it was),
and runs the real program in the same process.

The engine: ``lmdeploy serve api_server`` sets ``enable_mp_engine = True`` on its
``PytorchEngineConfig``, which spawns a second process that imports torch, triton and LMDeploy
all over again (~20 s on an H200). With ``--pytorch-in-process VERSIONS`` the launcher makes that
assignment a no-op when ``lmdeploy.messages`` is first imported, for the LMDeploy versions listed
(prefixes such as ``0.18``: the ones this was run with); any other version keeps LMDeploy's
default, and a line in the server's output says why.

torch.compile: LMDeploy 0.18 compiles one small function with it (the rotary embedding's cos/sin
table, computed once per forward pass), which costs ~6 s of a first start (TorchDynamo, Inductor
and its pool of compile processes) and ~1 s of every later one. With ``--no-torch-compile
VERSIONS`` the launcher turns torch.compile off (PyTorch's ``TORCH_COMPILE_DISABLE``) for the
LMDeploy versions listed; the function then runs as plain PyTorch. Decode speed is unchanged.

Bytecode: some installs of torch come without compiled bytecode, in an environment where Python
may not write it (``PYTHONDONTWRITEBYTECODE``, a read-only environment): every start then
compiles torch's sources again (~7 s on an H200 machine). With ``--bytecode-cache DIR`` the
launcher keeps that bytecode in DIR (``sys.pycache_prefix``), never beside the installed
packages, and only in that case, and only when DIR is the user's own (``trust.py``): bytecode
another user planted there would run as the user.

LMDeploy spawns helper processes that
re-import the main module; the program runs as ``__main__`` under this file's own
``if __name__ == "__main__":`` guard, and LMDeploy's entry points guard themselves too.

Usage (run by path with the server's own interpreter; standard library only, so it needs no
o1tui installed there)::

    python keyed_exec.py [--key-env VAR --key-flag --api-keys] [--pytorch-in-process 0.18,...]
        [--no-torch-compile 0.18,...] [--bytecode-cache DIR] (--module NAME | --script PATH)
        -- ARGS...
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

_OPTIONS = (
    "--key-env",
    "--key-flag",
    "--module",
    "--script",
    "--pytorch-in-process",
    "--no-torch-compile",
    "--bytecode-cache",
)
#: PyTorch's own switch: torch.compile'd functions run as written.
TORCH_COMPILE_OFF_VAR = "TORCH_COMPILE_DISABLE"
#: Where the server's output says what the launcher did (the supervisor logs and shows it).
NOTE_PREFIX = "o1tui launcher: "


def parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """The launcher's own options and the target's arguments. ``SystemExit`` on bad input."""
    opts: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0] != "--":
        if len(rest) < 2 or rest[0] not in _OPTIONS:
            raise SystemExit(f"keyed_exec: bad arguments: {rest[:2]}")
        opts[rest[0]] = rest[1]
        rest = rest[2:]
    if not rest:
        raise SystemExit(
            "keyed_exec: usage: [--key-env VAR --key-flag FLAG] [--pytorch-in-process VERSIONS] "
            "[--no-torch-compile VERSIONS] [--bytecode-cache DIR] (--module M | --script P) -- ARGS"
        )
    if ("--key-env" in opts) != ("--key-flag" in opts):
        raise SystemExit("keyed_exec: --key-env and --key-flag go together")
    if "--module" not in opts and "--script" not in opts:
        raise SystemExit("keyed_exec: give --module or --script")
    return opts, rest[1:]


def build_argv(argv: list[str], environ: dict[str, str]) -> tuple[str, str, list[str]]:
    """Parse the launcher's arguments; return (kind, target, argv for the target).

    ``kind`` is ``module`` or ``script``. Raises ``SystemExit`` with a usage line on bad input.
    """
    opts, args = parse(argv)
    key = environ.get(opts["--key-env"], "") if "--key-env" in opts else ""
    if key:
        # One word, FLAG=KEY: a key that begins with "-" is never read as an option.
        args = args + [f"{opts['--key-flag']}={key}"]
    if "--module" in opts:
        return "module", opts["--module"], args
    return "script", opts["--script"], args


def version_tested(version: str | None, tested: Sequence[str]) -> bool:
    """Whether ``version`` (``0.18.0``) belongs to one of the ``tested`` prefixes (``0.18``)."""
    if not version:
        return False
    return any(version == t or version.startswith(t + ".") for t in tested if t)


def lmdeploy_version() -> str | None:
    """The running LMDeploy's version (its package is being imported when this is asked)."""
    try:
        return str(importlib.import_module("lmdeploy.version").__version__)
    except Exception:  # noqa: BLE001 - an LMDeploy without the module: version unknown
        return None


def _untested(version: str | None, tested: Sequence[str], what: str) -> str:
    return (
        f"LMDeploy {version or '(version unknown)'}: {what} (LMDeploy's default); "
        f"o1tui's change is tested with {', '.join(t + '.x' for t in tested)} only"
    )


def keep_engine_in_process(messages: ModuleType, tested: Sequence[str]) -> str:
    """Make ``PytorchEngineConfig.enable_mp_engine = True`` a no-op on a tested LMDeploy.

    Returns the note to print (applied, or left to LMDeploy and why).
    """
    version = lmdeploy_version()
    config = getattr(messages, "PytorchEngineConfig", None)
    if not version_tested(version, tested) or config is None:
        return _untested(version, tested, "the PyTorch engine keeps its own process")
    original = config.__setattr__

    def setattr_in_process(self: object, name: str, value: object) -> None:
        if name == "enable_mp_engine" and value:
            value = False  # api_server asks for a second process; keep the engine here
        original(self, name, value)

    config.__setattr__ = setattr_in_process
    return f"LMDeploy {version}: the PyTorch engine runs in the API server's process"


def turn_off_torch_compile(tested: Sequence[str]) -> str:
    """Turn torch.compile off on a tested LMDeploy; returns the note to print.

    Called while LMDeploy imports, before anything has been compiled: PyTorch reads the switch
    from the environment when its compiler's config is first imported, and from that config at
    each compiled call, so both are set.
    """
    version = lmdeploy_version()
    if not version_tested(version, tested):
        return _untested(version, tested, "torch.compile stays on")
    os.environ[TORCH_COMPILE_OFF_VAR] = "1"
    config = sys.modules.get("torch._dynamo.config")
    if config is not None:
        config.disable = True  # type: ignore[attr-defined]
    return (
        f"LMDeploy {version}: torch.compile is off (its one compiled function runs as plain "
        "PyTorch; the compile costs seconds of every start)"
    )


def _trust() -> ModuleType:
    """``backends/trust.py`` beside this file, loaded by path under a private name: the server's
    interpreter may not have o1tui installed, and no module of the server may be shadowed."""
    name = "_o1tui_launcher_trust"
    if name not in sys.modules:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trust.py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
    return sys.modules[name]


def cache_bytecode(folder: str, probe: str = "torch") -> str | None:
    """Keep the server's bytecode in ``folder`` when ``probe`` was installed without any and
    Python may not write it beside the sources; returns the note to print, or ``None``.

    Looks the package up without importing it. Where the package has its bytecode, or Python
    can write it there, nothing changes: a prefix would make Python ignore bytecode that is
    already there.
    """
    try:
        spec = importlib.util.find_spec(probe)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    if os.path.exists(importlib.util.cache_from_source(spec.origin)):
        return None
    source_dir = os.path.dirname(spec.origin)
    if not sys.dont_write_bytecode and os.access(source_dir, os.W_OK):
        return None
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return None  # no cache to keep it in: Python compiles as it did
    # Bytecode found there runs as the user, in the process that holds the API key: only a
    # folder that is the user's own (not another user's, not open to others, not a link).
    problem = _trust().folder_problem(folder)
    if problem:
        return f"the bytecode cache {folder} is not used: {problem}"
    sys.pycache_prefix = folder
    sys.dont_write_bytecode = False
    # The server's own Python children (spawned helpers) do the same.
    os.environ["PYTHONPYCACHEPREFIX"] = folder
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    return (
        f"{probe} was installed without bytecode and Python may not write it there: the "
        f"server's compiled modules are kept in {folder}, so later starts do not compile them"
    )


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``action(module)`` right after the module ``name`` is first executed."""

    def __init__(self, name: str, action: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.action = action

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once; and the finders after us find the real spec
        for finder in sys.meta_path:
            spec = (
                finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
            )
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run_module = loader.exec_module
        action = self.action

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            action(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def note(text: str) -> None:
    print(NOTE_PREFIX + text, file=sys.stderr, flush=True)


def after_lmdeploy_messages(actions: Sequence[Callable[[ModuleType], str]]) -> None:
    """Run each action (its note printed) once LMDeploy has imported its ``messages``: the
    package is importing then, so its version is known, and nothing has run yet."""

    def apply(module: ModuleType) -> None:
        for action in actions:
            note(action(module))

    if "lmdeploy.messages" in sys.modules:
        apply(sys.modules["lmdeploy.messages"])
    else:
        sys.meta_path.insert(0, _AfterImport("lmdeploy.messages", apply))


def lmdeploy_actions(opts: dict[str, str]) -> list[Callable[[ModuleType], str]]:
    """What the launcher's options ask to change in LMDeploy as it imports."""
    actions: list[Callable[[ModuleType], str]] = []
    if opts.get("--pytorch-in-process"):
        in_process = opts["--pytorch-in-process"].split(",")
        actions.append(lambda messages: keep_engine_in_process(messages, in_process))
    if opts.get("--no-torch-compile"):
        no_compile = opts["--no-torch-compile"].split(",")
        actions.append(lambda _messages: turn_off_torch_compile(no_compile))
    return actions


def main() -> None:
    opts, _ = parse(sys.argv[1:])
    kind, target, args = build_argv(sys.argv[1:], dict(os.environ))
    if "--key-env" in opts:
        os.environ.pop(opts["--key-env"], None)
    if opts.get("--bytecode-cache"):
        cached = cache_bytecode(opts["--bytecode-cache"])
        if cached:
            note(cached)
    actions = lmdeploy_actions(opts)
    if actions:
        after_lmdeploy_messages(actions)
    sys.argv = [target, *args]
    # sys.path[0] is this file's folder; make it what the target would see when run directly
    # (the working directory for ``python -m``, the script's folder for a script), so no module
    # beside this launcher can shadow one the server imports.
    if kind == "module":
        sys.path[0] = os.getcwd()
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.path[0] = os.path.dirname(os.path.realpath(target))
        runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
    main()
