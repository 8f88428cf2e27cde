"""``o1tui ask Q --samples N [--strategy S]`` and ``o1tui ask Q --compare S1,S2[,…]``.

A group of chains on one question (:mod:`tui.core.group`), headless. Plain output: one line per
chain as it finishes (sample number or strategy, status, answer, time, tokens), then the vote
(``Answer: 3 (4 of 5 votes) · 9.80 s``) or, for compare, the wall time. ``--json`` prints one
document: ``kind``, ``answer`` (null for compare), ``votes`` (normalized answer → count; empty
for compare), ``wall_s`` and ``chains`` (each exactly as ``ask --json`` prints a chain, with
its ``group_id``).

Exit status: 0 only when every chain finished (``done``); 130 when cancelled (Ctrl+C,
SIGTERM, SIGHUP; what finished is kept); 1 when any chain failed or hit its step limit; 2 for
bad input. Textual is never imported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

from tui.cli import common as cli
from tui.cli.ask_signals import cancel_on_termination
from tui.core.answers import extract_answer
from tui.core.chain import Chain, ChainFailed, ChainFinished, Status
from tui.core.group import (
    GroupFinished,
    GroupKind,
    GroupResult,
    GroupSpec,
    GroupStarted,
    MemberEvent,
)
from tui.core.group_runner import GroupRunner
from tui.formatting import format_seconds
from tui.sanitize import clean_line

EXIT_CANCELLED = 130
#: Characters of an answer shown on a chain's line.
ANSWER_CHARS = 60


def parse_compare(text: str) -> list[str]:
    """``plain,g1`` → ``["plain", "g1"]`` (spaces around names allowed)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def group_spec(args: argparse.Namespace, question: str, strategy: str) -> GroupSpec:
    """The group the flags ask for; :class:`tui.cli.common.UserError` (status 2) when they are
    bad."""
    flag = "--compare" if args.compare is not None else "--samples"
    try:
        if args.compare is not None:
            return GroupSpec.compare(question, parse_compare(args.compare))
        return GroupSpec.self_consistency(question, strategy, args.samples)
    except ValueError as err:  # the core words it without flags; the CLI names the flag
        raise cli.UserError(f"{flag}: {err}") from None


def member_label(result: GroupResult, index: int) -> str:
    """``sample 3/8`` for self-consistency, the strategy's name for compare."""
    if result.kind == GroupKind.VOTE:
        return f"sample {index + 1}/{len(result.chains)}"
    return result.chains[index].strategy


def chain_line(result: GroupResult, index: int) -> str:
    """One line for a chain that ended: label, status, answer or error, time, tokens."""
    chain = result.chains[index]
    width = max(len(member_label(result, i)) for i in range(len(result.chains)))
    if chain.status in (Status.DONE, Status.STEP_LIMIT):
        said = clean_line(extract_answer(chain.final_answer), ANSWER_CHARS) or "(no answer)"
    else:
        said = clean_line(chain.error or chain.status.value, ANSWER_CHARS)
    facts = [format_seconds(chain.total_s)]
    if chain.completion_tokens:
        facts.append(f"{chain.completion_tokens} tok")
    return (
        f"{member_label(result, index):<{width}}  {chain.status.value:<10}  {said}"
        f"  · {' · '.join(facts)}"
    )


def summary_line(result: GroupResult) -> str:
    """``Answer: 3 (4 of 5 votes) · 9.80 s``, or compare's wall time."""
    wall = format_seconds(result.wall_s)
    if result.kind == GroupKind.COMPARE:
        return f"Compared {len(result.chains)} strategies · {wall}"
    vote = result.vote
    if vote is None or vote.key is None:
        return f"Answer: none (no chain gave an answer) · {wall}"
    shown = clean_line(vote.answer or vote.key, ANSWER_CHARS * 2)
    return f"Answer: {shown} ({vote.winner_votes} of {vote.ballots} votes) · {wall}"


