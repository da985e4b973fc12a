"""HC001-HC004: the file itself and the references between its nodes."""

from __future__ import annotations

from collections.abc import Iterator

from hacheck.model.findings import Hit


def _problems(ctx, rule_id: str) -> Iterator[Hit]:
    for p in ctx.flow.problems:
        if p.rule == rule_id:
            yield Hit(p.node_id, args={"problem": p.message, "_line": p.line}, detail=p.message)


def unreadable_flow(ctx, rule) -> Iterator[Hit]:
    yield from _problems(ctx, "HC001")


def not_a_flow(ctx, rule) -> Iterator[Hit]:
    yield from _problems(ctx, "HC002")


def duplicate_node_id(ctx, rule) -> Iterator[Hit]:
    flow = ctx.flow
    seen: dict[str, int] = {}
    for dup in flow.duplicates:
        first = flow.by_id[dup.id]
        seen[dup.id] = seen.get(dup.id, 0) + 1
        yield Hit(
            dup.id,
            args={"first_line": first.line or "?", "dup_line": dup.line or "?", "dup_type": dup.type},
            # not the position in the file: a baseline entry must survive moving nodes around
            detail=f"{dup.type}#{seen[dup.id]}",
        )


def dangling_reference(ctx, rule) -> Iterator[Hit]:
    flow = ctx.flow
    ids = flow.by_id
    missing_z: dict[str, list] = {}
    special = _SPECIAL_TYPES
    for n in ids.values():
        z = n.z
        if z and z not in ids:
            missing_z.setdefault(z, []).append(n)
        g = n.g
        if g and g not in ids:
            yield _dangling(n, "g", g, "group")
        wires = n.raw.get("wires")
        if wires.__class__ is list:  # Node.wires inlined: this loop runs once per node
            for port, targets in enumerate(wires):
                if targets.__class__ is list:
                    for t in targets:
                        if t.__class__ is str and t not in ids:
                            yield _dangling(n, f"wires[{port}]", t, "node")
        ntype = n.type
        if ntype not in special and not ntype.startswith("subflow:"):
            continue  # the checks below are for a few types only
        if ntype in ("link in", "link out", "link call"):
            links = n.raw.get("links")
            for t in links if isinstance(links, list) else ():
                if isinstance(t, str) and t not in ids:
                    yield _dangling(n, "links", t, "link node")
        if ntype.startswith("subflow:") and ntype[8:] not in flow.subflows:
            yield _dangling(n, "type", ntype[8:], "subflow definition")
        if ntype == "group":
            members = n.raw.get("nodes")
            for t in members if isinstance(members, list) else ():
                if isinstance(t, str) and t not in ids:
                    yield _dangling(n, "nodes", t, "group member")
        for f in _config_fields(n):
            v = n.raw.get(f)
            if isinstance(v, str) and v and v not in ids:
                yield _dangling(n, f, v, "config node")
    # a partial export leaves every node pointing at a tab that is not there: say it once per tab
    for z, nodes in missing_z.items():
        more = f" (and {len(nodes) - 1} more nodes on it)" if len(nodes) > 1 else ""
        # the lowest id, not the first in the file, so the finding stays put when nodes move
        yield _dangling(min(nodes, key=lambda n: n.id), "z", z, "tab or subflow" + more)


# Config-node properties of core and common nodes: a missing target there means the node
# cannot start (e.g. an mqtt in without its broker).
_CONFIG_FIELDS = {
    "mqtt in": ("broker",),
    "mqtt out": ("broker",),
    "mqtt-broker": ("tls",),
    "websocket in": ("server", "client"),
    "websocket out": ("server", "client"),
    "http request": ("tls",),
    "tcp request": ("tls",),
    "serial in": ("serial",),
    "serial out": ("serial",),
    "serial request": ("serial",),
    "kafkajs-consumer": ("client",),
    "kafkajs-producer": ("client",),
    "amqp-in": ("broker",),
    "amqp-out": ("broker",),
    "modbus-read": ("server",),
}


_SPECIAL_TYPES = frozenset({"link in", "link out", "link call", "group", *_CONFIG_FIELDS})


def _config_fields(n) -> tuple[str, ...]:
    return _CONFIG_FIELDS.get(n.type, ())


def _dangling(n, field: str, target: str, kind: str) -> Hit:
    return Hit(n.id, args={"field": field, "target": target, "kind": kind}, path=f"/{field}", detail=f"{field}={target}")
