"""Command builders, engine choice, the key launcher and GPU detection."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backends import keyed_exec
from backends.engines import (
    KEY_ENV,
    KEYED_EXEC,
    MIN_CONCURRENT_SEQUENCES,
    EngineUnavailable,
    Program,
    ServerOptions,
    choose_engine,
    find_lmdeploy,
    llamacpp_command,
    lmdeploy_command,
    lmdeploy_parser_name,
)
from backends.gpu import GpuInfo, parse_nvidia_smi, query_gpus
from backends.presets import ModelRef, find_preset, resolve
from tests.servers_helpers import ALL, FAKE_LMDEPLOY, use_fake_lmdeploy
from tui.core.votes import MAX_SAMPLES

PLAIN = Program(("lmdeploy",))  # an lmdeploy that is not a Python script: key must go on argv
KEY = "k-123"


def _ref(**kw) -> ModelRef:
    base = dict(source="/models/m", served_name="m", path=Path("/models/m"))
    base.update(kw)
    return ModelRef(**base)


def _value(argv, flag):
    return argv[argv.index(flag) + 1]


def test_lmdeploy_command_has_the_real_cli_flags():
    opts = ServerOptions(
        port=23333,
        backend="pytorch",
        tp=2,
        session_len=32768,
        cache_max_entry_count=0.5,
        max_batch_size=8,
        extra_args=("--log-level", "INFO"),
    )
    spec = lmdeploy_command(_ref(), opts, KEY, program=PLAIN, version=(0, 18, 0))
    argv = list(spec.argv)
    assert argv[:4] == ["lmdeploy", "serve", "api_server", "/models/m"]
    assert _value(argv, "--server-name") == "127.0.0.1"
    assert _value(argv, "--server-port") == "23333"
    assert _value(argv, "--model-name") == "m"
    assert _value(argv, "--backend") == "pytorch"
    assert _value(argv, "--tp") == "2"
    assert _value(argv, "--session-len") == "32768"
    assert _value(argv, "--cache-max-entry-count") == "0.5"
    # 8 asked for, 32 given: a group of up to 32 chains must decode in one batch
    assert _value(argv, "--max-batch-size") == "32"
    assert "--enable-prefix-caching" in argv
    assert _value(argv, "--log-level") == "INFO"
    assert f"--api-keys={KEY}" in argv  # one word: a key starting with "-" stays a value
    assert "--reasoning-parser" not in argv and "--model-format" not in argv
    assert KEY not in spec.display() and "--api-keys=***" in spec.display()
    assert spec.base_url == "http://127.0.0.1:23333/v1"
    assert "LMDEPLOY_USE_MODELSCOPE" not in spec.env


@pytest.mark.parametrize(
    ("asked", "extra", "expected"),
    [
        (None, (), None),  # LMDeploy's own default (128 or more) is left alone
        (64, (), "64"),
        (32, (), "32"),
        (1, (), "32"),
        (None, ("--max-batch-size", "4"), "32"),
        (None, ("--max-batch-size", "256"), "256"),
    ],
)
def test_lmdeploy_never_caps_concurrency_below_a_full_group(asked, extra, expected):
    opts = ServerOptions(port=1, max_batch_size=asked, extra_args=extra)
    argv = list(lmdeploy_command(_ref(), opts, None, program=PLAIN).argv)
    if expected is None:
        assert "--max-batch-size" not in argv
    else:
        assert _value(argv, "--max-batch-size") == expected
        assert argv.count("--max-batch-size") == 1
    assert MIN_CONCURRENT_SEQUENCES == 32 == MAX_SAMPLES
    eq = lmdeploy_command(
        _ref(), ServerOptions(port=1, extra_args=("--max-batch-size=2",)), None, program=PLAIN
    )
    assert "--max-batch-size=32" in eq.argv


def test_prefix_caching_can_be_turned_off_and_defaults_are_lmdeploys():
    spec = lmdeploy_command(
        _ref(), ServerOptions(port=1, enable_prefix_caching=False), None, program=PLAIN
    )
    argv = list(spec.argv)
    for flag in ("--enable-prefix-caching", "--backend", "--tp", "--session-len", "--api-keys"):
        assert flag not in argv


def test_reasoning_parser_only_for_thinking_models():
    for name in ("internlm3-8b-instruct", "qwen2.5-7b-instruct", "llama-3.1-8b-instruct"):
        ref = ModelRef(name, name, path=Path("/m"), preset=find_preset(name))
        argv = lmdeploy_command(
            ref, ServerOptions(port=1), None, program=PLAIN, version=(0, 10)
        ).argv
        assert "--reasoning-parser" not in argv
    r1 = resolve("deepseek-r1-distill-qwen-7b")
    old = lmdeploy_command(r1, ServerOptions(port=1), None, program=PLAIN, version=(0, 10, 1)).argv
    assert _value(list(old), "--reasoning-parser") == "deepseek-r1"
    qwen3 = resolve("qwen3-8b")
    new = lmdeploy_command(
        qwen3, ServerOptions(port=1), None, program=PLAIN, version=(0, 18, 0)
    ).argv
    assert _value(list(new), "--reasoning-parser") == "default"


def test_parser_names_across_lmdeploy_releases():
    assert lmdeploy_parser_name("qwen-qwq", None) == "qwen-qwq"
    assert lmdeploy_parser_name("deepseek-r1", (0, 17, 9)) == "deepseek-r1"
    assert lmdeploy_parser_name("deepseek-r1", (0, 18, 0)) == "default"


def test_awq_model_format_and_modelscope_id_download():
    ref = ModelRef(
        "Qwen/Qwen2.5-7B-Instruct-AWQ",
        "q",
        modelscope_id="Qwen/Qwen2.5-7B-Instruct-AWQ",
        model_format="awq",
    )
    spec = lmdeploy_command(ref, ServerOptions(port=1), None, program=PLAIN)
    assert _value(list(spec.argv), "--model-format") == "awq"
    assert spec.argv[3] == "Qwen/Qwen2.5-7B-Instruct-AWQ"
    assert spec.env["LMDEPLOY_USE_MODELSCOPE"] == "True"


def test_key_goes_through_the_environment_when_lmdeploy_is_python():
    program = Program((sys.executable, "-m", "lmdeploy"), python=sys.executable, module="lmdeploy")
    spec = lmdeploy_command(_ref(), ServerOptions(port=5), KEY, program=program)
    assert not spec.key_on_command_line
    assert spec.env[KEY_ENV] == KEY
    assert list(spec.argv[:2]) == [sys.executable, KEYED_EXEC]
    assert list(spec.argv[spec.argv.index("--") + 1 :][:3]) == ["serve", "api_server", "/models/m"]


def test_lmdeploy_refuses_gguf_and_missing_install(tmp_path):
    with pytest.raises(EngineUnavailable, match="GGUF"):
        lmdeploy_command(_ref(is_gguf=True), ServerOptions(port=1), None, program=PLAIN)


def test_find_lmdeploy_prefers_path_and_reads_the_shebang(monkeypatch, tmp_path):
    use_fake_lmdeploy(monkeypatch)
    program = find_lmdeploy()
    assert program is not None and program.argv == (str(FAKE_LMDEPLOY),)
    assert program.script == str(FAKE_LMDEPLOY) and program.python and "python" in program.python
    fallback = find_lmdeploy(
        path=str(tmp_path)
    )  # nothing on that PATH: `python -m lmdeploy` or nothing
    if importlib.util.find_spec("lmdeploy") is None:
        assert fallback is None
    else:
        assert fallback is not None and fallback.argv == (sys.executable, "-m", "lmdeploy")


def test_llamacpp_command():
    ref = _ref(path=Path("/m/smol.gguf"), is_gguf=True, served_name="smol")
    spec = llamacpp_command(
        ref, ServerOptions(port=8080, extra_args=("--n_threads", "2")), KEY, python="py"
    )
    argv = list(spec.argv)
    assert argv[:3] == ["py", "-m", "llama_cpp.server"]
    assert _value(argv, "--model") == "/m/smol.gguf"
    assert _value(argv, "--host") == "127.0.0.1"
    assert _value(argv, "--port") == "8080"
    assert _value(argv, "--model_alias") == "smol"
    assert _value(argv, "--n_threads") == "2"
    # a new request must queue, not cut the streaming one short (groups send several)
    assert _value(argv, "--interrupt_requests") == "false"
    assert "--api_key" not in argv and spec.env["API_KEY"] == KEY
    on_argv = llamacpp_command(ref, ServerOptions(port=1, key_in_env=False), KEY, python="py")
    assert _value(list(on_argv.argv), "--api_key") == KEY and "***" in on_argv.display()
    with pytest.raises(EngineUnavailable, match="gguf"):
        llamacpp_command(_ref(), ServerOptions(port=1), KEY)


@pytest.mark.parametrize(
    ("available", "gpu", "expected"),
    [
        (ALL, True, "lmdeploy"),
        (ALL, False, "llamacpp"),
        ({"lmdeploy": False, "llamacpp": True, "transformers": True}, True, "llamacpp"),
        ({"lmdeploy": True, "llamacpp": False, "transformers": True}, False, "transformers"),
    ],
)
def test_auto_engine_choice(available, gpu, expected):
    assert choose_engine("auto", available=available, gpu=gpu).engine == expected


def test_explicit_lmdeploy_without_gpu_is_honoured_with_a_warning():
    choice = choose_engine("lmdeploy", available=ALL, gpu=False)
    assert choice.engine == "lmdeploy"
    assert "no NVIDIA GPU" in choice.warnings[0]
    assert choice.default_model == "internlm3-8b-instruct"
    assert choose_engine("llama.cpp", available=ALL, gpu=True).default_model == "smollm2-135m"


def test_engine_errors_name_the_extra_to_install():
    none = {"lmdeploy": False, "llamacpp": False, "transformers": False}
    with pytest.raises(EngineUnavailable, match=r"o1tui\[gpu\]"):
        choose_engine("lmdeploy", available=none, gpu=True)
    with pytest.raises(EngineUnavailable, match=r"o1tui\[cpu\]"):
        choose_engine(None, available=none, gpu=False)
    with pytest.raises(EngineUnavailable, match="unknown engine"):
        choose_engine("vllm", available=ALL, gpu=False)


def test_keyed_exec_appends_the_key_inside_the_process():
    kind, target, args = keyed_exec.build_argv(
        ["--key-env", "K", "--key-flag", "--api-keys", "--module", "m", "--", "serve", "x"],
        {"K": "s3"},
    )
    assert (kind, target, args) == ("module", "m", ["serve", "x", "--api-keys=s3"])
    assert keyed_exec.build_argv(
        ["--key-env", "K", "--key-flag", "-k", "--script", "/p", "--", "a"], {}
    )[2] == ["a"]
    with pytest.raises(SystemExit):
        keyed_exec.build_argv(["--bogus", "1", "--", "a"], {})


def test_keyed_exec_runs_a_script_with_the_key_hidden(tmp_path):
    script = tmp_path / "show.py"
    script.write_text("import os, sys\nprint(sys.argv[1:], os.environ.get('SECRET_ENV'))\n")
    out = subprocess.run(
        [
            sys.executable,
            KEYED_EXEC,
            "--key-env",
            "SECRET_ENV",
            "--key-flag",
            "--api-keys",
            "--script",
            str(script),
            "--",
            "a",
        ],
        env={**os.environ, "SECRET_ENV": "s3cr3t"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.strip() == "['a', '--api-keys=s3cr3t'] None"  # passed on, and not inherited


def test_nvidia_smi_parsing_and_absence(tmp_path):
    text = "0, NVIDIA H100 80GB HBM3, 1234, 81559\n1, NVIDIA H100 80GB HBM3, [N/A], [N/A]\n"
    assert parse_nvidia_smi(text) == [GpuInfo(0, "NVIDIA H100 80GB HBM3", 1234, 81559)]
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho '0, Fake GPU, 512, 16384'\n")
    fake.chmod(0o755)
    gpus = query_gpus(str(fake))
    assert gpus == [GpuInfo(0, "Fake GPU", 512, 16384)]
    assert gpus[0].describe() == "Fake GPU · 0.5/16.0 GiB"
    failing = tmp_path / "broken-smi"
    failing.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    failing.chmod(0o755)
    assert query_gpus(str(failing)) is None
    assert query_gpus(str(tmp_path / "absent")) is None
