"""Evaluation: question sets with verifiable answers, run under several strategies, scored.

- :mod:`tui.evals.sets` — the item type, set files (JSON Lines, GSM8K) and set lookup;
- :mod:`tui.evals.builtin` — the built-in sets, generated from a seed (no download);
- :mod:`tui.evals.store` — eval runs and their items in the history database;
- :mod:`tui.evals.scoring` — per-strategy results (accuracy with a Wilson interval, time,
  tokens, steps) computed from the store;
- :mod:`tui.evals.runner` — runs the (question, strategy) items, K at once, saving each as it
  finishes.

Nothing here imports Textual.
"""
