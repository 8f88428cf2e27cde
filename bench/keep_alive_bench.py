"""How fast the next o1tui attaches to a server an earlier one kept warm (``keep_alive``).

Starts the stand-in ``lmdeploy`` (tests/fakes) through ``o1tui ask`` with ``keep_alive`` set, so
a kept server with its record is left behind, then times, N times each:

- attach: ``start_backend`` in-process, from the call to a handle ready for requests
  (reading the record, checking the keeper process, probing the port with the key);
- ask: a whole ``o1tui ask --strategy plain`` process that attaches and gets its answer
  (Python start-up and imports included);
- ask --endpoint: the same question to the same server given as ``--endpoint`` with its key
  (no attach): the difference to the line above is what attaching costs a whole process.

    .venv/bin/python bench/keep_alive_bench.py [--repeat 5]

Prints the medians and ranges in milliseconds, then stops the kept server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backends.keepalive import read_state, state_path  # noqa: E402
from backends.locations import runtime_dir  # noqa: E402
from backends.manager import start_backend  # noqa: E402
from backends.supervisor import free_port, group_members  # noqa: E402
from tui.core.config import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="o1tui-keep-"))
    model = tmp / "Tiny-Chat"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"0")
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{REPO / 'tests' / 'fakes' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "O1TUI_DATA_DIR": str(tmp / "data"),
        "O1TUI_LOG_DIR": str(tmp / "logs"),
        "O1TUI_CONFIG_DIR": str(tmp / "config"),
        "O1TUI_RUNTIME_DIR": str(tmp / "run"),
        "O1TUI_KEEP_ALIVE": "10m",
    }
    os.environ.update({k: env[k] for k in ("PATH", "O1TUI_RUNTIME_DIR", "O1TUI_LOG_DIR")})
    ask = [sys.executable, "-m", "tui.cli", "ask", "What is 2+2?", "--engine", "lmdeploy"]
    ask += ["--model", str(model), "--port", str(port), "--strategy", "plain"]
    t = time.perf_counter()
    subprocess.run(ask, cwd=REPO, env=env, check=True, capture_output=True)
    print(f"first ask, starting the kept server: {1000 * (time.perf_counter() - t):.0f} ms")
    settings = Settings(engine="lmdeploy", model=str(model), port=port, keep_alive="10m")
    kept = read_state(state_path(runtime_dir(), port))
    assert kept is not None
    direct = [sys.executable, "-m", "tui.cli", "ask", "What is 2+2?", "--endpoint", kept.base_url]
    direct += ["--api-key", kept.api_key, "--model", kept.model, "--strategy", "plain"]
    attach_ms, ask_ms, direct_ms = [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        handle = start_backend(settings, available={"lmdeploy": True}, gpu=True)
        attach_ms.append(1000 * (time.perf_counter() - t))
        assert handle.kept, "did not attach"
        t = time.perf_counter()
        subprocess.run(ask, cwd=REPO, env=env, check=True, capture_output=True)
        ask_ms.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        subprocess.run(direct, cwd=REPO, env=env, check=True, capture_output=True)
        direct_ms.append(1000 * (time.perf_counter() - t))
    for name, values in (
        ("attach (in-process)", attach_ms),
        ("o1tui ask, attaching", ask_ms),
        ("o1tui ask --endpoint", direct_ms),
    ):
        print(
            f"{name}: median {statistics.median(values):.0f} ms "
            f"(range {min(values):.0f}-{max(values):.0f}, n={len(values)})"
        )
    if read_state(state_path(runtime_dir(), port)) is not None:
        os.killpg(kept.pid, 15)
        while group_members(kept.pid):
            time.sleep(0.1)


if __name__ == "__main__":
    main()
