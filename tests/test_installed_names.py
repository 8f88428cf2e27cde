"""o1tui's generic import names: another project's ``backends`` stops o1tui with one line.

Real processes: another ``backends`` package is put first on the path, as a second
distribution owning the name would be, and ``python -m tui.cli`` is run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(path_first: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m tui.cli`` run from ``path_first``, which ``-m`` puts first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=path_first,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", ["backends", "themes"])
def test_another_projects_package_stops_o1tui_with_one_line(tmp_path: Path, name: str) -> None:
    other = tmp_path / name
    other.mkdir()
    (other / "__init__.py").write_text('"""Another project that owns the name."""\n')
    done = run_cli(tmp_path, "--version")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"o1tui: the installed package '{name}' is not o1tui's")
    assert str(other / "__init__.py") in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_o1tuis_own_packages_pass_the_check(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert done.stderr == ""
