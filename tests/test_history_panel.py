"""Pilot tests of the history sidebar against a real History on a temporary SQLite file."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from tests.helpers import notifications, wait_until
from tui.app.messages import OpenChain, RerunChain
from tui.app.screens.confirm import ChoiceScreen, ConfirmScreen
from tui.app.widgets.history_list import MAX_WINDOW_PAGES, HistoryList, build_rows
from tui.app.widgets.history_panel import HistoryPanel
from tui.core.chain import Chain, Status, Step
from tui.formatting import day_label, format_seconds, local_day
from tui.store.history import History, HistoryError

N_CHAINS = 240
PER_DAY = 80
HOSTILE = "Why [bold]x[/] \x1b]0;pwned\x07 and \x1b[2J?"
BASE = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)


def _created(i: int) -> str:
    """Chain i (0 = oldest): PER_DAY chains a day, a minute apart, from noon UTC."""
    return (BASE + timedelta(days=i // PER_DAY, minutes=i % PER_DAY)).isoformat()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history of N_CHAINS chains over 3 days; the newest has a hostile question."""
    path = tmp_path_factory.mktemp("hist") / "history.sqlite3"
    with History(path) as history:
        for i in range(N_CHAINS):
            question = HOSTILE if i == N_CHAINS - 1 else f"Question number {i} about apples"
            if i == 5:
                question = "How many r in strawberry quokka?"
            chain = Chain(
                question=question,
                strategy=("g1", "thinking", "plain")[i % 3],
                model="fake-model",
                id=f"c{i:05d}abcdef",
                created_at=_created(i),
            )
            history.start_chain(chain)
            step = Step(index=1, title="Look", content=f"content {i}", elapsed_s=1.25)
            chain.steps.append(step)
            history.add_step(chain.id, step)
            chain.status = Status.DONE
            chain.final_answer = f"answer {i}"
            chain.total_s = 1.25 + i
            history.finish_chain(chain)
    return path


@pytest.fixture
def history(template_db: Path, tmp_path: Path):
    path = tmp_path / "history.sqlite3"
    shutil.copy(template_db, path)
    with History(path) as h:
        yield h


class Host(App):
    """A bare app holding a History and the sidebar; records the panel's messages."""

    def __init__(self, history: History, export_dir: Path | None = None) -> None:
        super().__init__()
        self.history = history
        self.export_dir = export_dir
        self.opened: list[str] = []
        self.reruns: list[tuple[str, str | None]] = []

    def compose(self) -> ComposeResult:
        yield HistoryPanel(export_dir=self.export_dir, strategies=("g1", "thinking", "plain"))

    def on_mount(self) -> None:
        self.query_one(HistoryList).focus()

    def on_open_chain(self, message: OpenChain) -> None:
        self.opened.append(message.chain_id)

    def on_rerun_chain(self, message: RerunChain) -> None:
        self.reruns.append((message.question, message.strategy))


