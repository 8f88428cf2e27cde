"""A set by the name the user gives: a built-in set, a named public set, else a set file.

Its own module because it knows every kind of set (:mod:`tui.evals.builtin`,
:mod:`tui.evals.named`, :mod:`tui.evals.sets`), and those import :mod:`tui.evals.sets`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tui.evals.sets import EvalSet, SetFileError, load_set_file


def load_set(
    name_or_path: str, seed: int = 0, cancelled: Callable[[], bool] | None = None
) -> EvalSet:
    """A built-in set by name (generated from ``seed``), a named public set (from the cache,
    downloaded once), else the set file at that path.

    Raises :class:`SetFileError` for a malformed file, for a name that is neither and for a
    seed out of range; :class:`ReadCancelled` when ``cancelled`` says so while a file loads.
    """
    from tui.evals.builtin import BUILTIN_SETS, builtin_set, check_seed
    from tui.evals.named import NAMED_SETS, load_named_set

    if name_or_path in BUILTIN_SETS:
        try:
            check_seed(seed)
        except ValueError as err:
            raise SetFileError(str(err)) from None
        return builtin_set(name_or_path, seed)
    if name_or_path in NAMED_SETS:
        return load_named_set(name_or_path)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        names = ", ".join([*BUILTIN_SETS, *NAMED_SETS])
        raise SetFileError(
            f"{name_or_path!r} is neither a built-in set ({names}) nor an existing file"
        )
    if path.is_dir():
        raise SetFileError(f"{path}: is a directory, not a set file")
    return load_set_file(path, cancelled)
