"""Secrets that flows carry inside URLs, kept out of what hacheck prints.

A node's own fields end up in messages (an `http request` "POSTs to <url>"), and a URL can hold
a password (`https://user:pass@host`), a token in its query (`?token=...`) or a token as a path
segment (a Telegram bot URL, a Slack or Discord webhook). `scrub` masks those in any text;
`secrets_in` lists them, for masking a text that quotes the flow file (a `fix --diff`).

What is masked: the whole user-info part; a query value whose key names a secret (token, key,
pass, auth, sig...) or that is long (12 characters or more); and a path segment that looks
generated (16 or more letters, digits and `_-:.~`, with both a letter and a digit). Host, port,
the rest of the path and short query values (`?on=1`) stay: they are what a user needs to
recognise the service and the command.
"""

from __future__ import annotations

import re

MASK = "***"

_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/?#@'\"]*@)?([^\s/?#'\"]*)([^\s?#'\"]*)(\?[^\s#'\"]*)?")
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-:.~]{16,}")


_SECRET_KEY = re.compile(r"(?i)(token|key|secret|pass|pwd|auth|sig|session|code|cred)")


def _secret_value(key: str, value: str) -> bool:
    return bool(value) and (bool(_SECRET_KEY.search(key)) or len(value) >= 12)


def _token_like(segment: str) -> bool:
    return bool(_TOKEN_LIKE.fullmatch(segment)) and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)


def _parts(m: re.Match) -> tuple[str, list[str], list[str]]:
    """(user info, path segments, query values) of one URL match."""
    userinfo = (m.group(2) or "")[:-1]
    segments = [s for s in (m.group(4) or "").split("/") if s]
    query = m.group(5) or ""
    pairs = [kv.partition("=") for kv in query[1:].split("&")] if query else []
    values = [v for k, eq, v in pairs if eq and _secret_value(k, v)]
    return userinfo, segments, values


def _scrub_one(m: re.Match) -> str:
    scheme, host, path, query = m.group(1), m.group(3), m.group(4) or "", m.group(5) or ""
    out = scheme + (MASK + "@" if m.group(2) else "") + host
    out += "/".join(MASK if _token_like(s) else s for s in path.split("/"))
    if query:
        pairs = [kv.partition("=") for kv in query[1:].split("&")]
        out += "?" + "&".join(k + eq + (MASK if _secret_value(k, v) else v) for k, eq, v in pairs)
    return out


def scrub(text: str) -> str:
    """`text` with the secrets of every URL in it masked."""
    if "://" not in text:
        return text
    return _URL.sub(_scrub_one, text)


def secrets_in(text: str) -> list[str]:
    """The secret parts of the URLs in `text`, as written (user info, query values, token-like
    path segments), for masking elsewhere; short values are left out (they would mask
    every "1" in a diff and hide nothing)."""
    if "://" not in text:
        return []
    found: list[str] = []
    for m in _URL.finditer(text):
        userinfo, segments, values = _parts(m)
        found.extend(x for x in (userinfo, userinfo.partition(":")[2]) if x)  # not the user name alone
        found.extend(s for s in segments if _token_like(s))
        found.extend(values)
    return [s for s in found if len(s) >= 4]