class GroupPrinter:
    """``on_event`` for the plain output: a line per chain as it ends, the vote at the end."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out
        self.result: GroupResult | None = None

    def __call__(self, event: Any) -> None:
        out = self.out if self.out is not None else sys.stdout
        if isinstance(event, MemberEvent) and isinstance(event.event, (ChainFinished, ChainFailed)):
            if self.result is not None:
                print(chain_line(self.result, event.index), file=out, flush=True)
        elif isinstance(event, GroupFinished):
            print(summary_line(event.result), file=out, flush=True)
        elif isinstance(event, GroupStarted):
            self.result = event.result


def group_document(result: GroupResult) -> dict[str, Any]:
    """The ``--json`` document (see the module docstring)."""
    from tui.core.export import to_dict

    vote = result.vote if result.kind == GroupKind.VOTE else None
    return {
        "kind": result.kind.value,
        "answer": vote.answer if vote is not None else None,
        "votes": dict(vote.votes) if vote is not None else {},
        "wall_s": round(result.wall_s, 3),
        "chains": [to_dict(chain) for chain in result.chains],
    }


async def _run(
    args: argparse.Namespace, settings: Any, spec: GroupSpec, handle: Any
) -> GroupResult:
    from tui.lang import detect_lang

    lang = (None if settings.lang == "auto" else settings.lang) or detect_lang(spec.question)
    options = cli.strategy_options(settings, lang, dict(getattr(args, "param", None) or []))
    history = cli.open_history(args)
    try:
        client = await cli.connect_client(settings, args, handle)
    except BaseException:
        history.close()
        raise
    from tui.output import GuardedPrinter, OutputError, describe

    # A printout that fails (`>&-`, a full disk) must not fail the chains: remembered, reported.
    printer = None if args.json else GuardedPrinter(GroupPrinter())
    runner = GroupRunner(
        spec,
        client,
        options,
        history=history,
        on_event=printer,
        concurrency=getattr(handle, "concurrency", None),
        lang=lang,
    )
    task = asyncio.ensure_future(runner.run())
    try:
        with cancel_on_termination(task):
            await task
    except asyncio.CancelledError:
        pass  # the runner saved every chain and the group before re-raising
    finally:
        await client.aclose()
        history.close()
    if printer is not None and printer.error is not None:
        raise OutputError(
            f"{describe(printer.error, 'the output')}; the chains of group "
            f"{runner.result.group.id} are in the history"
        )
    return runner.result


def exit_status(result: GroupResult) -> int:
    """0 when every chain is done, 130 when cancelled, else 1."""
    if result.status == Status.CANCELLED:
        return EXIT_CANCELLED
    return 0 if result.all_done else cli.EXIT_FAILURE


def cmd_ask_group(args: argparse.Namespace, question: str) -> int:
    """Run the group ``args`` asks for on ``question`` (already validated)."""
    from tui.cli.ask_progress import run_with_server

    if args.compare is not None and hasattr(args, "strategy"):
        raise cli.UserError("--strategy does not go with --compare, which names its strategies")
    settings = cli.resolve_settings(args)
    if settings.max_steps < 1:
        raise cli.UserError("--max-steps must be at least 1")
    spec = group_spec(args, question, settings.strategy)
    result = run_with_server(
        settings,
        lambda handle: _run(args, settings, spec, handle),
        failed=lambda result: any(c.status == Status.ERROR for c in result.chains),
    )
    if args.json:
        print(json.dumps(group_document(result), ensure_ascii=False, indent=2))
    _report(result)
    return exit_status(result)


def _report(result: GroupResult) -> None:
    """The one stderr line for a group that did not finish cleanly."""
    gid = result.group.id
    if result.status == Status.CANCELLED:
        print(
            f"{cli.PROG}: cancelled; the chains of group {gid} are in the history "
            "(finished ones complete)",
            file=sys.stderr,
        )
        return
    failed: list[Chain] = [c for c in result.chains if c.status == Status.ERROR]
    limited = [c for c in result.chains if c.status == Status.STEP_LIMIT]
    if failed:
        print(
            f"{cli.PROG}: {len(failed)} of {len(result.chains)} chains failed (group {gid}): "
            f"{clean_line(failed[0].error or 'error', 300)}",
            file=sys.stderr,
        )
    elif limited:
        print(
            f"{cli.PROG}: {len(limited)} of {len(result.chains)} chains reached the step limit "
            f"(group {gid})",
            file=sys.stderr,
        )
