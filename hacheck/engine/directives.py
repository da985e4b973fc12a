"""`hacheck-disable` directives: the lines in a node's Description (`info`) that suppress
findings, parsed. What they suppress, and HC005/HC006 about them, is suppress.py's business.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

KEYWORD = "hacheck-disable"
# at the start of a line, optionally behind markdown list/quote markers or a backtick
_LINE_RE = re.compile(r"^[ \t]*(?:[>*+-][ \t]*)*`?hacheck-disable(?![\w-])(?P<rest>[^\n]*)$", re.MULTILINE)


@dataclass
class Directive:
    host: str  # id of the node whose Description holds it
    text: str
    refs: tuple[str, ...]
    reason: str
    problem: str | None = None  # why it is invalid (then it suppresses nothing)
    ids: dict[str, str] = field(default_factory=dict)  # resolved rule id -> ref as written
    used: set[str] = field(default_factory=set)


def parse(host: str, info: str) -> list[Directive]:
    out = []
    for m in _LINE_RE.finditer(info):
        rest = m["rest"].strip().strip("`").strip()
        refs_part, sep, reason = rest.partition("--")
        refs = tuple(r for r in re.split(r"[\s,]+", refs_part.strip()) if r)
        reason = reason.strip()
        text = f"{KEYWORD} {rest}".strip()
        problem = None
        if not refs:
            problem = f"names no rule (write '{KEYWORD} HA101 -- reason')"
        elif not sep or not reason:
            problem = f"gives no reason (write it after ' -- ': '{KEYWORD} {', '.join(refs)} -- why this is safe here')"
        out.append(Directive(host, text, refs, reason, problem))
    return out


def directives(flow) -> list[Directive]:
    """Fresh Directive objects each call (suppress.py fills in what each one matched)."""
    out: list[Directive] = []
    for host, info in _hosts(flow):
        out.extend(parse(host, info))
    return out


# The nodes whose Description mentions the keyword, per flow: HC005/HC006 and the
# suppressor each ask, and finding them means reading every node of a big flow
_HOSTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _hosts(flow) -> list[tuple[str, str]]:
    hosts = _HOSTS.get(flow)
    if hosts is None:
        hosts = []
        for node in flow.by_id.values():
            info = node.raw.get("info")
            if isinstance(info, str) and KEYWORD in info:
                hosts.append((node.id, info))
        _HOSTS[flow] = hosts
    return hosts
