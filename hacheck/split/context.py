"""Context both parts would use: flow and global keys written in one part and read in the other,
reported with the part that owns them, never duplicated silently."""

from __future__ import annotations

import re

from hacheck.model.flow import FlowFile, Node
from hacheck.split.parts import HA, SINGLE, other_part


def context_report(flow: FlowFile, home) -> list[dict]:
    uses: dict[tuple[str, str, str], dict[str, dict[str, set[str]]]] = {}
    for n in flow.nodes:
        parts = home.get(n.id, set())
        if not parts or n.is_config:
            continue
        for scope, key, op in _context_uses(n):
            where = n.z or "" if scope == "flow" else ""
            entry = uses.setdefault((scope, where, key), {"set": {}, "get": {}})
            for part in parts:
                entry["set" if op == "set" else "get"].setdefault(part, set()).add(n.id)
    out = []
    for (scope, where, key), e in sorted(uses.items()):
        writers = {p for p, ids in e["set"].items() if ids}
        users = writers | {p for p, ids in e["get"].items() if ids}
        if not writers or len(users) < 2:
            continue
        owner = SINGLE if writers == {SINGLE} else HA if writers == {HA} else "both"
        other = other_part(owner) if owner != "both" else None
        if owner == "both":
            advice = "both parts write it: each keeps its own value; keep it in a shared context store (shared_context_stores) or move every writer to one part"
        else:
            advice = f"written only in the {owner} part: the {other} part reads its own, empty copy; send the value over a bridge or keep it in a shared context store"
        out.append({
            "scope": scope, "tab": where or None, "key": key, "owner": owner,
            "written_by": {p: sorted(ids) for p, ids in e["set"].items() if ids},
            "read_by": {p: sorted(ids) for p, ids in e["get"].items() if ids},
            "advice": advice,
        })
    return out


def _context_uses(n: Node):
    t = n.type
    raw = n.raw
    if t == "function":
        from hacheck.analysis.js import analyze

        for fld in ("initialize", "func", "finalize"):
            code = raw.get(fld)
            if not isinstance(code, str) or not ("flow" in code or "global" in code):
                continue
            for a in analyze(code).accesses:
                if a.scope in ("flow", "global"):
                    for k in a.keys:
                        yield a.scope, k.split(".", 1)[0], "set" if a.op == "set" else "get"
    elif t == "change":
        for r in raw.get("rules") or ():
            if not isinstance(r, dict):
                continue
            if r.get("pt") in ("flow", "global") and isinstance(r.get("p"), str):
                yield r["pt"], _top_key(r["p"]), "set"
            for tk, vk in (("tot", "to"), ("fromt", "from")):
                if r.get(tk) in ("flow", "global") and isinstance(r.get(vk), str):
                    yield r[tk], _top_key(r[vk]), "get"
    elif t == "switch":
        if raw.get("propertyType") in ("flow", "global") and isinstance(raw.get("property"), str):
            yield raw["propertyType"], _top_key(raw["property"]), "get"
        for r in raw.get("rules") or ():
            if isinstance(r, dict) and r.get("vt") in ("flow", "global") and isinstance(r.get("v"), str):
                yield r["vt"], _top_key(r["v"]), "get"
    elif t == "inject":
        for prop in raw.get("props") or ():
            if isinstance(prop, dict) and prop.get("vt") in ("flow", "global") and isinstance(prop.get("v"), str):
                yield prop["vt"], _top_key(prop["v"]), "get"


def _top_key(path: str) -> str:
    # "#:(store)::key.sub" -> "key"
    if path.startswith("#:") and "::" in path:
        path = path.split("::", 1)[1]
    return re.split(r"[.\[]", path, 1)[0]
