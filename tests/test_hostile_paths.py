"""The hostile corpus through every path that shows or exports model text.

A stand-in model answers with the corpus as step titles, step contents and final answers;
then ``o1tui ask`` (text and ``--json``), ``o1tui history list/show/export`` and the
Markdown/JSON exporters must print or write nothing that could drive a terminal, and must not
crash. The app's widgets get the same text through Textual's pilot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.helpers import wait_until
from tests.hostile import (
    BEL,
    CANARY,
    ESC,
    HOSTILE,
    SMALL,
    assert_bytes_safe,
    assert_terminal_safe,
)
from tui.cli.entry import main
from tui.core.chain import Chain, Status, Step

REPO = Path(__file__).resolve().parent.parent

#: The corpus entries that ask's tests send as steps (1 MB entries go through exports only).
STEP_TEXTS = [text for _, text in SMALL]


def hostile_g1_responder(texts: list[str], final: str):
    """A g1 model whose step N has corpus text N as its title and content (numbered), then
    ``final``."""

    def respond(body: dict[str, Any]) -> Reply:
        messages = body.get("messages") or []
        users = [m for m in messages if m.get("role") == "user"]
        if messages and messages[-1].get("role") == "user" and len(users) > 1:
            return Reply(content=final, chunk_chars=7)
        done = sum(
            1
            for m in messages
            if m.get("role") == "assistant" and '"title"' in str(m.get("content"))
        )
        i = min(done, len(texts) - 1)
        step = {
            "title": texts[i][:300],
            # Numbered: some texts differ only in their control bytes, and a chain of equal
            # steps would (rightly) end early as repeating.
            "content": f"(step {i + 1}) {texts[i]}",
            "next_action": "final_answer" if done >= len(texts) - 1 else "continue",
        }
        return Reply(content=json.dumps(step), chunk_chars=9)

    return respond


def _ask(srv: FakeOpenAIServer, *args: str) -> list[str]:
    return ["ask", *args, "--endpoint", srv.url, "--model", "fake-model"]


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def run_cli(*argv: str) -> subprocess.CompletedProcess[bytes]:
    """``o1tui ARGV`` in a separate process with this test's environment (real bytes out)."""
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *argv],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        timeout=60,
    )


def _only_history_id(data_dir: Path) -> str:
    from tui.store.history import History

    with History.open(data_dir) as h:
        rows = h.list(limit=5)
    assert len(rows) == 1
    return rows[0].id


def test_ask_g1_prints_hostile_steps_and_answer_safely(data_dir, capsys):
    final = "".join(STEP_TEXTS[:20])
    with FakeOpenAIServer(responder=hostile_g1_responder(STEP_TEXTS, final)) as srv:
        code = main(_ask(srv, "What is hostile?", "--max-steps", str(len(STEP_TEXTS) + 2)))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert_terminal_safe(out, "ask stdout")
    assert_terminal_safe(err, "ask stderr")
    assert out.count("\nStep ") + out.startswith("Step ") >= len(STEP_TEXTS)
    assert CANARY in out and "Final answer:" in out
    # markup stays literal text
    assert "[bold red]canary[/bold red]" in out


def test_ask_json_document_carries_no_raw_controls(data_dir, capsys):
    final = "".join(STEP_TEXTS[:20])
    with FakeOpenAIServer(responder=hostile_g1_responder(STEP_TEXTS[:25], final)) as srv:
        code = main(_ask(srv, "What is hostile?", "--json", "--max-steps", "30"))
    out, err = capsys.readouterr()
    assert code == 0, err
    # JSON escapes C0 itself, but C1 controls, bidi overrides and lone surrogates pass
    # through json.dumps(ensure_ascii=False) raw.
    assert_terminal_safe(out, "ask --json stdout")
    doc = json.loads(out)
    for step in doc["steps"]:
        assert_terminal_safe(step["title"], "json title")
        assert_terminal_safe(step["content"], "json content")
    assert_terminal_safe(doc["final_answer"], "json final answer")


@pytest.mark.parametrize(
    "strategy,model",
    [("plain", "fake-model"), ("thinking", "fake-model"), ("native", "deepseek-r1-7b")],
)
def test_other_strategies_print_hostile_answers_safely(data_dir, capsys, strategy, model):
    body = "\n\n".join(STEP_TEXTS[:30])
    if strategy == "thinking":
        content = f"## {STEP_TEXTS[0]}\n{body}\n\n## Check {STEP_TEXTS[17]}\n{body}\n\\boxed{{{body[:200]}}}"
    elif strategy == "native":
        content = f"<think>\n{body}\n</think>\n\n{body}"
    else:
        content = body
    with FakeOpenAIServer([Reply(content=content, chunk_chars=11)], models=None) as srv:
        code = main(["ask", "q?", "--endpoint", srv.url, "--model", model, "--strategy", strategy])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert_terminal_safe(out, f"{strategy} stdout")
    assert_terminal_safe(err, f"{strategy} stderr")
    assert CANARY in out


