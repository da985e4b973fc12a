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


# Node-RED's own port on loopback: the flow calling its own http in, which stays on the copy
NODE_RED_SELF = re.compile(r"(?i)^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]*@)?(?:localhost|127(?:\.\d{1,3}){3}|\[?::1\]?|0\.0\.0\.0):1880(?:[/?#]|$)")

# How a service at a loopback address is judged (the config key localhost_services), set for
# one check. "shared" (the default): on FlowFuse nothing but the instance runs in a copy's
# container, so such a service must become the one shared service every copy reaches, and its
# paths are judged as that. "per-copy": each copy runs its own beside it, on purpose.
LOCALHOST_SERVICES = ("shared", "per-copy")
_LOCALHOST_PER_COPY: ContextVar[bool] = ContextVar("localhost_per_copy", default=False)


def is_loopback(host) -> bool:
    """The host (a bare host or a URL) is a loopback address, and not Node-RED's own port."""
    if not isinstance(host, str):
        return False
    h = host.strip()
    return LOCAL_HOST.match(h) is not None and NODE_RED_SELF.match(h) is None


def is_local(host) -> bool:
    """The host is the copy's own service: a loopback address, judged per copy."""
    return _LOCALHOST_PER_COPY.get() and is_loopback(host)


def localhost_per_copy() -> bool:
    return _LOCALHOST_PER_COPY.get()


@contextmanager
def localhost_services(judged: str):
    token = _LOCALHOST_PER_COPY.set(judged == "per-copy")
    try:
        yield
    finally:
        _LOCALHOST_PER_COPY.reset(token)


def _local_host(v, x) -> bool:
    return is_loopback(v)


def _own_service(v, x) -> bool:
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
    "own_service": _own_service,
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
