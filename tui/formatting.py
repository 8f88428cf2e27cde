"""How durations and days read everywhere a person sees them: the CLI, exports and the app.

One set: :func:`format_seconds` for step and chain times (CLI, exports, the chain view),
:func:`format_short` where six cells is all there is (the history list), :func:`format_uptime`
for a server's uptime; :func:`local_day` and :func:`day_label` for the history's day headers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone


def format_seconds(seconds: float | None) -> str:
    """``1.84 s`` below a minute, ``2 min 05 s`` above."""
    seconds = float(seconds or 0.0)
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


def format_short(seconds: float | None) -> str:
    """A total time in at most 6 cells: ``0.8s``, ``41.2s``, ``3m07s``, ``2h05m``."""
    s = float(seconds or 0.0)
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def format_uptime(seconds: float | None) -> str:
    """``42s``, ``3m 07s``, ``2h 05m``, ``3d 4h``; ``—`` when not running."""
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def local_day(created_at: str) -> date | None:
    """The local calendar day of an ISO timestamp (stored in UTC), or None if unparsable."""
    try:
        moment = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    # Naive timestamps are taken as UTC, as the store writes them.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone().date()


def day_label(day: date | None, today: date) -> str:
    """``Today``, ``Yesterday``, ``Mon 12 May`` (this year) or ``Mon 12 May 2025``."""
    if day is None:
        return "Unknown date"
    if day == today:
        return f"Today · {day:%a %d %b}"
    if day == today - timedelta(days=1):
        return f"Yesterday · {day:%a %d %b}"
    if day.year == today.year:
        return f"{day:%a %d %b}"
    return f"{day:%a %d %b %Y}"
