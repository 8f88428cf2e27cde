"""Stored eval runs: counted as run, claimed by one process at a time, re-scored without
being written unless asked, and the S@N vote re-cast with the live vote's tie-break.

Runs go through the real CLI against the loopback stand-in server; the two-resumes case runs
two real processes at once."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tui.cli.entry import main
from tui.core.chain import Chain, Status
from tui.core.group import Group, GroupKind
from tui.evals.rescore import rescore_run
from tui.evals.sets import EvalItem, EvalSet
from tui.evals.store import CANCELLED, RUNNING, EvalStore, ItemResult
from tui.store.group_store import save_group
from tui.store.history import DB_NAME, History

ROOT = Path(__file__).resolve().parent.parent


def _answer(body: dict[str, Any], delay_s: float = 0.0) -> Reply:
    """Q<i> is answered <i> for even i, <i> + 1 for odd i (plain strategy: one request)."""
    question = next(m["content"] for m in body["messages"] if m["role"] == "user")
    found = re.search(r"Q(\d+)", question)
    assert found is not None
    i = int(found.group(1))
    return Reply(content=f"Answer: {i if i % 2 == 0 else i + 1}", delay_s=delay_s)


def _set_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "set.jsonl"
    lines = (json.dumps({"question": f"Q{i}: which number?", "answer": i}) for i in range(n))
    path.write_text("\n".join(lines) + "\n")
    return path


def _eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["eval", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _item_rows(data_dir: Path) -> list[tuple]:
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        return conn.execute("SELECT * FROM eval_items ORDER BY run_id, strategy, idx").fetchall()
    finally:
        conn.close()


# --- --runs ---------------------------------------------------------------------------------


def test_runs_counts_the_limited_items_and_what_was_done(data_dir, tmp_path, capsys) -> None:
    """A --limit 3 run of a 40-question set is 3 items, not 40; resumed with --limit 5, 5."""
    set_file = _set_file(tmp_path, 40)
    with FakeOpenAIServer(responder=_answer) as srv:
        code, out, err = _eval(
            capsys, str(set_file), "--strategies", "plain", "--limit", "3", "--endpoint", srv.url,
            "--json",
        )  # fmt: skip
        assert code == 0, err
        run_id = json.loads(out)["run_id"]
        code, out, _ = _eval(capsys, "--runs")
        assert code == 0 and re.search(r"\bdone\s+3/3\s", out), out
        code, _, err = _eval(capsys, "--resume", run_id, "--limit", "5", "--endpoint", srv.url)
        assert code == 0, err
    code, out, _ = _eval(capsys, "--runs")
    assert re.search(r"\bdone\s+5/5\s", out), out


# --- --show ---------------------------------------------------------------------------------


def test_show_writes_nothing_unless_asked_to_rescore(data_dir, tmp_path, capsys) -> None:
    """--show shows the run re-scored from its chains but saves nothing; --rescore saves."""
    set_file = _set_file(tmp_path, 6)
    with FakeOpenAIServer(responder=_answer) as srv:
        code, out, err = _eval(
            capsys, str(set_file), "--strategies", "plain", "--endpoint", srv.url, "--json"
        )
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    assert json.loads(out)["results"][0]["correct"] == 3
    with History.open(data_dir) as history:
        wrong = next(it for it in EvalStore(history).items(run_id) if not it.correct)
        assert wrong.chain_id is not None
        chain = history.get(wrong.chain_id)
        assert chain is not None
        chain.final_answer = f"Answer: {wrong.idx}"  # as if a new normalizer read it right
        history.finish_chain(chain)
    before = _item_rows(data_dir)
    code, out, err = _eval(capsys, "--show", run_id, "--json")
    assert code == 0 and json.loads(out)["results"][0]["correct"] == 4
    assert "1 item(s) score differently" in err and "--rescore" in err
    assert _item_rows(data_dir) == before
    code, out, err = _eval(capsys, "--show", run_id, "--rescore", "--json")
    assert code == 0 and json.loads(out)["results"][0]["correct"] == 4 and err == ""
    after = _item_rows(data_dir)
    assert after != before and sum(row[7] for row in after) == 4  # the correct column


def _tied_group(history: History, finished_first: str, other: str) -> tuple[Group, list[Chain]]:
    """A 4-sample group whose vote tied 2-2, saved as the live runner saves it: the samples
    of ``other`` were started (and so saved) first, those of ``finished_first`` finished
    first, all within one second."""
    chains = []
    for _ in range(4):
        chain = Chain(question="Q: which?", strategy="g1", model="m", status=Status.RUNNING)
        history.start_chain(chain)
        chains.append(chain)
    group = Group(
        GroupKind.VOTE, "Q: which?", "m", ["g1"] * 4, [c.id for c in chains],
        status=Status.DONE, answer=finished_first, votes={finished_first: 2, other: 2},
    )  # fmt: skip
    for chain, answer in zip(chains, (other, other, finished_first, finished_first), strict=True):
        chain.group_id, chain.status, chain.final_answer = (
            group.id,
            Status.DONE,
            f"Answer: {answer}",
        )
        history.finish_chain(chain)
    save_group(history, group)
    # Finished within one second: the times the history keeps cannot order them.
    history.transaction(
        lambda c: c.execute("UPDATE chains SET updated_at = '2026-01-01T00:00:00+00:00'"),
        write=True,
    )
    return group, chains


def test_rescoring_a_tied_vote_keeps_the_winner_the_live_vote_chose(history: History) -> None:
    """The live vote breaks a tie by finish order; re-scoring must not pick another winner
    (it did: by save order within the second, turning a right item wrong)."""
    store = EvalStore(history)
    run = store.create_run(EvalSet("s", (EvalItem("Q: which?", "7"),)), model="m",
                           strategies=["g1@4"])  # fmt: skip
    group, _ = _tied_group(history, finished_first="7", other="5")
    store.save_item(run.id, ItemResult(0, "g1@4", "done", "7", True, 1.0, group_id=group.id))
    store.set_status(run.id, "done")
    assert rescore_run(store, run) == 0
    assert [(it.predicted, it.correct) for it in store.items(run.id)] == [("7", True)]


def test_rescoring_a_group_with_a_sample_gone_keeps_the_stored_verdict(history: History) -> None:
    store = EvalStore(history)
    run = store.create_run(EvalSet("s", (EvalItem("Q: which?", "7"),)), model="m",
                           strategies=["g1@4"])  # fmt: skip
    group, chains = _tied_group(history, finished_first="7", other="5")
    store.save_item(run.id, ItemResult(0, "g1@4", "done", "7", True, 1.0, group_id=group.id))
    history.delete(chains[3].id)  # 2 votes to 1 for "5" now, but that is not what was run
    assert rescore_run(store, run) == 0 and store.items(run.id)[0].correct


# --- claiming a run -------------------------------------------------------------------------


def test_a_run_is_claimed_only_when_no_live_process_runs_it(history: History) -> None:
    store = EvalStore(history)
    run = store.create_run(EvalSet("s", (EvalItem("Q0", "1"),)), model="m", strategies=["plain"])
    assert not store.claim(run.id)  # running in this live process
    store.set_status(run.id, CANCELLED)
    assert store.claim(run.id)
    assert not store.claim(run.id)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    history.transaction(
        lambda c: c.execute("UPDATE eval_runs SET pid = ?", (int(dead.stdout),)), write=True
    )
    assert store.claim(run.id)  # its process is gone
    got = store.get_run(run.id)
    assert got is not None and got.status == RUNNING


def test_two_resumes_at_once_run_each_item_once(data_dir: Path) -> None:
    """Two `eval --resume RUN` started together: one runs the pending items, the other exits
    2 with one line; every item ran once (it was each item twice)."""
    n = 8
    with History.open(data_dir) as history:
        store = EvalStore(history)
        items = tuple(EvalItem(f"Q{i}: which number?", str(i)) for i in range(n))
        run = store.create_run(EvalSet("s", items), model="fake-model", strategies=["plain"])
        store.set_status(run.id, CANCELLED)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with FakeOpenAIServer(responder=lambda body: _answer(body, delay_s=0.4)) as srv:
        cmd = [sys.executable, "-m", "tui.cli", "eval", "--resume", run.id, "--endpoint", srv.url]
        procs = [
            subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )  # fmt: skip
            for _ in range(2)
        ]
        results = [p.communicate(timeout=120) for p in procs]
        asked = len(srv.requests)
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], results
    refused = next(err for p, (_, err) in zip(procs, results, strict=True) if p.returncode == 2)
    assert refused.startswith("o1tui: ") and len(refused.strip().splitlines()) == 1, refused
    assert f"eval run {run.id} is still running in another o1tui" in refused
    assert asked == n
    with History.open(data_dir) as history:
        assert history.count() == n
        got = EvalStore(history).get_run(run.id)
        assert got is not None and got.status == "done" and got.n_answered == n
