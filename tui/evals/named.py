"""The named public benchmark sets: fetched once from ModelScope's datasets, cached, offline after.

``o1tui eval math500`` (or ``o1tui download math500`` ahead of time) fetches the set's one raw
file through ``modelscope`` into ``<cache dir>/sets/<name>/``, checks that it reads as a set of
the published size, and writes ``source.json`` next to it: the dataset id, the file, its
sha256, the licence and the item count. Every later use reads the cached file — no network —
and refuses it when its sha256 no longer matches the recorded one (a truncated copy, an edited
file: results would not be comparable).

The registry below names, for each set, its sources in the order they are tried: a ModelScope
dataset, the split wanted and the file names expected for it. The repositories' layouts could
not all be checked, and mirrors get reorganised: when none of the expected files is there, the
repository's file list is asked for and the split's file picked from it
(:func:`pick_split_file`). A source whose file is missing, unreadable or of the wrong size is
passed over for the next one. Files are JSON Lines or Parquet, each in its published format
(:mod:`tui.evals.formats`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tui.evals.sets import EvalSet, SetFileError, load_set_file

#: The file written next to a cached set: where it came from and its checksum.
SOURCE_FILE = "source.json"
#: The hub the sets come from, as listings name it.
HUB = "ModelScope"
#: File types a set can be read from, the most convenient first (JSON Lines needs no pyarrow).
SET_FILE_SUFFIXES = (".jsonl", ".json", ".parquet")


@dataclass(frozen=True)
class Source:
    """One place a set may be fetched from: a ModelScope dataset and the split in it."""

    #: ModelScope dataset id (``owner/name``).
    dataset_id: str
    #: The split wanted; a listed file is the split's when a word of its path is this.
    split: str
    #: Files tried first, in order (paths inside the repository).
    files: tuple[str, ...] = ()
    #: The configuration wanted when the repository holds several (GSM8K's ``main`` beside
    #: ``socratic``): a listed file under it is preferred.
    subset: str | None = None


@dataclass(frozen=True)
class NamedSet:
    """One public benchmark set: where it is on ModelScope and what it should hold."""

    name: str
    title: str
    #: Where it may be fetched from, tried in order.
    sources: tuple[Source, ...]
    #: Items in the published set (a download holding another count is refused).
    size: int
    licence: str
    #: Math sets get the model cards' 0-shot chain-of-thought prompt under ``plain``.
    math: bool = True

    @property
    def dataset_id(self) -> str:
        """The first source's dataset."""
        return self.sources[0].dataset_id


