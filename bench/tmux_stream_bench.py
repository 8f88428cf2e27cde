"""Drawing cost: the real ``o1tui`` in tmux (120x40) streaming one long plain answer.

The stand-in OpenAI server (a separate process on loopback) answers with one 24 555-character
reply cut into 3 508 chunks of 7 characters, sent as fast as the socket takes them, or
``--rate`` chunks a second (a model's speed). ``o1tui`` runs in a private tmux server with the
``plain`` strategy; the question is typed, and the app's CPU time (user + system, from /proc,
children included) is read just before Enter and once the chain is saved as done. The figure
is CPU seconds per 1 000 chunks.

The figure depends on the conditions as much as on the code: the app draws at most about ten
frames a second, so the faster chunks come, the more chunks share a frame and the less each
costs; a loaded machine stretches every frame. The bench prints what it ran under: load
average (before, and after each run), cores, Python, whether bytecode was cached, whether
``textual-speedups`` was on, the send rate asked for and the one reached, and chunks per frame
interval (0.1 s). Compare figures only under the same conditions.

``--hold S`` holds the reply back S seconds before its first token (a model still reading a
long prompt): the app's CPU over that wait (``hold_cpu_s``; only the running clocks and the
question box's cursor draw then) is reported apart, and left out of the figure per chunk.

Run: ``python bench/tmux_stream_bench.py [--runs 3] [--chars 24555] [--chunk 7] [--rate N]
[--hold S]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The app's frame interval for a streaming step (tui.app.widgets.step_view.STREAM_INTERVAL_S).
FRAME_S = 0.1
WORDS = "the model checks each case carefully so that **the sum** is `x + y` and then".split()


def answer_text(chars: int) -> str:
    """Markdown-ish prose with paragraphs and a list now and then, ``chars`` long."""
    out: list[str] = []
    n = 0
    i = 0
    while n < chars:
        word = WORDS[i % len(WORDS)]
        piece = word + (".\n\n" if i % 61 == 60 else "\n- " if i % 89 == 88 else " ")
        out.append(piece)
        n += len(piece)
        i += 1
    return "".join(out)[:chars]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _chain_status(db: Path) -> str | None:
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT status FROM chains ORDER BY rid DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, printed with every figure."""
    return [round(x, 2) for x in os.getloadavg()]


def _bytecode_cached(module: str) -> bool:
    """Whether ``module``'s compiled bytecode is on disk (a run without it compiles at import)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return False
    return Path(importlib.util.cache_from_source(spec.origin)).exists()


def conditions(rate: float) -> dict:
    """What the figure depends on besides the code (printed with it)."""
    speedups = importlib.util.find_spec("textual_speedups") is not None
    return {
        "load_avg_1_5_15": load_average(),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "bytecode": {
            "PYTHONDONTWRITEBYTECODE": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
            "cached": {m: _bytecode_cached(m) for m in ("tui.app.app", "textual.app", "openai")},
        },
        "textual_speedups": speedups and os.environ.get("TEXTUAL_SPEEDUPS", "1") != "0",
        "send_rate_asked": f"{rate:g} chunks/s" if rate > 0 else "as fast as loopback takes",
    }


def one_run(
    chars: int, chunk: int, size: tuple[int, int], rate: float = 0.0, hold: float = 0.0
) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="o1tui-stream-"))
    text = answer_text(chars)
    chunks = -(-len(text) // chunk)
    script = tmp / "script.json"
    delay = 1.0 / rate if rate > 0 else 0.0
    reply = {
        "content": text,
        "chunk_chars": chunk,
        "usage": True,
        "delay_s": delay,
        "first_delay_s": hold,
    }
    script.write_text(json.dumps([reply]))
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        "TERM": "xterm-256color",
        "O1TUI_CONFIG_DIR": str(tmp / "config"),
        "O1TUI_LOG_DIR": str(tmp / "log"),
    }
    env.pop("TMUX", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(port)]
        + ["--script", str(script), "--model", "fake-model"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sock = f"o1bench-{os.getpid()}-{port}"
    data = tmp / "data"
    profile = os.environ.get("O1TUI_BENCH_PROFILE")  # a cProfile output file, to find the cost
    python = f"{sys.executable} -m cProfile -o {profile}" if profile else sys.executable
    app = (
        f"{python} -m tui.cli --data-dir {data} --endpoint http://127.0.0.1:{port}/v1 "
        "--model fake-model --strategy plain"
    )

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", sock, *args], env=env, capture_output=True, text=True, check=False
        ).stdout

    try:
        tmux("new-session", "-d", "-s", "b", "-x", str(size[0]), "-y", str(size[1]), app)
        _wait(lambda: "ready" in tmux("capture-pane", "-p", "-t", "b"), 60, "the app")
        pid = int(tmux("list-panes", "-t", "b", "-F", "#{pane_pid}").strip())
        tmux("send-keys", "-t", "b", "-l", "Write a long answer.")
        time.sleep(0.3)  # let the typed text settle: its drawing is not the stream's
        before = _cpu_s(pid)
        started = time.perf_counter()
        tmux("send-keys", "-t", "b", "Enter")
        hold_cpu = 0.0
        if hold > 0:
            # The wait for the first token, less half a second either end (request, reply).
            time.sleep(0.5)
            held = _cpu_s(pid)
            time.sleep(hold - 1.0)
            hold_cpu = _cpu_s(pid) - held
            before += hold_cpu  # the figure per chunk leaves the wait out
            started += hold - 1.0
        _wait(lambda: _chain_status(data / "history.db") == "done", 300, "the chain")
        wall = time.perf_counter() - started
        time.sleep(0.3)  # the final render after the save
        cpu = _cpu_s(pid) - before
        tmux("send-keys", "-t", "b", "C-q")
        if profile:  # cProfile writes its file when the program ends
            _wait(lambda: not tmux("list-panes", "-t", "b").strip(), 30, "the app to quit")
    finally:
        tmux("kill-server")
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    held = {"hold_s": hold - 1.0, "hold_cpu_s": round(hold_cpu, 3)} if hold > 0 else {}
    return {
        **held,
        "chunks": chunks,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "cpu_s_per_1000_chunks": round(cpu / chunks * 1000, 3),
        # The app's share of one core while the answer streams: at a model's speed (tens to
        # a few hundred chunks a second) this is the figure a user feels.
        "cpu_share": round(cpu / wall, 3),
        "chunks_per_s": round(chunks / wall),
        "chunks_per_frame": round(chunks / wall * FRAME_S, 1),
        "load_avg_after": load_average(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chars", type=int, default=24_555)
    parser.add_argument("--chunk", type=int, default=7, help="characters a chunk")
    parser.add_argument("--size", default="120x40", help="terminal size, WxH")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="chunks a second the stand-in sends (default 0: as fast as loopback takes them)",
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=0.0,
        help="seconds the reply is held back before its first token (at least 2)",
    )
    args = parser.parse_args(argv)
    if args.hold and args.hold < 2:
        parser.error("--hold must be at least 2 seconds")
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2
    width, height = (int(x) for x in args.size.split("x"))
    before = conditions(args.rate)
    runs = [
        one_run(args.chars, args.chunk, (width, height), args.rate, args.hold)
        for _ in range(args.runs)
    ]
    per = [r["cpu_s_per_1000_chunks"] for r in runs]
    result = {
        "conditions": before,
        "runs": runs,
        "median_cpu_s_per_1000_chunks": round(statistics.median(per), 3),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
