"""Markdown and JSON exports: the content, the round trip, and no terminal controls."""

from __future__ import annotations

import json
from pathlib import Path

from tui.core.chain import Chain, Status, Step
from tui.core.export import from_json, step_heading, to_json, to_markdown
from tui.store.history import History

HOSTILE = "\x1b]0;pwned\x07\x1b[2J[bold]x[/bold]\x07\u202eevil\x9b31m"


def sample() -> Chain:
    chain = Chain(
        question="How many r are in strawberry?\n(草莓)",
        strategy="g1",
        model="internlm3-8b-instruct",
        status=Status.DONE,
        final_answer="There are **3** r.",
        total_s=5.678,
        lang="en",
    )
    chain.steps = [
        Step(1, "Spell it", "s t r a w b e r r y", 1.84, 0.2, 120, 212, True, "stop"),
        Step(2, "Count", "three r's", 2.0, None, None, None, False, None),
    ]
    return chain


def test_markdown_layout() -> None:
    md = to_markdown(sample())
    assert md.startswith("# How many r are in strawberry? (草莓)\n")
    assert "- Strategy: g1" in md and "- Model: internlm3-8b-instruct" in md
    assert "- Status: done" in md and "- Thinking time: 5.68 s" in md
    assert "## Step 1 · Spell it · 1.84 s · 212 tok\n\ns t r a w b e r r y" in md
    assert "## Step 2 · Count · 2.00 s\n" in md  # no token count when unknown
    assert md.index("## Step 1") < md.index("## Step 2") < md.index("## Final answer")
    assert "There are **3** r." in md  # Markdown is left as Markdown


def test_step_heading_without_title() -> None:
    assert step_heading(Step(4, "", "x", 0.5)) == "Step 4 · 0.50 s"


def test_error_is_in_the_header() -> None:
    chain = sample()
    chain.status, chain.error = Status.ERROR, "server said 500\x1b[31m"
    md = to_markdown(chain)
    assert "- Status: error" in md and "- Error: server said 500\n" in md


def test_no_controls_reach_the_files() -> None:
    chain = sample()
    chain.question = HOSTILE
    chain.steps[0].title = HOSTILE
    chain.steps[0].content = HOSTILE
    chain.final_answer = HOSTILE
    for text in (to_markdown(chain), to_json(chain)):
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
        assert "\u202e" not in text and "]0;" not in text
        assert "[bold]x[/bold]" in text  # markup is text, kept as written


def test_json_document_fields_and_round_trip() -> None:
    chain = sample()
    text = to_json(chain)
    doc = json.loads(text)
    for key in (
        "id",
        "question",
        "strategy",
        "model",
        "status",
        "steps",
        "final_answer",
        "total_s",
        "created_at",
    ):
        assert key in doc
    assert "草莓" in text  # not \u-escaped
    assert doc["steps"][0]["index"] == 1 and doc["steps"][0]["completion_tokens"] == 212
    back = from_json(text)
    assert back.to_dict() == chain.to_dict()
    assert to_json(back) == text


def test_round_trip_through_the_store(tmp_path: Path) -> None:
    chain = sample()
    with History(tmp_path / "history.db") as h:
        h.start_chain(chain)
        h.finish_chain(chain)
        stored = h.get(chain.id)
    assert from_json(to_json(stored)) == stored
    assert to_markdown(stored) == to_markdown(chain)


def test_markdown_prints_the_question_once() -> None:
    md = to_markdown(sample())
    assert md.count("strawberry?") == 1 and "## Question" not in md
    chain = sample()
    chain.question = "Explain this proof.\n\n" + "It goes like this. " * 20
    md = to_markdown(chain)
    assert md.startswith("# Question\n\nExplain this proof.\n\nIt goes like this.")
    assert md.count("Explain this proof.") == 1


def test_a_cancel_is_not_an_error_in_the_export() -> None:
    chain = sample()
    chain.status, chain.error = Status.CANCELLED, "cancelled"
    md = to_markdown(chain)
    assert "- Status: cancelled" in md and "Error" not in md


def test_a_repeating_chain_carries_its_note() -> None:
    chain = sample()
    chain.steps[1].finish_reason = "repeated"
    md = to_markdown(chain)
    assert "## Step 2 · Count · 2.00 s · repeated\n" in md
    assert "- Note: The model began repeating itself at step 2;" in md
    assert json.loads(to_json(chain))["note"].startswith("The model began repeating itself")
    assert json.loads(to_json(sample()))["note"] is None
