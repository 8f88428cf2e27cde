"""Noticing a g1 chain that goes round in circles.

Small models (and greedy decoding in general) can answer every step with the step they gave
before: SmolLM2-135M repeats "Identifying Key Information" from step 2 to step 25. Such a chain
will not improve by running longer, so g1 ends its reasoning there and asks for the final
answer, and the step that repeated is marked (:data:`REPEATED`), so the CLI, the app, the
history and the exports can say why the chain stopped early.

Two rules, for every model:

- a step with the same title and content as an earlier one (compared case-, space- and
  punctuation-blind) repeats at once;
- a step whose content brings almost nothing new — fewer than :data:`NEW_SHARE` of its word
  triples appeared in no earlier step — is stale; :data:`STALE_STEPS` stale steps in a row
  end the reasoning too (a model that rephrases the same paragraph).

Pure logic, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from backends.client import REPLY_CUT

#: ``Step.finish_reason`` of the step at which o1tui ended the reasoning because it repeated.
REPEATED = "repeated"

#: Stale steps in a row that end the reasoning.
STALE_STEPS = 3

#: A step is stale when fewer than this share of its word triples are new.
NEW_SHARE = 0.1

#: Words, and CJK characters one by one (Chinese has no spaces between words).
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W_]+")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def _shingles(tokens: list[str]) -> set[tuple[str, ...]]:
    """Word triples (the whole text when it has fewer than three words)."""
    if len(tokens) < 3:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)}


@dataclass
class RepetitionCheck:
    """Feed it each finished step in order; it says when the chain has started repeating."""

    stale_steps: int = STALE_STEPS
    new_share: float = NEW_SHARE
    _seen: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = field(default_factory=dict)
    _shingles: set[tuple[str, ...]] = field(default_factory=set)
    _stale_run: int = 0

    def observe(self, index: int, title: str, content: str) -> str | None:
        """Record step ``index``; return why the chain repeats (one sentence), else None."""
        words = _tokens(content)
        key = (tuple(_tokens(title)), tuple(words))
        earlier = self._seen.get(key)
        shingles = _shingles(words)
        new = shingles - self._shingles
        stale = bool(self._seen) and (not shingles or len(new) < self.new_share * len(shingles))
        self._stale_run = self._stale_run + 1 if stale else 0
        self._seen.setdefault(key, index)
        self._shingles |= shingles
        if earlier is not None:
            return f"step {index} repeated step {earlier}"
        if self._stale_run >= self.stale_steps:
            return f"steps {index - self._stale_run + 1}–{index} added nothing new"
        return None


def repetition_note(steps: list) -> str | None:
    """The chain's note when o1tui ended something early, from its marked step: the reasoning
    for repeating, or a reply cut at the client's size limit (``REPLY_CUT``), which would
    otherwise read as a whole answer."""
    for step in steps:
        reason = getattr(step, "finish_reason", None)
        if reason == REPEATED:
            return (
                f"The model began repeating itself at step {step.index}; o1tui ended the "
                "reasoning there and asked for the final answer."
            )
        if reason == REPLY_CUT:
            return (
                f"The reply of step {step.index} was cut at o1tui's size limit for one reply; "
                "the rest of it was not kept."
            )
    return None