def _segments_text(widget: HistoryList) -> list[str]:
    """Every visible line of the list, with the exact characters sent to the terminal."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


def test_helpers() -> None:
    # One format everywhere (the list, the status lines, the CLI): only the decimals differ.
    assert format_seconds(0.84, digits=1) == "0.8 s" and format_seconds(0.84) == "0.84 s"
    assert format_seconds(187) == format_seconds(187, digits=1) == "3m07s"
    # Rounded, not cut: the list and a group's status line once showed 1m32s and 1 min 33 s.
    assert format_seconds(92.6, digits=1) == format_seconds(92.6) == "1m33s"
    assert format_seconds(59.97, digits=1) == "1m00s" and format_seconds(59.97) == "59.97 s"
    assert format_seconds(7500) == "2h05m" and format_seconds(3599.7) == "1h00m"
    today = datetime(2025, 3, 12).date()
    assert day_label(today, today).startswith("Today")
    assert day_label(today - timedelta(days=1), today).startswith("Yesterday")
    assert day_label(datetime(2024, 1, 2).date(), today) == "Tue 02 Jan 2024"
    assert local_day("not a date") is None


def test_build_rows_puts_one_header_before_each_day(history: History) -> None:
    summaries = history.list(limit=200)
    rows = build_rows(0, summaries, datetime(2030, 1, 1).date())
    headers = [r for r in rows if r.is_header]
    days = {local_day(s.created_at) for s in summaries}
    assert len(headers) == len(days)
    assert [r.summary.id for r in rows if not r.is_header] == [s.id for s in summaries]
    # A header sits right before the first chain of its day and names that day.
    for i, row in enumerate(rows):
        if row.is_header:
            first = rows[i + 1].summary
            assert row.label == day_label(local_day(first.created_at), datetime(2030, 1, 1).date())


async def test_opens_newest_first_with_day_headers(history: History) -> None:
    app = Host(history)
    async with app.run_test(size=(60, 30)) as pilot:
        await pilot.pause()
        lst = app.query_one(HistoryList)
        assert lst.total == N_CHAINS
        # Only a page was fetched, not the whole history.
        assert lst.window == (0, 100)
        assert lst.selected.id == f"c{N_CHAINS - 1:05d}abcdef"
        lines = _segments_text(lst)
        newest_day = local_day(_created(N_CHAINS - 1))
        assert day_label(newest_day, datetime.now().date()) in lines[0]
        assert "Question number 238 abou" in lines[2] and "…" in lines[2]
        assert "thinking" in lines[2] and "✓" in lines[2] and "3m59s" in lines[2]


async def test_jk_navigation_skips_headers_and_enter_opens(history: History) -> None:
    app = Host(history)
    async with app.run_test(size=(60, 30)) as pilot:
        lst = app.query_one(HistoryList)
        await pilot.press("j", "j")
        assert lst.selected.id == f"c{N_CHAINS - 3:05d}abcdef"
        await pilot.press("k")
        assert lst.selected.id == f"c{N_CHAINS - 2:05d}abcdef"
        # Put the cursor on the oldest chain of the newest day: one more j lands on the next
        # day's first chain, never on the header between them.
        lst.cursor = lst._row_of_offset[PER_DAY - 1]  # noqa: SLF001
        await pilot.press("j")
        assert lst.rows[lst.cursor - 1].is_header
        assert lst.selected.id == f"c{N_CHAINS - 1 - PER_DAY:05d}abcdef"
        await pilot.press("k")
        assert lst.selected.id == f"c{N_CHAINS - PER_DAY:05d}abcdef"
        await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
        assert app.opened == [f"c{N_CHAINS - 1 - PER_DAY:05d}abcdef"]


async def test_walking_past_the_window_fetches_more_and_end_reaches_the_oldest(
    history: History,
) -> None:
    app = Host(history)
    async with app.run_test(size=(60, 20)) as pilot:
        lst = app.query_one(HistoryList)
        await pilot.press(*["pagedown"] * 7)
        moved = 7 * (lst.size.height - 1)
        assert lst.selected_offset == moved
        assert lst.selected.id == f"c{N_CHAINS - 1 - moved:05d}abcdef"
        assert lst.window[1] > 100
        await pilot.press("pageup")
        assert lst.selected_offset == moved - (lst.size.height - 1)
        await pilot.press("G")
        assert lst.selected.id == "c00000abcdef"
        assert lst.selected_offset == N_CHAINS - 1
        assert "Question number 0 about" in "\n".join(_segments_text(lst))
        await pilot.press("k")
        assert lst.selected.id == "c00001abcdef"
        await pilot.press("g")
        assert lst.selected.id == f"c{N_CHAINS - 1:05d}abcdef"


async def test_search_narrows_and_escape_clears(history: History) -> None:
    app = Host(history)
    async with app.run_test(size=(60, 30)) as pilot:
        lst = app.query_one(HistoryList)
        await pilot.press("slash")
        assert app.query_one(HistoryPanel).search_input.has_focus
        await pilot.press(*"strawb")
        await wait_until(pilot, lambda: lst.search == "strawb")
        assert lst.total == 1
        assert lst.selected.id == "c00005abcdef"
        assert "How many r in strawberry" in "\n".join(_segments_text(lst))
        await pilot.press("escape")
        await wait_until(pilot, lambda: lst.search is None)
        assert lst.total == N_CHAINS
        assert lst.has_focus
        # Clearing the box from code must not reload later (after the typing pause) and
        # throw away where the user went meanwhile.
        await pilot.press("j", "j")
        panel = app.query_one(HistoryPanel)
        # No search pending and no reload running: nothing can move the selection any more.
        await wait_until(pilot, lambda: panel._search_timer is None and not len(app.workers))
        assert lst.selected_offset == 2


async def test_the_focused_search_box_shows_what_is_typed(history: History) -> None:
    """Focus must not bring back Input's tall border: the box stays one row, the query in it."""
    app = Host(history)
    async with app.run_test(size=(60, 30)) as pilot:
        box = app.query_one(HistoryPanel).search_input
        await pilot.press("slash", *"strawb")
        await pilot.pause()
        assert box.has_focus and box.region.height == 1
        assert box.styles.border_top[0] in ("", "none")
        assert "strawb" in box.render_line(0).text


