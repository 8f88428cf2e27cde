"""History sidebar speed with a large history: what a user waits for in the app.

Builds a database of N chains (default 100 000; generator shared with history_bench.py),
then, in a headless Textual app (``App.run_test``), times until the result is drawn:

- open: mounting the sidebar until its first page is on screen;
- search: running a search (what follows the 150 ms pause after typing) until its results
  are drawn, for a rare word, a typed prefix and a word in every chain;
- bottom: End (jump to the oldest chain) until it is drawn;
- walk: one cursor step, and one PageDown (includes fetching pages at window edges).

    python bench/app_history_bench.py [--chains N] [--steps 3] [--repeat 5]

Prints a table in milliseconds: the first (cold) run and the median of the repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult  # noqa: E402
from textual.containers import Horizontal  # noqa: E402

from bench.history_bench import COMMON, RARE, build  # noqa: E402
from tui.app.widgets.history_panel import HistoryList, HistoryPanel  # noqa: E402
from tui.store.history import DB_NAME, History  # noqa: E402


class BenchApp(App):
    """An empty screen the sidebar is mounted into, as the real app does on its key."""

    def __init__(self, history: History) -> None:
        super().__init__()
        self.history = history

    def compose(self) -> ComposeResult:
        yield Horizontal(id="main")


async def drawn(pilot, check: Callable[[], bool]) -> None:
    """Let the app's loop run until ``check`` (which renders the visible lines) holds.

    Polls every millisecond rather than with ``pilot.pause()``, whose wait for an idle CPU
    adds tens of milliseconds that a user would not see.
    """
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.001)
        if check():
            return
    raise RuntimeError("the expected result was never drawn")  # pragma: no cover


def cursor_drawn(lst: HistoryList, offset: int) -> bool:
    """The chain at ``offset`` is selected and its row is on screen."""
    visible_text(lst)
    top = int(lst.scroll_y)
    return lst.selected_offset == offset and top <= lst.cursor < top + lst.size.height


def visible_text(lst: HistoryList) -> str:
    return "\n".join(lst.render_line(y).text for y in range(lst.size.height))


async def measure(
    pilot, action: Callable[[], Awaitable[None] | None], check: Callable[[], bool]
) -> float:
    t0 = time.perf_counter()
    result = action()
    if result is not None:
        await result
    await drawn(pilot, check)
    return (time.perf_counter() - t0) * 1000


async def run(path: Path, repeat: int) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    history = History(path)
    app = BenchApp(history)
    async with app.run_test(size=(160, 50)) as pilot:
        container = app.query_one("#main")

        async def open_panel() -> None:
            for old in app.query(HistoryPanel):
                await old.remove()
            await container.mount(HistoryPanel(id="panel"))

        def first_page_shown() -> bool:
            lists = app.query(HistoryList)
            return (
                bool(lists)
                and lists.first().total > 0
                and "Question" in visible_text(lists.first())
            )

        times = [await measure(pilot, open_panel, first_page_shown) for _ in range(repeat + 1)]
        rows.append(("open sidebar (first page drawn)", times[0], statistics.median(times[1:])))

        panel = app.query_one(HistoryPanel)
        lst = panel.history_list

        for label, word in (
            (f"search rare word '{RARE}'", RARE),
            ("search typed prefix 'strawb'", "strawb"),
            (f"search '{COMMON}' (matches every chain)", COMMON),
        ):
            times = []
            for _ in range(repeat + 1):
                lst.load(None)
                await pilot.pause()

                def shown(word: str = word) -> bool:
                    # The first match's question (its start: the row may cut it) is drawn.
                    first = lst.selected
                    if lst.search != word or first is None:
                        return False
                    return first.question[:20] in visible_text(lst)

                times.append(await measure(pilot, lambda word=word: lst.load(word), shown))
            rows.append((label + f" -> {lst.total:,}", times[0], statistics.median(times[1:])))

        lst.load(None)
        await pilot.pause()
        lst.focus()
        times = []
        for _ in range(repeat + 1):
            lst.action_first()
            await pilot.pause()
            times.append(
                await measure(pilot, lst.action_last, lambda: "Question 0:" in visible_text(lst))
            )
        rows.append(
            ("End: scroll to the oldest chain (drawn)", times[0], statistics.median(times[1:]))
        )

        lst.action_first()
        await pilot.pause()
        step_times, page_times = [], []
        for _ in range(200):
            target = lst.selected_offset + 1
            step_times.append(
                await measure(
                    pilot, lst.action_cursor_down, lambda target=target: cursor_drawn(lst, target)
                )
            )
        for _ in range(40):
            target = lst.selected_offset + lst.scrollable_content_region.height - 1
            page_times.append(
                await measure(
                    pilot, lst.action_page_down, lambda target=target: cursor_drawn(lst, target)
                )
            )
        rows.append(
            ("cursor down, drawn (200 steps; max)", max(step_times), statistics.median(step_times))
        )
        rows.append(
            ("PageDown, drawn (40 pages; max)", max(page_times), statistics.median(page_times))
        )
    history.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep the database")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / DB_NAME
        if not path.exists():
            build_s = build(path, args.chains, args.steps)
            print(f"built {args.chains:,} chains x {args.steps} steps in {build_s:.1f} s")
        rows = asyncio.run(run(path, args.repeat))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'first ms':>9}  {'median ms':>9}")
    for label, first, median in rows:
        print(f"{label:<{width}}  {first:>9.1f}  {median:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
