"""Security defaults: private files, the API-key warning, a per-start key that never lands on
disk or in the process list, servers on loopback, and no shell anywhere.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import sys
from pathlib import Path

import pytest

from tui.core.chain import Chain, Step

REPO = Path(__file__).resolve().parent.parent
FAKE_BIN = REPO / "tests" / "fakes" / "bin"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture()
def open_umask():
    """A permissive umask: private modes must come from o1tui, not from the user's umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture()
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    d = {"data": tmp_path / "data", "config": tmp_path / "config", "logs": tmp_path / "logs"}
    monkeypatch.setenv("O1TUI_DATA_DIR", str(d["data"]))
    monkeypatch.setenv("O1TUI_CONFIG_DIR", str(d["config"]))
    monkeypatch.setenv("O1TUI_LOG_DIR", str(d["logs"]))
    return d


# --- file modes ------------------------------------------------------------------------------


def test_history_dir_and_files_are_private(dirs, open_umask):
    from tui.store.history import History

    with History.open(dirs["data"]) as h:
        chain = Chain(question="private?", strategy="g1", model="m")
        h.start_chain(chain)
        h.add_step(chain.id, Step(index=1, title="t", content="c"))
        files = sorted(p.name for p in dirs["data"].iterdir())
        assert "history.db" in files
        assert mode(dirs["data"]) == 0o700
        for p in dirs["data"].iterdir():  # the db and its -wal/-shm while open
            assert mode(p) == 0o600, (p.name, oct(mode(p)))


def test_an_existing_data_dir_keeps_its_mode_and_the_db_is_tightened(dirs, open_umask):
    """Only folders o1tui creates get 0700: an existing one (a shared group folder with
    setgid) is the user's choice, even for `history list`; the database file is o1tui's own."""
    from tui.store.history import History

    dirs["data"].mkdir(mode=0o755)
    os.chmod(dirs["data"], 0o2750)
    db = dirs["data"] / "history.db"
    History.open(dirs["data"]).close()
    os.chmod(db, 0o644)
    History.open(dirs["data"]).close()
    assert mode(dirs["data"]) == 0o2750
    assert mode(db) == 0o600


def test_save_setting_writes_a_private_config(dirs, open_umask):
    from tui.core.config import save_setting

    path = save_setting("model", "qwen2.5-7b-instruct")
    assert path.parent == dirs["config"]
    assert mode(path) == 0o600
    assert mode(dirs["config"]) == 0o700
    # rewriting a file someone made world-readable makes it private again
    os.chmod(path, 0o644)
    save_setting("theme", "o1-light")
    assert mode(path) == 0o600


def test_log_dir_is_private(dirs, open_umask):
    from tui.locations import log_dir

    assert mode(log_dir()) == 0o700


# --- the api_key warning -----------------------------------------------------------------------


def test_config_with_api_key_readable_by_others_gets_a_warning(dirs, capsys):
    from tui.cli.entry import main
    from tui.core.config import load_settings

    dirs["config"].mkdir(mode=0o700)
    cfg = dirs["config"] / "config.toml"
    cfg.write_text('api_key = "sk-from-config"\nendpoint = "http://127.0.0.1:9/v1"\n')
    os.chmod(cfg, 0o644)
    warnings = load_settings().warnings
    assert any("api_key" in w and "chmod 600" in w for w in warnings), warnings
    assert not any("sk-from-config" in w for w in warnings)

    # the CLI shows it (without the key) on stderr
    main(["history", "list"])  # does not load settings; ask does
    capsys.readouterr()
    main(["ask", "q?", "--model", "m"])
    err = capsys.readouterr().err
    assert "readable by other users" in err and "sk-from-config" not in err

    os.chmod(cfg, 0o600)
    assert not any("readable" in w for w in load_settings().warnings)


def test_config_without_api_key_readable_by_others_is_fine(dirs):
    from tui.core.config import load_settings

    dirs["config"].mkdir(mode=0o700)
    cfg = dirs["config"] / "config.toml"
    cfg.write_text('theme = "o1-light"\n')
    os.chmod(cfg, 0o644)
    assert load_settings().warnings == []


