"""The JSON documents' fields are all described where users look them up: ``ask --json`` in
docs/user-guide.md, ``eval --json`` in ``o1tui eval --help``."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from tui.cli.entry import main
from tui.cli.eval_cmd import results_document
from tui.core.chain import Chain

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "user-guide.md"


def test_every_field_of_ask_json_is_in_the_user_guide() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    table = text.split("**`--json` document**", 1)[1].split("\n###", 1)[0]
    described = set(re.findall(r"`(\w+)(?:\[\])?`", table))
    fields = set(Chain(question="q", strategy="g1", model="m").to_dict())
    assert fields - described == set()


def test_every_field_of_eval_json_is_in_eval_help(capsys: pytest.CaptureFixture[str]) -> None:
    run = SimpleNamespace(set_name="s", model="m", id="r", status="done")
    from tui.evals.scoring import RunReport

    fields = set(results_document(run, RunReport(rows=[], pairs=[], breakdowns={}), wall_s=1.0))
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    helptext = " ".join(capsys.readouterr().out.split())
    missing = {f for f in fields if f'"{f}"' not in helptext}
    assert missing == set()
