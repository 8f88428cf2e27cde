"""Toasts that last as long as what they announce, not a fixed time.

``App.notify`` gives no handle on the toast it shows, so a "Cancelling the chain…" toast
would stay its full timeout after the cancel finished. :func:`show_until_done` posts the
notification itself and returns it; :func:`dismiss` takes it down once the work is over
(a long timeout remains as the fallback).
"""

from __future__ import annotations

from textual.app import App
from textual.notifications import Notification, Notify

#: Longest a "while it lasts" toast stays if it is never dismissed.
FALLBACK_TIMEOUT_S = 30.0


def show_until_done(app: App, text: str) -> Notification:
    """Show ``text`` (plain, never markup) until :func:`dismiss` is called."""
    notification = Notification(text, "", "information", FALLBACK_TIMEOUT_S, markup=False)
    app.post_message(Notify(notification))
    return notification


def dismiss(app: App, notification: Notification | None) -> None:
    """Take the toast down if it is still shown."""
    if notification is not None and notification in app._notifications:
        app._unnotify(notification)
