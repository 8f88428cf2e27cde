"""The strategy switcher's entries (tui.app.choices): a strategy or a group mode, with the
names users know, in Ctrl+t's order, and group modes the core accepts as they are."""

from __future__ import annotations

import pytest

from tui.app.choices import (
    CHOICES,
    GROUP_CHOICES,
    CompareChoice,
    StrategyChoice,
    VoteChoice,
    choice_named,
    next_choice,
)
from tui.app.widgets.group_view import group_label
from tui.core.chain import Chain
from tui.core.group import Group, GroupKind, GroupResult


def test_the_switcher_offers_the_strategies_then_the_group_modes_by_their_names() -> None:
    assert [c.label for c in CHOICES] == [
        "g1",
        "thinking",
        "plain",
        "native",
        "g1@8 vote",
        "thinking@8 vote",
        "compare plain/g1/thinking",
    ]
    assert all(isinstance(c, StrategyChoice) for c in CHOICES[:4])
    assert CHOICES[4:] == GROUP_CHOICES


def test_ctrl_t_cycles_through_every_entry_and_round_to_the_first() -> None:
    seen = [CHOICES[0]]
    while len(seen) <= len(CHOICES):
        seen.append(next_choice(seen[-1], CHOICES))
    assert seen == [*CHOICES, CHOICES[0]]
    assert next_choice(VoteChoice("plain", 3), CHOICES) == CHOICES[0]  # not an entry


def test_an_entry_is_found_by_its_label_only() -> None:
    assert choice_named("thinking@8 vote") == VoteChoice("thinking", 8)
    assert choice_named("plain") == StrategyChoice("plain")
    assert choice_named("thinking@8") is None and choice_named(None) is None


@pytest.mark.parametrize("choice", GROUP_CHOICES, ids=lambda c: c.label)
def test_each_group_mode_is_a_group_the_core_runs_and_names_the_same_way(
    choice: VoteChoice | CompareChoice,
) -> None:
    spec = choice.spec("What is 6 x 7?")
    if isinstance(choice, VoteChoice):
        assert spec.kind is GroupKind.VOTE
        assert spec.strategies == (choice.strategy,) * choice.samples
    else:
        assert spec.kind is GroupKind.COMPARE and spec.strategies == choice.strategies
    chains = [Chain(question=spec.question, strategy=s, model="m") for s in spec.strategies]
    group = Group(spec.kind, spec.question, "m", list(spec.strategies), [c.id for c in chains])
    # the group's view (and a saved group opened again) is titled as the switcher named it
    assert group_label(GroupResult(group, chains)) == choice.label


def test_a_vote_outside_the_cores_sample_limits_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="between 2 and") as raised:
        VoteChoice("g1", 1).spec("What is 6 x 7?")
    assert "\n" not in str(raised.value)