async def test_search_with_no_match_says_so(history: History) -> None:
    app = Host(history)
    async with app.run_test(size=(60, 30)) as pilot:
        lst = app.query_one(HistoryList)
        await pilot.press("slash", *"zebra", "enter")
        await wait_until(pilot, lambda: lst.search == "zebra")
        assert lst.total == 0 and lst.selected is None
        assert "No chains match zebra" in _segments_text(lst)[0]
        await pilot.press("enter", "d")  # nothing selected: nothing happens
        assert app.opened == [] and not isinstance(app.screen, ConfirmScreen)


async def test_delete_after_confirm_removes_from_db(history: History) -> None:
    app = Host(history)
    async with app.run_test(size=(60, 30)) as pilot:
        lst = app.query_one(HistoryList)
        await pilot.press("j")
        victim = lst.selected.id
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: history.get(victim) is None)
        assert history.count() == N_CHAINS - 1
        await wait_until(pilot, lambda: lst.total == N_CHAINS - 1)
        assert victim not in {r.summary.id for r in lst.rows if r.summary}
        # The selection stays at the same place in the list: the next older chain.
        assert lst.selected.id == f"c{N_CHAINS - 3:05d}abcdef"


async def test_cancel_in_confirm_keeps_the_chain(history: History) -> None:
    app = Host(history)
    async with app.run_test(size=(60, 30)) as pilot:
        lst = app.query_one(HistoryList)
        keep = lst.selected.id
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # "No" has focus
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert history.get(keep) is not None
        assert history.count() == N_CHAINS


async def test_export_writes_markdown_with_the_question(history: History, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    app = Host(history, export_dir=out)
    async with app.run_test(size=(60, 30)) as pilot:
        await pilot.press("slash", *"strawberry", "enter")
        lst = app.query_one(HistoryList)
        await wait_until(pilot, lambda: lst.search == "strawberry")
        await pilot.press("e")
        path = out / "o1tui-c00005abcdef.md"
        await wait_until(pilot, path.exists)
        assert "How many r in strawberry quokka?" in path.read_text(encoding="utf-8")
        assert any(str(path) in m for m in notifications(app))


async def test_rerun_posts_question_and_chosen_strategy(history: History) -> None:
    app = Host(history)
    async with app.run_test(size=(60, 30)) as pilot:
        await pilot.press("j", "r")
        await wait_until(pilot, lambda: len(app.reruns) == 1)
        assert app.reruns[0] == ("Question number 238 about apples", None)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("down", "enter")  # from the chain's own (thinking) to plain
        await wait_until(pilot, lambda: len(app.reruns) == 2)
        assert app.reruns[1] == ("Question number 238 about apples", "plain")
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.reruns) == 2


async def test_hostile_question_is_shown_literally_without_escapes(history: History) -> None:
    app = Host(history)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        lst = app.query_one(HistoryList)
        await pilot.press("j")  # the cursor's own style may be bold: look at an unselected row
        line = _segments_text(lst)[1]
        assert "Why [bold]x[/]" in line
        assert "pwned" not in line and "]0;" not in line
        # Nothing in what is sent to the terminal carries an escape or control character.
        for y in range(lst.size.height):
            for segment in lst.render_line(y):
                assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in segment.text)
        # And the markup was not applied: no segment of that line is bold.
        assert not any(seg.style and seg.style.bold for seg in lst.render_line(1))


async def test_refresh_list_shows_a_new_chain(history: History) -> None:
    app = Host(history)
    async with app.run_test(size=(60, 30)) as pilot:
        lst = app.query_one(HistoryList)
        chain = Chain(
            question="A brand new question",
            strategy="g1",
            model="m",
            id="newnewnew001",
            status=Status.DONE,
            created_at=_created(N_CHAINS + 5),
        )
        history.start_chain(chain)
        history.finish_chain(chain)
        app.query_one(HistoryPanel).refresh_list()
        await wait_until(pilot, lambda: lst.total == N_CHAINS + 1)
        assert lst.rows[1].summary.id == "newnewnew001"
        assert "A brand new question" in "\n".join(_segments_text(lst))


