"""o1tui's launcher for LMDeploy's ``serve proxy``: the proxy's ``/nodes`` routes need the API
key too.

LMDeploy's key check (``AuthenticationMiddleware`` in ``lmdeploy/serve/utils/server_utils.py``,
which ``--api-keys`` adds to the proxy) skips every path that starts with ``/nodes``, so that
api_servers can register themselves with ``--proxy-url`` (they send no key). On a shared box any
local user could then add a server of theirs with ``/nodes/add``: the proxy would send it some of
the user's questions, with the ``Authorization`` header, that is the key. This launcher drops
``/nodes`` from the skipped paths as LMDeploy's server_utils is imported, where the class has
them; then it runs :mod:`backends.keyed_exec` (the key off the command line) as usual. o1tui adds
its replicas itself, with the key. A version without ``skip_prefixes`` is left as it is, and a
line in the server's output says so (the replica set then removes nodes that are not its own).

Usage: ``python proxy_guard.py KEYED_EXEC_ARGUMENTS...``; standard library only, run by path.
"""

from __future__ import annotations

import inspect
import sys
from types import ModuleType
from typing import Any

if __package__:
    from backends import keyed_exec
else:  # run by path: this file's folder is sys.path[0]
    import keyed_exec  # type: ignore[import-not-found, no-redef]

MODULE = "lmdeploy.serve.utils.server_utils"
GUARDED = "/nodes"


def guard_nodes(module: ModuleType) -> str:
    """Make ``AuthenticationMiddleware`` check the key on ``/nodes`` too; returns the note."""
    # Any: LMDeploy's class, untyped, whose __init__ is replaced below.
    cls: Any = getattr(module, "AuthenticationMiddleware", None)
    try:
        source = inspect.getsource(cls.__init__) if cls is not None else ""
    except (OSError, TypeError):
        source = ""
    if cls is None or "skip_prefixes" not in source:
        return (
            "this LMDeploy's key check has no skip_prefixes: the proxy's /nodes routes stay as "
            "LMDeploy has them (the replica set removes nodes that are not its own)"
        )
    original = cls.__init__

    def init(self: object, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        prefixes = getattr(self, "skip_prefixes", None)
        if isinstance(prefixes, list):
            self.skip_prefixes = [p for p in prefixes if p.rstrip("/") != GUARDED]  # type: ignore[attr-defined]

    cls.__init__ = init
    return "the proxy's /nodes routes need the API key too (LMDeploy's own check skips them)"


def main() -> None:
    sys.meta_path.insert(
        0, keyed_exec._AfterImport(MODULE, lambda module: keyed_exec.note(guard_nodes(module)))
    )
    sys.argv = [keyed_exec.__file__, *sys.argv[1:]]
    keyed_exec.main()


if __name__ == "__main__":
    main()
