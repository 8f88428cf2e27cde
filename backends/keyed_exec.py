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
default, and a line in the server's output says why. LMDeploy spawns helper processes that
re-import the main module; the program runs as ``__main__`` under this file's own
``if __name__ == "__main__":`` guard, and LMDeploy's entry points guard themselves too.

Usage (run by path with the server's own interpreter; standard library only, so it needs no
o1tui installed there)::

    python keyed_exec.py [--key-env VAR --key-flag --api-keys] [--pytorch-in-process 0.18,...]
        (--module NAME | --script PATH) -- ARGS...
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import runpy
import sys
from types import ModuleType
from typing import Callable, Sequence

_OPTIONS = ("--key-env", "--key-flag", "--module", "--script", "--pytorch-in-process")
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
            "(--module M | --script P) -- ARGS"
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


def keep_engine_in_process(messages: ModuleType, tested: Sequence[str]) -> str:
    """Make ``PytorchEngineConfig.enable_mp_engine = True`` a no-op on a tested LMDeploy.

    Returns the note to print (applied, or left to LMDeploy and why).
    """
    try:
        version: str | None = importlib.import_module("lmdeploy.version").__version__
    except Exception:  # noqa: BLE001 - an LMDeploy without the module: version unknown
        version = None
    config = getattr(messages, "PytorchEngineConfig", None)
    if not version_tested(version, tested) or config is None:
        return (
            f"LMDeploy {version or '(version unknown)'}: the PyTorch engine keeps its own process "
            f"(LMDeploy's default); starting it in the API server's process is tested with "
            f"{', '.join(t + '.x' for t in tested)} only"
        )
    original = config.__setattr__

    def setattr_in_process(self: object, name: str, value: object) -> None:
        if name == "enable_mp_engine" and value:
            value = False  # api_server asks for a second process; keep the engine here
        original(self, name, value)

    config.__setattr__ = setattr_in_process
    return f"LMDeploy {version}: the PyTorch engine runs in the API server's process"


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


def install_in_process_hook(tested: Sequence[str]) -> None:
    """Arrange :func:`keep_engine_in_process` for when LMDeploy imports its ``messages``."""

    def apply(module: ModuleType) -> None:
        note(keep_engine_in_process(module, tested))

    if "lmdeploy.messages" in sys.modules:
        apply(sys.modules["lmdeploy.messages"])
    else:
        sys.meta_path.insert(0, _AfterImport("lmdeploy.messages", apply))


def main() -> None:
    opts, _ = parse(sys.argv[1:])
    kind, target, args = build_argv(sys.argv[1:], dict(os.environ))
    if "--key-env" in opts:
        os.environ.pop(opts["--key-env"], None)
    if opts.get("--pytorch-in-process"):
        install_in_process_hook(opts["--pytorch-in-process"].split(","))
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
