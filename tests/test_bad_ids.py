"""Every id a user types that names no one record is bad input: exit 2, one line.

An unknown id and a prefix that fits several records are the same mistake (the user must type
a different id), so they exit alike; an ambiguous prefix lists a few of its candidates.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tui.cli.entry import main
from tui.core.chain import Chain, Status
from tui.evals.sets import EvalItem, EvalSet
from tui.evals.store import EvalStore
from tui.store.history import DB_NAME, History

CHAIN_IDS = ("9a0000000001", "9a0000000002", "9b0000000003")
RUN_IDS = ("7c0000000001", "7c0000000002")


@pytest.fixture()
def stored(data_dir: Path) -> Path:
    """A history with chains and eval runs whose ids share prefixes."""
    with History(data_dir / DB_NAME) as history:
        for cid in CHAIN_IDS:
            chain = Chain(question=f"question {cid}", strategy="plain", model="m", id=cid)
            chain.status = Status.DONE
            history.finish_chain(chain)
        store = EvalStore(history)
        one = EvalSet("one", (EvalItem("Q0: 1+1?", "2"),))
        for rid in RUN_IDS:
            store.create_run(one, model="m", strategies=["plain"], run_id=rid)
    return data_dir


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("o1tui: error: "), err
    return err


@pytest.mark.parametrize("action", ["show", "export", "delete"])
def test_ambiguous_chain_prefix_exits_2_and_lists_the_candidates(
    stored: Path, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    assert main(["history", action, "9"]) == 2
    err = _err_line(capsys)
    assert all(cid in err for cid in CHAIN_IDS)
    assert main(["history", action, "9a"]) == 2
    err = _err_line(capsys)
    assert CHAIN_IDS[0] in err and CHAIN_IDS[1] in err and CHAIN_IDS[2] not in err


def test_a_prefix_matching_many_chains_lists_only_a_few(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with History(data_dir / DB_NAME) as history:
        for n in range(8):
            history.finish_chain(Chain(question="q", strategy="plain", model="m", id=f"5{n:011d}"))
    assert main(["history", "show", "5"]) == 2
    err = _err_line(capsys)
    assert err.count("5000") == 5 and "…" in err


def test_unknown_chain_id_exits_2(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "show", "nope"]) == 2
    assert "no chain with id 'nope'" in _err_line(capsys)


def test_a_unique_prefix_still_finds_its_chain(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "show", "9b", "--json"]) == 0
    assert CHAIN_IDS[2] in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--show", "--resume"])
def test_unknown_eval_run_exits_2(
    stored: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    # A server on this endpoint would be asked first if the id were not checked before.
    with FakeOpenAIServer() as srv:
        assert main(["eval", flag, "nope", "--endpoint", srv.url]) == 2
    assert "no eval run with id 'nope'" in _err_line(capsys)
    assert srv.hits == []


def test_ambiguous_eval_run_prefix_exits_2_and_lists_the_candidates(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--show", "7c"]) == 2
    err = _err_line(capsys)
    assert all(rid in err for rid in RUN_IDS)
