"""The Evaluations screen reads a set off the UI loop: a FIFO nobody writes to leaves the app
answering keys, Esc cancels the load, and a set file with absurd values is an error
notification, not a crash."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests.helpers import notifications, wait_until
from tests.test_evaluations_screen import _app, _screen
from tui.app.screens.evaluations import EvaluationsScreen
from tui.evals.store import EvalStore


def _release_after(fifo: Path, done: threading.Event, wait_s: float) -> threading.Thread:
    """Unblock a reader stuck opening ``fifo`` (one on the UI loop) after ``wait_s``, unless
    ``done`` first: a test of a frozen app then fails instead of hanging."""

    def release() -> None:
        if done.wait(wait_s):
            return
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO: no reader has it open
        except OSError:
            return
        os.close(fd)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    return thread


async def test_a_fifo_set_does_not_freeze_the_app_and_esc_cancels_it(tmp_path, history):
    fifo = tmp_path / "set.fifo"
    os.mkfifo(fifo)
    done = threading.Event()
    releaser = _release_after(fifo, done, wait_s=15)
    app = _app(tmp_path, history)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("f7")
            await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
            await pilot.press("n")
            await pilot.press(*f"{fifo} plain", "enter")
            await pilot.press("escape")
            cancelled = "Loading the set was cancelled."
            await wait_until(pilot, lambda: cancelled in notifications(app), timeout=10)
            assert releaser.is_alive()  # the UI answered Esc while nobody had written
            assert isinstance(app.screen, EvaluationsScreen)  # Esc stopped the load only
            assert EvalStore(history).list_runs() == []
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, EvaluationsScreen))
    finally:
        done.set()
        releaser.join(5)


async def test_a_set_file_with_infinity_is_an_error_notification(tmp_path, history):
    set_file = tmp_path / "bad.jsonl"
    set_file.write_text('{"question": "q", "answer": Infinity}\n')
    app = _app(tmp_path, history)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
        await pilot.press("n")
        await pilot.press(*f"{set_file} plain", "enter")
        await wait_until(
            pilot, lambda: any("numbers must be finite" in n for n in notifications(app))
        )
        assert _screen(app).running_run is None
        assert EvalStore(history).list_runs() == []