def test_history_list_show_and_export_are_safe(data_dir, capsys, tmp_path):
    # NUL and lone surrogates are refused as a question (see test_binary_question_*).
    question = "hostile " + "".join(
        t[:120] for t in STEP_TEXTS if "\x00" not in t and not _has_surrogate(t)
    )
    final = "".join(STEP_TEXTS[:20])
    with FakeOpenAIServer(responder=hostile_g1_responder(STEP_TEXTS[:12], final)) as srv:
        assert main(_ask(srv, question, "--max-steps", "15")) == 0
    capsys.readouterr()
    chain_id = _only_history_id(data_dir)

    # `history show` as text goes through tui.cli.printer.print_chain, whose default stream is
    # bound at import (see test_history_show_follows_the_current_stdout), so it runs apart.
    proc = run_cli("history", "show", chain_id)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_bytes_safe(proc.stdout, "history show stdout")
    assert_bytes_safe(proc.stderr, "history show stderr")
    assert CANARY.encode() in proc.stdout

    for argv in (
        ["history", "list"],
        ["history", "list", "--search", "canary"],
        ["history", "show", chain_id, "--json"],
        ["history", "show", chain_id, "--markdown"],
        ["history", "export", chain_id, "--format", "md"],
        ["history", "export", chain_id, "--format", "json"],
    ):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, (argv, err)
        assert_terminal_safe(out, " ".join(argv[:2]) + " stdout")
        assert_terminal_safe(err, " ".join(argv[:2]) + " stderr")
        assert out.strip()

    for fmt in ("md", "json"):
        target = tmp_path / f"out.{fmt}"
        assert main(["history", "export", chain_id, "--format", fmt, "-o", str(target)]) == 0
        assert_bytes_safe(target.read_bytes(), f"export {fmt} file")
    capsys.readouterr()


