"""`hacheck fix`: repair the findings that have one right answer, changing nothing else.

Edits are made on the file's text, value by value, so indentation, key order, node order,
line endings and the final newline stay exactly as they were; the result is re-read and
compared with the original before anything is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from hacheck.model.config import Config
from hacheck.model.findings import Finding
from hacheck.load.jsonpos import members
from hacheck.model.flow import FlowFile, Node

DEFAULT_SHARE_GROUP = "nodered"


@dataclass(frozen=True)
class FieldEdit:
    node_id: str
    field: str
    value: object
    rule_id: str


class FixError(Exception):
    """The file could not be fixed safely; it is left untouched."""


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", text.strip().lower()).strip("-")
    return s[:40]


def share_group(node: Node, flow: FlowFile, config: Config) -> str:
    """The `$share/<group>/` name: the configured one, else one derived from the tab label,
    so the same flow gives the same group on every copy and on every run."""
    if config.share_group:
        return config.share_group
    label = flow.tab_label(node) or ""
    return _slug(label) or DEFAULT_SHARE_GROUP


def _share_topic(f: Finding, flow: FlowFile, config: Config, opts: dict) -> list[FieldEdit]:
    node = flow.by_id[f.node_id]
    topic = node.get("topic")
    if not isinstance(topic, str) or not topic or topic.startswith("$share/"):
        return []
    edits = [FieldEdit(node.id, "topic", f"$share/{share_group(node, flow, config)}/{topic}", f.rule_id)]
    # 'no local' on a shared v5 subscription is a protocol error (HA104): sharing alone would
    # turn a working node into a reconnect loop, and a second run would have more to fix
    broker = flow.by_id.get(node.get("broker")) if isinstance(node.get("broker"), str) else None
    if node.get("nl") in (True, "true") and broker is not None and broker.get("protocolVersion") in (5, "5"):
        edits.append(FieldEdit(node.id, "nl", False, "HA104"))
    return edits


def _clear_client_id(f: Finding, flow: FlowFile, config: Config, opts: dict) -> list[FieldEdit]:
    # an empty id makes Node-RED generate a unique one per copy at start-up
    return [FieldEdit(f.node_id, "clientid", opts.get("replacement", ""), f.rule_id)]


def _no_local_off(f: Finding, flow: FlowFile, config: Config, opts: dict) -> list[FieldEdit]:
    return [FieldEdit(f.node_id, "nl", False, f.rule_id)]


def _consumer_group(f: Finding, flow: FlowFile, config: Config, opts: dict) -> list[FieldEdit]:
    node = flow.by_id[f.node_id]
    name = opts.get("group") or _slug(node.name or node.get("topic") or "") or f"nodered-{_slug(node.id)}"
    return [FieldEdit(node.id, "groupid", name, f.rule_id)]


def _shared_queue(f: Finding, flow: FlowFile, config: Config, opts: dict) -> list[FieldEdit]:
    node = flow.by_id[f.node_id]
    edits = []
    q = node.get("queueName")
    if not (isinstance(q, str) and q.strip()):
        name = opts.get("queue") or _slug(node.name or node.get("exchangeRoutingKey") or "") or f"nodered-{_slug(node.id)}"
        edits.append(FieldEdit(node.id, "queueName", name, f.rule_id))
    if node.get("queueExclusive") is not False:
        edits.append(FieldEdit(node.id, "queueExclusive", False, f.rule_id))
    return edits


FIXERS: dict[str, Callable[[Finding, FlowFile, Config, dict], list[FieldEdit]]] = {
    "HA101": _share_topic,
    "HA103": _clear_client_id,
    "HA104": _no_local_off,
    "HA130": _consumer_group,
    "HA131": _shared_queue,
}


def plan(flow: FlowFile, findings: list[Finding], rules, config: Config, unsafe: bool = False, notes: list[str] | None = None) -> list[FieldEdit]:
    """The edits for the findings' fixes. A fix that is safe for its rule but not for one
    finding (`fix_unsafe`: sharing a subscription would split the state it feeds) is made only
    with `unsafe`; either way `notes` gets a line naming what it would split."""
    by_id = {r.id: r for r in rules}
    edits: dict[tuple[str, str], FieldEdit] = {}
    for f in findings:
        rule = by_id.get(f.rule_id)
        if f.suppressed is not None or rule is None or not rule.fixable or f.node_id not in flow.by_id:
            continue
        if rule.fix.get("safety") == "unsafe" and not unsafe:
            continue
        if f.fix_unsafe and f.rule_id in FIXERS:
            where = f"{f.rule_id} on {flow.by_id[f.node_id].label!r}"
            if notes is not None:
                if unsafe:
                    notes.append(f"{flow.path}: {where} fixed although {f.fix_unsafe}")
                else:
                    notes.append(f"{flow.path}: {where} not fixed: {f.fix_unsafe} (split the subscription, or fix with --unsafe-fixes)")
            if not unsafe:
                continue
        fixer = FIXERS.get(f.rule_id)
        if fixer is None:
            continue
        for e in fixer(f, flow, config, config.rule_options(rule)):
            edits.setdefault((e.node_id, e.field), e)
    return [edits[k] for k in sorted(edits, key=lambda k: (flow.by_id[k[0]].index, k[1]))]


def apply(flow: FlowFile, edits: list[FieldEdit]) -> str:
    """The file's text with the edits made; raises FixError rather than produce anything else."""
    text = flow.text
    if text is None:
        raise FixError("the file's text is not available")
    patches: list[tuple[int, int, str]] = []
    by_node: dict[str, list[FieldEdit]] = {}
    for e in edits:
        by_node.setdefault(e.node_id, []).append(e)
    for node_id, node_edits in by_node.items():
        node = flow.by_id[node_id]
        if node.offset is None:
            raise FixError(f"cannot locate node {node_id} in the file")
        patches.extend(_node_patches(text, node.offset, node_edits))
    patches.sort()
    for (s1, e1, _), (s2, _, _) in zip(patches, patches[1:]):
        if s2 < e1:
            raise FixError("overlapping edits")
    out = text
    for start, end, repl in reversed(patches):
        out = out[:start] + repl + out[end:]
    _verify(flow, out, edits)
    return out


