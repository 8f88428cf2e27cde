"""LMDeploy start-up savings: the check switch and the in-process engine, against the stand-in.

The stand-in (tests/fakes/lmdeploy_pkg) behaves like LMDeploy 0.18's ``api_server`` where o1tui
relies on it: ``--backend pytorch`` builds a ``PytorchEngineConfig`` and sets
``enable_mp_engine = True`` on it, which spawns an engine process; ``LMDEPLOY_ENABLE_CHECK_ENV``
(default on) runs the environment check in a spawned process pool; it records what it used.
"""

from __future__ import annotations

import json
import os
import sys
from functools import partial
from pathlib import Path

import pytest

from backends.engines import (
    KEYED_EXEC,
    Program,
    ServerOptions,
    lmdeploy_command,
    lmdeploy_startup,
)
from backends.keyed_exec import version_tested
from backends.manager import ServerStartError, start_backend
from backends.presets import resolve
from backends.supervisor import ServerProcess, free_port, group_members
from tests.servers_helpers import ALL, FAKE_BIN, chat, eventually
from tui.core.config import Settings

FAKE_PKG = FAKE_BIN.parent / "lmdeploy_pkg"


@pytest.fixture(autouse=True)
def env(fake_lmdeploy, monkeypatch, tmp_path):
    monkeypatch.delenv("LMDEPLOY_ENABLE_CHECK_ENV", raising=False)
    monkeypatch.setenv("FAKE_LMDEPLOY_ARGS_FILE", str(tmp_path / "args.json"))


def _start(model_dir: Path, handles: list, **settings):
    handle = start_backend(
        Settings(
            engine="lmdeploy",
            model=str(model_dir),
            backend="pytorch",
            port=free_port(),
            **settings,
        ),
        available=ALL,
        gpu=True,
    )
    handles.append(handle)
    return handle


def _engine_members_settled(pgid: int, in_process: bool) -> bool:
    """The server's group holds one process in-process, and the engine's beside it otherwise."""
    members = len(group_members(pgid))
    return members == 1 if in_process else members >= 2


def _recorded(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "args.json").read_text())


def test_pytorch_engine_starts_in_process_without_the_check(model_dir, handles, tmp_path):
    handle = _start(model_dir, handles)
    used = _recorded(tmp_path)
    assert used["enable_mp_engine"] is False and used["check_env"] is False
    assert used["log_level"] == "INFO"  # the stage lines
    # One process: the API server with the engine inside it, no spawned engine process.
    assert group_members(handle.process.pgid) == [handle.process.pid]
    log = "\n".join(handle.process.lines())
    assert "LMDeploy 0.18.0: the PyTorch engine runs in the API server's process" in log
    assert "environment check is skipped" in log
    assert chat(handle.port, handle.api_key, handle.model)[0] == 200
    pgid = handle.process.pgid
    handle.stop()
    assert group_members(pgid) == []


def test_settings_turn_each_switch_off(model_dir, handles, tmp_path):
    handle = _start(model_dir, handles, lmdeploy_in_process=False, lmdeploy_env_check=True)
    used = _recorded(tmp_path)
    assert used["enable_mp_engine"] is True and used["check_env"] is True
    # LMDeploy's default: the engine in a spawned process of the same group.
    assert eventually(lambda: len(group_members(handle.process.pgid)) >= 2)
    assert "--pytorch-in-process" not in handle.process.spec.argv
    assert "LMDEPLOY_ENABLE_CHECK_ENV" not in handle.process.spec.env
    assert chat(handle.port, handle.api_key, handle.model)[0] == 200
    pgid = handle.process.pgid
    handle.stop()
    assert group_members(pgid) == []


def test_an_untested_lmdeploy_keeps_its_default_and_the_log_says_why(
    model_dir, handles, tmp_path, monkeypatch
):
    monkeypatch.delenv("TORCH_COMPILE_DISABLE", raising=False)
    monkeypatch.setenv("FAKE_LMDEPLOY_VERSION", "0.19.1")
    handle = _start(model_dir, handles)
    assert _recorded(tmp_path)["enable_mp_engine"] is True
    assert _recorded(tmp_path)["version"] == "0.19.1"
    log = "\n".join(handle.process.lines())
    assert "LMDeploy 0.19.1: the PyTorch engine keeps its own process (LMDeploy's default)" in log
    assert "tested with 0.18.x only" in log
    assert _recorded(tmp_path)["torch_compile_disable"] is None
    assert "LMDeploy 0.19.1: torch.compile stays on (LMDeploy's default)" in log


@pytest.mark.parametrize("check", [False, True])
def test_an_engine_that_cannot_start_is_reported_in_the_servers_words(
    model_dir, monkeypatch, check
):
    monkeypatch.setenv("FAKE_LMDEPLOY_ENGINE_FAIL", "Triton kernel test failed: no CUDA driver")
    with pytest.raises(ServerStartError) as info:
        start_backend(
            Settings(
                engine="lmdeploy",
                model=str(model_dir),
                backend="pytorch",
                port=free_port(),
                lmdeploy_env_check=check,
            ),
            available=ALL,
            gpu=True,
        )
    first_line = str(info.value).splitlines()[0]
    assert first_line.startswith("RuntimeError: Triton kernel test failed: no CUDA driver")
    assert "exited during start-up" in first_line


