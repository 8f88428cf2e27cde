"""The SSH session drops while the app runs a chain: does o1tui (and its server) always end?

Each run starts the real app in a detached tmux session (its own tmux server) with a managed
server (the stand-in ``lmdeploy`` from tests/fakes/bin, answering slowly), types a question,
waits until the chain is running, then closes the terminal one of two ways:

- ``kill``: ``tmux kill-session`` (the pane's terminal goes away: SIGHUP, a dead tty);
- ``quit-hup``: ctrl+q, then SIGHUP to the app ``--hup-after`` seconds later (a quit that the
  session's end overtakes).

A run counts as hung when the app process is still alive ``--deadline`` seconds later, and as a
server left behind when the server's process group still has members then.

    python bench/ssh_drop_loop.py --runs 100 --mode both

Prints one JSON document: runs, hung, servers_left, seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backends.supervisor import free_port, group_members  # noqa: E402
from tests.helpers import server_pgid  # noqa: E402


def _o1tui() -> str:
    exe = Path(sys.executable).with_name("o1tui")
    return str(exe) if exe.exists() else f"{sys.executable} -m tui.cli"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def one_run(mode: str, work: Path, *, hup_after_s: float, deadline_s: float) -> dict[str, bool]:
    """One app run ended by the terminal closing; what was left afterwards."""
    model = work / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    port = free_port()
    socket = f"o1tui-drop-{os.getpid()}-{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "O1TUI_CONFIG_DIR": str(work / "c"),
        "O1TUI_LOG_DIR": str(work / "l"),
        "O1TUI_DATA_DIR": str(work / "d"),
        "TERM": "xterm-256color",
        "FAKE_LMDEPLOY_REPLY_DELAY": "0.2",
        "PATH": f"{REPO / 'tests' / 'fakes' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("TMUX", None)

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], env=env, capture_output=True, text=True
        ).stdout

    cmd = f"exec {_o1tui()} --engine lmdeploy --model {model} --port {port}"
    tmux("new-session", "-d", "-s", "o1", "-x", "100", "-y", "30", cmd)
    pgid = None
    app_pid = 0
    try:
        app_pid = int(tmux("list-panes", "-t", "o1", "-F", "#{pane_pid}").split()[0])
        if not _wait(lambda: "● ready" in tmux("capture-pane", "-p", "-t", "o1"), 60):
            raise RuntimeError("the app never showed the server ready")
        pgid = server_pgid(port)
        tmux("send-keys", "-t", "o1", "-l", "How many r are in strawberry?")
        tmux("send-keys", "-t", "o1", "Enter")
        if not _wait(lambda: "Step 1" in tmux("capture-pane", "-p", "-t", "o1"), 30):
            raise RuntimeError("the chain never started")
        if mode == "kill":
            tmux("kill-session", "-t", "o1")
        else:
            tmux("send-keys", "-t", "o1", "C-q")
            time.sleep(hup_after_s)
            if _alive(app_pid):
                os.kill(app_pid, signal.SIGHUP)
        hung = not _wait(lambda: not _alive(app_pid), deadline_s)
        left = pgid is not None and not _wait(lambda: not group_members(pgid), 15)
        return {"hung": hung, "server_left": left}
    finally:
        tmux("kill-server")
        if app_pid and _alive(app_pid):
            os.kill(app_pid, signal.SIGKILL)
        if pgid is not None and group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per mode")
    parser.add_argument("--mode", choices=("kill", "quit-hup", "both"), default="both")
    parser.add_argument("--hup-after", type=float, default=0.2, help="quit-hup: seconds")
    parser.add_argument("--deadline", type=float, default=20.0, help="seconds before 'hung'")
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2
    modes = ("kill", "quit-hup") if args.mode == "both" else (args.mode,)
    started = time.monotonic()
    counts = {"runs": 0, "hung": 0, "servers_left": 0, "failed_to_set_up": 0}
    for mode in modes:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="o1tui-drop-") as tmp:
                try:
                    outcome = one_run(
                        mode, Path(tmp), hup_after_s=args.hup_after, deadline_s=args.deadline
                    )
                except RuntimeError as err:
                    print(f"{mode}: {err}", file=sys.stderr)
                    counts["failed_to_set_up"] += 1
                    continue
            counts["runs"] += 1
            counts["hung"] += outcome["hung"]
            counts["servers_left"] += outcome["server_left"]
    result = {**counts, "modes": list(modes), "seconds": round(time.monotonic() - started, 1)}
    print(json.dumps(result))
    return 0 if result["hung"] == 0 and result["servers_left"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
