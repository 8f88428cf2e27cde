"""How durations and days read everywhere a person sees them: the CLI, exports and the app.

One set: :func:`format_seconds` for every step, chain and group time (CLI, exports, the chain
and group views, the history list: one format, so the same time reads the same everywhere),
:func:`format_uptime` for a server's uptime; :func:`local_day` and :func:`day_label` for the
history's day headers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone


def format_seconds(seconds: float | None, *, digits: int = 2) -> str:
    """``1.84 s`` below a minute (``digits`` decimals), then ``1m33s`` and ``2h05m``.

    At most 7 cells (6 with ``digits=1``, as the history list uses it). Above a minute the
    seconds are rounded, never cut, so a time shown in two places with different ``digits``
    still reads the same.
    """
    s = max(float(seconds or 0.0), 0.0)
    if round(s, digits) < 60:
        return f"{s:.{digits}f} s"
    whole = int(round(s))
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    minutes = int(round(s / 60))
    return f"{minutes // 60}h{minutes % 60:02d}m"


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
