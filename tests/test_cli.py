"""The headless CLI as a user runs it: ``o1tui ask`` and ``o1tui history`` against the stand-in
OpenAI server on loopback, each strategy, the JSON document, exit statuses, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.helpers import poll_until, server_pgid
from tui import __version__
from tui.cli.entry import main

REPO = Path(__file__).resolve().parent.parent


def ask(server: FakeOpenAIServer, *args: str) -> list[str]:
    return ["ask", *args, "--endpoint", server.url, "--model", "fake-model"]


def test_ask_g1_prints_steps_with_timings_and_final_answer(data_dir, capsys):
    with FakeOpenAIServer() as srv:
        code = main(ask(srv, "How many r are in strawberry?"))
    out = capsys.readouterr().out
    assert code == 0
    # demo model: 4 steps, then the final answer
    for n in range(1, 5):
        assert f"Step {n}: Step {n} on the question (" in out
    assert " s, " in out and " tok)" in out
    assert "Final answer:\nThe final answer to 'How many r are in strawberry?' is 42." in out
    assert "Total thinking time:" in out and "status done" in out


def test_ask_json_document_has_the_stable_fields(data_dir, capsys):
    with FakeOpenAIServer() as srv:
        code = main(ask(srv, "Why is the sky blue?", "--json"))
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {
        "id",
        "question",
        "strategy",
        "model",
        "status",
        "steps",
        "final_answer",
        "total_s",
        "created_at",
    } <= set(doc)
    assert doc["status"] == "done" and doc["strategy"] == "g1" and doc["model"] == "fake-model"
    assert len(doc["steps"]) == 4
    for i, step in enumerate(doc["steps"], start=1):
        assert step["index"] == i
        assert {"title", "content", "elapsed_s", "completion_tokens"} <= set(step)
        assert step["elapsed_s"] > 0 and step["completion_tokens"] > 0
    assert "Why is the sky blue?" in doc["final_answer"]


@pytest.mark.parametrize(
    "strategy,expect",
    [
        ("thinking", "42"),
        ("plain", "The answer to 'What is 6 times 7?' is 42."),
    ],
)
def test_ask_other_strategies(data_dir, capsys, strategy, expect):
    with FakeOpenAIServer() as srv:
        code = main(ask(srv, "What is 6 times 7?", "--strategy", strategy, "--json"))
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["strategy"] == strategy
    assert expect in doc["final_answer"]
    if strategy == "thinking":
        titles = [s["title"] for s in doc["steps"]]
        assert titles[:3] == ["Understanding", "Reasoning", "Verification"]


def test_ask_native_reasoning_model(data_dir, capsys):
    with FakeOpenAIServer(models=None) as srv:
        code = main(
            [
                "ask",
                "Is 91 prime?",
                "--endpoint",
                srv.url,
                "--model",
                "deepseek-r1-7b",
                "--strategy",
                "native",
                "--json",
            ]
        )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["steps"], doc
    assert "is 42" in doc["final_answer"] and "<think>" not in doc["final_answer"]


def test_model_defaults_to_the_first_served_name(data_dir, capsys):
    with FakeOpenAIServer(models=("served-name",)) as srv:
        code = main(["ask", "hi there", "--endpoint", srv.url, "--strategy", "plain", "--json"])
        sent = srv.requests[-1]["model"]
    assert code == 0 and sent == "served-name"
    assert json.loads(capsys.readouterr().out)["model"] == "served-name"


def test_history_list_show_export_delete(data_dir, capsys, tmp_path):
    with FakeOpenAIServer() as srv:
        assert main(ask(srv, "strawberry letters", "--strategy", "plain")) == 0
        assert main(ask(srv, "blue sky question", "--strategy", "plain")) == 0
    capsys.readouterr()

    assert main(["history", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["question"] for r in rows] == ["blue sky question", "strawberry letters"]

    assert main(["history", "list", "--search", "strawberry"]) == 0
    listed = capsys.readouterr().out
    assert "strawberry letters" in listed and "blue sky" not in listed

    chain_id = rows[1]["id"]
    assert main(["history", "show", chain_id[:6], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["question"] == "strawberry letters"

    target = tmp_path / "out.md"
    assert main(["history", "export", chain_id, "--format", "md", "-o", str(target)]) == 0
    assert "strawberry letters" in target.read_text(encoding="utf-8")

    assert main(["history", "delete", chain_id]) == 0
    capsys.readouterr()
    assert main(["history", "show", chain_id]) == 2  # bad input, as the README says
    assert "no chain with id" in capsys.readouterr().err


@pytest.mark.parametrize(
    "question,needle",
    [
        ("   ", "the question is empty"),
        ("x" * 100_000, "too long"),
    ],
)
def test_bad_questions_get_one_line_and_exit_2(data_dir, capsys, question, needle):
    code = main(["ask", question, "--endpoint", "http://127.0.0.1:9/v1"])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_unreachable_endpoint_is_one_line_and_the_chain_is_saved(data_dir, capsys):
    code = main(["ask", "hello?", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "127.0.0.1:9" in err
    main(["history", "list", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["question"] == "hello?" and rows[0]["status"] == "error"


def test_wrong_api_key(data_dir, capsys):
    with FakeOpenAIServer(api_key="right") as srv:
        code = main(
            ["ask", "hi", "--endpoint", srv.url, "--model", "fake-model", "--api-key", "wrong"]
        )
    err = capsys.readouterr().err
    assert code == 1 and "401" in err and "wrong" not in err


def test_error_mid_chain_keeps_finished_steps(data_dir, capsys):
    step = json.dumps({"title": "First", "content": "one", "next_action": "continue"})
    with FakeOpenAIServer(
        [Reply(content=step)],
        responder=lambda body: Reply(status=500, error_message="engine on fire"),
    ) as srv:
        code = main(ask(srv, "q", "--json"))
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert code == 1 and doc["status"] == "error"
    assert [s["title"] for s in doc["steps"]] == ["First"]
    assert "engine on fire" in cap.err


def test_step_limit_exit_status(data_dir, capsys):
    def step(body: dict) -> Reply:  # a new step each time (equal ones end as repeating)
        n = len(body["messages"])
        return Reply(content=json.dumps({"title": f"Step {n}", "content": f"more {n}"}))

    with FakeOpenAIServer(responder=step) as srv:
        code = main(ask(srv, "never ends", "--max-steps", "2", "--json"))
    doc = json.loads(capsys.readouterr().out)
    assert code == 3 and doc["status"] == "step_limit" and len(doc["steps"]) == 2


def test_model_output_cannot_reach_the_terminal_raw(data_dir, capsys):
    hostile = "\x1b]0;pwned\x07[bold]x[/bold]\x1b[2J\u202eevil"
    with FakeOpenAIServer([Reply(content=hostile)]) as srv:
        code = main(ask(srv, "q", "--strategy", "plain"))
    out = capsys.readouterr().out
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "[bold]x[/bold]" in out


def test_ctrl_c_cancels_and_keeps_the_partial_chain(data_dir, capsys):
    """SIGINT to a real `o1tui ask` process: exit 130, chain saved as cancelled with its steps."""
    import signal

    step = json.dumps({"title": "Slow", "content": "x" * 40, "next_action": "continue"})
    with FakeOpenAIServer(responder=lambda body: Reply(content=step, delay_s=0.05)) as srv:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", *ask(srv, "slow question")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()  # first finished step
        assert line.startswith("Step 1:")
        # Cancel while the next step's request is in flight (not between steps).
        poll_until(lambda: len(srv.requests) >= 2, what="the second step's request")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "cancelled" in err and "Traceback" not in err
    capsys.readouterr()
    assert main(["history", "list", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["status"] == "cancelled" and row["n_steps"] >= 1


def test_headless_cli_does_not_import_textual():
    code = (
        "import sys; import tui.cli.entry, tui.cli.commands, tui.core.runner, tui.store.history, "
        "tui.core.strategies, tui.cli.printer; "
        "sys.exit('textual' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_a_console_script_written_before_the_cli_package_still_starts():
    """Console scripts installed earlier run ``from tui.cli import main``; the package gives
    the entry point on first use, and ``--version`` loads neither the subcommands nor the
    history."""
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        "try:\n    main(['--version'])\n"
        "except SystemExit as done:\n"
        "    loaded = [m for m in ('tui.cli.commands', 'tui.store.history') if m in sys.modules]\n"
        "    print(done.code, loaded)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert run.stdout.splitlines() == [f"o1tui {__version__}", "0 []"], run.stderr


def test_version_and_help():
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--version"], cwd=REPO, capture_output=True, text=True
    ).stdout
    assert out.startswith("o1tui ")
    helptext = subprocess.run(
        [sys.executable, "-m", "tui.cli", "ask", "--help"], cwd=REPO, capture_output=True, text=True
    ).stdout
    for flag in (
        "--strategy",
        "--lang",
        "--max-steps",
        "--endpoint",
        "--api-key",
        "--model",
        "--engine",
        "--json",
        "--data-dir",
    ):
        assert flag in helptext


def test_ask_starts_a_managed_server_and_stops_it(data_dir, tmp_path):
    """`o1tui ask --engine lmdeploy` with the stand-in `lmdeploy` on PATH: the real process
    management starts it, the chain runs through it, and nothing is left running."""
    from backends.supervisor import free_port, probe

    port = free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        PATH=f"{REPO / 'tests' / 'fakes' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    )
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "ask",
            "How many r are in strawberry?",
            "--engine",
            "lmdeploy",
            "--model",
            str(model_dir),
            "--port",
            str(port),
            "--strategy",
            "plain",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "done" and "strawberry" in doc["final_answer"]
    assert probe("127.0.0.1", port).kind == "down"  # the server it started is gone


def test_output_into_a_closed_pipe_is_quiet(data_dir):
    """`o1tui history list | head -1` must not end in a BrokenPipeError traceback."""
    from tui.core.chain import Chain, Status
    from tui.store.history import History

    with History.open(data_dir) as history:  # more output than a pipe buffers (64 KiB)
        for n in range(300):
            chain = Chain(
                question=f"question {n} " + "padding " * 60,
                strategy="plain",
                model="m",
                status=Status.DONE,
            )
            history.start_chain(chain)
            history.finish_chain(chain)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "history", "list", "--json", "--limit", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # the reader leaves early, as `head` does
    err = proc.stderr.read().decode()
    proc.wait(timeout=30)
    assert "Traceback" not in err and proc.returncode == 141


def test_hangup_while_the_managed_server_loads_leaves_no_server(data_dir, tmp_path):
    """SIGHUP (the SSH session closed) to `o1tui ask` while its server is still loading."""
    import signal
    import time

    from backends.supervisor import free_port, group_members

    port = free_port()
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        FAKE_LMDEPLOY_START_DELAY="30",
        PATH=f"{REPO / 'tests' / 'fakes' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "ask",
            "q",
            "--engine",
            "lmdeploy",
            "--model",
            str(model_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )

    deadline = time.monotonic() + 30
    while (pgid := server_pgid(port)) is None:
        assert time.monotonic() < deadline and proc.poll() is None, "the server never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and b"Traceback" not in err
    assert group_members(pgid) == []


def test_cli_choices_come_from_the_registries():
    """--strategy, --engine and --lang accept exactly the names their registries define."""
    from backends.engines import ENGINE_CHOICES
    from tui.cli.parser import build_parser
    from tui.core.strategies import STRATEGY_NAMES
    from tui.lang import LANG_CHOICES

    parser = build_parser()
    for name in STRATEGY_NAMES:
        assert parser.parse_args(["ask", "q", "--strategy", name]).strategy == name
    for name in ENGINE_CHOICES:
        assert parser.parse_args(["--engine", name]).engine == name
    for name in LANG_CHOICES:
        assert parser.parse_args(["ask", "q", "--lang", name]).lang == name
    for bad in (["ask", "q", "--strategy", "nope"], ["--engine", "nope"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_every_user_error_has_one_root_and_one_handler(data_dir, tmp_path, capsys):
    """Backend, history, config and usage errors derive from O1Error; main prints each the
    same way (one cleaned line) with the error's own exit status."""
    from backends.errors import BackendError, O1Error, RequestTimeout
    from tui.cli.common import UserError
    from tui.core.config import ConfigError
    from tui.store.history import HistoryError

    for cls in (BackendError, RequestTimeout, HistoryError, ConfigError, UserError):
        assert issubclass(cls, O1Error)
    bad = tmp_path / "config.toml"
    bad.write_text("strategy = 'nope'\n")
    assert main(["--config", str(bad), "ask", "q", "--endpoint", "http://127.0.0.1:9/v1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("o1tui: error: ") and "'strategy' must be one of g1" in err
    assert main(["history", "list", "--limit", "0"]) == 2
    assert capsys.readouterr().err == "o1tui: error: --limit must be at least 1\n"


def test_ask_with_a_model_the_endpoint_does_not_serve_lists_what_it_serves(data_dir, capsys):
    with FakeOpenAIServer(models=("served-a", "served-b")) as srv:
        code = main(["ask", "hi", "--endpoint", srv.url, "--model", "typo-model"])
    err = capsys.readouterr().err
    assert code == 1
    assert "does not serve model 'typo-model'; it serves: served-a, served-b" in err
