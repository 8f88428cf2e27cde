"""The reasoning strategies, all behind one interface (:class:`base.Strategy`).

``get_strategy(name)`` gives the strategy for a registry name; ``STRATEGY_NAMES`` lists
them in the order a user sees them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.core.strategies.base import Strategy, StrategyOptions

__all__ = ["STRATEGY_NAMES", "Strategy", "StrategyOptions", "get_strategy"]

#: Name -> (module, class). A strategy's module is imported when it is first asked for, so the
#: app's first frame and ``o1tui --help`` do not wait for every strategy's parser and prompts.
_REGISTRY: dict[str, tuple[str, str]] = {
    "g1": ("tui.core.strategies.g1", "G1Strategy"),
    "thinking": ("tui.core.strategies.thinking", "ThinkingStrategy"),
    "plain": ("tui.core.strategies.plain", "PlainStrategy"),
    "native": ("tui.core.strategies.native", "NativeStrategy"),
}

STRATEGY_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def __getattr__(name: str) -> Any:
    """``Strategy`` and ``StrategyOptions``, imported from :mod:`tui.core.strategies.base` when
    first used: the CLI's option lists and the app's first frame need only the names above."""
    if name in ("Strategy", "StrategyOptions"):
        from tui.core.strategies import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_strategy(name: str) -> Strategy:
    """A new strategy object for ``name`` (case-insensitive); ValueError names the choices."""
    key = (name or "").strip().lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGY_NAMES)}")
    module, cls = _REGISTRY[key]
    strategy: Strategy = getattr(importlib.import_module(module), cls)()
    return strategy
