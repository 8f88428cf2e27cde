"""The named public benchmark sets: fetched once from ModelScope's datasets, cached, offline after.

``o1tui eval math500`` (or ``o1tui download math500`` ahead of time) fetches the set's one raw
file through ``modelscope`` into ``<cache dir>/sets/<name>/``, checks that it reads as a set of
the published size, and writes ``source.json`` next to it: the dataset id, the file, its
sha256, the licence and the item count. Every later use reads the cached file — no network —
and refuses it when its sha256 no longer matches the recorded one (a truncated copy, an edited
file: results would not be comparable).

The registry below names, for each set, the ModelScope dataset and the file in it. The files
are the JSON Lines uploads of the sets (o1tui reads no Parquet), each in its published format
(:mod:`tui.evals.formats`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.evals.sets import EvalSet, SetFileError, load_set_file

#: The file written next to a cached set: where it came from and its checksum.
SOURCE_FILE = "source.json"
#: The hub the sets come from, as listings name it.
HUB = "ModelScope"


@dataclass(frozen=True)
class NamedSet:
    """One public benchmark set: where it is on ModelScope and what it should hold."""

    name: str
    title: str
    #: ModelScope dataset id (``owner/name``).
    dataset_id: str
    #: The file inside the dataset repository.
    file: str
    #: Items in the published set (a download holding another count is refused).
    size: int
    licence: str
    #: Math sets get the model cards' 0-shot chain-of-thought prompt under ``plain``.
    math: bool = True


NAMED_SETS: dict[str, NamedSet] = {
    s.name: s
    for s in (
        NamedSet(
            "gsm8k",
            "GSM8K test split",
            "opencompass/gsm8k",
            "test.jsonl",
            1319,
            "MIT",
        ),
        NamedSet(
            "math500",
            "MATH-500",
            "AI-ModelScope/MATH-500",
            "test.jsonl",
            500,
            "MIT",
        ),
        NamedSet(
            "aime2024",
            "AIME 2024 I and II",
            "evalscope/aime24",
            "test.jsonl",
            30,
            "MIT (problems (c) MAA)",
        ),
        NamedSet(
            "cmath",
            "CMATH test split (Chinese, grades 1-6)",
            "evalscope/cmath",
            "cmath_test.jsonl",
            1098,
            "CC-BY-4.0",
        ),
    )
}


class NotCachedError(SetFileError):
    """A named set is not in the cache and could not be downloaded; one line says what to do."""


def sets_cache_dir() -> Path:
    """Where named sets are cached: ``<cache dir>/sets`` (``$O1TUI_CACHE_DIR`` moves it)."""
    from backends.locations import cache_dir

    return cache_dir() / "sets"


def set_dir(name: str) -> Path:
    return sets_cache_dir() / name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_source(name: str) -> dict[str, Any] | None:
    """The cached set's ``source.json``, or None when the set is not cached (or it is
    unreadable: then it is fetched again)."""
    try:
        data = json.loads((set_dir(name) / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("sha256"), str) else None


def is_cached(name: str) -> bool:
    return read_source(name) is not None


def _offline_hint(spec: NamedSet, reason: str) -> str:
    """One line: what to do first (it must survive being cut), then why the download failed."""
    return (
        f"set {spec.name} is not cached here and could not be downloaded: on a machine with "
        f"network run 'o1tui download {spec.name}' and copy the folder it prints to "
        f"{set_dir(spec.name)}, or pass the set's file (o1tui eval FILE) — {reason}"
    )


def fetch_named_set(name: str, *, modelscope: Any = None) -> Path:
    """Download the set's file into the cache (replacing nothing until it is complete and
    checked); return the cached file. Already cached: the cached file, not fetched again.

    Raises :class:`NotCachedError` when the download fails (no network, no modelscope) and
    :class:`SetFileError` when what came is not the published set.
    """
    from backends.download import DownloadError, download_dataset_file

    spec = NAMED_SETS[name]
    if is_cached(name):
        return cached_file(spec)
    from backends.locations import ensure_private_dir

    final = set_dir(name)
    ensure_private_dir(final.parent)  # LocationError (one line) when it cannot be a folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        try:
            path = download_dataset_file(spec.dataset_id, spec.file, tmp, modelscope=modelscope)
        except DownloadError as err:
            raise NotCachedError(_offline_hint(spec, str(err))) from None
        eval_set = load_set_file(path)  # SetFileError names the line and the format
        if len(eval_set.items) != spec.size:
            raise SetFileError(
                f"{spec.dataset_id}/{spec.file} holds {len(eval_set.items)} items, not the "
                f"{spec.size} of {spec.name}; it was not cached"
            )
        local = tmp / Path(spec.file).name
        if path.resolve() != local.resolve():
            shutil.move(str(path), local)
        source = {
            "name": spec.name,
            "dataset_id": spec.dataset_id,
            "file": spec.file,
            "sha256": _sha256(local),
            "licence": spec.licence,
            "items": len(eval_set.items),
        }
        (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
        for child in list(tmp.iterdir()):  # what modelscope left beside the file (its metadata)
            if child.name not in (local.name, SOURCE_FILE):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        if final.exists():  # a folder without a readable source.json: an earlier bad copy
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return cached_file(spec)


def cached_file(spec: NamedSet) -> Path:
    """The cached file, checked against the recorded sha256 (SetFileError when it differs)."""
    source = read_source(spec.name) or {}
    path = set_dir(spec.name) / Path(spec.file).name
    try:
        actual = _sha256(path)
    except OSError as err:
        raise SetFileError(
            f"{path}: {err.strerror or err}; delete {path.parent} and download it again"
        ) from None
    if actual != source.get("sha256"):
        raise SetFileError(
            f"{path} changed since it was downloaded (sha256 {actual[:12]}…, recorded "
            f"{str(source.get('sha256'))[:12]}…); delete {path.parent} and download it again"
        )
    return path


def source_label(spec: NamedSet, sha256: str) -> str:
    """What a run stores as its set's source: the dataset, the file and its checksum."""
    return f"modelscope:{spec.dataset_id}/{spec.file}@sha256:{sha256}"


def load_named_set(name: str, *, modelscope: Any = None) -> EvalSet:
    """The named set, from the cache (fetched first when it is not there)."""
    spec = NAMED_SETS[name]
    path = fetch_named_set(name, modelscope=modelscope)
    eval_set = load_set_file(path)
    sha = str((read_source(name) or {}).get("sha256", ""))
    return EvalSet(name=spec.name, items=eval_set.items, source=source_label(spec, sha))


def listing() -> list[str]:
    """``eval --list`` lines of the named sets: name, items, cached or not, licence, source."""
    lines = []
    for spec in NAMED_SETS.values():
        state = "cached" if is_cached(spec.name) else "not cached"
        lines.append(
            f"{spec.name:<14} {spec.size:>4} items  {state:<10}  {spec.title} · "
            f"{spec.licence} · {HUB} {spec.dataset_id}"
        )
    return lines


def is_math_set(eval_set: EvalSet) -> bool:
    """Whether the set's questions get the model cards' chain-of-thought prompt under
    ``plain``: a named math set, or a file in a math benchmark's format."""
    from tui.evals.formats import file_is_math

    spec = NAMED_SETS.get(eval_set.name)
    if spec is not None and (eval_set.source or "").startswith("modelscope:"):
        return spec.math
    return eval_set.source is not None and file_is_math(eval_set.source)
