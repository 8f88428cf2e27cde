"""Kill ``o1tui ask`` with SIGKILL at random moments and check that the history held.

Each iteration starts ``python -m tui.cli ask`` against a slow stand-in server (a delay per
streamed chunk, so a chain takes a second or two), kills it at a random moment, and then
checks the database it was writing:

- ``PRAGMA integrity_check`` answers ``ok``;
- every step the process printed as finished (a ``Step N: ...`` line on its stdout) is in the
  database, for that iteration's chain;
- :meth:`tui.store.history.History.open` opens the file (it also turns the killed chain, left
  ``running``, into ``error``/interrupted).

All iterations share one data dir, so the database grows as a user's would. Prints the counts
at the end (and ``--json`` for scripts). The app variant (``--app``) does the same with the
full-screen app in a tmux pane: it types a question, waits a random time, SIGKILLs the app.

    python bench/crash_loop.py --iterations 300
    python bench/crash_loop.py --iterations 50 --app
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@dataclass
class Counts:
    """What the loop saw; ``lost_steps`` and ``integrity_failures`` must stay 0."""

    runs: int = 0
    kills: int = 0  #: runs killed before they exited on their own
    finished_before_kill: int = 0
    steps_reported: int = 0  #: "Step N:" lines printed by killed and finished runs
    lost_steps: int = 0  #: printed steps missing from the database
    integrity_failures: int = 0
    open_failures: int = 0  #: History.open raised
    locked_errors: int = 0  #: "database is locked" on a process's stderr
    tracebacks: int = 0
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not (
            self.lost_steps
            or self.integrity_failures
            or self.open_failures
            or self.locked_errors
            or self.tracebacks
        )


class SlowServer:
    """The stand-in OpenAI server as a separate process, ``delay_s`` before every chunk."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> SlowServer:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.openai_server",
                "--port",
                "0",
                "--delay",
                str(self.delay_s),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "serving on" not in line:
            self.proc.kill()
            raise RuntimeError(f"the stand-in server did not start: {line!r}")
        self.url = line.split("serving on", 1)[1].strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cli_env(data_dir: Path) -> dict[str, str]:
    base = data_dir.parent
    return {
        **os.environ,
        "O1TUI_DATA_DIR": str(data_dir),
        "O1TUI_CONFIG_DIR": str(base / "config"),
        "O1TUI_LOG_DIR": str(base / "logs"),
        "PYTHONUNBUFFERED": "1",
    }


def start_ask(url: str, question: str, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "ask",
            question,
            "--endpoint",
            url,
            "--model",
            "fake-model",
        ],
        cwd=REPO,
        env=cli_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _reader(stream, sink: list[str]) -> threading.Thread:
    def pump() -> None:
        for line in stream:
            sink.append(line)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    return t


