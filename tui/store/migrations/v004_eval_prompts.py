"""Schema 4: what an eval run sent — its prompts and every request parameter, per strategy.

``prompts`` maps each strategy of the run to the texts it sends around the question (their
sha256, and the instruction appended to the question when there is one, e.g. the model cards'
"Please reason step by step, and put your final answer within \\boxed{}." for ``plain`` on a
math set); ``request`` maps it to the request parameters (temperature, token limits, extra
body fields, steps). Two runs are comparable only when these match (see
:func:`tui.evals.specs.incomparable`). Runs made before this version have ``{}``: what they sent
was not recorded.
"""

from __future__ import annotations

import sqlite3

VERSION = 4

STATEMENTS = (
    "ALTER TABLE eval_runs ADD COLUMN prompts TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE eval_runs ADD COLUMN request TEXT NOT NULL DEFAULT '{}'",
)


def upgrade(conn: sqlite3.Connection) -> None:
    for statement in STATEMENTS:
        conn.execute(statement)
