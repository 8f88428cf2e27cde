"""Start a Python server program with an API key that never appears in the process list.

LMDeploy takes its keys only as ``--api-keys KEY`` on its command line, and every local user
can read a command line (``ps``, ``/proc/PID/cmdline``). This launcher is what o1tui runs
instead: it reads the key from an environment variable (``/proc/PID/environ`` is readable by
the owner only), removes the variable so the server's own children do not inherit it, appends
``FLAG=KEY`` to ``sys.argv`` *inside* the process (``sys.argv`` is a Python list; the kernel's
copy of the command line stays as it was), and runs the real program in the same process.

Usage (run by path with the server's own interpreter; standard library only, so it needs no
o1tui installed there)::

    python keyed_exec.py --key-env VAR --key-flag --api-keys (--module NAME | --script PATH) -- ARGS...
"""

from __future__ import annotations

import os
import runpy
import sys


def build_argv(argv: list[str], environ: dict[str, str]) -> tuple[str, str, list[str]]:
    """Parse the launcher's own arguments; return (kind, target, argv for the target).

    ``kind`` is ``module`` or ``script``. Raises ``SystemExit`` with a usage line on bad input.
    """
    opts: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0] != "--":
        if len(rest) < 2 or rest[0] not in ("--key-env", "--key-flag", "--module", "--script"):
            raise SystemExit(f"keyed_exec: bad arguments: {rest[:2]}")
        opts[rest[0]] = rest[1]
        rest = rest[2:]
    if not rest or "--key-env" not in opts or "--key-flag" not in opts:
        raise SystemExit(
            "keyed_exec: usage: --key-env VAR --key-flag FLAG (--module M | --script P) -- ARGS"
        )
    args = rest[1:]
    key = environ.get(opts["--key-env"], "")
    if key:
        # One word, FLAG=KEY: a key that begins with "-" is never read as an option.
        args = args + [f"{opts['--key-flag']}={key}"]
    if "--module" in opts:
        return "module", opts["--module"], args
    if "--script" in opts:
        return "script", opts["--script"], args
    raise SystemExit("keyed_exec: give --module or --script")


def main() -> None:
    kind, target, args = build_argv(sys.argv[1:], dict(os.environ))
    for i, word in enumerate(sys.argv):
        if word == "--key-env" and i + 1 < len(sys.argv):
            os.environ.pop(sys.argv[i + 1], None)
            break
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
