"""Themes as data files: the built-in ones load, user themes add or replace, bad files warn."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.app.themes import (
    DEFAULT_THEME,
    ThemeError,
    load_theme_file,
    load_themes,
    resolve_theme,
    theme_from_table,
)

BUILTIN = {"o1-dark", "o1-light", "o1-high-contrast", "phosphor"}


def test_builtin_themes_load_without_warnings() -> None:
    themes, warnings = load_themes(None)
    names = {t.name for t in themes}
    assert names >= BUILTIN and not warnings
    light = next(t for t in themes if t.name == "o1-light")
    assert light.dark is False
    contrast = next(t for t in themes if t.name == "o1-high-contrast")
    assert (contrast.foreground, contrast.background) == ("#FFFFFF", "#000000")


def test_user_theme_is_added_and_can_replace_a_builtin(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('name = "mine"\nprimary = "#123456"\ndark = false\n')
    (tmp_path / "dark.toml").write_text('name = "o1-dark"\nprimary = "#ff0000"\n')
    themes, warnings = load_themes(tmp_path)
    by_name = {t.name: t for t in themes}
    assert not warnings
    assert by_name["mine"].primary == "#123456" and by_name["mine"].dark is False
    assert by_name["o1-dark"].primary == "#ff0000"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('name = "x"\nprimary = "not-a-colour"\n', "not a colour"),
        ('name = "x"\n', "'primary' is required"),
        ('primary = "#fff"\n', "'name'"),
        ('name = "x"\nprimary = "#fff"\nsparkle = true\n', "unknown key"),
        ('name = "x"\nprimary = "#fff"\ndark = "yes"\n', "true or false"),
        ('name = "x"\nprimary = "#fff"\n[variables]\nborder = 3\n', "[variables]"),
        ("name = \n", "invalid TOML"),
    ],
)
def test_bad_theme_files_are_skipped_with_a_warning_naming_the_file(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ThemeError) as err:
        load_theme_file(path)
    assert fragment in str(err.value) and str(path) in str(err.value)
    themes, warnings = load_themes(tmp_path)
    assert len(warnings) == 1 and "bad.toml" in warnings[0]
    assert {t.name for t in themes} >= BUILTIN


def test_variables_are_kept() -> None:
    theme = theme_from_table(
        {"name": "v", "primary": "#fff", "variables": {"border": "#000"}}, "here"
    )
    assert theme.variables == {"border": "#000"}


def test_resolve_theme_falls_back_with_a_warning() -> None:
    names = BUILTIN | {"textual-dark"}
    assert resolve_theme("phosphor", names) == ("phosphor", None)
    name, warning = resolve_theme("nope", names)
    assert name == DEFAULT_THEME and "nope" in warning
    assert resolve_theme(None, names) == (DEFAULT_THEME, None)
    assert resolve_theme("nope", {"textual-dark"})[0] == "textual-dark"
