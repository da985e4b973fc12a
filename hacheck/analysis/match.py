"""The declarative `match:` language: a node type selector and a condition tree.

OPS and the `op` enum in schemas/rule.schema.json must list the same names (a test checks).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from hacheck.model.flow import FlowFile, Node

_MISSING = object()


def _empty(v) -> bool:
    if v is _MISSING or v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    if isinstance(v, (list, dict)):
        return not v
    return False


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _gt(v, x) -> bool:
    """A number, or a string the editor wrote for one ('60'), greater than x."""
    if isinstance(v, bool) or v is _MISSING:
        return False
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return False
    return isinstance(v, (int, float)) and v > x


# a host on the copy's own loopback address, as a bare host or in a URL (`mqtt://127.0.0.1:1883`)
LOCAL_HOST = re.compile(r"(?i)^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]*@)?(?:localhost|127(?:\.\d{1,3}){3}|\[?::1\]?|0\.0\.0\.0)(?:[:/?#]|$)")


# Whether a service on localhost is one service every copy shares: true only when the copies
# run side by side on one host (the config key localhost_is_shared); set for one check
_LOCALHOST_SHARED: ContextVar[bool] = ContextVar("localhost_is_shared", default=False)


def is_local(host) -> bool:
    """The host is the copy's own loopback address, and the copies do not share a host."""
    return not _LOCALHOST_SHARED.get() and isinstance(host, str) and LOCAL_HOST.match(host.strip()) is not None


@contextmanager
def localhost_shared(shared: bool):
    token = _LOCALHOST_SHARED.set(bool(shared))
    try:
        yield
    finally:
        _LOCALHOST_SHARED.reset(token)


def _local_host(v, x) -> bool:
    return is_local(v)


def _truthy(v) -> bool:
    if v is _MISSING:
        return False
    if isinstance(v, str):
        return v.strip().lower() not in ("", "false", "0")
    return bool(v)


OPS: dict[str, Callable[[object, object], bool]] = {
    "eq": lambda v, x: v is not _MISSING and v == x,
    "ne": lambda v, x: v is _MISSING or v != x,
    "in": lambda v, x: v is not _MISSING and v in x,
    "not_in": lambda v, x: v is _MISSING or v not in x,
    "empty": lambda v, x: _empty(v),
    "not_empty": lambda v, x: not _empty(v),
    "regex": lambda v, x: isinstance(v, str) and _regex(x).search(v) is not None,
    "startswith": lambda v, x: isinstance(v, str) and v.startswith(x),
    "endswith": lambda v, x: isinstance(v, str) and v.endswith(x),
    "truthy": lambda v, x: _truthy(v),
    "falsy": lambda v, x: not _truthy(v),
    "gt": _gt,
    "local_host": _local_host,
    "exists": lambda v, x: v is not _MISSING,
    "missing": lambda v, x: v is _MISSING,
}


@lru_cache(maxsize=512)
def _steps(path: str) -> tuple[tuple[str, bool], ...]:
    return tuple((part[:-2], True) if part.endswith("[]") else (part, False) for part in path.split("."))


def values_at(raw: dict, path: str) -> list:
    """Values at a dotted path; `[]` fans out over list elements. [_MISSING] when absent."""
    if "." not in path and "[" not in path:  # a plain field: most conditions
        return [raw.get(path, _MISSING)]
    current = [raw]
    for key, fan in _steps(path):
        nxt = []
        for obj in current:
            v = obj.get(key, _MISSING) if isinstance(obj, dict) else _MISSING
            if fan:
                if isinstance(v, list):
                    nxt.extend(v)
            else:
                nxt.append(v)
        current = nxt
    return current or [_MISSING]


def evaluate(cond: dict, node: Node, flow: FlowFile) -> bool:
    if "all" in cond and not all(evaluate(c, node, flow) for c in cond["all"]):
        return False
    if "any" in cond and not any(evaluate(c, node, flow) for c in cond["any"]):
        return False
    if "not" in cond and evaluate(cond["not"], node, flow):
        return False
    if "ref" in cond:
        target_id = node.raw.get(cond["ref"])
        target = flow.by_id.get(target_id) if isinstance(target_id, str) else None
        if target is None or not evaluate(cond["then"], target, flow):
            return False
    if "field" in cond:
        op = OPS[cond["op"]]
        arg = cond.get("value")
        if not any(op(v, arg) for v in values_at(node.raw, cond["field"])):
            return False
    return True


class TypeSelector:
    """Exact types go in a dict lookup; globs are tried once per distinct type and cached."""

    def __init__(self, spec: str | list[str]):
        pats = [spec] if isinstance(spec, str) else list(spec)
        self.exact = frozenset(p for p in pats if not any(c in p for c in "*?["))
        self.globs = tuple(p for p in pats if p not in self.exact)

    def matches(self, node_type: str) -> bool:
        return node_type in self.exact or any(fnmatch.fnmatchcase(node_type, g) for g in self.globs)
