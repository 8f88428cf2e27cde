"""Settings: defaults < file < environment, type errors that name key and file, safe saving."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest

from tui import locations
from tui.core.config import ConfigError, Settings, load_settings, save_setting


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "config.toml"


def test_defaults_without_a_file(cfg: Path) -> None:
    s = load_settings(cfg, env={})
    assert s == Settings()
    assert (s.engine, s.model, s.port, s.host, s.strategy, s.lang, s.max_steps, s.theme) == (
        "auto",
        "internlm3-8b-instruct",
        23333,
        "127.0.0.1",
        "g1",
        "auto",
        25,
        "o1-dark",
    )
    assert s.endpoint is None and s.api_key is None and s.backend is None
    assert s.enable_prefix_caching is True and s.keep_server is False
    assert s.server_args == [] and s.keymap == {} and s.warnings == []
    assert not cfg.exists()


def test_file_then_env_then_flags(cfg: Path) -> None:
    write(
        cfg,
        'model = "qwen2.5-7b-instruct"\nport = 24000\ntheme = "o1-light"\n'
        'server_args = ["--log-level", "INFO"]\n[keymap]\nhistory = "ctrl+h"\n',
    )
    env = {
        "O1TUI_MODEL": "llama-3.1-8b",
        "O1TUI_MAX_STEPS": "7",
        "O1TUI_ENGINE": "llamacpp",
        "O1TUI_ENDPOINT": "http://127.0.0.1:9/v1",
        "O1TUI_API_KEY": "sk-env",
        "O1TUI_KEEP_SERVER": "yes",
        "O1TUI_CACHE_MAX_ENTRY_COUNT": "0.5",
        "O1TUI_DATA_DIR": "/elsewhere",
    }  # not a setting: ignored here, no warning
    s = load_settings(cfg, env=env)
    assert s.model == "llama-3.1-8b"  # env beats file
    assert s.port == 24000 and s.theme == "o1-light"  # file beats defaults
    assert s.max_steps == 7 and s.engine == "llamacpp" and s.keep_server is True
    assert s.endpoint == "http://127.0.0.1:9/v1" and s.api_key == "sk-env"
    assert s.cache_max_entry_count == 0.5
    assert s.server_args == ["--log-level", "INFO"] and s.keymap == {"history": "ctrl+h"}
    assert s.warnings == []
    flags = dataclasses.replace(s, model="from-flag")
    assert flags.model == "from-flag" and flags.port == 24000


def test_env_parsing_of_lists_maps_and_none(cfg: Path) -> None:
    env = {
        "O1TUI_SERVER_ARGS": "--a 'b c'",
        "O1TUI_KEYMAP": "quit=ctrl+q, help=f1",
        "O1TUI_SESSION_LEN": "",
        "O1TUI_BACKEND": "pytorch",
        "O1TUI_REQUEST_TIMEOUT_S": "30",
    }
    s = load_settings(cfg, env=env)
    assert s.server_args == ["--a", "b c"] and s.keymap == {"quit": "ctrl+q", "help": "f1"}
    assert s.session_len is None and s.backend == "pytorch" and s.request_timeout_s == 30.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('max_steps = "abc"', "'max_steps' must be an integer, got 'abc'"),
        ("max_steps = true", "'max_steps' must be an integer"),
        ("max_steps = 0", "'max_steps' must be greater than 0"),
        ("port = 70000", "'port' must be between 1 and 65535"),
        ('enable_prefix_caching = "yes"', "'enable_prefix_caching' must be true or false"),
        ('engine = "vllm"', "'engine' must be one of auto, lmdeploy, llamacpp, transformers"),
        ('lang = "fr"', "'lang' must be one of auto, en, zh"),
        ('backend = "cuda"', "'backend' must be one of turbomind, pytorch"),
        ("server_args = [1, 2]", "'server_args' must be a list of strings"),
        ('server_args = "--x"', "'server_args' must be a list of strings"),
        ("keymap = 3", "'keymap' must be a table of strings"),
        ("request_timeout_s = -1", "'request_timeout_s' must be greater than 0"),
        ("model = 5", "'model' must be a string"),
    ],
)
def test_wrong_types_name_key_and_file(cfg: Path, text: str, message: str) -> None:
    write(cfg, text + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={})
    assert message in str(info.value)
    assert str(cfg) in str(info.value)


def test_float_setting_accepts_an_integer(cfg: Path) -> None:
    write(cfg, "stall_timeout_s = 30\n")
    s = load_settings(cfg, env={})
    assert s.stall_timeout_s == 30.0 and isinstance(s.stall_timeout_s, float)


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("O1TUI_MAX_STEPS", "abc", "O1TUI_MAX_STEPS: 'max_steps' must be an integer, got 'abc'"),
        ("O1TUI_PORT", "0", "'port' must be between 1 and 65535"),
        ("O1TUI_KEEP_SERVER", "maybe", "'keep_server' must be true or false"),
        ("O1TUI_ENGINE", "x", "'engine' must be one of"),
        ("O1TUI_KEYMAP", "nonsense", "'keymap' must be a table of strings"),
    ],
)
def test_wrong_env_values_name_the_variable(cfg: Path, var: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings(cfg, env={var: value})


def test_toml_syntax_error_names_file_and_line(cfg: Path) -> None:
    write(cfg, 'model = "ok"\nport = \n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={})
    assert str(cfg) in str(info.value) and "line 2" in str(info.value)


def test_not_utf8_is_a_clear_error(cfg: Path) -> None:
    cfg.write_bytes(b'model = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(cfg, env={})


def test_unknown_keys_are_warnings(cfg: Path) -> None:
    write(cfg, 'modle = "typo"\nmax_steps = 3\n[extra]\na = 1\n')
    s = load_settings(cfg, env={})
    assert s.max_steps == 3
    assert len(s.warnings) == 2
    assert "'modle'" in s.warnings[0] and str(cfg) in s.warnings[0]
    assert "'extra'" in s.warnings[1]


def test_api_key_in_a_world_readable_file_warns(cfg: Path) -> None:
    write(cfg, 'api_key = "sk-secret"\n', mode=0o644)
    s = load_settings(cfg, env={})
    assert s.api_key == "sk-secret"
    assert any("readable by other users" in w and "chmod 600" in w for w in s.warnings)
    assert "sk-secret" not in " ".join(s.warnings) and "sk-secret" not in repr(s)
    os.chmod(cfg, 0o600)
    assert load_settings(cfg, env={}).warnings == []
    write(cfg, 'model = "x"\n', mode=0o644)  # no secret: no warning
    assert load_settings(cfg, env={}).warnings == []


def test_save_setting_keeps_other_keys_atomically_and_privately(cfg: Path) -> None:
    write(cfg, 'model = "keep-me"\nmax_steps = 9\n', mode=0o644)
    save_setting("theme", "phosphor", cfg)
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    s = load_settings(cfg, env={})
    assert (s.theme, s.model, s.max_steps) == ("phosphor", "keep-me", 9)
    save_setting("keymap", {"quit": "ctrl+q"}, cfg)
    save_setting("max_steps", None, cfg)  # None removes the key
    s = load_settings(cfg, env={})
    assert s.keymap == {"quit": "ctrl+q"} and s.max_steps == 25 and s.theme == "phosphor"
    assert "api_key" not in cfg.read_text()
    assert [p.name for p in cfg.parent.iterdir()] == ["config.toml"]  # no temp file left


COMMENTED = """\
# o1tui settings, kept by hand
model = "keep-me"   # the small one
theme = 'o1-dark'
# max_steps = 40 (not yet)

