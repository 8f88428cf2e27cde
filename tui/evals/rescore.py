"""Re-score a stored eval run from its chains, with today's answer normalizer.

The item rows keep what the scorer said when each item ended; the chains keep what the model
said. Re-scoring reads every linked chain's final answer again and judges it (a ``S@N`` item:
votes again over its samples), so a run scored by an older normalizer, or one whose gold was
wrong in the set file, needs no GPU time to be scored anew. Items whose chains were deleted
from the history keep their stored verdict.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace

from tui.evals.runner import Judge, default_judge
from tui.evals.store import ITEM_ERROR, EvalRun, EvalStore

#: Chain statuses whose final answer votes (as in the group runner).
ANSWERED = ("done", "step_limit")


def rescore_run(store: EvalStore, run: EvalRun, judge: Judge | None = None) -> int:
    """Judge every answered item of ``run`` again; save and count the ones that changed."""
    judge = judge or default_judge
    questions = store.questions(run.id)
    changed = 0
    for item in store.items(run.id):
        if item.status == ITEM_ERROR or item.idx >= len(questions):
            continue
        golds = questions[item.idx].golds
        if item.group_id is not None:
            verdict = _group_verdict(store, item.group_id, golds, judge)
        elif item.chain_id is not None:
            chain = store.history.get(item.chain_id)
            verdict = None if chain is None else judge(chain.final_answer, golds)
        else:
            verdict = None
        if verdict is None or verdict == (item.predicted, item.correct):
            continue
        store.save_item(run.id, replace(item, predicted=verdict[0], correct=verdict[1]))
        changed += 1
    return changed


def _group_verdict(
    store: EvalStore, group_id: str, golds: tuple[str, ...], judge: Judge
) -> tuple[str | None, bool] | None:
    """The vote over a self-consistency group's chains, judged; None when they are gone.

    The vote's tie-break wants the order the samples finished: the chains' last update
    (to the second), then the order they were saved, is that order as the history keeps it.
    """
    from tui.answers import vote

    def read(conn: sqlite3.Connection) -> list[tuple[str, str]]:
        return conn.execute(
            "SELECT status, final_answer FROM chains WHERE group_id = ? ORDER BY updated_at, rid",
            (group_id,),
        ).fetchall()

    rows = store.history.transaction(read, write=False)
    if not rows:
        return None
    result = vote(answer if status in ANSWERED else None for status, answer in rows)
    if result.key is None:
        return None, False
    return judge(result.reply or result.answer or "", golds)
