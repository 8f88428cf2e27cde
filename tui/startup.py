"""The cyclic garbage collector is off while the app starts.

Start-up allocates tens of thousands of objects that live as long as the process (modules,
classes, the app's widgets and styles), and none of them is garbage: every collection the
allocations trigger before the first frame only costs time (10-20 ms of a 2-core machine's
first frame, docs/benchmarks.md). :func:`pause_gc` stops the collector at the top of the
command; :func:`resume_gc` turns it back on after the app's first frame, or at once for a
subcommand, and always before the command returns.
"""

from __future__ import annotations

import gc

_paused = False


def pause_gc() -> None:
    """Turn the collector off, unless it is off already (then it stays as it was)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_gc() -> None:
    """Turn the collector back on if :func:`pause_gc` turned it off; else do nothing."""
    global _paused
    if _paused:
        _paused = False
        gc.enable()
