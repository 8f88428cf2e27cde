"""``o1tui eval``: accuracy against thinking time, per strategy, on the user's own server.

    o1tui eval SET [--strategies plain,g1,thinking,g1@5] [--limit N] [--concurrency K]
                   [--seed N] [--json] [--csv FILE]   (+ the server flags of ``ask``)
    o1tui eval --resume RUN_ID      continue a run stopped by Ctrl+C, a crash or errors
    o1tui eval --show RUN_ID        a stored run's results, re-scored from its chains
                                    (nothing saved; add --rescore to save the new verdicts)
    o1tui eval --compare A B        what B's strategies fixed and broke against A's
    o1tui eval --runs               past runs
    o1tui eval --list               the sets: built-in, and public (cached or not)

Everything that can be wrong with the input (set file, strategies, limits) is found before a
server is started. Exit status: 0 the run completed (whatever its accuracy), 1 it stopped on
errors, 2 bad input, 130 cancelled (what finished is saved; ``--resume`` continues).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import sys
import time
from typing import Any, TextIO

#: Most items run at once: LMDeploy's largest default batch (H100); more only queue.
MAX_CONCURRENCY = 512


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> argparse.ArgumentParser:
    """Register ``eval`` on the CLI's subparsers (``parents``: the ask command's options)."""
    from tui.evals.specs import DEFAULT_SEED, DEFAULT_STRATEGIES

    p = sub.add_parser(
        "eval",
        parents=parents,
        help="accuracy against thinking time, per strategy, on a question set",
        description="Ask every question of SET under each strategy, score the final answers "
        "against the gold ones, and print one row per strategy: accuracy (95 % Wilson "
        "interval), mean and median seconds, tokens and steps. Every answered item is saved "
        "as it finishes; Ctrl+C keeps them and --resume continues. Exit 0 when the run "
        "completed, 1 when it stopped on errors, 2 for bad input, 130 when cancelled.",
    )
    p.add_argument(
        "set",
        nargs="?",
        metavar="SET",
        help="a built-in set, a public benchmark (gsm8k, math500, aime2024, cmath: downloaded "
        "once; see --list) or a JSON Lines file (GSM8K, MATH-500, AIME formats understood)",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--list", action="store_true", help="list the sets: built-in, and public (cached or not)"
    )
    what.add_argument("--runs", action="store_true", help="list past eval runs")
    what.add_argument("--resume", metavar="RUN_ID", help="continue an unfinished run")
    what.add_argument(
        "--show", metavar="RUN_ID", help="a stored run's results, re-scored from its chains"
    )
    what.add_argument(
        "--compare",
        nargs=2,
        metavar=("RUN_A", "RUN_B"),
        help="what each strategy of RUN_B fixed and broke against each of RUN_A (same set, "
        "prompts and parameters; the models may differ), or why they cannot be compared",
    )
    p.add_argument(
        "--rescore",
        action="store_true",
        help="with --show: save the re-scored verdicts (--show alone writes nothing)",
    )
    p.add_argument(
        "--strategies",
        default=None,
        metavar="LIST",
        help=f"comma-separated; S@N is strategy S with N self-consistency samples and a "
        f"majority vote (default {DEFAULT_STRATEGIES})",
    )
    p.add_argument("--limit", type=int, metavar="N", help="only the first N questions")
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="K",
        help="items run at once against the server (default: a managed LMDeploy server's "
        "batch size times its --dp replicas, so the GPUs are full; 1 for an --endpoint or "
        "llama.cpp)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        metavar="N",
        help=f"seed of a built-in set (default {DEFAULT_SEED}; the same seed gives the same set)",
    )
    from tui.cli.options import add_lang_and_steps, add_param

    add_lang_and_steps(p, "g1 prompt language (default: from each question)")
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"set", "model", "run_id", "status", "results": [rows], "pairs": [...], '
        '"breakdowns": {...}, "wall_s"} (wall_s: seconds this process spent on the run; not '
        "with --show)",
    )
    p.add_argument("--csv", metavar="FILE", help="also write the rows to FILE as CSV")
    add_param(p, "max_tokens=400")
    return p


# --- output --------------------------------------------------------------------------------

COLUMNS = (
    "strategy",
    "n",
    "correct",
    "accuracy",
    "95% CI",
    "mean_s",
    "median_s",
    "tokens",
    "steps",
)


def format_table(rows: list[Any]) -> str:
    """The results as aligned text columns."""
    body = [r.cells(24) for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(COLUMNS)]
    lines = []
    for cells in (COLUMNS, *body):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    errors = sum(r.errors for r in rows)
    if errors:
        lines.append(f"({errors} item(s) ended in an error and count as wrong)")
    return "\n".join(lines)


def results_document(run: Any, report: Any, wall_s: float | None = None) -> dict[str, Any]:
    """The ``--json`` document; ``wall_s``: seconds this process spent running items (absent
    for ``--show``), what items-per-minute figures are computed from."""
    doc: dict[str, Any] = {
        "set": run.set_name,
        "model": run.model,
        "run_id": run.id,
        "status": run.status,
        **report.to_dict(),
    }
    if wall_s is not None:
        doc["wall_s"] = round(wall_s, 3)
    return doc


def write_csv(path: str, rows: list[Any]) -> None:
    from tui.evals.scoring import StrategyResult

    fields = list(StrategyResult.__dataclass_fields__)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow(r.to_dict())


def print_results(
    args: argparse.Namespace, run: Any, report: Any, out: TextIO, wall_s: float | None = None
) -> None:
    from tui.sanitize import clean_line

    if args.csv:
        write_csv(args.csv, report.rows)
    if args.json:
        from tui.output import terminal_json

        print(terminal_json(results_document(run, report, wall_s)), file=out)
        return
    print(
        f"eval {run.id} · {clean_line(run.set_name, 60)} · {clean_line(run.model, 60)} · "
        f"{run.status}",
        file=out,
    )
    print(format_table(report.rows), file=out)
    for text in report.lines():
        print(text, file=out)


# --- the command ---------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    from tui.cli.common import UserError

    if args.list:
        return _list_sets()
    if args.runs:
        return _list_runs(args)
    if args.show:
        return _show(args)
    if args.rescore:
        raise UserError("--rescore goes with --show RUN_ID")
    if args.compare:
        return _compare(args)
    if args.resume is None and args.set is None:
        raise UserError("name a SET (o1tui eval --list shows the built-in ones) or --resume RUN_ID")
    if args.resume is not None and args.set is not None:
        raise UserError("--resume continues a stored run: give no SET with it")
    if args.concurrency is not None and not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise UserError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}")
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit must be at least 1")
    return _run(args)


def _list_sets() -> int:
    from tui.evals.builtin import BUILTIN_SETS
    from tui.evals.named import listing

    for spec in BUILTIN_SETS.values():
        print(f"{spec.name:<14} {spec.size:>4} items  {spec.description}")
    for line in listing():
        print(line)
    return 0


def _list_runs(args: argparse.Namespace) -> int:
    from tui.cli.common import open_history
    from tui.cli.listing import eval_runs_table, terminal_width
    from tui.evals.store import EvalStore

    history = open_history(args)
    try:
        runs = EvalStore(history).list_runs()
    finally:
        history.close()
    if not runs:
        print("no eval runs yet", file=sys.stderr)
        return 0
    lines = eval_runs_table(runs, header=sys.stdout.isatty(), width=terminal_width())
    print("\n".join(lines))
    return 0


def _get_run(store: Any, ident: str) -> Any:
    from tui.cli.common import UserError

    run = store.get_run(ident)
    if run is None:
        raise UserError(f"no eval run with id {ident!r}")
    return run


def _find_run(args: argparse.Namespace, ident: str) -> None:
    """Refuse (exit 2) an id that names no stored run, or several."""
    from tui.cli.common import open_history
    from tui.evals.store import EvalStore

    history = open_history(args)
    try:
        _get_run(EvalStore(history), ident)
    finally:
        history.close()


def _show(args: argparse.Namespace) -> int:
    from tui.cli.common import PROG, open_history
    from tui.evals.rescore import rescore_run, rescored_items
    from tui.evals.scoring import run_report
    from tui.evals.store import EvalStore

    history = open_history(args)
    try:
        store = EvalStore(history)
        run = _get_run(store, args.show)
        items, changed = rescored_items(store, run)
        if changed and args.rescore:
            rescore_run(store, run)
        elif changed:
            print(
                f"{PROG}: {changed} item(s) score differently from their saved verdicts; "
                "--rescore saves the new ones",
                file=sys.stderr,
            )
        report = run_report(store, run, items)
    finally:
        history.close()
    print_results(args, run, report, sys.stdout)
    return 0


def _compare(args: argparse.Namespace) -> int:
    """``--compare RUN_A RUN_B``: the pairs across two runs, or one line saying why not."""
    from tui.cli.common import EXIT_FAILURE, UserError, open_history
    from tui.evals.scoring import run_pairs
    from tui.evals.specs import incomparable
    from tui.evals.store import EvalStore
    from tui.sanitize import clean_line

    history = open_history(args)
    try:
        store = EvalStore(history)
        first, second = (_get_run(store, ident) for ident in args.compare)
        reasons = incomparable(first, second, same_model=False)
        if reasons:
            raise UserError(
                clean_line(
                    f"runs {first.id} and {second.id} cannot be compared: " + "; ".join(reasons),
                    400,
                ),
                code=EXIT_FAILURE,
            )
        found = run_pairs(first, second, store)
    finally:
        history.close()
    if args.json:
        from tui.output import terminal_json

        doc = {"runs": [first.id, second.id], "pairs": [p.to_dict() for p in found]}
        print(terminal_json(doc))
        return 0
    print(
        f"{clean_line(second.model, 60)} ({second.id}) against {clean_line(first.model, 60)} "
        f"({first.id}) on {clean_line(first.set_name, 40)}"
    )
    for pair in found:
        print(f"  {pair.summary()} (both {pair.both}, neither {pair.neither})")
    return 0


def _prepare(args: argparse.Namespace) -> tuple[Any, Any, Any, int | None]:
    """Everything that can be refused before a server starts: settings, the set, the specs."""
    from tui.cli.common import EXIT_FAILURE, EXIT_USAGE, UserError, resolve_settings
    from tui.evals.lookup import load_set
    from tui.evals.sets import SetFileError
    from tui.evals.specs import DEFAULT_STRATEGIES, parse_specs

    settings = resolve_settings(args)
    if settings.max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    if args.csv:  # a run takes hours: a path that cannot be written is refused now
        from pathlib import Path

        from tui.output import check_writable

        check_writable(Path(args.csv))
    if args.resume is not None:
        if args.strategies is not None:
            raise UserError("--resume keeps the run's own strategies: give no --strategies")
        _find_run(args, args.resume)  # an id that names no run is refused before a server starts
        return settings, None, None, args.limit
    try:
        specs = parse_specs(args.strategies or DEFAULT_STRATEGIES)
    except ValueError as err:
        raise UserError(f"--strategies: {err}") from None
    try:
        eval_set = load_set(args.set, seed=args.seed)
    except SetFileError as err:
        from tui.evals.named import NotCachedError
        from tui.sanitize import clean_line

        code = EXIT_FAILURE if isinstance(err, NotCachedError) else EXIT_USAGE
        raise UserError(clean_line(str(err), 500), code=code) from None
    return settings, eval_set, specs, args.limit


def _run(args: argparse.Namespace) -> int:
    """Start (or reach) the server the way ``ask`` does, then run the eval."""
    from tui.cli.ask_progress import run_with_server

    settings, eval_set, specs, limit = _prepare(args)
    return run_with_server(
        settings, lambda handle: _run_async(args, settings, eval_set, specs, limit, handle)
    )


async def _run_async(
    args: argparse.Namespace,
    settings: Any,
    eval_set: Any,
    specs: Any,
    limit: int | None,
    handle: Any,
) -> int:
    from tui.cli.common import PROG, UserError, connect_client, open_history
    from tui.evals.progress import ProgressBar
    from tui.evals.runner import MAX_ERRORS_IN_A_ROW, EvalRunner, options_factory
    from tui.evals.scoring import run_report
    from tui.evals.store import EvalStore
    from tui.sanitize import clean_line

    history = open_history(args)
    client = None
    try:
        store = EvalStore(history)
        if args.resume is not None:
            run = _get_run(store, args.resume)
            if not store.claim(run.id, limit):  # atomic: of two resumes at once, one runs
                raise UserError(f"eval run {run.id} is still running in another o1tui")
            limit = run.options.get("limit") if limit is None else limit
            if not hasattr(args, "max_steps") and run.options.get("max_steps"):
                settings = dataclasses.replace(settings, max_steps=int(run.options["max_steps"]))
        client = await connect_client(settings, args, handle)
        if args.concurrency is None:  # the user's flag wins; else fill the managed server
            from tui.evals.specs import default_concurrency

            engine = None if handle is None else handle.engine
            args.concurrency = default_concurrency(settings, engine, MAX_CONCURRENCY)
        params = dict(getattr(args, "param", None) or [])
        from tui.cli.common import strategy_options

        if args.resume is None:
            from tui.evals.named import is_math_set
            from tui.evals.specs import run_prompts, run_request

            labels = [s.label for s in specs]
            run = store.create_run(
                eval_set,
                model=client.model,
                strategies=labels,
                options=_stored_options(args, limit, params),
                prompts=run_prompts(labels, math=is_math_set(eval_set)),
                request=run_request(labels, strategy_options(settings, None, params), client.model),
            )
        elif run.model != client.model:
            print(
                f"{PROG}: warning: run {run.id} was made with {clean_line(run.model, 60)}; "
                f"it continues with {clean_line(client.model, 60)}",
                file=sys.stderr,
            )
        if args.resume is not None and not params:
            params = dict(run.options.get("params") or {})
        lang = getattr(args, "lang", None) or run.options.get("lang")
        base = strategy_options(settings, None, params)
        bar = ProgressBar(sys.stderr, label=f"eval {run.id}")
        runner = EvalRunner(
            store,
            run,
            client,
            options_factory(base, lang),
            concurrency=args.concurrency,
            on_progress=bar,
            limit=limit,
        )
        bar.start(runner.total(), runner.total() - len(runner.pending()))
        started = time.perf_counter()
        code, failure = await _drive(runner)
        wall_s = time.perf_counter() - started
        bar.close()
        run = store.get_run(run.id) or run  # the row was written before the run: it is there
        report = run_report(store, run)
        if code == 130:
            print(
                f"{PROG}: cancelled; {run.n_answered} item(s) saved; continue with "
                f"o1tui eval --resume {run.id}",
                file=sys.stderr,
            )
        elif failure is not None:
            print(
                f"{PROG}: the run stopped after {MAX_ERRORS_IN_A_ROW} items failed in a row "
                f"({clean_line(failure, 300)}); continue with o1tui eval --resume {run.id}",
                file=sys.stderr,
            )
        print_results(args, run, report, sys.stdout, wall_s)
        return code
    finally:
        if client is not None:
            await client.aclose()
        history.close()


async def _drive(runner: Any) -> tuple[int, str | None]:
    """Run all items: (0, None) when done; (130, None) when Ctrl+C / SIGTERM / SIGHUP cancelled
    them; (1, last error) when too many failed in a row."""
    from tui.cli.ask_signals import cancel_on_termination
    from tui.cli.common import EXIT_FAILURE
    from tui.evals.runner import EvalAborted

    task = asyncio.ensure_future(runner.run_all())
    try:
        with cancel_on_termination(task):
            await task
        return 0, None
    except asyncio.CancelledError:
        return 130, None
    except EvalAborted as err:
        return EXIT_FAILURE, str(err)


def _stored_options(args: argparse.Namespace, limit: int | None, params: dict) -> dict[str, Any]:
    """What a resume needs to run the rest alike; API keys never go here."""
    out: dict[str, Any] = {"concurrency": args.concurrency, "params": params}
    if limit is not None:
        out["limit"] = limit
    for name in ("lang", "max_steps"):
        if hasattr(args, name):
            out[name] = getattr(args, name)
    return out