def _dump(value) -> str:
    # JSON.stringify keeps non-ASCII characters and "/" as they are; so do we
    return json.dumps(value, ensure_ascii=False)


def _node_patches(text: str, start: int, edits: list[FieldEdit]) -> list[tuple[int, int, str]]:
    mems, end = members(text, start)
    found = {m[0]: m for m in mems}
    patches = []
    missing = []
    for e in edits:
        m = found.get(e.field)
        if m is not None:
            patches.append((m[3], m[4], _dump(e.value)))
        else:
            missing.append(e)
    if missing:
        if not mems:
            raise FixError("cannot add a field to an empty object")
        last = mems[-1]
        if len(mems) >= 2:
            sep = text[mems[-2][4] : last[1]]  # e.g. ",\n        "
        else:
            sep = "," + text[start + 1 : last[1]]
        colon = text[last[2] : last[3]]
        added = "".join(f"{sep}{_dump(e.field)}{colon}{_dump(e.value)}" for e in missing)
        patches.append((last[4], last[4], added))
    return patches


def _verify(flow: FlowFile, new_text: str, edits: list[FieldEdit]) -> None:
    """Re-read the result: the same nodes in the same order, differing only where we edited."""
    from hacheck.load.loader import parse_bytes

    again = parse_bytes(flow.path, new_text.encode("utf-8"))
    if again.shape != flow.shape or len(again.nodes) != len(flow.nodes):
        raise FixError("the fixed text does not read back as the same flow")
    expected = {(e.node_id, e.field): e.value for e in edits}
    for old, new in zip(flow.nodes, again.nodes):
        if old.id != new.id:
            raise FixError("node order changed")
        want = dict(old.raw)
        for (nid, field), value in expected.items():
            if nid == old.id:
                want[field] = value
        if new.raw != want:
            raise FixError(f"node {old.id} changed beyond the intended fields")


def fix_text(flow: FlowFile, findings: list[Finding], rules, config: Config, unsafe: bool = False, notes: list[str] | None = None) -> tuple[str, list[FieldEdit]]:
    edits = plan(flow, findings, rules, config, unsafe, notes)
    if not edits:
        return flow.text or "", []
    return apply(flow, edits), edits


@dataclass
class FileFix:
    path: str
    fs_path: str | None
    old: str
    new: str
    edits: list[FieldEdit]
    error: str | None = None
    secrets: tuple[str, ...] = ()  # credential values in the file: masked in any diff we print
    notes: tuple[str, ...] = ()  # fixes held back (or made with --unsafe-fixes) and why


def fix_sources(sources, config: Config, rules, unsafe: bool = False) -> list[FileFix]:
    from hacheck.engine.check import check_flow
    from hacheck.load.loader import read_source

    out = []
    for src in sources:
        flow = read_source(src)
        if flow.shape == "unreadable" or flow.text is None:
            msg = flow.problems[0].message if flow.problems else "cannot be read"
            out.append(FileFix(flow.path, src.fs_path, "", "", [], error=f"{flow.path}: not fixed: the file {msg}"))
            continue
        findings = _suppressed(flow, check_flow(flow, rules, config), rules, config)
        notes: list[str] = []
        try:
            new, edits = fix_text(flow, findings, rules, config, unsafe, notes)
            if edits and not unsafe:
                new, edits = _without_new_findings(flow, findings, rules, config, edits, new, notes)
        except FixError as e:
            out.append(FileFix(flow.path, src.fs_path, flow.text, flow.text, [], error=f"{flow.path}: not fixed: {e}"))
            continue
        out.append(FileFix(flow.path, src.fs_path, flow.text, new, edits, secrets=_secrets(flow), notes=tuple(notes)))
    return out


def _key(f: Finding) -> tuple:
    return (f.rule_id, f.node_id, f.detail)


