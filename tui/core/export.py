"""A chain as a Markdown document or a JSON document, for files and for scripts.

All text from the model or the user passes through :func:`tui.sanitize.clean`, so an export
that is later ``cat``-ed to a terminal carries no escape sequences. Nothing else is escaped:
the Markdown is meant to be read as Markdown.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tui.core.chain import Chain, Step
from tui.core.repetition import REPEATED
from tui.formatting import format_seconds
from tui.sanitize import clean, clean_line

#: A question up to this long (its lines joined) is the document's heading; a longer one is
#: printed whole under a "Question" heading instead (never both).
HEADING_CHARS = 120


def step_heading(step: Step) -> str:
    """``Step 2 · Count the letters · 1.84 s · 212 tok`` (the token part when known)."""
    parts = [f"Step {step.index}"]
    title = clean_line(step.title)
    if title:
        parts.append(title)
    parts.append(format_seconds(step.elapsed_s))
    if step.completion_tokens is not None:
        parts.append(f"{step.completion_tokens} tok")
    if step.finish_reason == REPEATED:
        parts.append("repeated")
    return " · ".join(parts)


def to_markdown(chain: Chain) -> str:
    """The chain as Markdown: question, a header of facts, each step, the final answer."""
    status = chain.status.value if hasattr(chain.status, "value") else str(chain.status)
    facts = [
        f"- Strategy: {clean_line(chain.strategy)}",
        f"- Model: {clean_line(chain.model)}",
        f"- Status: {status}",
        f"- Thinking time: {format_seconds(chain.total_s)}",
        f"- Steps: {len(chain.steps)}",
    ]
    if chain.completion_tokens:
        facts.append(f"- Tokens: {chain.completion_tokens}")
    facts.append(f"- Created: {clean_line(chain.created_at)}")
    facts.append(f"- Id: {clean_line(chain.id)}")
    if chain.error and status != "cancelled":  # a cancel is no error: the status says it
        facts.append(f"- Error: {clean_line(chain.error)}")
    if chain.note:
        facts.append(f"- Note: {chain.note}")

    question = clean(chain.question).strip()
    one_line = " ".join(question.split())
    if len(one_line) <= HEADING_CHARS and "```" not in question:
        out = [f"# {one_line or 'Question'}", ""]  # the heading is the question, once
    else:  # too long (or code) for a heading: whole, under a plain one
        out = ["# Question", "", question, ""]
    out += [*facts, ""]
    for step in chain.steps:
        out += [f"## {step_heading(step)}", "", clean(step.content).strip(), ""]
    if chain.final_answer:
        out += ["## Final answer", "", clean(chain.final_answer).strip(), ""]
    return "\n".join(out)


def export_filename(chain_id: str) -> str:
    """``o1tui-<id>.md``, with anything but letters, digits, ``-`` and ``_`` removed."""
    return f"o1tui-{re.sub(r'[^A-Za-z0-9_-]', '', chain_id) or 'chain'}.md"


def write_markdown(chain: Chain, folder: Path, mode_like: Path | None = None) -> Path:
    """Write :func:`to_markdown` to :func:`export_filename` in ``folder`` (made if missing);
    returns the path. The file is never more open than ``mode_like`` (the history's file).
    Raises OSError."""
    from tui.output import write_limited

    path = folder / export_filename(chain.id)
    folder.mkdir(parents=True, exist_ok=True)
    write_limited(path, to_markdown(chain), mode_like)
    return path


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {k: _cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    return value


def to_dict(chain: Chain) -> dict[str, Any]:
    """The ``--json`` document (docs/user-guide.md), with every step's ``index`` and control
    characters stripped from the text (otherwise as stored)."""
    document: dict[str, Any] = _cleaned(chain.to_dict())
    return document


def to_json(chain: Chain) -> str:
    """:func:`to_dict` as indented JSON, non-ASCII text kept readable."""
    return json.dumps(to_dict(chain), ensure_ascii=False, indent=2)


def from_json(text: str) -> Chain:
    """The chain back from :func:`to_json`'s output (raises ValueError/KeyError when not one)."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a chain's JSON document must be an object")
    return Chain.from_dict(data)
