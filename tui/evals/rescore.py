"""Re-score a stored eval run from its chains, with today's answer normalizer.

The item rows keep what the scorer said when each item ended; the chains keep what the model
said. Re-scoring reads every linked chain's final answer again and judges it (a ``S@N`` item:
votes again over its samples), so a run scored by an older normalizer, or one whose gold was
wrong in the set file, needs no GPU time to be scored anew. Items whose chains were deleted
from the history (or whose group record is gone) keep their stored verdict.

:func:`rescored_items` only reads; :func:`rescore_run` saves what changed, and only a caller
that was asked to (``o1tui eval --show RUN --rescore``) calls it.

The vote of an ``S@N`` item breaks ties by the order its samples finished, which the history
does not keep per chain (times are to the second). The group's saved tally does: its answers
are listed winner first and equally popular ones in the order their first ballot came. The
ballots are cast again in that order, so with the normalizer unchanged the re-vote is the live
vote exactly, and the voted answer is the one the group saved.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

from tui.evals.runner import Judge, default_judge
from tui.evals.store import ITEM_ERROR, EvalRun, EvalStore, ItemResult

#: Chain statuses whose final answer votes (as in the group runner).
ANSWERED = ("done", "step_limit")


def rescored_items(
    store: EvalStore, run: EvalRun, judge: Judge | None = None
) -> tuple[list[ItemResult], int]:
    """Every item of ``run`` judged again, nothing written: the items, and how many of them
    now differ from their stored verdict."""
    judge = judge or default_judge
    questions = store.questions(run.id)
    out: list[ItemResult] = []
    changed = 0
    for item in store.items(run.id):
        verdict = None
        if item.status != ITEM_ERROR and item.idx < len(questions):
            golds = questions[item.idx].golds
            if item.group_id is not None:
                verdict = _group_verdict(store, item.group_id, golds, judge)
            elif item.chain_id is not None:
                chain = store.history.get(item.chain_id)
                verdict = None if chain is None else judge(chain.final_answer, golds)
        if verdict is None or verdict == (item.predicted, item.correct):
            out.append(item)
            continue
        out.append(replace(item, predicted=verdict[0], correct=verdict[1]))
        changed += 1
    return out, changed


def rescore_run(store: EvalStore, run: EvalRun, judge: Judge | None = None) -> int:
    """Judge every answered item of ``run`` again; save and count the ones that changed."""
    stored = {(it.idx, it.strategy): it for it in store.items(run.id)}
    items, _ = rescored_items(store, run, judge)
    changed = [it for it in items if it != stored.get((it.idx, it.strategy))]
    for item in changed:
        store.save_item(run.id, item)
    return len(changed)


def _group_verdict(
    store: EvalStore, group_id: str, golds: tuple[str, ...], judge: Judge
) -> tuple[str | None, bool] | None:
    """The vote over a self-consistency group's chains, judged; None when the group's record
    or one of its chains is gone (the vote could differ from the live one for that alone)."""
    from tui.core.answers import answer_key, vote

    def read(conn: sqlite3.Connection) -> tuple[tuple, dict[str, tuple[str, str]]] | None:
        group = conn.execute(
            "SELECT chain_ids, votes FROM groups WHERE id = ?", (group_id,)
        ).fetchone()
        if group is None:
            return None
        rows = conn.execute(
            "SELECT id, status, final_answer FROM chains WHERE group_id = ?", (group_id,)
        ).fetchall()
        return group, {cid: (status, answer) for cid, status, answer in rows}

    found = store.history.transaction(read, write=False)
    if found is None:
        return None
    (chain_ids_json, votes_json), chains = found
    try:
        chain_ids = [str(c) for c in json.loads(chain_ids_json or "[]")]
        tally = list(json.loads(votes_json or "{}"))
    except (ValueError, TypeError):
        return None
    if not chain_ids or any(cid not in chains for cid in chain_ids):
        return None
    rank = {key: n for n, key in enumerate(tally)}
    ballots = [chains[cid][1] if chains[cid][0] in ANSWERED else None for cid in chain_ids]
    # Stable sort: samples whose answer the saved tally ranks first vote first; the rest keep
    # the group's order.
    ballots.sort(key=lambda text: rank.get(answer_key(text or ""), len(rank)))
    result = vote(ballots)
    if result.key is None:
        return None, False
    # The winner's first reply, as the live eval judged it: the answer the group shows has its
    # LaTeX cleaned off, which the judge needs.
    return judge(result.reply or result.answer or "", golds)
