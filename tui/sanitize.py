"""Untrusted text made safe: defined in :mod:`backends.sanitize` (the lower layer, which the
model-server code needs too and which never imports ``tui``), imported here under the name
the app, the history and the printer have always used."""

from __future__ import annotations

from backends.sanitize import clean, clean_line

__all__ = ["clean", "clean_line"]
