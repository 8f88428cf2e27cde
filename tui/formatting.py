"""How durations read everywhere a person sees them: the CLI, exports and the app."""

from __future__ import annotations


def format_seconds(seconds: float | None) -> str:
    """``1.84 s`` below a minute, ``2 min 05 s`` above."""
    seconds = float(seconds or 0.0)
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"
