"""The split's report: one line per moved group, bridge, kept node and shared context key, as text
and as JSON (hacheck/schemas/split-report.schema.json)."""

from __future__ import annotations

from hacheck.model.flow import FlowFile
from hacheck.split.bridges import PROJECT_ENV, SHARE_GROUP
from hacheck.split.partition import FAMILY
from hacheck.split.parts import Broker, HA, PARTS, SINGLE, Split, other_part


def report_data(s: Split, flow: FlowFile, bridge: str, broker: Broker | None) -> dict:
    by_id = flow.by_id

    def node_ref(nid: str) -> dict:
        n = by_id.get(nid)
        return {"id": nid, "type": n.type if n else None, "name": (n.name or None) if n else None,
                "tab": (flow.tab_label(n) or None) if n else None}

    groups = []
    for i, g in enumerate(s.groups, 1):
        rules = sorted({r for rs in g.rules.values() for r in rs})
        why = sorted({FAMILY[r] for r in rules if any(r in g.rules[sd] and r not in g.after.get(sd, ()) for sd in g.seeds)})
        if g.after:
            why.append("what it feeds moved: left in HA it would send it once per copy, or split its state (found on the HA part after the split)")
        why = why or ["watches or is fed only by nodes that moved"]
        groups.append({
            "id": f"g{i}",
            "seeds": [{**node_ref(sd), "rules": g.rules[sd], "after_split": g.after.get(sd, [])} for sd in g.seeds],
            "nodes": list(g.nodes),
            "why": why,
            "resolves": g.resolves,
            "bridges": list(g.bridges),
        })
    bridges = []
    for b in s.bridges:
        whole = ("the whole message to the subroutine and its answer back: a project link call waits for it (the http request and response objects stay with the caller)" if b.call else
                 "the whole message: project link nodes carry it" if bridge == "project-link" else
                 "the whole message (but msg.req/msg.res): wrapped into the payload by a change node (JSONata $sift) and unwrapped by a function node")
        bridges.append({
            "id": b.id, "direction": b.direction, "from": node_ref(b.source), "port": b.port,
            "to": [node_ref(t) for t in b.targets], "topic": b.topic,
            "receive": (f"$share/{SHARE_GROUP}/{b.topic}" if bridge == "mqtt" and b.direction == "singleton-to-ha" and not b.every_copy else b.topic),
            "every_copy": b.every_copy,
            "call": b.call,
            "nodes": {k: list(v) for k, v in b.nodes.items()}, "carries": whole,
        })
    notes = list(s.notes)
    for part in PARTS:
        callers = [b for b in s.bridges if b.call and b.sender == part]
        if callers:
            notes.append(f"the {part} part calls the {other_part(part)} part with {len(callers)} project link call node(s): set {PROJECT_ENV[other_part(part)]} "
                         f"in the {part} instance's environment to the {other_part(part)} instance's id")
    counts = {
        "nodes": len(flow.nodes),
        "ha": len(s.parts[HA]),
        "singleton": len(s.parts[SINGLE]),
        "moved": sum(1 for ps in s.home.values() if ps == {SINGLE}),
        "copied": sum(1 for ps in s.home.values() if ps == set(PARTS)),
        "bridges": len(s.bridges),
    }
    return {
        "version": 1,
        "input": flow.path,
        "rounds": s.rounds,
        "bridge": bridge,
        "broker": broker.url if broker else None,
        "outputs": {HA: "ha/flows.json", SINGLE: "singleton/flows.json"},
        "counts": counts,
        "groups": groups,
        "bridges": bridges,
        "kept": [{**node_ref(k.node), "rules": k.rules, "why": k.why} for k in s.kept],
        "copied": sorted(nid for nid, ps in s.home.items() if ps == set(PARTS) and nid in by_id),
        "context": s.context,
        "changed": s.changed,
        "notes": notes,
    }


def report_text(d: dict) -> str:
    c = d["counts"]
    lines = [
        f"hacheck split {d['input']}: {c['ha']} nodes in ha/flows.json, {c['singleton']} in singleton/flows.json "
        f"({c['moved']} moved, {c['copied']} copied to both), {c['bridges']} bridge{'s' if c['bridges'] != 1 else ''} ({d['bridge']}"
        + (f" via {d['broker']}" if d["broker"] else "") + ")",
    ]
    if not d["groups"]:
        lines.append("nothing moves: no node must run once or on one host")
    for g in d["groups"]:
        if g["seeds"]:
            head = ", ".join(_ref_text(sd) + f" ({', '.join(sd['rules'])})" for sd in g["seeds"])
            extra = len(g["nodes"]) - len(g["seeds"])
        else:
            head, extra = f"{len(g['nodes'])} node{'s' if len(g['nodes']) != 1 else ''} that only moved nodes feed or watch", 0
        resolves = sorted({r["rule"] for r in g["resolves"]})
        line = f"moved {g['id']}: {head}" + (f" + {extra} node{'s' if extra != 1 else ''}" if extra > 0 else "")
        line += f": {'; '.join(g['why'])}"
        if resolves:
            line += f"; resolves {len(g['resolves'])} finding{'s' if len(g['resolves']) != 1 else ''} ({', '.join(resolves)})"
        line += f"; bridges: {', '.join(g['bridges']) if g['bridges'] else 'none'}"
        lines.append(line)
    for b in d["bridges"]:
        src = _ref_text(b["from"]) + (f" output {b['port'] + 1}" if b["port"] is not None else "")
        dst = ", ".join(_ref_text(t) for t in b["to"])
        every = ""
        if b["every_copy"]:
            every = ("; every HA copy receives it (it feeds a broadcast to each copy's own WebSocket clients)" if d["bridge"] == "mqtt" else
                     "; it feeds a broadcast to each copy's own WebSocket clients, but a project link in reaches one copy: use --bridge mqtt")
        lines.append(f"bridge {b['id']}: {b['direction']}: {src} -> {dst} on '{b['receive']}'; carries {b['carries']}{every}")
    for k in d["kept"]:
        lines.append(f"kept in ha: {_ref_text(k)} ({', '.join(k['rules'])}): {k['why']}")
    for x in d["context"]:
        where = f"{x['scope']} context '{x['key']}'" + (f" (tab {x['tab']})" if x["tab"] else "")
        lines.append(f"context: {where}: owner {x['owner']}: {x['advice']}")
    for note in d["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def _ref_text(r: dict) -> str:
    name = f" '{r['name']}'" if r.get("name") else f" {r['id']}"
    return f"{r['type']}{name}"
