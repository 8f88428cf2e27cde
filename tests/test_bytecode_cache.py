"""The launcher keeps the server's bytecode in o1tui's cache only where it is needed: the probed
package came without bytecode and Python may not write it beside the sources.

Each case runs the launcher's function in a fresh interpreter (it sets ``sys.pycache_prefix``
for the rest of the process), against a package made here, then imports the package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backends.engines import KEYED_EXEC

SCRIPT = """
import json, runpy, sys
launcher = runpy.run_path(sys.argv[1])
note = launcher["cache_bytecode"](sys.argv[2], "probepkg")
import probepkg.mod
print(json.dumps({"note": note, "prefix": sys.pycache_prefix,
                  "dont_write": sys.dont_write_bytecode}))
"""


def _package(root: Path, *, with_bytecode: bool, read_only: bool = False) -> Path:
    pkg = root / "site" / "probepkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("VALUE = 42\n")
    if with_bytecode:
        import compileall

        assert compileall.compile_dir(str(pkg), quiet=1)
    if read_only:
        pkg.chmod(0o555)
    return pkg


def _run(root: Path, cache: Path, *, no_write: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(root / "site")
    if no_write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(KEYED_EXEC), str(cache)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cached(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob("*.pyc"))


def test_no_bytecode_and_python_may_not_write_it_goes_to_the_cache(tmp_path):
    pkg = _package(tmp_path, with_bytecode=False)
    cache = tmp_path / "cache"
    result = _run(tmp_path, cache, no_write=True)
    assert result["prefix"] == str(cache) and result["dont_write"] is False
    assert "installed without bytecode" in result["note"] and str(cache) in result["note"]
    tag = sys.implementation.cache_tag
    assert _cached(cache) == [f"__init__.{tag}.pyc", f"mod.{tag}.pyc"]
    assert not (pkg / "__pycache__").exists()  # never beside the installed package
    assert cache.stat().st_mode & 0o777 == 0o700
    # The next start reads it from there (and writes nothing new).
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*.pyc")}
    _run(tmp_path, cache, no_write=True)
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.pyc")} == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_package_without_bytecode_goes_to_the_cache(tmp_path):
    pkg = _package(tmp_path, with_bytecode=False, read_only=True)
    cache = tmp_path / "cache"
    try:
        result = _run(tmp_path, cache, no_write=False)
    finally:
        pkg.chmod(0o755)
    assert result["prefix"] == str(cache) and len(_cached(cache)) == 2


@pytest.mark.parametrize(
    ("with_bytecode", "no_write"), [(True, True), (True, False), (False, False)]
)
def test_nothing_changes_where_bytecode_is_there_or_python_writes_it(
    tmp_path, with_bytecode, no_write
):
    _package(tmp_path, with_bytecode=with_bytecode)
    cache = tmp_path / "cache"
    result = _run(tmp_path, cache, no_write=no_write)
    assert result["note"] is None and result["prefix"] is None
    assert not cache.exists()


def test_a_cache_that_cannot_be_made_changes_nothing(tmp_path):
    _package(tmp_path, with_bytecode=False)
    (tmp_path / "file").write_text("")
    result = _run(tmp_path, tmp_path / "file" / "cache", no_write=True)
    assert result["note"] is None and result["prefix"] is None and result["dont_write"] is True


def test_a_missing_package_changes_nothing(tmp_path):
    (tmp_path / "site").mkdir()
    script = SCRIPT.replace("import probepkg.mod\n", "")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run(
        [sys.executable, "-c", script, str(KEYED_EXEC), str(tmp_path / "cache")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout)["note"] is None