def test_tp_above_one_and_turbomind_keep_lmdeploys_defaults(tmp_path):
    env, launcher, notes = lmdeploy_startup(ServerOptions(port=1, tp=2), {})
    assert "--pytorch-in-process" not in launcher and env == {"LMDEPLOY_ENABLE_CHECK_ENV": "0"}
    assert any("--tp 1 only" in n for n in notes)
    assert lmdeploy_startup(ServerOptions(port=1, backend="turbomind"), {}) == ({}, (), ())
    # A user's own LMDEPLOY_ENABLE_CHECK_ENV and TORCH_COMPILE_DISABLE are theirs.
    users = {"LMDEPLOY_ENABLE_CHECK_ENV": "1", "TORCH_COMPILE_DISABLE": "0"}
    env, launcher, _ = lmdeploy_startup(ServerOptions(port=1), users)
    assert env == {} and launcher[:2] == ("--pytorch-in-process", "0.18")
    assert "--no-torch-compile" not in launcher
    # The bytecode folder is under o1tui's cache dir.
    _, launcher, _ = lmdeploy_startup(ServerOptions(port=1), {"O1TUI_CACHE_DIR": str(tmp_path)})
    assert launcher[-2:] == ("--bytecode-cache", str(tmp_path / "bytecode"))
    _, launcher, _ = lmdeploy_startup(ServerOptions(port=1, lmdeploy_bytecode_cache=False), {})
    assert "--bytecode-cache" not in launcher


def test_torch_compile_is_off_by_default_and_a_setting_turns_it_back(
    model_dir, handles, tmp_path, monkeypatch
):
    monkeypatch.delenv("TORCH_COMPILE_DISABLE", raising=False)
    handle = _start(model_dir, handles)
    assert _recorded(tmp_path)["torch_compile_disable"] == "1"
    assert "LMDeploy 0.18.0: torch.compile is off" in "\n".join(handle.process.lines())
    handle.stop()
    handle = _start(model_dir, handles, lmdeploy_torch_compile=True)
    assert _recorded(tmp_path)["torch_compile_disable"] is None
    assert "--no-torch-compile" not in handle.process.spec.argv
    handle.stop()
    # A user's own switch is left as they set it.
    monkeypatch.setenv("TORCH_COMPILE_DISABLE", "0")
    _start(model_dir, handles)
    assert _recorded(tmp_path)["torch_compile_disable"] == "0"


def test_a_users_log_level_wins_and_the_launcher_runs_without_a_key(model_dir):
    program = Program((sys.executable, "-m", "lmdeploy"), python=sys.executable, module="lmdeploy")
    spec = lmdeploy_command(
        resolve(str(model_dir)),
        ServerOptions(port=1, extra_args=("--log-level", "WARNING")),
        None,
        program=program,
        version=(0, 18, 0),
    )
    argv = list(spec.argv)
    assert argv.count("--log-level") == 1 and argv[argv.index("--log-level") + 1] == "WARNING"
    assert argv[:2] == [sys.executable, KEYED_EXEC] and "--key-env" not in argv
    assert argv[argv.index("--pytorch-in-process") + 1] == "0.18"


def test_python_m_lmdeploy_in_process_and_spawned(model_dir, tmp_path, monkeypatch):
    """``python -m lmdeploy`` through the launcher: LMDeploy's spawned processes re-import the
    main module, which works because the target runs under ``__main__`` guards."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FAKE_PKG), os.getcwd()]))
    program = Program((sys.executable, "-m", "lmdeploy"), python=sys.executable, module="lmdeploy")
    model = resolve(str(model_dir))
    for in_process in (True, False):
        opts = ServerOptions(port=free_port(), backend="pytorch", lmdeploy_in_process=in_process)
        spec = lmdeploy_command(model, opts, "k3y", program=program)
        with ServerProcess(spec, log_dir=tmp_path) as proc:
            proc.start()
            proc.wait_ready(30)
            used = _recorded(tmp_path)
            assert used["enable_mp_engine"] is (not in_process)
            # Spawned: the engine process (and multiprocessing's resource tracker).
            assert eventually(partial(_engine_members_settled, proc.pgid, in_process))
            assert chat(opts.port, "k3y", spec.served_name)[0] == 200
        assert group_members(proc.pgid) == []


def test_version_prefixes():
    assert version_tested("0.18.0", ["0.18"]) and version_tested("0.18.2", ["0.17", "0.18"])
    assert not version_tested("0.180.1", ["0.18"]) and not version_tested("0.19.0", ["0.18"])
    assert not version_tested(None, ["0.18"])


def test_tp_2_reaches_lmdeploy_and_keeps_its_engine_process(model_dir, handles, tmp_path):
    handle = _start(model_dir, handles, tp=2)
    used = _recorded(tmp_path)
    assert used["tp"] == 2 and used["enable_mp_engine"] is True and used["check_env"] is False
    assert "measured with --tp 1 only" in "\n".join(handle.process.lines())
    assert chat(handle.port, handle.api_key, handle.model)[0] == 200
    pgid = handle.process.pgid
    handle.stop()
    assert group_members(pgid) == []