# --- the per-start API key ---------------------------------------------------------------------


def _all_bytes_under(*roots: Path) -> dict[Path, bytes]:
    found: dict[Path, bytes] = {}
    for root in roots:
        if root.exists():
            for p in root.rglob("*"):
                if p.is_file():
                    found[p] = p.read_bytes()
    return found


def _group_cmdlines(pgid: int) -> list[bytes]:
    lines: list[bytes] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            lines.append((entry / "cmdline").read_bytes())
        except (OSError, ProcessLookupError):
            continue
    return lines


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on ``port`` (from /proc/net/tcp{,6})."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            parts = row.split()
            local, state = parts[1], parts[3]
            addr, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:
                if len(addr) == 8:
                    found.add(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
                else:
                    found.add(addr)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_managed_server_key_stays_in_memory(dirs, tmp_path, monkeypatch):
    """A real chain through a managed (stand-in) LMDeploy: the generated key is required by
    the server, yet it is in no file o1tui wrote, on no command line of the server, and not
    in what the server's output showed."""
    import asyncio

    from backends.manager import start_backend
    from backends.supervisor import free_port, probe
    from tui.core.config import save_setting
    from tui.core.runner import run_chain
    from tui.core.strategies import StrategyOptions, get_strategy
    from tui.store.history import History

    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    port = free_port()
    shown: list[str] = []
    handle = start_backend(
        engine="lmdeploy",
        model=str(model_dir),
        port=port,
        log_dir=dirs["logs"],
        ready_timeout_s=60,
        on_line=shown.append,
        available={"lmdeploy": True, "llamacpp": False, "transformers": False},
        gpu=True,
    )
    try:
        key = handle.api_key
        assert key and len(key) >= 16
        assert handle.base_url.startswith("http://127.0.0.1:")
        assert probe("127.0.0.1", port, None).kind == "auth"  # the key is really required
        assert _listening_addresses(port) == {"127.0.0.1"}

        cmdlines = _group_cmdlines(os.getpgid(handle.process.pid))
        assert cmdlines, "the server's process group is empty"
        assert all(key.encode() not in c for c in cmdlines)

        save_setting("model", str(model_dir))
        history = History.open(dirs["data"])
        chain = Chain(question="Is the key safe?", strategy="g1", model=handle.model)
        client = handle.client(timeout_s=30, stall_timeout_s=30)

        async def go() -> None:
            try:
                await run_chain(
                    chain, get_strategy("g1"), client, StrategyOptions(lang="en"), history=history
                )
            finally:
                await client.aclose()

        asyncio.run(go())
        history.close()
        assert chain.status.value == "done" and chain.steps, chain.error
    finally:
        handle.stop()
    assert all(key not in line for line in shown)
    files = _all_bytes_under(dirs["data"], dirs["config"], dirs["logs"])
    assert any(p.suffix == ".log" for p in files), "the server log was not written"
    leaked = [str(p) for p, data in files.items() if key.encode() in data]
    assert leaked == [], f"the API key was written to {leaked}"
    for p in files:
        if p.parent == dirs["logs"]:
            assert mode(p) == 0o600, (p, oct(mode(p)))


# --- loopback -------------------------------------------------------------------------------


def test_command_builders_bind_to_loopback_by_default(tmp_path):
    from backends.engines import Program, ServerOptions, llamacpp_command, lmdeploy_command
    from backends.presets import resolve

    opts = ServerOptions(port=23999)
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    lm = lmdeploy_command(
        resolve(str(model_dir)), opts, "k" * 20, program=Program(("lmdeploy",)), version=(0, 18, 0)
    )
    argv = list(lm.argv)
    assert argv[argv.index("--server-name") + 1] == "127.0.0.1"
    assert lm.base_url.startswith("http://127.0.0.1:")

    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 64)
    lc = llamacpp_command(resolve(str(gguf)), opts, "k" * 20, python=sys.executable)
    argv = list(lc.argv)
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    # llama.cpp reads its key from the environment: it is not on the command line
    assert not lc.key_on_command_line and lc.env.get("API_KEY") == "k" * 20


