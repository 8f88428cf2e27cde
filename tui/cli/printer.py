"""Headless rendering of a chain for ``o1tui ask`` and ``o1tui history show``.

Every piece of model text goes through :func:`tui.sanitize.clean` here, the one place the
CLI writes untrusted text to a terminal.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tui.core.chain import (
    AnswerFinished,
    Chain,
    ChainFailed,
    ChainFinished,
    Event,
    Status,
    Step,
    StepFinished,
    StepStarted,
)
from tui.core.repetition import REPEATED, repetition_note
from tui.formatting import format_seconds
from tui.sanitize import clean, clean_line


def step_heading(step: Step) -> str:
    """``Step 2: Count the letters (1.84 s, 212 tok)``: one line a step, as it finishes."""
    facts = [format_seconds(step.elapsed_s)]
    if step.completion_tokens is not None:
        facts.append(f"{step.completion_tokens} tok")
    if not step.parsed:
        facts.append("unparsed")
    if step.finish_reason == REPEATED:
        facts.append("repeated")
    title = clean_line(step.title) or "(untitled)"
    return f"Step {step.index}: {title} ({', '.join(facts)})"


def chain_footer(chain: Chain) -> str:
    """The closing line: status and total thinking time."""
    tokens = chain.completion_tokens
    tok = f", {tokens} tok" if tokens else ""
    return (
        f"Total thinking time: {format_seconds(chain.total_s)}{tok} · status {chain.status.value}"
    )


class StepPrinter:
    """Prints steps as they finish; used as ``run_chain``'s ``on_event`` callback.

    ``progress`` (a TTY stream, usually stderr) gets a transient "step N running" line so a
    long step does not look like a hang; it is erased before real output is written.
    """

    def __init__(self, out: TextIO | None = None, progress: TextIO | None = None) -> None:
        # Looked up at call time: sys.stdout may be replaced (redirect_stdout, test capture).
        self.out = out if out is not None else sys.stdout
        self.progress = progress
        self._progress_shown = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self._show_progress(f"… step {event.index} running")
        elif isinstance(event, StepFinished):
            self._clear_progress()
            self._write_step(event.step)
        elif isinstance(event, AnswerFinished):
            self._clear_progress()
            self.out.write(f"Final answer:\n{clean(event.text).strip()}\n\n")
            self.out.flush()
        elif isinstance(event, (ChainFinished, ChainFailed)):
            self._clear_progress()
            self.out.write(chain_footer(event.chain) + "\n")
            self.out.flush()

    def _write_step(self, step: Step) -> None:
        self.out.write(step_heading(step) + "\n")
        body = clean(step.content).strip()
        if body:
            self.out.write(body + "\n")
        self.out.write("\n")
        note = repetition_note([step])
        if note:
            self.out.write(f"Note: {note}\n\n")
        self.out.flush()

    def _show_progress(self, text: str) -> None:
        if self.progress is not None:
            self.progress.write("\r\x1b[2K" + text)
            self.progress.flush()
            self._progress_shown = True

    def _clear_progress(self) -> None:
        if self.progress is not None and self._progress_shown:
            self.progress.write("\r\x1b[2K")
            self.progress.flush()
            self._progress_shown = False


def print_chain(chain: Chain, out: TextIO | None = None) -> None:
    """Print a saved chain the way ``ask`` printed it live."""
    out = out if out is not None else sys.stdout
    out.write(f"Question: {clean(chain.question).strip()}\n")
    out.write(
        f"[{chain.id} · {chain.strategy} · {clean_line(chain.model)} · {chain.created_at}]\n\n"
    )
    printer = StepPrinter(out)
    for step in chain.steps:
        printer(StepFinished(step))
    if chain.final_answer:
        printer(AnswerFinished(chain.final_answer))
    if chain.status is Status.CANCELLED:  # a user's cancel is no error
        out.write("Cancelled.\n")
    elif chain.error:
        out.write(f"Error: {clean_line(chain.error)}\n")
    out.write(chain_footer(chain) + "\n")


#: Exit status of ``o1tui ask`` for each final chain status (0 only for a finished chain).
EXIT_CODES: dict[Status, int] = {
    Status.DONE: 0,
    Status.ERROR: 1,
    Status.STEP_LIMIT: 3,
    Status.CANCELLED: 130,
    Status.RUNNING: 1,
}
