"""`o1tui models` and `o1tui history list`: aligned columns, a header line on a terminal only,
the default model marked; `history show` of a cancelled chain says cancelled, not error."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tui.cli.entry import main
from tui.cli.listing import format_table
from tui.core.chain import Chain, Status, Step
from tui.store.history import History

REPO = Path(__file__).resolve().parent.parent


def run_on_a_terminal(*argv: str, columns: int = 200) -> str:
    """``o1tui ARGV`` with its stdout on a pseudo-terminal ``columns`` wide, as a user sees it."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *argv],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(REPO), COLUMNS=str(columns)),
        cwd=REPO,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the other side closed
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_columns_line_up_whatever_the_widths() -> None:
    lines = format_table(
        ("A", "BB", "C"), [["xxxx", "1", "q"], ["y", "12345", "long q"]], header=True, right=(1,)
    )
    assert lines == ["A        BB  C", "xxxx      1  q", "y     12345  long q"]
    assert format_table(("A",), [["x"]], header=False) == ["x"]


def test_models_has_a_header_on_a_terminal_and_marks_the_default(data_dir) -> None:
    out = run_on_a_terminal("models").splitlines()
    assert out[0].split() == ["MODEL", "MODELSCOPE", "ID", "SIZE", "NOTES"]
    default = [line for line in out if line.startswith("internlm3-8b-instruct ")]
    assert default and default[0].rstrip().endswith("default")
    assert any(line.startswith("smollm2-135m ") and "CPU fallback" in line for line in out)
    size_at = {re.search(r"SIZE|\d+\.\d GB", line).start() for line in out}
    assert len(size_at) == 1  # the SIZE column lines up under its header


def test_models_into_a_pipe_has_no_header(data_dir, capsys, monkeypatch) -> None:
    monkeypatch.setenv("O1TUI_MODEL", "qwen2.5-7b-instruct")
    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert not out[0].startswith("MODEL") and out[0].startswith("internlm3-8b-instruct")
    marked = [line.split()[0] for line in out if line.rstrip().endswith("default")]
    assert marked == ["qwen2.5-7b-instruct"]


def _saved(data_dir: Path, status: Status, error: str | None = None) -> str:
    chain = Chain("How many r are in strawberry?", "g1", "m", status=status, error=error)
    chain.steps = [Step(1, "Spell it", "s t r a w b e r r y", 1.5)]
    with History.open(data_dir) as history:
        history.start_chain(chain)
        history.add_step(chain.id, chain.steps[0])
        history.finish_chain(chain)
    return chain.id


def test_history_list_has_a_header_on_a_terminal(data_dir) -> None:
    chain_id = _saved(data_dir, Status.DONE)
    out = run_on_a_terminal("history", "list").splitlines()
    assert out[0].split() == [
        "ID",
        "CREATED",
        "(UTC)",
        "STATUS",
        "STRATEGY",
        "STEPS",
        "TIME",
        "QUESTION",
    ]
    assert out[1].startswith(chain_id + "  ") and out[1].endswith("How many r are in strawberry?")
    assert out[0].index("QUESTION") == out[1].index("How many")


def test_history_list_json_is_unchanged(data_dir, capsys) -> None:
    chain_id = _saved(data_dir, Status.DONE)
    assert main(["history", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert set(row) == {
        "id",
        "question",
        "strategy",
        "model",
        "status",
        "total_s",
        "created_at",
        "n_steps",
        "group_id",
        "parent_id",
    }
    assert row["id"] == chain_id


def test_history_show_of_a_cancelled_chain_says_cancelled(data_dir, capsys) -> None:
    chain_id = _saved(data_dir, Status.CANCELLED, error="cancelled")
    assert main(["history", "show", chain_id]) == 0
    out = capsys.readouterr().out
    assert "Error" not in out and "\nCancelled.\n" in out and "status cancelled" in out


def test_an_unknown_history_id_is_bad_input(data_dir, capsys) -> None:
    for action in ("show", "export", "delete"):
        assert main(["history", action, "nosuchid"]) == 2
        assert "no chain with id 'nosuchid'" in capsys.readouterr().err