def test_settings_and_server_options_default_to_loopback():
    from backends.engines import ServerOptions
    from backends.manager import LOOPBACK, server_options
    from tui.core.config import Settings

    assert Settings().host == "127.0.0.1"
    assert ServerOptions(port=1).host == "127.0.0.1"
    assert LOOPBACK == "127.0.0.1"
    assert server_options(Settings(), 23333).host == "127.0.0.1"


def test_lmdeploy_key_goes_through_keyed_exec_not_argv(tmp_path):
    """A Python lmdeploy gets the key via keyed_exec and the environment, not its argv."""
    from backends.engines import KEY_ENV, KEYED_EXEC, Program, ServerOptions, lmdeploy_command
    from backends.presets import resolve

    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    key = "secret-" + "z" * 20
    prog = Program((sys.executable, "-m", "lmdeploy"), python=sys.executable, module="lmdeploy")
    spec = lmdeploy_command(
        resolve(str(model_dir)), ServerOptions(port=23999), key, program=prog, version=(0, 18, 0)
    )
    assert not spec.key_on_command_line
    assert spec.argv[1] == KEYED_EXEC and spec.env[KEY_ENV] == key
    assert key not in spec.display()


def test_keyed_exec_puts_the_key_in_sys_argv_only_in_process(tmp_path):
    """Run keyed_exec for real: the target sees ``--api-keys=KEY`` in sys.argv and no key
    variable in its environment, while the kernel's command line never held the key."""
    import json
    import subprocess

    from backends.engines import KEY_ENV, KEYED_EXEC

    target = tmp_path / "target.py"
    target.write_text(
        "import json, os, sys\n"
        "cmd = open(f'/proc/{os.getpid()}/cmdline', 'rb').read().decode()\n"
        f"print(json.dumps({{'argv': sys.argv, 'env': os.environ.get({KEY_ENV!r}), 'cmd': cmd}}))\n"
    )
    key = "kkk-" + "q" * 24
    proc = subprocess.run(
        [
            sys.executable,
            KEYED_EXEC,
            "--key-env",
            KEY_ENV,
            "--key-flag",
            "--api-keys",
            "--script",
            str(target),
            "--",
            "serve",
            "x",
        ],
        env={**os.environ, KEY_ENV: key},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["argv"][-1] == f"--api-keys={key}"
    assert seen["env"] is None
    assert key not in seen["cmd"]


# --- no shell ------------------------------------------------------------------------------

_SHELL_PATTERNS = {
    "shell=True": re.compile(r"shell\s*=\s*True"),
    "os.system": re.compile(r"\bos\.system\s*\("),
    "os.popen": re.compile(r"\bos\.popen\s*\("),
    "subprocess.getoutput": re.compile(r"\bgetstatusoutput\s*\(|\bgetoutput\s*\("),
    "create_subprocess_shell": re.compile(r"create_subprocess_shell"),
}


def _project_python_files() -> list[Path]:
    files: list[Path] = []
    for top in ("tui", "backends", "themes", "bench", "tests"):
        root = REPO / top
        if root.exists():
            files += [
                p
                for p in root.rglob("*")
                if p.is_file() and (p.suffix == ".py" or p.parent.name == "bin")
            ]
    files += [p for p in REPO.glob("*.py")]
    return [p for p in files if "__pycache__" not in p.parts]


def test_no_shell_strings_anywhere_in_the_project():
    this = Path(__file__).resolve()
    files = _project_python_files()
    assert len(files) > 20, "the scan found too few files to mean anything"
    offenders = []
    for path in files:
        if path.resolve() == this:
            continue
        for n, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        ):
            code = line.split("#", 1)[0]
            for name, pattern in _SHELL_PATTERNS.items():
                if pattern.search(code):
                    offenders.append(f"{path.relative_to(REPO)}:{n}: {name}: {line.strip()}")
    assert offenders == []


def test_the_scan_would_notice_a_shell_call(tmp_path):
    sample = "import subprocess\nsubprocess.run(cmd, shell=True)\nos.system('x')\n"
    hits = [name for name, p in _SHELL_PATTERNS.items() if p.search(sample)]
    assert hits == ["shell=True", "os.system"]
