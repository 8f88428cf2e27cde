"""Static checks, run by the test command so CI runs them: lint, format, types, layering.

Each failure prints what the tool printed: the file, the line and the rule to fix. The
settings live in pyproject.toml (``[tool.ruff]``, ``[tool.mypy]``).
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"{module} is not installed: pip install -e '.[test]'")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _report(result: subprocess.CompletedProcess[str], fix: str) -> str:
    return f"{(result.stdout + result.stderr).strip()}\n(fix: {fix})"


def test_ruff_lint() -> None:
    result = _tool("ruff", "check", "--output-format=concise", "--no-cache", ".")
    assert result.returncode == 0, _report(result, "ruff check --fix FILE, or edit as said")


def test_ruff_format() -> None:
    result = _tool("ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, _report(result, "ruff format FILE")


def test_mypy() -> None:
    # Files and strictness come from [tool.mypy]; the cache keeps a second run to seconds.
    result = _tool("mypy", "--no-error-summary", "--show-error-codes")
    assert result.returncode == 0, _report(result, "the error code in [brackets] names the rule")


# --- the import contract -------------------------------------------------------------------


def _imports(path: Path, root: Path = REPO) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy imports in functions count).

    Relative imports are resolved against the file's package under ``root``: in
    ``tui/app/x.py``, ``from .mod import y`` is ``tui.app.mod`` and ``from .. import core`` is
    ``tui.core`` (a name imported from a package may be a module; counting it as one errs on the
    safe side)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.parent.relative_to(root).parts
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            assert node.level <= len(package), f"{path}: relative import above the repository"
            base = ".".join(package[: len(package) - (node.level - 1)])
            if node.module:
                found.add(f"{base}.{node.module}")
            else:
                found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _breaches(files: list[Path], forbidden: tuple[str, ...], root: Path = REPO) -> list[str]:
    breaches = []
    for path in files:
        for module in sorted(_imports(path, root)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                breaches.append(f"{path.relative_to(root)}: imports {module}")
    return breaches


def test_backends_never_import_tui() -> None:
    """The model-server layer stands alone: the app and the CLI build on it, not the reverse."""
    files = sorted((REPO / "backends").rglob("*.py"))
    assert files
    breaches = _breaches(files, ("tui",))
    assert not breaches, "\n".join(breaches)


def _files(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (REPO / f).rglob("*.py"))


def test_the_core_never_imports_textual() -> None:
    """Everything in tui/ outside tui/app/ (common leaves, core, store, evals, the CLI) runs
    without Textual: ``o1tui ask`` and ``o1tui history`` must not pay for it, and the core
    stays testable."""
    app = REPO / "tui" / "app"
    files = [p for p in _files("tui") if app not in p.parents]
    assert REPO / "tui" / "core" / "runner.py" in files
    assert REPO / "tui" / "store" / "history.py" in files
    breaches = _breaches(files, ("textual",))
    # The command line starts the app (lazily, for `o1tui` alone); nothing else outside it may.
    starter = REPO / "tui" / "cli" / "commands.py"
    breaches += _breaches([p for p in files if p != starter], ("tui.app",))
    assert not breaches, "\n".join(breaches)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    """The house of ARCHITECTURE.md: the common leaves (tui/*.py) import no tui package; the
    core, the store and the evals never reach up into the command line or the app."""
    leaves = sorted((REPO / "tui").glob("*.py"))
    assert REPO / "tui" / "sanitize.py" in leaves
    breaches = _breaches(leaves, ("tui.core", "tui.store", "tui.evals", "tui.cli", "tui.app"))
    breaches += _breaches(_files("tui/core", "tui/store"), ("tui.evals", "tui.cli", "tui.app"))
    breaches += _breaches(_files("tui/evals"), ("tui.cli", "tui.app"))
    assert not breaches, "\n".join(breaches)


def test_the_contract_checker_sees_lazy_imports(tmp_path: Path) -> None:
    """The checker finds an import inside a function, where lazy imports hide."""
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from textual.app import App\n    import tui.core.chain\n")
    assert _imports(sample, tmp_path) == {"textual.app", "tui.core.chain"}


def test_the_contract_checker_resolves_relative_imports(tmp_path: Path) -> None:
    """``from . import x`` and ``from .mod import y`` name modules of the file's own package."""
    sample = tmp_path / "tui" / "evals" / "m.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "from . import specs, store\n"
        "from .sets import load\n"
        "from .. import core\n"
        "from ..app.widgets import chain_view\n"
        "def f():\n    from ..app import O1App\n"
    )
    assert _imports(sample, tmp_path) == {
        "tui.evals.specs",
        "tui.evals.store",
        "tui.evals.sets",
        "tui.core",
        "tui.app.widgets",
        "tui.app",
    }
    # The layering rule catches a core module reaching the app through a relative import.
    assert _breaches([sample], ("tui.app",), tmp_path) == [
        "tui/evals/m.py: imports tui.app",
        "tui/evals/m.py: imports tui.app.widgets",
    ]
