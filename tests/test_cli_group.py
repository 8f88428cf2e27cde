"""``o1tui ask --samples N`` and ``--compare``: the plain lines, the JSON document, the history,
exit statuses, bad input, Ctrl+C and a crash mid-group, against the loopback stand-in server."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.helpers import poll_until
from tui.cli.entry import main
from tui.core.chain import Status
from tui.store.group_store import load_group
from tui.store.history import History

REPO = Path(__file__).resolve().parent.parent
QUESTION = "What is 6 times 7?"


def ask(server: FakeOpenAIServer, *args: str) -> list[str]:
    return ["ask", *args, "--endpoint", server.url, "--model", "fake-model"]


def answers_in_turn(*answers: str, **reply: Any):
    turn = itertools.count()
    lock = threading.Lock()

    def responder(body: dict[str, Any]) -> Reply:
        with lock:
            n = next(turn)
        return Reply(content=f"Let me see. The answer is {answers[n % len(answers)]}.", **reply)

    return responder


def test_samples_prints_a_line_per_chain_then_the_vote(data_dir, capsys):
    with FakeOpenAIServer(responder=answers_in_turn("3", "3", "4", "3", "4")) as srv:
        code = main(ask(srv, QUESTION, "--samples", "5", "--strategy", "plain"))
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(out) == 6
    assert sorted(line.split()[1] for line in out[:5]) == [f"{n}/5" for n in range(1, 6)]
    for line in out[:5]:
        assert line.startswith("sample ") and "  done  " in line and " s" in line
        assert " tok" in line and ("  3  " in line or "  4  " in line)
    assert out[5].startswith("Answer: 3 (3 of 5 votes) · ") and out[5].endswith(" s")


def test_samples_json_document(data_dir, capsys):
    with FakeOpenAIServer() as srv:  # one chain's document, to compare the group's with
        assert main(ask(srv, "single", "--strategy", "plain", "--json")) == 0
    chain_keys = set(json.loads(capsys.readouterr().out))
    with FakeOpenAIServer(responder=answers_in_turn("12", "12", "13")) as srv:
        code = main(ask(srv, QUESTION, "--samples", "3", "--strategy", "plain", "--json"))
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(doc) == {"kind", "answer", "votes", "wall_s", "chains"}
    assert doc["kind"] == "self-consistency" and doc["answer"] == "12"
    assert doc["votes"] == {"12": 2, "13": 1} and doc["wall_s"] > 0
    assert len(doc["chains"]) == 3
    group_ids = {c["group_id"] for c in doc["chains"]}
    assert len(group_ids) == 1 and None not in group_ids
    for chain in doc["chains"]:
        assert set(chain) == chain_keys and "group_id" in chain_keys
        assert chain["strategy"] == "plain" and chain["status"] == "done"
        assert chain["final_answer"].startswith("Let me see.")
    # history list --json: group members carry the group id, a single chain null
    assert main(["history", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["group_id"] for r in rows].count(None) == 1
    assert {r["group_id"] for r in rows if r["group_id"]} == group_ids


def test_compare_runs_the_named_strategies_in_order(data_dir, capsys):
    with FakeOpenAIServer() as srv:
        code = main(ask(srv, QUESTION, "--compare", "plain, g1,thinking", "--json"))
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["kind"] == "compare" and doc["answer"] is None and doc["votes"] == {}
    assert [c["strategy"] for c in doc["chains"]] == ["plain", "g1", "thinking"]
    assert all(c["status"] == "done" and "42" in c["final_answer"] for c in doc["chains"])
    with FakeOpenAIServer() as srv:
        assert main(ask(srv, QUESTION, "--compare", "plain,thinking")) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[0] for line in out[:2]) == ["plain", "thinking"]
    assert all("  done  " in line and "42" in line for line in out[:2])
    assert out[2].startswith("Compared 2 strategies · ")


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--samples", "0"], "--samples: a vote takes between 2 and 32 samples (got 0)"),
        (["--samples", "1000"], "--samples: a vote takes between 2 and 32 samples (got 1000)"),
        (["--compare", "plain,fast"], "--compare: unknown strategy 'fast' to compare"),
        (["--compare", "plain"], "--compare: a comparison needs at least two strategies"),
        (["--compare", "plain,g1", "--strategy", "g1"], "--strategy does not go with --compare"),
    ],
)
def test_bad_group_flags_are_one_line_and_exit_2(data_dir, capsys, flags, needle):
    code = main(["ask", QUESTION, *flags, "--endpoint", "http://127.0.0.1:9/v1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_samples_and_compare_exclude_each_other(data_dir, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["ask", QUESTION, "--samples", "3", "--compare", "plain,g1"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_failing_chain_exits_1_and_the_others_finish(data_dir, capsys):
    turn = itertools.count()

    def responder(body: dict[str, Any]) -> Reply:
        if next(turn) == 0:
            return Reply(status=400, error_message="bad request for this one")
        return Reply(content="The answer is 5.")

    with FakeOpenAIServer(responder=responder) as srv:
        code = main(ask(srv, QUESTION, "--samples", "3", "--strategy", "plain", "--json"))
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 1
    assert sorted(c["status"] for c in doc["chains"]) == ["done", "done", "error"]
    assert doc["answer"] == "5" and doc["votes"] == {"5": 2}
    assert captured.err.count("\n") == 1 and "1 of 3 chains failed" in captured.err


def _spawn(server: FakeOpenAIServer, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *ask(server, *args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def _fast_then_slow(body: dict[str, Any], turn=itertools.count()) -> Reply:  # noqa: B008
    if next(turn) == 0:
        return Reply(content="The answer is 9.")
    return Reply(content="pondering " * 2000, delay_s=0.02)


def test_ctrl_c_cancels_the_group_and_keeps_what_finished(data_dir, capsys):
    turn = itertools.count()
    with FakeOpenAIServer(responder=lambda body: _fast_then_slow(body, turn)) as srv:
        proc = _spawn(srv, QUESTION, "--samples", "3", "--strategy", "plain")
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the fast chain's line
        assert first.startswith("sample ") and "  done  " in first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "cancelled" in err and "Traceback" not in err
    assert out.splitlines()[-1].startswith("Answer: 9 (1 of 1 votes)")
    with History.open(data_dir) as history:
        (row,) = {r.group_id for r in history.list()}
        group = load_group(history, row)
        assert group is not None and group.status is Status.CANCELLED
        statuses = sorted(c.status.value for c in group.chains)
        assert statuses == ["cancelled", "cancelled", "done"]


def test_a_crash_mid_group_keeps_every_finished_step(data_dir, capsys):
    """SIGKILL while three g1 chains are mid-way: every step each had finished is in the
    history, and the group reads as interrupted."""
    from tests.fakes.openai_server import demo_responder

    def responder(body: dict[str, Any]) -> Reply:
        reply = demo_responder(body)
        reply.delay_s = 0.03
        return reply

    seen: dict[str, int] = {}
    with FakeOpenAIServer(responder=responder) as srv:
        proc = _spawn(srv, QUESTION, "--samples", "3", "--strategy", "g1")

        def each_chain_has_a_step() -> bool:
            if (data_dir / "history.db").exists():
                with History.open(data_dir) as history:
                    seen.update({r.id: r.n_steps for r in history.list()})
            return len(seen) == 3 and min(seen.values()) >= 1

        poll_until(each_chain_has_a_step, 60, "every chain to save a step", interval=0.05)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert len(seen) == 3 and min(seen.values()) >= 1, seen
    with History.open(data_dir) as history:
        chains = [history.get(chain_id) for chain_id in seen]
        for chain in chains:
            assert chain is not None and len(chain.steps) >= seen[chain.id]
        unfinished = [c for c in chains if c is not None and c.status is not Status.DONE]
        assert unfinished and {c.error for c in unfinished} == {"interrupted"}
        group = load_group(history, chains[0].group_id or "")
        assert group is not None and {c.id for c in group.chains} == set(seen)
        assert group.status is Status.ERROR and group.group.error == "interrupted"


@pytest.mark.slow
def test_the_gpu_group_bench_runs_against_the_stand_in_server(tmp_path: Path) -> None:
    """bench/gpu/group_bench.py, as the GPU run uses it, on CPU: it writes its result file."""
    with FakeOpenAIServer() as srv:
        proc = subprocess.run(
            [
                sys.executable,
                str(REPO / "bench" / "gpu" / "group_bench.py"),
                "--endpoint",
                srv.url,
                "--model",
                "fake-model",
                "--out",
                str(tmp_path / "out"),
                "--samples",
                "3",
                "--steps",
                "2",
                "--step-tokens",
                "20",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
        )
        bodies = list(srv.requests)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "group_bench.json").read_text())
    assert [r["strategy"] for r in results] == ["g1", "plain"]
    for r in results:
        assert r["single"]["status"] in ("done", "step_limit") and r["single"]["steps"] >= 1
        assert len(r["group"]["chains"]) == 3 and r["group"]["wall_s"] > 0
        assert r["ratio"] is not None and r["ratio"] > 0
    assert results[1]["call_tokens"] == 40
    # every request asked for fixed-length output
    assert all(b.get("ignore_eos") is True and b.get("min_new_tokens") for b in bodies)
    assert {b["max_tokens"] for b in bodies} >= {20, 40}
    assert proc.stdout.count("ratio") == 2


def test_the_samples_help_states_the_cores_limits(capsys: pytest.CaptureFixture[str]) -> None:
    """The parser writes the vote's limits out (it must not load the core to build): they must
    be the ones tui.core.votes defines and checks."""
    from tui.cli.parser import build_parser
    from tui.core.votes import MAX_SAMPLES, MIN_SAMPLES

    with pytest.raises(SystemExit):
        build_parser().parse_args(["ask", "--help"])
    assert f"({MIN_SAMPLES}-{MAX_SAMPLES})" in " ".join(capsys.readouterr().out.split())