def _without_new_findings(flow: FlowFile, findings, rules, config: Config, edits: list[FieldEdit], new: str, notes: list[str]):
    """A safe fix never adds a finding. The fixed text is checked with the same rules; a fix
    whose node a new finding names (its node, an input path or a related location: sharing a
    subscription makes what it feeds load-balanced, so a file it writes splits, HA204) is held
    back, and the rest are checked again."""
    from hacheck.engine.check import check_flow
    from hacheck.load.loader import parse_bytes

    before = {_key(f) for f in findings}
    while edits:
        after = parse_bytes(flow.path, new.encode("utf-8", "surrogatepass"))
        added = [f for f in _suppressed(after, check_flow(after, rules, config), rules, config) if _key(f) not in before and f.suppressed is None]
        if not added:
            return new, edits
        named = {f.node_id for f in added} | {n for f in added for p in f.paths for n in p} | {r.node_id for f in added for r in f.related}
        held = [e for e in edits if e.node_id in named] or list(edits)
        for e in held:
            why = next((f for f in added if e.node_id in ({f.node_id} | {n for p in f.paths for n in p} | {r.node_id for r in f.related})), added[0])
            where = f"{e.rule_id} on {flow.by_id[e.node_id].label!r}"
            notes.append(f"{flow.path}: {where} not fixed: the fixed flow would get {why.rule_id} on {_label_of(after, why.node_id)} (fix with --unsafe-fixes to make it anyway)")
        held_ids = {(e.node_id, e.field) for e in held}
        edits = [e for e in edits if (e.node_id, e.field) not in held_ids]
        new = apply(flow, edits) if edits else (flow.text or "")
    return new, edits


def _label_of(flow: FlowFile, node_id: str | None) -> str:
    n = flow.by_id.get(node_id) if node_id else None
    return repr(n.label) if n is not None else "the flow"


def _suppressed(flow, findings, rules, config):
    """Suppressed findings are the user's decision: never 'fix' them."""
    from hacheck.config.suppress import Suppressor

    return Suppressor(rules, config).apply(flow, findings)


def write_atomic(path: str, text: str, original: bytes | None = None) -> None:
    """Replace the user's file atomically, keeping its mode and a byte-order mark it had."""
    import os

    from hacheck.util.atomic import replace_file

    data = text.encode("utf-8")
    if original is not None and original.startswith(b"\xef\xbb\xbf"):
        data = b"\xef\xbb\xbf" + data
    replace_file(path, data, mode=os.stat(path).st_mode & 0o7777, prefix=".hacheck-fix-", fsync=True)


def _secrets(flow: FlowFile) -> tuple[str, ...]:
    from hacheck.deploy.redact import credential_values
    from hacheck.util.url_secrets import secrets_in

    values = credential_values([n.raw for n in flow.nodes], flow.credentials)
    values += [x for n in flow.nodes for v in _strings(n.raw) for x in secrets_in(v)]  # in URLs
    # as they appear in the file: JSON-escaped, without the quotes
    return tuple(sorted({json.dumps(v, ensure_ascii=False)[1:-1] for v in values if len(v) >= 4}, key=len, reverse=True))


def _strings(v, depth: int = 0):
    if isinstance(v, str):
        yield v
    elif depth < 8 and isinstance(v, dict):
        for x in v.values():
            yield from _strings(x, depth + 1)
    elif depth < 8 and isinstance(v, list):
        for x in v:
            yield from _strings(x, depth + 1)


def _mask(text: str, secrets: tuple[str, ...]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text


def unified_diff(ff: FileFix) -> str:
    """The diff of the fix; context lines can hold a node's credentials (a compact file is one
    line), so their values are masked. Fixes never touch credentials, so the diff is the same."""
    import difflib

    return "".join(
        difflib.unified_diff(
            _mask(ff.old, ff.secrets).splitlines(keepends=True),
            _mask(ff.new, ff.secrets).splitlines(keepends=True),
            fromfile=ff.path if ff.path.startswith("/") else f"a/{ff.path}",
            tofile=ff.path if ff.path.startswith("/") else f"b/{ff.path}",
        )
    )


def edits_for(flow: FlowFile, config: Config, rules, rule_id: str, node_id: str) -> tuple[list[FieldEdit], list[str]]:
    """The safe edits `hacheck fix` would make for one finding (its rule on its node) of a flow
    held in memory (the editor's, posted to `hacheck serve`), and the notes on fixes it holds
    back; nothing is written. The same checks as on a file: the fixed text is re-read, and a fix
    that would add a finding is held back."""
    from hacheck.engine.check import check_flow

    if flow.shape == "unreadable" or flow.text is None:
        raise FixError(flow.problems[0].message if flow.problems else "the flow cannot be read")
    every = _suppressed(flow, check_flow(flow, rules, config), rules, config)
    wanted = [f for f in every if f.rule_id == rule_id and f.node_id == node_id]
    notes: list[str] = []
    new, edits = fix_text(flow, wanted, rules, config, False, notes)
    if edits:
        _, edits = _without_new_findings(flow, every, rules, config, edits, new, notes)
    return edits, notes
