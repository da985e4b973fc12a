"""`hacheck-disable` directives: the lines in a node's Description (`info`) that suppress
findings, parsed. What they suppress, and HC005/HC006 about them, is suppress.py's business.

Also the instance marker: a `hacheck-instance: singleton` line in a tab's Description says the
file runs as one copy (what `hacheck split` writes into its singleton part), so the rules that
judge what several copies would do are not run on it (`SINGLE_COPY_RULES`).
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

KEYWORD = "hacheck-disable"
INSTANCE_KEYWORD = "hacheck-instance"
INSTANCES = ("ha", "singleton")
# What only several copies get wrong: duplicated work (HA103: the one copy's client id is its
# own), a dashboard, a host, per-copy state. On one copy they do not happen; the rest still do.
SINGLE_COPY_RULES = frozenset({
    "HA101", "HA103", "HA105", "HA107", "HA109", "HA110", "HA111", "HA112",
    "HA120", "HA122", "HA140", "HA201", "HA202", "HA203", "HA204", "HA205",
})  # fmt: skip
# HA103 on one copy: a fixed client id is that copy's own, unless another broker config the
# same Node-RED runs uses it too (the two connections would still take the session in turn)
SINGLE_COPY_IF_UNIQUE = frozenset({"HA103"})
_INSTANCE_RE = re.compile(r"^[ \t]*(?:[>*+-][ \t]*)*`?hacheck-instance:[ \t]*(?P<value>[\w-]+)", re.MULTILINE)
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


def instance(flow) -> str | None:
    """"singleton" when a tab's (or a comment's) Description has a `hacheck-instance: singleton` line (the
    marker speaks for the whole file: one Node-RED runs all its tabs), "ha" when one says
    `hacheck-instance: ha`, else None (the configuration's `instance` decides)."""
    found = None
    # a comment carries it where the file holds nodes of a tab but not the tab (an export)
    for tab in [*flow.tabs.values(), *flow.by_type.get("comment", ())]:
        info = tab.raw.get("info")
        if isinstance(info, str) and INSTANCE_KEYWORD in info:
            for m in _INSTANCE_RE.finditer(info):
                if m["value"] == "singleton":
                    return "singleton"
                if m["value"] == "ha":
                    found = "ha"
    return found


def single_copy(flow, config) -> bool:
    """The file is judged as one copy: its own marker, else the configuration's `instance`."""
    return (instance(flow) or getattr(config, "instance", "ha")) == "singleton"


def shares_client_id(flow, node_id: str | None) -> bool:
    """Another running broker config of the file has this one's client id."""
    node = flow.by_id.get(node_id) if node_id else None
    cid = node.get("clientid") if node is not None else None
    if not isinstance(cid, str) or not cid.strip():
        return False
    return any(b.id != node.id and b.get("clientid") == cid and b.id in flow.running for b in flow.by_type.get(node.type, ()))