def reported_steps(lines: list[str]) -> set[int]:
    """Indices of the ``Step N: ...`` lines a run printed (each printed after it was saved)."""
    found: set[int] = set()
    for line in lines:
        if line.startswith("Step ") and ":" in line:
            head = line[5:].split(":", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return found


def check_database(db: Path, question: str, printed: set[int], counts: Counts) -> None:
    """Integrity, the printed steps present, and History.open working."""
    from tui.store.history import History

    conn = sqlite3.connect(db, timeout=10)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            counts.integrity_failures += 1
            counts.problems.append(f"integrity_check: {result[:3]}")
        row = conn.execute("SELECT id FROM chains WHERE question = ?", (question,)).fetchone()
        stored: set[int] = set()
        if row is not None:
            stored = {
                r[0] for r in conn.execute("SELECT idx FROM steps WHERE chain_id = ?", (row[0],))
            }
    finally:
        conn.close()
    missing = printed - stored
    if missing:
        counts.lost_steps += len(missing)
        counts.problems.append(f"{question!r}: printed steps {sorted(missing)} not in the db")
    try:
        History.open(db.parent).close()
    except Exception as err:  # noqa: BLE001 - counted, the loop goes on
        counts.open_failures += 1
        counts.problems.append(f"History.open: {type(err).__name__}: {err}")


def check_stderr(err: str, counts: Counts) -> None:
    if "database is locked" in err.lower():
        counts.locked_errors += 1
        counts.problems.append(f"locked: {err.strip()[-300:]}")
    if "Traceback" in err:
        counts.tracebacks += 1
        counts.problems.append(f"traceback: {err.strip()[-500:]}")


def crash_once(
    url: str, data_dir: Path, i: int, max_wait_s: float, rng: random.Random, counts: Counts
) -> None:
    """One run of ``ask``, SIGKILLed after a random wait in [0.1, max_wait_s]."""
    question = f"crash loop question {i} {rng.random():.6f}"
    proc = start_ask(url, question, data_dir)
    out: list[str] = []
    err: list[str] = []
    threads = [_reader(proc.stdout, out), _reader(proc.stderr, err)]
    wait = rng.uniform(0.1, max_wait_s)
    try:
        proc.wait(wait)
        counts.finished_before_kill += 1
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        counts.kills += 1
    for t in threads:
        t.join(5)
    counts.runs += 1
    printed = reported_steps(out)
    counts.steps_reported += len(printed)
    check_stderr("".join(err), counts)
    check_database(data_dir / "history.db", question, printed, counts)


def calibrate(url: str, data_dir: Path, counts: Counts) -> float:
    """Seconds one uninterrupted ``ask`` takes here (the kill window follows it, so the loop
    kills across the whole run on a fast machine and on a loaded 2-core one alike)."""
    question = "crash loop calibration"
    started = time.perf_counter()
    proc = start_ask(url, question, data_dir)
    out, err = proc.communicate(timeout=300)
    elapsed = time.perf_counter() - started
    counts.runs += 1
    counts.finished_before_kill += 1
    check_stderr(err, counts)
    if proc.returncode != 0:
        counts.problems.append(f"calibration run exited {proc.returncode}: {err.strip()[-300:]}")
    printed = reported_steps(out.splitlines())
    counts.steps_reported += len(printed)
    check_database(data_dir / "history.db", question, printed, counts)
    return elapsed


def concurrent_once(url: str, data_dir: Path, i: int, counts: Counts) -> None:
    """Two ``ask`` processes and a reader (``history list``) on one data dir at once."""
    questions = [f"parallel {i} a", f"parallel {i} b"]
    procs = [start_ask(url, q, data_dir) for q in questions]
    readers = 0
    while any(p.poll() is None for p in procs):
        r = subprocess.run(
            [sys.executable, "-m", "tui.cli", "history", "list", "--limit", "5"],
            cwd=REPO,
            env=cli_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
        )
        readers += 1
        check_stderr(r.stderr, counts)
        if r.returncode != 0:
            counts.problems.append(f"history list exited {r.returncode}: {r.stderr.strip()}")
    for p, q in zip(procs, questions, strict=True):
        out, err = p.communicate()
        counts.runs += 1
        check_stderr(err, counts)
        if p.returncode != 0:
            counts.problems.append(f"parallel ask exited {p.returncode}: {err.strip()[-300:]}")
        printed = reported_steps(out.splitlines())
        counts.steps_reported += len(printed)
        check_database(data_dir / "history.db", q, printed, counts)


# --- the app in tmux --------------------------------------------------------------------


def app_crash_once(
    url: str, data_dir: Path, i: int, max_wait_s: float, rng: random.Random, counts: Counts
) -> None:
    """Start the app in a detached tmux session, ask a question, SIGKILL it mid-chain."""
    session = f"o1crash{os.getpid()}_{i}"
    env = cli_env(data_dir)
    cmd = [sys.executable, "-m", "tui.cli", "--endpoint", url, "--model", "fake-model"]
    question = f"app crash question {i}"
    side: subprocess.Popen[str] | None = None
    shown: set[int] = set()
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "120",
            "-y",
            "40",
            "-e",
            f"O1TUI_DATA_DIR={env['O1TUI_DATA_DIR']}",
            "-e",
            f"O1TUI_CONFIG_DIR={env['O1TUI_CONFIG_DIR']}",
            "-e",
            f"O1TUI_LOG_DIR={env['O1TUI_LOG_DIR']}",
            "-c",
            str(REPO),
            *cmd,
        ],
        check=True,
    )
    try:
        pid = int(
            subprocess.run(
                ["tmux", "display", "-p", "-t", session, "#{pane_pid}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        time.sleep(2.5)  # the app starting
        subprocess.run(["tmux", "send-keys", "-t", session, "-l", question], check=True)
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
        # An `ask` on the same data dir while the app writes (and is killed).
        side_question = f"ask beside the app {i}"
        side = start_ask(url, side_question, data_dir)
        time.sleep(rng.uniform(0.1, max_wait_s))
        # What the screen shows as finished just before the kill (a step's title gets its
        # time when it finishes, after it was saved) must be in the database afterwards.
        screen = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
        ).stdout
        # A running step's title shows a ticking time only; a finished one adds its tokens.
        shown = {int(m) for m in re.findall(r"Step (\d+) · .*?[\d.]+ s · \d+ tok", screen)}
        try:
            os.kill(pid, signal.SIGKILL)
            counts.kills += 1
        except ProcessLookupError:
            counts.finished_before_kill += 1
        counts.runs += 1
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    if side is None:
        counts.problems.append("the app did not start in tmux")
        return
    side_out, side_err = side.communicate(timeout=300)
    counts.runs += 1
    check_stderr(side_err, counts)
    if side.returncode != 0:
        counts.problems.append(
            f"ask beside the app exited {side.returncode}: {side_err.strip()[-300:]}"
        )
    side_steps = reported_steps(side_out.splitlines())
    counts.steps_reported += len(side_steps)
    check_database(data_dir / "history.db", side_question, side_steps, counts)
    # The steps stored must also be a prefix 1..n (no hole from a torn write).
    counts.steps_reported += len(shown)
    check_database(data_dir / "history.db", question, shown, counts)
    conn = sqlite3.connect(data_dir / "history.db")
    try:
        row = conn.execute("SELECT id FROM chains WHERE question = ?", (question,)).fetchone()
        if row:
            idx = sorted(
                r[0] for r in conn.execute("SELECT idx FROM steps WHERE chain_id = ?", (row[0],))
            )
            if idx != list(range(1, len(idx) + 1)):
                counts.lost_steps += 1
                counts.problems.append(f"app chain steps not contiguous: {idx}")
    finally:
        conn.close()


# --- driver -----------------------------------------------------------------------------


def run(
    iterations: int,
    *,
    delay_s: float = 0.02,
    max_wait_s: float | None = None,
    seed: int = 0,
    parallel_every: int = 10,
    app: bool = False,
    data_dir: Path | None = None,
    progress: bool = False,
) -> Counts:
    """Run the loop and return its counts (``parallel_every=0``: no concurrent rounds)."""
    rng = random.Random(seed)
    counts = Counts()
    own_tmp = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="o1tui-crash-")) if own_tmp else data_dir.parent
    data = data_dir or root / "data"
    try:
        with SlowServer(delay_s) as server:
            if max_wait_s is None:
                max_wait_s = 1.1 * calibrate(server.url, data, counts)
                if progress:
                    print(f"  kill window: 0.1 to {max_wait_s:.1f} s", file=sys.stderr)
            for i in range(iterations):
                if app:
                    app_crash_once(server.url, data, i, max_wait_s, rng, counts)
                else:
                    crash_once(server.url, data, i, max_wait_s, rng, counts)
                if parallel_every and (i + 1) % parallel_every == 0:
                    concurrent_once(server.url, data, i, counts)
                if progress and (i + 1) % 10 == 0:
                    print(
                        f"  {i + 1}/{iterations}: kills {counts.kills}, lost "
                        f"{counts.lost_steps}, integrity failures {counts.integrity_failures}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        if own_tmp:
            shutil.rmtree(root, ignore_errors=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--delay", type=float, default=0.02, help="server delay per chunk (s)")
    p.add_argument(
        "--max-wait",
        type=float,
        default=None,
        help="kill within this many seconds (default: 1.1 x one full run, measured)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--parallel-every",
        type=int,
        default=10,
        help="every N iterations, two asks and a reader at once (0: never)",
    )
    p.add_argument("--app", action="store_true", help="kill the app in tmux instead of ask")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.app and not shutil.which("tmux"):
        print("crash_loop: --app needs tmux", file=sys.stderr)
        return 2
    started = time.perf_counter()
    counts = run(
        args.iterations,
        delay_s=args.delay,
        max_wait_s=args.max_wait,
        seed=args.seed,
        parallel_every=args.parallel_every,
        app=args.app,
        progress=True,
    )
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({**asdict(counts), "elapsed_s": round(elapsed, 1)}, indent=2))
    else:
        print(
            f"runs {counts.runs}  kills {counts.kills}  finished before kill "
            f"{counts.finished_before_kill}  steps reported {counts.steps_reported}"
        )
        print(
            f"integrity failures {counts.integrity_failures}  lost reported steps "
            f"{counts.lost_steps}  open failures {counts.open_failures}  'database is "
            f"locked' {counts.locked_errors}  tracebacks {counts.tracebacks}"
        )
        print(f"elapsed {elapsed:.0f} s")
        for problem in counts.problems[:20]:
            print("  problem:", problem)
    return 0 if counts.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