NAMED_SETS: dict[str, NamedSet] = {
    s.name: s
    for s in (
        NamedSet(
            "gsm8k",
            "GSM8K test split",
            (
                Source(
                    "AI-ModelScope/gsm8k",
                    "test",
                    ("main/test-00000-of-00001.parquet",),
                    subset="main",
                ),
                Source("opencompass/gsm8k", "test", ("test.jsonl",)),
            ),
            1319,
            "MIT",
        ),
        NamedSet(
            "math500",
            "MATH-500",
            (Source("AI-ModelScope/MATH-500", "test", ("test.jsonl",)),),
            500,
            "MIT",
        ),
        NamedSet(
            "aime2024",
            "AIME 2024 I and II",
            (
                # One split, ``train``, as on Hugging Face.
                Source("HuggingFaceH4/aime_2024", "train", ("data/train-00000-of-00001.parquet",)),
                Source("evalscope/aime24", "test", ("test.jsonl",)),
            ),
            30,
            "MIT (problems (c) MAA)",
        ),
        NamedSet(
            "cmath",
            "CMATH test split (Chinese, grades 1-6)",
            (Source("evalscope/cmath", "test", ("cmath_test.jsonl",)),),
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


#: Words of a listed path that say nothing about which split or subset it holds.
_NOISE_WORDS = frozenset({"data", "default", "of", "jsonl", "json", "parquet"})


def _words(path: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", path.lower()) if w]


def _safe_repo_path(path: str) -> bool:
    """Whether a listed path can be fetched into a folder without leaving it."""
    pure = PurePosixPath(path)
    return (
        bool(path)
        and not pure.is_absolute()
        and ".." not in pure.parts
        and "\\" not in path
        and path.isprintable()
    )


def pick_split_file(paths: list[str], split: str, subset: str | None = None) -> str | None:
    """The file of ``split`` among a repository's listed ``paths``, or None.

    A candidate is a JSON Lines, JSON or Parquet file one of whose path's words is the split
    (``test.jsonl``, ``main/test-00000-of-00001.parquet``, ``cmath_test.jsonl``). Among them:
    those under ``subset`` (a word of the path) when any is; then the fewest other words
    (``test.jsonl`` before ``test_socratic.jsonl``); then JSON Lines before JSON before
    Parquet; then the shortest path.
    """
    known = {split, *([subset] if subset else [])}
    candidates = [
        p
        for p in paths
        if _safe_repo_path(p)
        and PurePosixPath(p).name != SOURCE_FILE  # the cache's own record keeps that name
        and PurePosixPath(p).suffix.lower() in SET_FILE_SUFFIXES
        and split in _words(p)
    ]
    if subset is not None and any(subset in _words(p) for p in candidates):
        candidates = [p for p in candidates if subset in _words(p)]

    def rank(p: str) -> tuple[int, int, int, str]:
        extra = [w for w in _words(p) if w not in known and w not in _NOISE_WORDS]
        extra = [w for w in extra if not w.isdigit()]
        suffix = SET_FILE_SUFFIXES.index(PurePosixPath(p).suffix.lower())
        return len(extra), suffix, len(p), p

    return min(candidates, key=rank, default=None)


class _SourceFailed(Exception):
    """This source does not hold the set as expected; the message says why (short)."""


def _why(err: Exception) -> str:
    """The first line of what the hub or the network said (the error DownloadError wraps):
    the source is named beside it already."""
    cause = err.__cause__ or err
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def _fetch_source(source: Source, folder: Path, modelscope: Any) -> tuple[Path, str]:
    """Download the source's file of the split into ``folder``: ``(local path, its path in
    the repository)``. The expected files first; when none is there, the one the repository's
    listing shows for the split. :class:`_SourceFailed` when neither gives a file."""
    from backends.download import DownloadError, download_dataset_file, list_dataset_files

    for file in source.files:
        try:
            return download_dataset_file(
                source.dataset_id, file, folder, modelscope=modelscope
            ), file
        except DownloadError:
            continue  # not there (or not fetchable): the listing says what is
    try:
        listed = list_dataset_files(source.dataset_id, modelscope=modelscope)
    except DownloadError as err:
        raise _SourceFailed(f"cannot list its files ({_why(err)})") from None
    chosen = pick_split_file(listed, source.split, source.subset)
    if chosen is None:
        kinds = ", ".join(SET_FILE_SUFFIXES)
        raise _SourceFailed(
            f"no {kinds} file of split {source.split} among its {len(listed)} files"
        )
    try:
        return download_dataset_file(
            source.dataset_id, chosen, folder, modelscope=modelscope
        ), chosen
    except DownloadError as err:
        raise _SourceFailed(f"{chosen}: {_why(err)}") from None


def _check_set(spec: NamedSet, path: Path, file: str) -> int:
    """The item count of a downloaded file; :class:`_SourceFailed` when it is not the set."""
    try:
        eval_set = load_set_file(path)
    except SetFileError as err:
        raise _SourceFailed(str(err).replace(str(path), file)) from None
    if len(eval_set.items) != spec.size:
        raise _SourceFailed(
            f"{file} holds {len(eval_set.items)} items, not the {spec.size} of {spec.name}"
        )
    return len(eval_set.items)


def fetch_named_set(name: str, *, modelscope: Any = None) -> Path:
    """Download the set's file into the cache (replacing nothing until it is complete and
    checked); return the cached file. Already cached: the cached file, not fetched again.

    The sources are tried in order (:func:`_fetch_source`); the first whose file reads as the
    set of the published size is kept, and ``source.json`` records which dataset and file it
    was. Raises :class:`NotCachedError` when the hub cannot be reached (no network, no
    modelscope) or no source holds the set: one line naming each source and why.
    """
    from backends.download import DownloadError, check_hub_reachable

    spec = NAMED_SETS[name]
    if is_cached(name):
        return cached_file(spec)
    from backends.locations import ensure_private_dir

    try:
        check_hub_reachable(modelscope=modelscope)
    except DownloadError as err:
        raise NotCachedError(_offline_hint(spec, str(err))) from None
    final = set_dir(name)
    ensure_private_dir(final.parent)  # LocationError (one line) when it cannot be a folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        failures: list[str] = []
        for number, source in enumerate(spec.sources):
            attempt = tmp / f"try{number}"  # what one source left stays out of the next
            try:
                path, file = _fetch_source(source, attempt, modelscope)
                items = _check_set(spec, path, file)
            except _SourceFailed as err:
                failures.append(f"{source.dataset_id}: {err}")
                continue
            local = tmp / PurePosixPath(file).name
            shutil.move(str(path), local)
            break
        else:
            raise NotCachedError(
                f"set {name} could not be downloaded from {HUB} (pass the set's file instead: "
                f"o1tui eval FILE); tried " + "; ".join(failures)
            )
        source_record = {
            "name": spec.name,
            "dataset_id": source.dataset_id,
            "file": file,
            "sha256": _sha256(local),
            "licence": spec.licence,
            "items": items,
        }
        (tmp / SOURCE_FILE).write_text(json.dumps(source_record, indent=2) + "\n", encoding="utf-8")
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
    path = set_dir(spec.name) / PurePosixPath(str(source.get("file", ""))).name
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


def source_label(source: dict[str, Any]) -> str:
    """What a run stores as its set's source: the dataset, the file and its checksum, from
    the cached set's ``source.json``."""
    return (
        f"modelscope:{source.get('dataset_id')}/{source.get('file')}@sha256:{source.get('sha256')}"
    )


def load_named_set(name: str, *, modelscope: Any = None) -> EvalSet:
    """The named set, from the cache (fetched first when it is not there)."""
    spec = NAMED_SETS[name]
    path = fetch_named_set(name, modelscope=modelscope)
    eval_set = load_set_file(path)
    label = source_label(read_source(name) or {})
    return EvalSet(name=spec.name, items=eval_set.items, source=label)


def listing() -> list[str]:
    """``eval --list`` lines of the named sets: name, items, cached or not, licence, source
    (the dataset it came from when cached, else the first one tried)."""
    lines = []
    for spec in NAMED_SETS.values():
        source = read_source(spec.name)
        state = "cached" if source is not None else "not cached"
        dataset = str(source.get("dataset_id")) if source is not None else spec.dataset_id
        lines.append(
            f"{spec.name:<14} {spec.size:>4} items  {state:<10}  {spec.title} · "
            f"{spec.licence} · {HUB} {dataset}"
        )
    return lines


def is_math_set(eval_set: EvalSet) -> bool:
    """Whether the set's questions get the model cards' chain-of-thought prompt under
    ``plain``: a named math set, or a file in a math benchmark's format."""
    from tui.evals.sets import file_is_math

    spec = NAMED_SETS.get(eval_set.name)
    if spec is not None and (eval_set.source or "").startswith("modelscope:"):
        return spec.math
    return eval_set.source is not None and file_is_math(eval_set.source)
