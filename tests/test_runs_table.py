"""``o1tui eval --runs`` and ``history list`` on a terminal: a header line, and rows cut to the
terminal's width instead of wrapping; into a pipe, whole rows and no header."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_listings import run_on_a_terminal
from tui.cli.entry import main
from tui.cli.listing import format_table
from tui.core.chain import Chain, Status
from tui.evals.sets import EvalItem, EvalSet
from tui.evals.store import EvalStore
from tui.store.history import DB_NAME, History

MODEL = "a-rather-long-organisation/Some-Model-Name-8B-Instruct-GGUF-Q4_K_M"
STRATEGIES = ("plain", "g1", "thinking", "g1@5", "thinking@5")
QUESTION = (
    "How many times does the letter r appear in the word strawberry, counting carefully? " * 2
)


@pytest.fixture()
def stored(data_dir: Path) -> Path:
    with History(data_dir / DB_NAME) as history:
        items = tuple(EvalItem(f"Q{i}: 1+{i}?", str(1 + i)) for i in range(6))
        store = EvalStore(history)
        for n in range(2):
            store.create_run(
                EvalSet(f"my-own-questions-from-last-week-{n}", items),
                model=MODEL,
                strategies=STRATEGIES,
                run_id=f"7c000000000{n}",
            )
        chain = Chain(question=QUESTION, strategy="g1", model=MODEL, id="9a0000000001")
        chain.status = Status.DONE
        history.finish_chain(chain)
    return data_dir


@pytest.mark.parametrize("columns", [120, 80])
def test_eval_runs_fit_the_terminal_under_a_header(stored: Path, columns: int) -> None:
    lines = run_on_a_terminal("eval", "--runs", columns=columns).splitlines()
    assert lines[0].split()[:5] == ["ID", "CREATED", "(UTC)", "STATUS", "DONE"]
    assert len(lines) == 3
    assert max(len(line) for line in lines) <= columns, lines
    for line in lines[1:]:
        run_id, _day, _time, status, done = line.split()[:5]
        assert run_id.startswith("7c00000000") and status in ("running", "interrupted")
        assert done == "0/30"
    assert "…" in lines[1]  # something had to give, and says so


def test_eval_runs_into_a_pipe_are_whole_rows(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.endswith(MODEL) for line in lines)
    assert all(",".join(STRATEGIES) in line for line in lines)


def test_history_list_fits_the_terminal(stored: Path) -> None:
    lines = run_on_a_terminal("history", "list", columns=80).splitlines()
    assert lines[0].startswith("ID") and len(lines) == 2
    assert max(len(line) for line in lines) <= 80
    assert lines[1].endswith("…") and "How many times" in lines[1]


def test_columns_are_cut_last_first_and_only_as_far_as_needed() -> None:
    rows = [["id1", "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"]]
    lines = format_table(("ID", "A", "B"), rows, header=False, width=31, shrink=(1, 2))
    assert lines == ["id1  aaaaaaaaaaaaaaaa  bbbbbbb…"]
    lines = format_table(("ID", "A", "B"), rows, header=False, width=25, shrink=(1, 2))
    assert lines == ["id1  aaaaaaaaa…  bbbbbbb…"]
    assert format_table(("ID", "A", "B"), rows, header=False, shrink=(1, 2))[0].endswith("b" * 16)
