"""Time to first frame: ``o1tui`` against a bare Textual app, each in a real pseudo-terminal.

Each program is started in a pty of 100x30; the clock stops when the first frame's text
reaches the terminal (a marker string painted by the first screen), then ctrl+q ends it.
``o1tui`` is pointed at a closed loopback port: it connects after the first frame, so the
figure is the app's own start-up (imports, parse, settings, themes, first layout).

Both programs run with Python's bytecode cache, as on a user's machine (pip compiles an
installed package's modules; a source checkout caches them at its first run): the cache is
kept in the bench's temporary folder (``PYTHONPYCACHEPREFIX``), filled by one untimed run of
each program, so an environment that turns bytecode writing off (``PYTHONDONTWRITEBYTECODE``)
does not make o1tui compile its own modules at every start while Textual's come compiled
from site-packages. ``--as-is`` keeps the environment's own setting instead.

``--tmux``: each program in a tmux session of 120x40 instead, the clock stopping when
``capture-pane`` shows the marker (as a user's terminal multiplexer sees it; polls every 5 ms).

Run: ``python bench/startup_bench.py [--runs 5] [--as-is] [--tmux]``
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BARE_APP = """
from textual.app import App
from textual.widgets import Footer, Static
class Bare(App):
    def compose(self):
        yield Static("bare-first-frame")
        yield Footer()
Bare().run()
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_marker(
    argv: list[str], marker: bytes, env: dict[str, str], timeout: float = 30.0
) -> float:
    """Seconds from spawning ``argv`` in a pty until ``marker`` appears in its output."""
    import fcntl
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    elapsed = float("nan")
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                seen += chunk
                if marker in seen:
                    elapsed = time.perf_counter() - start
                    break
        os.write(master, b"\x11")  # ctrl+q
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
    finally:
        os.close(master)
    return elapsed


_RUNS = itertools.count()


def time_in_tmux(
    argv: list[str], marker: bytes, env: dict[str, str], timeout: float = 30.0, *, sockets: Path
) -> float:
    """Seconds from starting ``argv`` in a new tmux session (120x40, a private server whose
    socket is in the folder ``sockets``) until the marker is on its screen."""
    import shlex
    import shutil

    # A server of its own per run: a new one on the socket of one still going away fails.
    tmux = [shutil.which("tmux") or "tmux", "-S", str(sockets / f"tmux-{next(_RUNS)}")]
    command = shlex.join(argv)  # the session's environment is the tmux server's: ``env``
    start = time.perf_counter()
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "bench", "-x", "120", "-y", "40", command],
        check=True,
        env=env,
    )
    elapsed = float("nan")
    try:
        while time.perf_counter() - start < timeout:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "bench"], capture_output=True, env=env
            ).stdout
            if marker in screen:
                elapsed = time.perf_counter() - start
                break
            time.sleep(0.005)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, env=env)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="keep the environment's bytecode setting (no shared cache, no untimed first run)",
    )
    parser.add_argument("--tmux", action="store_true", help="time in tmux 120x40, not a pty")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="o1tui-startup-"))
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "O1TUI_CONFIG_DIR": str(tmp / "config"),
        "O1TUI_LOG_DIR": str(tmp / "log"),
        "COLUMNS": "100",
        "LINES": "30",
    }
    env.pop("TMUX", None)
    if not args.as_is:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    o1tui = Path(sys.executable).with_name("o1tui")
    o1_cmd = [
        str(o1tui) if o1tui.exists() else "o1tui",
        "--data-dir",
        str(tmp / "data"),
        "--endpoint",
        f"http://127.0.0.1:{_closed_port()}/v1",
        "--model",
        "m",
    ]
    bare_cmd = [sys.executable, "-c", BARE_APP]
    if args.tmux:  # a one-line command for tmux
        (tmp / "bare.py").write_text(BARE_APP)
        bare_cmd = [sys.executable, str(tmp / "bare.py")]
    results: dict[str, list[float]] = {"bare_textual": [], "o1tui": []}
    timer = functools.partial(time_in_tmux, sockets=tmp) if args.tmux else time_to_marker
    if args.tmux:
        env.pop("COLUMNS")
        env.pop("LINES")
    if not args.as_is:  # untimed: fills the bytecode cache of both
        timer(bare_cmd, b"bare-first-frame", env)
        timer(o1_cmd, b"Ask a question below", env)
    for _ in range(args.runs):  # interleaved, so load on the machine hits both alike
        results["bare_textual"].append(timer(bare_cmd, b"bare-first-frame", env))
        results["o1tui"].append(timer(o1_cmd, b"Ask a question below", env))
    report: dict[str, Any] = {
        name: {
            "median_s": round(statistics.median(v), 3),
            "min_s": round(min(v), 3),
            "runs": [round(x, 3) for x in v],
        }
        for name, v in results.items()
    }
    report["o1tui_minus_bare_median_s"] = round(
        report["o1tui"]["median_s"] - report["bare_textual"]["median_s"], 3
    )
    report["ratio_median"] = round(
        report["o1tui"]["median_s"] / report["bare_textual"]["median_s"], 2
    )
    report["bytecode"] = (
        "as the environment sets it" if args.as_is else "cached (untimed first run)"
    )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