def test_history_list_line_is_one_line_per_chain(data_dir, capsys):
    question = "line one\nline two\r\n\x1b]0;pwned\x07\u202eline three"
    with FakeOpenAIServer([Reply(content="ok")], models=None) as srv:
        assert (
            main(["ask", question, "--endpoint", srv.url, "--model", "m", "--strategy", "plain"])
            == 0
        )
    capsys.readouterr()
    assert main(["history", "list"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    assert_terminal_safe(out)


@pytest.mark.parametrize("name,text", HOSTILE, ids=[n for n, _ in HOSTILE])
def test_exporters_on_every_corpus_entry(name: str, text: str) -> None:
    import io

    from tui.cli.printer import print_chain
    from tui.core.export import to_json, to_markdown

    chain = Chain(
        question=text,
        strategy="g1",
        model=text[:200],
        status=Status.ERROR,
        final_answer=text,
        error=text[:1000],
        total_s=1.5,
    )
    chain.steps = [
        Step(
            index=1,
            title=text[:500],
            content=text,
            elapsed_s=0.5,
            completion_tokens=3,
            parsed=False,
        )
    ]
    md = to_markdown(chain)
    assert_terminal_safe(md, f"markdown {name}")
    md.encode("utf-8")
    js = to_json(chain)
    assert_terminal_safe(js, f"json {name}")
    js.encode("utf-8")
    buf = io.StringIO()
    print_chain(chain, buf)
    assert_terminal_safe(buf.getvalue(), f"print_chain {name}")


def test_hostile_server_error_message_reaches_stderr_clean(data_dir, capsys):
    message = "boom \x1b]0;pwned\x07\x1b[2J\u202e\x9b31m [bold]red[/bold]"
    with FakeOpenAIServer([Reply(status=500, error_message=message)] * 5) as srv:
        code = main(
            ["ask", "q?", "--endpoint", srv.url, "--model", "fake-model", "--strategy", "plain"]
        )
    out, err = capsys.readouterr()
    assert code != 0
    assert_terminal_safe(err, "stderr")
    assert_terminal_safe(out, "stdout")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_hostile_model_names_from_the_server_are_clean(data_dir, capsys):
    bad = "evil\x1b]0;pwned\x07\u202emodel"
    with FakeOpenAIServer([Reply(content="ok")], models=(bad,)) as srv:
        code = main(["ask", "q?", "--endpoint", srv.url, "--strategy", "plain"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert_terminal_safe(out + err)
        chain_id = _only_history_id(Path(os.environ["O1TUI_DATA_DIR"]))
        for argv in (
            ["history", "show", chain_id, "--markdown"],
            ["history", "show", chain_id, "--json"],
        ):
            assert main(argv) == 0
            out, err = capsys.readouterr()
            assert_terminal_safe(out + err, " ".join(argv))
    proc = run_cli("history", "show", chain_id)
    assert proc.returncode == 0 and b"evil" in proc.stdout
    assert_bytes_safe(proc.stdout + proc.stderr, "history show")


def test_history_list_json_is_clean(data_dir, capsys):
    bad = "evil\x9b2J\u202emodel\u200b"
    with FakeOpenAIServer([Reply(content="ok")], models=(bad,)) as srv:
        assert (
            main(["ask", "q \u202e\x9d0;t\x9c?", "--endpoint", srv.url, "--strategy", "plain"]) == 0
        )
    capsys.readouterr()
    assert main(["history", "list", "--json"]) == 0
    out = capsys.readouterr().out
    assert_terminal_safe(out, "history list --json")
    assert json.loads(out)[0]["model"].startswith("evil")


def test_history_show_follows_the_current_stdout(data_dir, capsys):
    import contextlib
    import io

    import tui.cli.printer  # noqa: F401 - bound to the stdout of this moment

    with FakeOpenAIServer([Reply(content="ok")], models=None) as srv:
        assert (
            main(["ask", "q?", "--endpoint", srv.url, "--model", "m", "--strategy", "plain"]) == 0
        )
    chain_id = _only_history_id(data_dir)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["history", "show", chain_id]) == 0
    assert "Question: q?" in buf.getvalue()


def test_ask_subprocess_writes_only_safe_bytes(tmp_path):
    """Real stdout/stderr bytes of a separate process (the encoder included)."""
    final = "".join(STEP_TEXTS[:20])
    env = {
        **os.environ,
        "O1TUI_DATA_DIR": str(tmp_path / "d"),
        "O1TUI_CONFIG_DIR": str(tmp_path / "c"),
        "O1TUI_LOG_DIR": str(tmp_path / "l"),
        "PYTHONIOENCODING": "utf-8",
    }
    with FakeOpenAIServer(responder=hostile_g1_responder(STEP_TEXTS[:15], final)) as srv:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tui.cli",
                "ask",
                "hostile?",
                "--endpoint",
                srv.url,
                "--model",
                "fake-model",
                "--max-steps",
                "20",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_bytes_safe(proc.stdout, "stdout bytes")
    assert_bytes_safe(proc.stderr, "stderr bytes")


def test_binary_question_on_the_command_line_is_one_clear_error(tmp_path):
    env = {
        **os.environ,
        "O1TUI_DATA_DIR": str(tmp_path / "d"),
        "O1TUI_CONFIG_DIR": str(tmp_path / "c"),
        "O1TUI_LOG_DIR": str(tmp_path / "l"),
    }
    with FakeOpenAIServer(models=None) as srv:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tui.cli",
                "ask",
                b"abc\xff\xfe",
                "--endpoint",
                srv.url,
                "--model",
                "m",
                "--strategy",
                "plain",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=60,
        )
    assert proc.returncode != 0
    assert b"Traceback" not in proc.stderr, proc.stderr[-600:]
    assert len(proc.stderr.strip().splitlines()) == 1


def test_binary_question_on_stdin_is_one_clear_error(tmp_path):
    env = {
        **os.environ,
        "O1TUI_DATA_DIR": str(tmp_path / "d"),
        "O1TUI_CONFIG_DIR": str(tmp_path / "c"),
        "O1TUI_LOG_DIR": str(tmp_path / "l"),
    }
    with FakeOpenAIServer(models=None) as srv:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tui.cli",
                "ask",
                "-",
                "--endpoint",
                srv.url,
                "--model",
                "m",
                "--strategy",
                "plain",
            ],
            input=b"what is \xff\xfe\x80?",
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=60,
        )
    assert proc.returncode != 0
    assert b"Traceback" not in proc.stderr, proc.stderr[-600:]
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "question,why",
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("a\x00b", "NUL"),
        ("x" * 100_000, "too long"),
    ],
)
def test_bad_questions_get_one_line_and_exit_2(data_dir, capsys, question, why):
    with FakeOpenAIServer(models=None) as srv:
        code = main(["ask", question, "--endpoint", srv.url, "--model", "m"])
        assert srv.requests == []  # refused before anything was sent
    out, err = capsys.readouterr()
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# --- the app ----------------------------------------------------------------------------------


def _screen_text(app: Any) -> str:
    """The text of every segment every visible widget renders now (Textual's own control
    segments aside): what the terminal would be sent, minus the app's own styling codes."""
    from textual.geometry import Region

    lines: list[str] = []
    for screen in app.screen_stack:
        for widget in screen.walk_children(with_self=True):
            if not widget.display or widget.size.width == 0 or widget.size.height == 0:
                continue
            strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
            for strip in strips:
                lines.append("".join(seg.text for seg in strip if not seg.control))
            # What the widget holds, also the part scrolled or folded out of sight.
            plain = getattr(widget.render(), "plain", None)
            if isinstance(plain, str):
                lines.append(plain)
    return "\n".join(lines)


