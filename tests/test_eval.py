"""``o1tui eval`` against the loopback stand-in server whose right and wrong answers are scripted."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.helpers import poll_until
from tui.cli.entry import main
from tui.evals.progress import ProgressBar
from tui.evals.runner import Progress
from tui.evals.scoring import wilson_interval
from tui.evals.store import EvalStore
from tui.store.history import History

ROOT = Path(__file__).resolve().parent.parent
N_QUESTIONS = 8
#: Which questions each strategy answers right (the others get gold + 1).
RIGHT = {"plain": {0, 1, 2}, "g1": {0, 1, 2, 3, 4, 5}}


def _gold(i: int) -> int:
    return 1000 + 7 * i


def _texts(messages: list[dict[str, Any]], role: str) -> list[str]:
    return [str(m.get("content") or "") for m in messages if m.get("role") == role]


def scripted(body: dict[str, Any], delay_s: float = 0.0) -> Reply:
    """plain: one answer; g1: one JSON step that ends the reasoning, then the final answer."""
    messages = body.get("messages") or []
    question = _texts(messages, "user")[0]
    i = int(re.search(r"Q(\d+)", question).group(1))
    system = " ".join(_texts(messages, "system"))
    is_g1 = "JSON" in system.upper() or bool(body.get("response_format"))
    users = _texts(messages, "user")
    if is_g1 and len(users) == 1:
        step = {"title": "Adding", "content": "Adding it up.", "next_action": "final_answer"}
        return Reply(content=json.dumps(step), delay_s=delay_s)
    strategy = "g1" if is_g1 else "plain"
    value = _gold(i) if i in RIGHT[strategy] else _gold(i) + 1
    return Reply(content=f"Working it out: {value - 3} + 3.\nAnswer: {value:,}", delay_s=delay_s)


@pytest.fixture()
def set_file(tmp_path: Path) -> Path:
    p = tmp_path / "sums.jsonl"
    lines = [
        json.dumps({"question": f"Q{i}: what is 1000 + {7 * i}?", "answer": _gold(i), "id": i})
        for i in range(N_QUESTIONS)
    ]
    p.write_text("\n".join(lines) + "\n")
    return p


@pytest.fixture()
def server():
    with FakeOpenAIServer(responder=scripted) as srv:
        yield srv


def _eval(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["eval", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_scores_exactly_what_the_server_was_scripted_to_get_right(
    data_dir, set_file, server, capsys
):
    code, out, err = _eval(
        capsys,
        str(set_file),
        "--endpoint",
        server.url,
        "--strategies",
        "plain,g1",
        "--concurrency",
        "3",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["set"] == "sums.jsonl" and doc["model"] == "fake-model"
    rows = {r["strategy"]: r for r in doc["results"]}
    assert list(rows) == ["plain", "g1"]
    assert (rows["plain"]["n"], rows["plain"]["correct"]) == (N_QUESTIONS, 3)
    assert (rows["g1"]["n"], rows["g1"]["correct"]) == (N_QUESTIONS, 6)
    assert rows["plain"]["accuracy"] == round(3 / N_QUESTIONS, 4)
    low, high = wilson_interval(6, N_QUESTIONS)
    assert (rows["g1"]["ci_low"], rows["g1"]["ci_high"]) == (round(low, 4), round(high, 4))
    assert rows["g1"]["steps"] == 1.0 and rows["plain"]["steps"] == 1.0
    assert rows["plain"]["tokens"] > 0 and rows["g1"]["mean_s"] > 0
    assert rows["plain"]["errors"] == 0

    # Every item is in the store, linked to its chain in the history.
    with History.open(data_dir) as history:
        store = EvalStore(history)
        (run,) = store.list_runs()
        assert run.status == "done" and run.id == doc["run_id"]
        items = store.items(run.id)
        assert len(items) == 2 * N_QUESTIONS
        for item in items:
            chain = history.get(item.chain_id)
            assert chain is not None and chain.strategy == item.strategy
            assert item.correct == (item.idx in RIGHT[item.strategy])
            right = _gold(item.idx) if item.correct else _gold(item.idx) + 1
            assert item.predicted == f"{right:,}"
        assert store.questions(run.id)[2].meta == {"id": 2}


def test_table_output_and_csv(data_dir, set_file, server, capsys, tmp_path):
    csv_path = tmp_path / "out.csv"
    code, out, _ = _eval(
        capsys,
        str(set_file),
        "--endpoint",
        server.url,
        "--strategies",
        "plain",
        "--limit",
        "4",
        "--csv",
        str(csv_path),
    )
    assert code == 0
    header, row = out.splitlines()[1:3]
    assert header.split() == [
        "strategy", "n", "correct", "accuracy", "95%", "CI", "mean_s", "median_s", "tokens", "steps",
    ]  # fmt: skip
    assert row.split()[:4] == ["plain", "4", "3", "75.0%"]
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("strategy,n,correct,accuracy,ci_low,ci_high")
    assert lines[1].startswith("plain,4,3,0.75,")


def test_a_malformed_file_is_refused_before_anything_runs(data_dir, tmp_path, server, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a", "answer": 1}\n{"question": "b", "answer": [1]}\n')
    code, out, err = _eval(capsys, str(bad), "--endpoint", server.url)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "line 2" in err and '"answer" must be text or a number' in err
    assert server.hits == []  # nothing was asked, not even the model list
    code, _, err = _eval(capsys, "nope", "--endpoint", server.url)
    assert code == 2 and "neither a built-in set" in err
    code, _, err = _eval(capsys, str(bad), "--strategies", "g1,wat", "--endpoint", server.url)
    assert code == 2 and "unknown strategy 'wat'" in err
    code, _, err = _eval(capsys, "classic", "--strategies", "g1@1", "--endpoint", server.url)
    assert code == 2 and "samples must be between" in err
    assert server.hits == []


def test_list_shows_the_builtin_sets(capsys):
    code, out, _ = _eval(capsys, "--list")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert "classic" in names and "letters" in names and "word-problems" in names


def test_show_rescores_a_stored_run_from_its_chains(data_dir, set_file, server, capsys):
    code, out, _ = _eval(
        capsys, str(set_file), "--endpoint", server.url, "--strategies", "plain", "--json"
    )
    run_id = json.loads(out)["run_id"]
    with History.open(data_dir) as history:
        store = EvalStore(history)
        wrong = next(it for it in store.items(run_id) if not it.correct)
        chain = history.get(wrong.chain_id)
        chain.final_answer = f"Answer: {_gold(wrong.idx)}"  # as if the normalizer read it anew
        history.finish_chain(chain)
    code, out, _ = _eval(capsys, "--show", run_id[:6], "--json")
    assert code == 0
    (row,) = json.loads(out)["results"]
    assert row["correct"] == len(RIGHT["plain"]) + 1
    code, out, _ = _eval(capsys, "--runs")
    assert code == 0 and out.startswith(run_id) and "done" in out


# --- interruption and resume (a real process, a real signal) --------------------------------


def _answered(db: Path) -> int:
    try:
        conn = sqlite3.connect(db)
        try:
            return conn.execute("SELECT count(*) FROM eval_items").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_run_keeps_finished_items_and_resumes(data_dir, set_file, capsys, sig):
    with FakeOpenAIServer(responder=lambda body: scripted(body, delay_s=0.02)) as srv:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "tui.cli", "eval", str(set_file), "--endpoint", srv.url]
        proc = subprocess.Popen(
            [*cmd, "--strategies", "plain,g1", "--concurrency", "2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        db = data_dir / "history.db"
        try:
            poll_until(lambda: _answered(db) >= 4, 30, "four answered items")
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        saved = _answered(db)
        assert 4 <= saved < 2 * N_QUESTIONS
        with History.open(data_dir) as history:
            (run,) = EvalStore(history).list_runs()
            assert run.status == ("cancelled" if sig == signal.SIGINT else "interrupted")
        if sig == signal.SIGINT:
            assert proc.returncode == 130 and f"--resume {run.id}" in err
        asked_before = len(srv.requests)
        code, out, err = _eval(capsys, "--resume", run.id, "--endpoint", srv.url, "--json")
        assert code == 0, err
        rows = {r["strategy"]: r for r in json.loads(out)["results"]}
        assert rows["plain"]["correct"] == 3 and rows["g1"]["correct"] == 6
        assert rows["plain"]["n"] == rows["g1"]["n"] == N_QUESTIONS
        # Only what was missing was asked again (g1: 2 requests an item, plain: 1).
        assert len(srv.requests) - asked_before <= 2 * (2 * N_QUESTIONS - saved) + 4


def test_too_many_errors_in_a_row_stop_the_run(data_dir, set_file, capsys):
    with FakeOpenAIServer(
        responder=lambda body: Reply(status=400, error_message="bad request")
    ) as srv:
        code, out, err = _eval(
            capsys, str(set_file), "--endpoint", srv.url, "--strategies", "plain"
        )
    assert code == 1 and "bad request" in err and "failed in a row" in err and "--resume" in err
    assert "(5 item(s) ended in an error and count as wrong)" in out
    with History.open(data_dir) as history:
        (run,) = EvalStore(history).list_runs()
        assert run.status == "error" and run.n_answered == 5


# --- the progress display ----------------------------------------------------------------


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_progress_is_one_bar_on_a_terminal_and_sparse_lines_elsewhere():
    tty = _Stream(True)
    bar = ProgressBar(tty, label="eval")
    for done in range(1, 101):
        bar(Progress(done, 100, done, done * 1.0))
    bar.close()
    text = tty.getvalue()
    assert text.count("\n") == 1 and text.startswith("\r")
    assert "100/100 100%" in text and "[" + "#" * 24 + "]" in text

    log = _Stream(False)
    bar = ProgressBar(log, label="eval")
    for done in range(1, 101):
        bar(Progress(done, 100, done, done * 1.0))
    bar.close()
    lines = log.getvalue().splitlines()
    assert 5 <= len(lines) <= 12 and "\r" not in log.getvalue()
    assert lines[0] == "eval: 1/100   1%  ETA 1m39s" and lines[-1].startswith("eval: 100/100")


def test_wilson_interval_known_values():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and round(high, 4) == 0.2775
    low, high = wilson_interval(10, 10)
    assert round(low, 4) == 0.7225 and high == pytest.approx(1.0)


def test_self_consistency_items_score_the_majority_vote(data_dir, set_file, capsys):
    """plain@3: each question's three samples answer right, wrong, right (majority right) for
    questions 0-3 and wrong, wrong, right (majority wrong) for the rest, in whatever order
    they are asked."""
    import threading

    lock = threading.Lock()
    asked: dict[int, int] = {}

    def responder(body: dict[str, Any]) -> Reply:
        i = int(re.search(r"Q(\d+)", _texts(body["messages"], "user")[0]).group(1))
        with lock:
            k = asked.get(i, 0)
            asked[i] = k + 1
        pattern = (True, False, True) if i < 4 else (False, True, False)
        value = _gold(i) if pattern[k % 3] else _gold(i) + 1
        return Reply(content=f"Answer: {value}")

    with FakeOpenAIServer(responder=responder) as srv:
        code, out, err = _eval(
            capsys, str(set_file), "--endpoint", srv.url, "--strategies", "plain@3", "--json"
        )
        temperatures = {b.get("temperature") for b in srv.requests}
    assert code == 0, err
    (row,) = json.loads(out)["results"]
    assert row["strategy"] == "plain@3" and row["n"] == N_QUESTIONS and row["correct"] == 4
    assert temperatures == {0.7}  # samples are drawn, not greedy copies
    assert row["steps"] == 1.0 and row["tokens"] > 0
    run_id = json.loads(out)["run_id"]
    with History.open(data_dir) as history:
        store = EvalStore(history)
        items = store.items(run_id)
        assert all(it.group_id and it.chain_id is None for it in items)
        for it in items:
            chains = history.transaction(
                lambda c, g=it.group_id: c.execute(
                    "SELECT count(*) FROM chains WHERE group_id = ?", (g,)
                ).fetchone()[0],
                write=False,
            )
            assert chains == 3
    # Re-scoring votes again over the stored samples and agrees.
    code, out, _ = _eval(capsys, "--show", run_id, "--json")
    assert json.loads(out)["results"][0]["correct"] == 4


def test_resume_refuses_a_run_still_going_in_another_process(data_dir, server, capsys):
    from tui.evals.sets import EvalItem, EvalSet

    with History.open(data_dir) as history:
        run = EvalStore(history).create_run(
            EvalSet("one", (EvalItem("Q0: 1+1?", "2"),)), model="fake-model", strategies=["plain"]
        )  # recorded as running in this (live) process
    code, _, err = _eval(capsys, "--resume", run.id, "--endpoint", server.url)
    assert code == 2 and "still running" in err
    code, _, err = _eval(capsys, "--resume", "ffffffffffff", "--endpoint", server.url)
    assert code == 2 and "no eval run" in err  # a bad id: bad input
    assert not [h for h in server.hits if h[0] == "POST"]


def test_eval_chains_stay_out_of_the_sidebar_list_but_not_the_history(
    data_dir, set_file, server, capsys
):
    from tui.core.chain import Chain, Status
    from tui.store.group_store import GroupedHistory

    code, out, _ = _eval(
        capsys, str(set_file), "--endpoint", server.url, "--strategies", "plain,plain@2",
        "--limit", "2", "--json",
    )  # fmt: skip
    assert code == 0
    with History.open(data_dir) as history:
        mine = Chain(question="Q99: my own question", strategy="g1", model="fake-model")
        mine.status = Status.DONE
        history.start_chain(mine)
        history.finish_chain(mine)
        grouped = GroupedHistory(history)
        assert [e.id for e in grouped.list()] == [mine.id] and grouped.count() == 1
        assert [e.id for e in grouped.list("Q99")] == [mine.id]
        assert grouped.list("Q0") == [] and grouped.count("Q0") == 0
        assert history.count() == 1 + 2 + 2 * 2  # every chain is still in the history
