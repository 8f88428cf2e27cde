"""The reasoning strategies, all behind one interface (:class:`base.Strategy`).

``get_strategy(name)`` gives the strategy for a registry name; ``STRATEGY_NAMES`` lists
them in the order a user sees them.
"""

from __future__ import annotations

from tui.strategies.base import Strategy, StrategyOptions
from tui.strategies.g1 import G1Strategy
from tui.strategies.native import NativeStrategy
from tui.strategies.plain import PlainStrategy
from tui.strategies.thinking import ThinkingStrategy

__all__ = ["STRATEGY_NAMES", "Strategy", "StrategyOptions", "get_strategy"]

_REGISTRY: dict[str, type] = {
    "g1": G1Strategy,
    "thinking": ThinkingStrategy,
    "plain": PlainStrategy,
    "native": NativeStrategy,
}

STRATEGY_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def get_strategy(name: str) -> Strategy:
    """A new strategy object for ``name`` (case-insensitive); ValueError names the choices."""
    key = (name or "").strip().lower()
    try:
        return _REGISTRY[key]()
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}: choose one of {', '.join(STRATEGY_NAMES)}"
        ) from None
