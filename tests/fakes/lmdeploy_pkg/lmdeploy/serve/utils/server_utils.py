"""Stand-in for ``lmdeploy.serve.utils.server_utils``: LMDeploy's key check, the
``AuthenticationMiddleware`` that ``--api-keys`` adds to the api_server and to the proxy, with the
same attributes (``api_tokens`` as SHA-256 digests, ``skip_prefixes``) and the same rule: a path
that starts with a skipped prefix needs no key. The stand-in proxy asks it about each request,
so a change made to the class (o1tui's proxy guard) changes the stand-in as it would the real
proxy."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any


class AuthenticationMiddleware:
    def __init__(self, app: Any, tokens: list[str]) -> None:
        self.app = app
        self.api_tokens = [hashlib.sha256(t.encode("utf-8")).digest() for t in tokens]
        self.skip_prefixes = ["/health", "/docs", "/redoc", "/nodes"]

    def verify_token(self, headers: Mapping[str, str]) -> bool:
        value = headers.get("Authorization")
        if not value:
            return False
        scheme, _, param = value.partition(" ")
        if scheme.lower() != "bearer":
            return False
        digest = hashlib.sha256(param.encode("utf-8")).digest()
        match = False
        for token in self.api_tokens:
            match |= secrets.compare_digest(digest, token)
        return match

    def allows(self, path: str, headers: Mapping[str, str]) -> bool:
        """What the real ``__call__`` decides for an HTTP request (OPTIONS aside)."""
        return any(path.startswith(p) for p in self.skip_prefixes) or self.verify_token(headers)
