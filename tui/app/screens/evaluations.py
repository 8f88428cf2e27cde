"""The Evaluations screen: past eval runs, the selected run's results, its misses; new runs.

Left, the runs (newest first). Right, for the selected run: the results table (one row per
strategy, as ``o1tui eval`` prints it), the accuracy-against-time chart, and the items the
strategies got wrong — Enter on one opens its chain in the main view — and what each strategy
changed against another ("g1 vs plain: fixed 12, broke 3, p = 0.02", with the results by
MATH-500 level and subject when the set has them): Enter on a flipped item opens both chains
side by side in the compare view. The line at the top
starts a run against the app's server: ``SET [STRATEGIES] [LIMIT]`` (``classic plain,g1 10``);
its progress shows in the bar below it, and it is saved item by item like ``o1tui eval``.

Store reads run in thread workers; the results are put on screen on the UI loop. Everything
read from the store (questions, answers, set and model names) is shown as ``Text``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Input, ProgressBar, Static
from textual.worker import Worker

from tui.app.widgets.accuracy_chart import AccuracyChart
from tui.app.widgets.app_footer import AppFooter
from tui.evals.scoring import PairResult, RunReport, StrategyResult, run_report
from tui.evals.store import EvalRun, EvalStore, ItemResult
from tui.sanitize import clean_line

if TYPE_CHECKING:
    from tui.core.group import GroupResult

COLUMNS = {
    # The useful columns first: a narrow pane cuts the last ones (the date) first.
    "#evals-run-table": ("run", "status", "done", "set", "when"),
    "#evals-results": (
        "strategy", "n", "correct", "accuracy", "95% CI", "mean s", "median s", "tokens", "steps",
    ),
    "#evals-wrong": ("strategy", "gold", "answered", "question"),
    "#evals-flips": ("pair", "change", "question"),
}  # fmt: skip
#: What the results table shows for a measure with nothing measured yet (a run's first rows).
NOT_YET = "—"
HELP_LINE = (
    "Start: SET [STRATEGIES] [LIMIT], e.g. classic plain,g1 10 · Enter on a miss opens its chain"
)


class EvaluationsScreen(Screen[None]):
    """See the module notes. ``client`` gives the app's chat client (None while no server);
    ``open_chain`` shows a chain in the main view, ``show_group`` a finished group there."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("r", "refresh", "Refresh"),
        Binding("n", "new_run", "New run"),
    ]

    DEFAULT_CSS = """
    EvaluationsScreen #evals-heading { height: 1; padding: 0 1; text-style: bold; }
    EvaluationsScreen #evals-runs { width: 45%; min-width: 36; max-width: 60; }
    EvaluationsScreen #evals-right { width: 1fr; }
    EvaluationsScreen #evals-results { height: auto; max-height: 10; }
    EvaluationsScreen #evals-wrong { height: 1fr; min-height: 4; }
    EvaluationsScreen #evals-pairs { height: auto; max-height: 8; overflow-y: auto; }
    EvaluationsScreen #evals-flips { height: 1fr; min-height: 3; }
    EvaluationsScreen .-empty { display: none; }
    EvaluationsScreen #evals-progress { display: none; }
    EvaluationsScreen #evals-progress.-running { display: block; }
    EvaluationsScreen .evals-title { color: $text-muted; text-style: bold; }
    """

    def __init__(
        self,
        history: Any,
        client: Callable[[], Any] | None = None,
        open_chain: Callable[[str], None] | None = None,
        *,
        show_group: Callable[[GroupResult], None] | None = None,
    ) -> None:
        super().__init__()
        self.store = EvalStore(history) if history is not None else None
        self._client = client or (lambda: None)
        self._open_chain = open_chain
        self._show_group = show_group
        self.runs: list[EvalRun] = []
        self.selected: EvalRun | None = None
        self.rows: list[StrategyResult] = []
        self.wrong: list[tuple[ItemResult, str, str]] = []
        #: Flipped items: (pair, question index, question), what ``a`` fixed then broke.
        self.flips: list[tuple[PairResult, int, str]] = []
        self._items: dict[tuple[str, int], ItemResult] = {}
        self.running_run: str | None = None
        #: The thread reading a set and saving its run, while it does (Esc cancels it).
        self._loader: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Evaluations: question sets run through each strategy", id="evals-heading")
        yield Input(placeholder=HELP_LINE, id="evals-start")
        yield ProgressBar(total=1, show_eta=True, id="evals-progress")
        with Horizontal():
            with Vertical(id="evals-runs"):
                yield Static("Runs", classes="evals-title")
                yield DataTable(id="evals-run-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="evals-right"):
                yield DataTable(id="evals-results", cursor_type="row")
                yield AccuracyChart(id="evals-chart")
                yield Static("Wrong answers", classes="evals-title")
                yield DataTable(id="evals-wrong", cursor_type="row")
                yield Static(id="evals-pairs", classes="-empty")
                yield DataTable(id="evals-flips", cursor_type="row", classes="-empty")
        yield AppFooter()

    def on_mount(self) -> None:
        self.action_refresh()
        self.query_one("#evals-run-table", DataTable).focus()

    def _fill(self, selector: str, rows: list[tuple[Any, ...]], keys: list[str]) -> DataTable:
        """Replace the table's rows, its columns sized to them here: a table refilled while
        shown would otherwise keep, for a frame or more, the widths of what it held before."""
        table = self.query_one(selector, DataTable)
        table.clear(columns=True)
        headers = COLUMNS[selector]
        for i, header in enumerate(headers):
            width = max([len(header), *(Text(str(r[i])).cell_len for r in rows)])
            table.add_column(header, width=width)
        for row, key in zip(rows, keys, strict=True):
            table.add_row(*row, key=key)
        return table

    # --- loading -------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._load_runs()

    @work(thread=True, exclusive=True, group="evals-load")
    def _load_runs(self) -> None:
        runs = self.store.list_runs() if self.store is not None else []
        self.app.call_from_thread(self._show_runs, runs)

    def _show_runs(self, runs: list[EvalRun]) -> None:
        self.runs = runs
        keep = self.selected.id if self.selected is not None else None
        table = self._fill(
            "#evals-run-table",
            [
                (
                    run.id[:8],
                    run.status,
                    f"{run.n_answered}/{run.n_items}",
                    Text(clean_line(run.set_name, 16)),
                    run.created_at[5:16].replace("T", " "),
                )
                for run in runs
            ],
            [run.id for run in runs],
        )
        if not runs:
            self._show_details(None, RunReport([], [], {}), [], [])
            return
        index = next((i for i, r in enumerate(runs) if r.id == keep), 0)
        table.move_cursor(row=index)
        self._select(runs[index])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "evals-run-table" or event.row_key.value is None:
            return
        run = next((r for r in self.runs if r.id == event.row_key.value), None)
        if run is not None and (self.selected is None or run.id != self.selected.id):
            self._select(run)

    def _select(self, run: EvalRun) -> None:
        self.selected = run
        self._load_details(run)

    @work(thread=True, exclusive=True, group="evals-details")
    def _load_details(self, run: EvalRun) -> None:
        assert self.store is not None
        items = self.store.items(run.id)
        questions = self.store.questions(run.id)
        report = run_report(self.store, run)
        wrong = [
            (it, questions[it.idx].question, questions[it.idx].answer)
            for it in items
            if not it.correct and it.idx < len(questions)
        ]
        self._items = {(it.strategy, it.idx): it for it in items}
        flips = [
            (pair, idx, questions[idx].question)
            for pair in report.pairs
            for idx in (*pair.a_only_idx, *pair.b_only_idx)
            if idx < len(questions)
        ]
        self.app.call_from_thread(self._show_details, run, report, wrong, flips)

    def _show_details(
        self,
        run: EvalRun | None,
        report: RunReport,
        wrong: list[tuple[ItemResult, str, str]],
        flips: list[tuple[PairResult, int, str]],
    ) -> None:
        rows = report.rows
        self.rows, self.wrong, self.flips = rows, wrong, flips
        self._fill(
            "#evals-results",
            [(Text(cells[0]), *cells[1:]) for cells in (_result_cells(r) for r in rows)],
            [r.strategy for r in rows],
        )
        self.query_one(AccuracyChart).set_points(
            [(r.strategy, r.mean_s, r.accuracy, r.ci_low, r.ci_high) for r in rows if r.n]
        )
        self._fill(
            "#evals-wrong",
            [
                (
                    Text(clean_line(item.strategy, 12)),
                    Text(clean_line(gold, 20)),
                    Text(clean_line(_answered(item), 20)),
                    Text(clean_line(question, 80)),
                )
                for item, question, gold in wrong
            ],
            [str(i) for i in range(len(wrong))],
        )
        self._show_changes(report, flips)

    def _show_changes(self, report: RunReport, flips: list[tuple[PairResult, int, str]]) -> None:
        """The pairs' summary lines, the breakdowns, and the flipped items' table."""
        lines = [line for line in report.lines() if line]
        pairs_box = self.query_one("#evals-pairs", Static)
        pairs_box.update(Text("\n".join(line.strip() for line in lines)))
        pairs_box.set_class(not lines, "-empty")
        table = self._fill(
            "#evals-flips",
            [
                (
                    Text(clean_line(f"{pair.a} vs {pair.b}", 24)),
                    "fixed" if idx in pair.a_only_idx else "broke",
                    Text(clean_line(question, 80)),
                )
                for pair, idx, question in flips
            ],
            [str(i) for i in range(len(flips))],
        )
        table.set_class(not flips, "-empty")

    # --- opening a miss --------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "evals-flips" and event.row_key.value is not None:
            self._open_flip(*self.flips[int(event.row_key.value)][:2])
            return
        if event.data_table.id != "evals-wrong" or event.row_key.value is None:
            return
        item = self.wrong[int(event.row_key.value)][0]
        chain_id = item.chain_id or self._first_chain_of(item.group_id)
        if chain_id is None:
            self.notify("That item has no chain in the history.", severity="warning")
            return
        self.dismiss()
        if self._open_chain is not None:
            self._open_chain(chain_id)

    def _open_flip(self, pair: PairResult, idx: int) -> None:
        """Both chains of a flipped item side by side, in the compare view of groups."""
        from tui.core.chain import Status
        from tui.core.group import Group, GroupKind, GroupResult

        assert self.store is not None
        chains = []
        for strategy in (pair.a, pair.b):
            item = self._items.get((strategy, idx))
            chain_id = (
                None if item is None else item.chain_id or self._first_chain_of(item.group_id)
            )
            chain = None if chain_id is None else self.store.history.get(chain_id)
            if chain is None:
                self.notify("That item's chains are no longer in the history.", severity="warning")
                return
            chains.append(chain)
        group = Group(
            kind=GroupKind.COMPARE,
            question=chains[0].question,
            model=chains[0].model,
            strategies=[pair.a, pair.b],
            chain_ids=[c.id for c in chains],
            status=Status.DONE,
        )
        self.dismiss()
        if self._show_group is not None:
            self._show_group(GroupResult(group, chains))

    def _first_chain_of(self, group_id: str | None) -> str | None:
        if group_id is None or self.store is None:
            return None
        row = self.store.history.transaction(
            lambda c: c.execute(
                "SELECT id FROM chains WHERE group_id = ? ORDER BY rid LIMIT 1", (group_id,)
            ).fetchone(),
            write=False,
        )
        return row[0] if row else None

    # --- starting a run -----------------------------------------------------------------------

    def action_new_run(self) -> None:
        self.query_one("#evals-start", Input).focus()

    def action_close(self) -> None:
        """Leave; a run going here stops (its worker is the screen's), and is said so. Esc
        while a set loads cancels the load and stays."""
        if self._loader is not None and self._loader.is_running:
            self._loader.cancel()
            self._loader = None
            self.notify("Loading the set was cancelled.")
            return
        run_id = self.running_run
        if run_id is not None:
            bar = self.query_one("#evals-progress", ProgressBar)
            done = f"{bar.progress:.0f}/{bar.total:.0f}" if bar.total else "0"
            self.app.notify(
                f"Eval {run_id} stopped after {done} items (kept). Continue it with: "
                f"o1tui eval --resume {run_id}",
                title="Evaluations",
                severity="warning",
                markup=False,
                timeout=12,
            )
        self.dismiss()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.running_run is not None or (self._loader is not None and self._loader.is_running):
            self.notify("An eval run is already going.", severity="warning")
            return
        self._loader = self._load_and_create(event.value, self._client())

    @work(thread=True, exclusive=True, group="evals-start")
    def _load_and_create(self, line: str, client: Any) -> None:
        """Read the set and save the run off the UI loop: a set path may be a FIFO nobody
        writes to, and a 100 000-item file takes seconds to read and store. Esc cancels
        (the read asks between waits and every thousand lines)."""
        from textual.worker import get_current_worker

        from tui.evals.reading import ReadCancelled
        from tui.evals.store import CANCELLED

        worker = get_current_worker()
        try:
            eval_set, specs, limit = parse_start_line(line, lambda: worker.is_cancelled)
        except ReadCancelled:
            return
        except ValueError as err:
            self.app.call_from_thread(self.notify, clean_line(str(err), 200), severity="error")
            return
        if client is None or self.store is None:
            self.app.call_from_thread(
                self.notify, "No model server yet: wait until it is ready.", severity="warning"
            )
            return
        if worker.is_cancelled:
            return
        from tui.core.strategies import StrategyOptions
        from tui.evals.named import is_math_set
        from tui.evals.specs import run_prompts, run_request

        labels = [s.label for s in specs]
        run = self.store.create_run(
            eval_set,
            model=client.model,
            strategies=labels,
            options={"limit": limit} if limit else {},
            prompts=run_prompts(labels, math=is_math_set(eval_set)),
            request=run_request(labels, StrategyOptions(), client.model),
        )
        if worker.is_cancelled:  # Esc while the run was being saved: it never started
            self.store.set_status(run.id, CANCELLED)
            self.app.call_from_thread(self.action_refresh)
            return
        self.app.call_from_thread(self._started, run, client, limit, line)

    def _started(self, run: EvalRun, client: Any, limit: int | None, line: str) -> None:
        """The typed line's run is saved: clear the line (unless the user typed on) and run it."""
        start = self.query_one("#evals-start", Input)
        if start.value == line:
            start.value = ""
        self.start_run(run, client, limit)

    def start_run(self, run: EvalRun, client: Any, limit: int | None = None) -> None:
        """Run the stored ``run``'s pending items against ``client``, selected and shown live."""
        self.running_run = run.id
        self.selected = run  # the table follows the new run, not the one shown before
        self._run_eval(run, client, limit)
        self.action_refresh()
        self.query_one("#evals-run-table", DataTable).focus()

    @work(exclusive=True, group="evals-run")
    async def _run_eval(self, run: EvalRun, client: Any, limit: int | None) -> None:
        from tui.core.strategies import StrategyOptions
        from tui.evals.runner import EvalAborted, EvalRunner, Progress, options_factory

        assert self.store is not None
        bar = self.query_one("#evals-progress", ProgressBar)

        def progress(p: Progress) -> None:
            bar.update(total=p.total, progress=p.done)
            self.action_refresh()  # the runs' counts, and the rows of the one selected

        runner = EvalRunner(
            self.store,
            run,
            client,
            options_factory(StrategyOptions(), "auto"),
            on_progress=progress,
            limit=limit,
        )
        bar.update(total=runner.total(), progress=runner.total() - len(runner.pending()))
        bar.add_class("-running")
        try:
            await runner.run_all()
            self.notify(f"Eval {run.id} finished.")
        except EvalAborted as err:
            self.notify(f"Eval stopped: {clean_line(str(err), 200)}", severity="error")
        finally:
            bar.remove_class("-running")
            self.running_run = None
            if self.is_attached:
                self.action_refresh()


def _result_cells(row: StrategyResult) -> tuple[str, ...]:
    """A results row; a strategy with no item yet shows ``—``, not a 0% measured."""
    cells = row.cells(16)
    if row.n:
        return cells
    return (cells[0], cells[1], *(NOT_YET for _ in cells[2:]))


def _answered(item: ItemResult) -> str:
    """What a wrong item answered, as the misses table shows it."""
    return "(error)" if item.status == "error" else (item.predicted or "(none)")


def parse_start_line(
    text: str, cancelled: Callable[[], bool] | None = None
) -> tuple[Any, Any, int | None]:
    """``SET [STRATEGIES] [LIMIT]`` → (set, specs, limit); ValueError says what is wrong.
    ``cancelled`` is asked while a set file is read (ReadCancelled then)."""
    from tui.evals.lookup import load_set
    from tui.evals.specs import DEFAULT_STRATEGIES, parse_specs

    words = text.split()
    if not words:
        raise ValueError("type a set name, e.g. classic plain,g1 10")
    limit = None
    if len(words) > 1 and words[-1].isdigit():
        limit = int(words.pop())
        if limit < 1:
            raise ValueError("the limit must be at least 1")
    if len(words) > 2:
        raise ValueError("expected SET [STRATEGIES] [LIMIT]")
    specs = parse_specs(words[1] if len(words) > 1 else DEFAULT_STRATEGIES)
    from tui.evals.named import NAMED_SETS, is_cached

    if words[0] in NAMED_SETS and not is_cached(words[0]):  # no download from the screen
        raise ValueError(f"{words[0]} is not downloaded yet: run o1tui download {words[0]}")
    return load_set(words[0], cancelled=cancelled), specs, limit