# my keys
[keymap]
quit = "ctrl+q"  # muscle memory
"""


def test_save_setting_keeps_the_files_comments_and_layout(cfg: Path) -> None:
    write(cfg, COMMENTED)
    save_setting("theme", "phosphor", cfg)
    assert cfg.read_text() == COMMENTED.replace("theme = 'o1-dark'", 'theme = "phosphor"')
    save_setting("max_steps", 9, cfg)  # a new key: after the last top-level one
    save_setting("theme", None, cfg)  # back to the default: its line goes
    assert cfg.read_text() == COMMENTED.replace("theme = 'o1-dark'", "max_steps = 9")
    s = load_settings(cfg, env={})
    assert (s.model, s.max_steps, s.theme, s.keymap) == (
        "keep-me",
        9,
        "o1-dark",
        {"quit": "ctrl+q"},
    )


def test_save_setting_adds_a_key_above_the_first_table_and_its_comments(cfg: Path) -> None:
    write(cfg, "# header\n\n# my keys\n[keymap]\nquit = 'ctrl+q'")  # no final newline
    save_setting("theme", "phosphor", cfg)
    assert (
        cfg.read_text()
        == "# header\n\ntheme = \"phosphor\"\n# my keys\n[keymap]\nquit = 'ctrl+q'\n"
    )


def test_save_setting_rewrites_what_a_line_edit_cannot_place(cfg: Path) -> None:
    """A key written as a [table] (or a value over several lines) is not edited in place:
    the file is written anew, with the values right."""
    write(cfg, COMMENTED)
    save_setting("keymap", {"quit": "f12", "help": "f1"}, cfg)
    s = load_settings(cfg, env={})
    assert (s.keymap, s.model, s.theme) == ({"quit": "f12", "help": "f1"}, "keep-me", "o1-dark")
    write(cfg, 'server_args = [\n  "--a",\n  "--b",\n]\n')
    save_setting("server_args", ["--c"], cfg)
    assert load_settings(cfg, env={}).server_args == ["--c"]


def test_save_setting_refuses_bad_values_and_broken_files(cfg: Path) -> None:
    with pytest.raises(ConfigError, match="'max_steps' must be an integer"):
        save_setting("max_steps", "many", cfg)
    with pytest.raises(ConfigError, match="unknown setting"):
        save_setting("nope", 1, cfg)
    write(cfg, "this is = = not toml\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        save_setting("theme", "x", cfg)
    assert cfg.read_text() == "this is = = not toml\n"  # the user's file is not clobbered


def test_save_setting_creates_private_config_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("O1TUI_CONFIG_DIR", str(tmp_path / "cfg"))
    path = save_setting("theme", "o1-light")
    assert path == tmp_path / "cfg" / "config.toml"
    assert stat.S_IMODE((tmp_path / "cfg").stat().st_mode) == 0o700
    assert load_settings().theme == "o1-light"


# --- locations -------------------------------------------------------------------------------


def test_data_dir_precedence(tmp_path: Path) -> None:
    env = {"O1TUI_DATA_DIR": str(tmp_path / "env")}
    assert locations.data_dir(tmp_path / "flag", env=env) == tmp_path / "flag"
    assert locations.data_dir(None, env=env) == tmp_path / "env"
    default = locations.data_dir(None, env={}, create=False)
    assert default.name == "o1tui" and default != tmp_path / "env"
    assert stat.S_IMODE((tmp_path / "flag").stat().st_mode) == 0o700


def test_config_and_log_paths(tmp_path: Path) -> None:
    env = {"O1TUI_CONFIG_DIR": str(tmp_path / "c"), "O1TUI_LOG_DIR": str(tmp_path / "l")}
    assert locations.config_file(env=env) == tmp_path / "c" / "config.toml"
    assert locations.user_themes_dir(env=env) == tmp_path / "c" / "themes"
    assert not (tmp_path / "c").exists()  # looking up a path creates nothing
    assert locations.log_dir(env=env) == tmp_path / "l"
    assert stat.S_IMODE((tmp_path / "l").stat().st_mode) == 0o700


def test_ensure_private_dir_creates_private_and_leaves_an_existing_folder_be(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "group"
    folder.mkdir()
    os.chmod(folder, 0o2750)  # the group may read: the user's choice
    locations.ensure_private_dir(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o2750
    os.chmod(folder, 0o2777)  # anyone may write: not the user's own any more
    with pytest.raises(locations.LocationError, match="other users may write to it"):
        locations.ensure_private_dir(folder)
    locations.ensure_private_dir(tmp_path / "new")
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700


@pytest.mark.parametrize("below", ["afile", "afile/sub", "/proc/o1tui-test"])
def test_a_folder_that_cannot_be_one_is_a_one_line_error(tmp_path: Path, below: str) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(locations.LocationError, match="cannot use .* as a folder"):
        locations.ensure_private_dir(tmp_path / below)