async def test_click_selects_then_opens(history: History) -> None:
    app = Host(history)
    async with app.run_test(size=(60, 30)) as pilot:
        lst = app.query_one(HistoryList)
        await pilot.click(HistoryList, offset=(5, 3))
        assert lst.selected.id == f"c{N_CHAINS - 3:05d}abcdef"
        assert app.opened == []
        await pilot.click(HistoryList, offset=(5, 3))
        await pilot.pause()
        assert app.opened == [f"c{N_CHAINS - 3:05d}abcdef"]


class SmallPages(App):
    """The bare list with pages of 10, so the window slides (and drops pages) often."""

    def __init__(self, history: History) -> None:
        super().__init__()
        self.history = history

    def compose(self) -> ComposeResult:
        yield HistoryList(page_size=10)

    def on_mount(self) -> None:
        self.query_one(HistoryList).load()


async def test_window_slides_both_ways_and_stays_bounded(history: History) -> None:
    app = SmallPages(history)
    async with app.run_test(size=(60, 12)) as pilot:
        lst = app.query_one(HistoryList)
        seen = []
        for _ in range(N_CHAINS - 1):
            lst.action_cursor_down()
            seen.append(lst.selected.id)
            first, end = lst.window
            assert end - first <= 10 * MAX_WINDOW_PAGES
        assert seen == [f"c{i:05d}abcdef" for i in range(N_CHAINS - 2, -1, -1)]
        assert lst.window[0] > 0  # the newest pages were dropped on the way
        for _ in range(N_CHAINS - 1):
            lst.action_cursor_up()
        assert lst.selected.id == f"c{N_CHAINS - 1:05d}abcdef"
        assert lst.window[0] == 0
        # Scrolling the view (mouse wheel) past the window fetches more too, keeping the
        # row at the top where it was.
        for _ in range(30):
            lst.scroll_to(y=lst.max_scroll_y, animate=False, immediate=True)
            await pilot.pause()
        assert lst.window[1] > 50
        top = lst.rows[int(lst.scroll_y)]
        lst.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        assert lst.window[0] < top.offset


class HiddenFirst(App):
    """The sidebar starts hidden (as in the app) and is shown later."""

    CSS = "HistoryPanel.-hidden { display: none; }"

    def __init__(self, history: History) -> None:
        super().__init__()
        self.history = history

    def compose(self) -> ComposeResult:
        yield HistoryPanel(classes="-hidden")


async def test_hidden_at_start_then_shown(history: History) -> None:
    app = HiddenFirst(history)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        panel = app.query_one(HistoryPanel)
        panel.remove_class("-hidden")
        panel.focus_list()
        await pilot.pause()
        lst = panel.history_list
        assert lst.has_focus and lst.scroll_y == 0
        assert lst.selected.id == f"c{N_CHAINS - 1:05d}abcdef"
        assert "Why [bold]x[/]" in _segments_text(lst)[1]
        await pilot.press("G")
        assert lst.selected.id == "c00000abcdef"
        assert "Question number 0 about" in "\n".join(_segments_text(lst))


class BrokenStore:
    """A store whose every call fails the way a damaged database does."""

    def __init__(self, history: History) -> None:
        self.inner = history
        self.broken = False

    def __getattr__(self, name: str):
        call = getattr(self.inner, name)

        def guarded(*args, **kwargs):
            if self.broken:
                raise HistoryError("the history database is damaged")
            return call(*args, **kwargs)

        return guarded


async def test_store_errors_in_actions_are_said_not_raised(history: History) -> None:
    """Delete, export and re-run run in workers; a failing store gives a toast, not a crash."""
    store = BrokenStore(history)
    app = Host(history)
    app.history = store  # the panel reads app.history
    async with app.run_test(size=(60, 30)) as pilot:
        lst = app.query_one(HistoryList)
        await wait_until(pilot, lambda: lst.selected is not None)
        store.broken = True
        await pilot.press("r")
        await pilot.press("e")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")

        def said() -> list[str]:
            return notifications(app)

        for what in ("Reading the chain failed", "Export failed", "Delete failed"):
            await wait_until(pilot, lambda what=what: any(what in m for m in said()))
        assert app.reruns == [] and app.is_running
        assert history.count() == N_CHAINS
