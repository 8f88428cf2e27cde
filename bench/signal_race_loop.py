"""SIGTERM / SIGHUP right after `o1tui ask` prints its answer: is the managed server ever left?

Each run starts ``python -m tui.cli ask QUESTION --engine lmdeploy`` with the stand-in
``lmdeploy`` (tests/fakes/bin) on PATH, waits for "Total thinking time" on its stdout, sleeps a
random 0 to ``--max-delay-ms`` milliseconds and sends SIGTERM or SIGHUP (alternating). After the
process ends, the server's process group must be empty.

    python bench/signal_race_loop.py --runs 1000

Prints one JSON document: runs, servers_left, tracebacks, seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
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


def one_run(work: Path, sig: int, delay_s: float) -> dict[str, bool]:
    model = work / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "O1TUI_DATA_DIR": str(work / "d"),
        "O1TUI_CONFIG_DIR": str(work / "c"),
        "O1TUI_LOG_DIR": str(work / "l"),
        "PATH": f"{REPO / 'tests' / 'fakes' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    argv = [sys.executable, "-m", "tui.cli", "ask", "How many r are in strawberry?"]
    argv += ["--strategy", "plain", "--engine", "lmdeploy", "--model", str(model)]
    argv += ["--port", str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    assert proc.stdout is not None
    pgid = None
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while b"Total thinking time" not in seen:
            if pgid is None:
                pgid = server_pgid(port)
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"no answer: {seen[-200:]!r}")
            ready, _, _ = select.select([proc.stdout], [], [], 0.05)
            if ready:
                seen += os.read(proc.stdout.fileno(), 65536)
        pgid = pgid or server_pgid(port)
        time.sleep(delay_s)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        left = pgid is not None and bool(group_members(pgid))
        return {"server_left": left, "traceback": b"Traceback" in err}
    finally:
        if proc.poll() is None:
            proc.kill()
        if pgid is not None and group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--max-delay-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.monotonic()
    counts = {"runs": 0, "servers_left": 0, "tracebacks": 0, "failed_to_set_up": 0}
    for n in range(args.runs):
        sig = signal.SIGTERM if n % 2 == 0 else signal.SIGHUP
        with tempfile.TemporaryDirectory(prefix="o1tui-race-") as tmp:
            try:
                outcome = one_run(Path(tmp), sig, rng.uniform(0, args.max_delay_ms) / 1000)
            except RuntimeError as err:
                print(err, file=sys.stderr)
                counts["failed_to_set_up"] += 1
                continue
        counts["runs"] += 1
        counts["servers_left"] += outcome["server_left"]
        counts["tracebacks"] += outcome["traceback"]
    result = {
        **counts,
        "max_delay_ms": args.max_delay_ms,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(result))
    return 0 if counts["servers_left"] == 0 and counts["tracebacks"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
