"""The environment a GPU bench gives each ``o1tui`` process it runs (eval_bench, group_bench)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def o1tui_env(folder: Path, api_key: str | None) -> dict[str, str]:
    """This process's environment with o1tui's data, config and logs under ``folder`` and the
    repository first on the path; ``api_key`` goes through the environment, never on a
    command line."""
    env = dict(
        os.environ,
        # keep what the caller put on the path (wheels installed into a folder, say)
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        O1TUI_DATA_DIR=str(folder / "data"),
        O1TUI_CONFIG_DIR=str(folder / "config"),
        O1TUI_LOG_DIR=str(folder / "logs"),
    )
    if api_key:
        env["O1TUI_API_KEY"] = api_key
    return env