def _sidebar_lines(app: Any) -> list[str]:
    """The history sidebar's rows as drawn now (the list must be open)."""
    from textual.geometry import Region

    from tui.app.widgets.history_list import HistoryList

    rows = app.query_one(HistoryList)
    assert rows.display and rows.size.width > 0, "the history sidebar is not shown"
    return [s.text for s in rows.render_lines(Region(0, 0, rows.size.width, rows.size.height))]


async def _run_question(app: Any, pilot: Any, question: str) -> Any:
    await wait_until(pilot, lambda: app.server_state == "ready", timeout=10)
    await pilot.press(*question)
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.chains.current_view() is not None)
    view = app.chains.current_view()
    await wait_until(
        pilot, lambda: not view.live and view.chain.status != Status.RUNNING, timeout=30
    )
    return view


async def test_app_widgets_show_a_hostile_chain_safely(make_app: Any) -> None:
    final = "".join(STEP_TEXTS[:20])
    with FakeOpenAIServer(responder=hostile_g1_responder(STEP_TEXTS[:20], final)) as srv:
        app = make_app(srv)
        async with app.run_test(size=(120, 40)) as pilot:
            view = await _run_question(app, pilot, "hostile?")
            assert view.chain.status == Status.DONE, view.chain.error
            assert len(view.chain.steps) == 20
            text = _screen_text(app)
            assert_terminal_safe(text, "app screen after a live chain")
            assert CANARY in text and "[bold red]canary[/bold red]" in text  # literal markup
            assert_terminal_safe(app.title + app.sub_title, "app title")
            await pilot.press("f2")  # the history panel, listing the hostile chain
            await pilot.pause(0.2)
            assert_terminal_safe(_screen_text(app), "app screen with the history panel")
            # The chain's row is there, finished, among the sidebar's rows.
            rows = [line for line in _sidebar_lines(app) if line.startswith(" hostile? ")]
            assert len(rows) == 1 and " g1 " in rows[0] and "✓" in rows[0], _sidebar_lines(app)
            await pilot.press("ctrl+g")  # fold/unfold every step: re-render them all
            await pilot.pause(0.1)
            await pilot.press("ctrl+g")
            await pilot.pause(0.1)
            assert_terminal_safe(_screen_text(app), "app screen after refolding")


async def test_app_opens_a_saved_chain_with_every_corpus_entry(make_app: Any, history: Any) -> None:
    """The whole corpus (1 MB lines and lone surrogates included) as a stored chain,
    opened from the history: no widget crashes, nothing unsafe is rendered."""
    chain = Chain(
        # Markup, a screen clear and a retitle: the row keeps the words, drops the controls.
        question=f"stored {ESC}[2J{ESC}]0;pwned{BEL}hostile " + HOSTILE[0][1],
        strategy="g1",
        model="m",
        status=Status.DONE,
        final_answer=HOSTILE[-1][1],
        total_s=3.0,
    )
    chain.steps = [
        Step(index=i, title=text[:300], content=text, elapsed_s=0.1, completion_tokens=1)
        for i, (_, text) in enumerate(HOSTILE, start=1)
    ]
    history.start_chain(chain)
    history.finish_chain(chain)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.chains.open(chain.id)
        await wait_until(pilot, lambda: app.chains.current_view() is not None, timeout=10)
        await pilot.pause(0.3)
        assert_terminal_safe(_screen_text(app), "app screen of a stored hostile chain")
        await pilot.press("f2")
        await pilot.pause(0.2)
        assert_terminal_safe(_screen_text(app), "history panel")
        # The hostile row is shown, cleaned: the markup literal, the escapes gone.
        lines = _sidebar_lines(app)
        rows = [line for line in lines if "hostile" in line]
        assert len(rows) == 1, lines
        assert rows[0].startswith(" stored hostile [bold red]") and "✓" in rows[0], rows
        assert "pwned" not in rows[0]


async def test_app_shows_a_hostile_server_error_safely(make_app: Any) -> None:
    message = "boom \x1b]0;pwned\x07\x1b[2J\u202e\x9b31m [bold]red[/bold] \x1b]52;c;ZXZpbA==\x07"
    with FakeOpenAIServer([Reply(status=500, error_message=message)] * 8) as srv:
        app = make_app(srv)
        async with app.run_test(size=(100, 30)) as pilot:
            view = await _run_question(app, pilot, "q?")
            assert view.chain.status == Status.ERROR
            await pilot.pause(0.1)
            text = _screen_text(app)
            assert_terminal_safe(text, "app screen with a server error")
            assert "boom" in text
