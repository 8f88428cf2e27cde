"""Credentials out of URLs before a URL is shown, logged, stored or exported.

An ``--endpoint`` may carry a password (``http://user:pass@host/v1``) or a key in its query
(``?api_key=…``). The client uses the URL as given; everything a person or a file sees gets
:func:`redact_url` (one URL) or :func:`redact_urls` (URLs inside a message).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"
#: Query parameters whose values are secrets (compared in lower case, ``-`` read as ``_``).
SECRET_PARAMS = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "auth", "password", "secret", "sig"}
)
#: A parameter whose name holds one of these is a secret too (``subscription-key``,
#: ``x_auth_token``, ``client_secret``): hiding a harmless value costs nothing.
SECRET_WORDS = ("key", "token", "secret", "passw", "auth", "sig", "credential")
_URL = re.compile(r"\bhttps?://[^\s'\"<>]+", re.IGNORECASE)
#: For a URL too malformed to parse: the user-info before the host, and each query value.
_USERINFO = re.compile(r"(//\[?)[^/?#]*@")
_QUERY_PAIR = re.compile(r"([?&;])([^=&#;]*)=([^&#;]*)")


def redact_url(url: str) -> str:
    """``url`` with a user:password and secret query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL" and the like: the words that carry it are shown
        return _redact_unparsed(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if _secret(k) else v) for k, v in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_urls(text: str) -> str:
    """Every http(s) URL inside ``text`` redacted."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text) if "://" in text else text


def _redact_unparsed(url: str) -> str:
    """Redaction by pattern, for a URL ``urlsplit`` refuses."""
    url = _USERINFO.sub(rf"\g<1>{REDACTED}@", url)
    return _QUERY_PAIR.sub(
        lambda m: f"{m.group(1)}{m.group(2)}={REDACTED if _secret(m.group(2)) else m.group(3)}",
        url,
    )


def _secret(name: str) -> bool:
    name = name.lower().replace("-", "_")
    return name in SECRET_PARAMS or any(word in name for word in SECRET_WORDS)
