"""Duplicated work: a source that every copy runs, whose messages reach an effect that acts on
the world. HA101, HA102, HA107, HA111, HA112, HA130 and HA131 declare this in their YAML
(`match: reaches:`); HA110 asks it from its own check. This module answers the question for
one node, and words it.

A source whose messages reach only displays, debug nodes or per-copy state is not reported:
every copy must see those messages, and sharing the source would break what it feeds.
Where a rule tells the user to share the source (`splits: true`), the finding also names
the per-copy state and broadcasts downstream, which would each see only part of the
messages once it is shared: the user sees the whole change at once, and `hacheck fix`
knows the change is not safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from hacheck.model.findings import Hit, Related
from hacheck.model.flow import Node
from hacheck.analysis.paths import step_name

_HEAD, _TAIL = 3, 3  # steps of a long path shown at each end
MAX_SPLITS = 3  # state nodes named in the message (all of them are related locations)


@dataclass(frozen=True, slots=True)
class Reached:
    effects: tuple[tuple[str, tuple[str, ...]], ...]  # (effect node id, path of node ids), nearest first
    splits: tuple[tuple[str, str], ...] = ()  # (state node id, what it keeps), nearest first


def outbound(ctx, node: Node, ignore: tuple[str, ...] = ()) -> Reached | None:
    """The nearest effects acting on the world that `node`'s messages reach, or None."""
    eff = ctx.effects
    if len(ignore) > 1:
        # the search shared with the rules that ignore less (a whole search per set of ignored
        # classes costs a pass over the graph), less the effects of the classes ignored here;
        # where that leaves nothing, this rule's own search decides
        classes = eff.outbound_classes()
        found = [(t, p) for t, p in eff.nearest(eff.outbound(ignore[:1]), node) if classes.get(t) not in ignore]
        if not found:
            found = eff.nearest(eff.outbound(ignore), node)
    else:
        found = eff.nearest(eff.outbound(ignore), node)
    src = eff.roles(node).source
    if src is not None and not src.acts:
        # its effect is what an input makes it do (a KNX node writes what it is sent, not the
        # telegrams it hears): its own events do not reach it
        found = [(t, p) for t, p in found if not (t == node.id and len(p) == 1)]
    if found:
        # a query database reached from a node that sets a read-only query reads on that path
        found = [(t, p) for t, p in found if not (len(p) >= 2 and eff.reads_after(ctx.flow.by_id[t], p[-2]))]
    if found:
        found = _feasible(ctx, node, found)
    if not found:
        return None
    return Reached(tuple((t, tuple(p)) for t, p in found))


def _feasible(ctx, node: Node, found: list) -> list:
    """The effects found, less those whose every path crosses a switch output that none of
    this node's own messages can take (analysis/topics.py; the graph already drops the
    outputs that no message of any source can take)."""
    from hacheck.analysis.graph import base_id
    from hacheck.analysis.topics import narrows, reach_of_source, tested_switches

    g = ctx.graph
    switches = tested_switches(g)
    if not switches:
        return found
    ids = {base_id(v) for vs in switches.values() for v in vs}
    if not any(step in ids for _, path in found for step in path):
        return found
    starts = tuple(g.vertices_of.get(node.id, ()))
    if not narrows(g, starts):
        return found
    reach = reach_of_source(g, starts)
    return [(t, p) for t, p in found if any(v in reach for v in g.vertices_of.get(t, ()))]


def with_splits(ctx, node: Node, reached: Reached) -> Reached:
    """`reached` with the per-copy state that sharing `node` would split."""
    eff = ctx.effects
    state = per_copy_state(ctx)
    # the nearest state per vertex: enough to name what splits first, at a third of the work
    # of keeping three (the search runs over every vertex upstream of any state)
    reach = eff.reaching("state", state, 1)
    found = eff.nearest(reach, node)
    splits = tuple((t, _what(state[t])) for t, _ in found if t != node.id)
    return Reached(reached.effects, splits)


def _what(kept) -> str:
    from hacheck.engine.checks.context_state import keys_text

    return kept if isinstance(kept, str) else "writes " + keys_text(kept)


def per_copy_state(ctx) -> dict[str, object]:
    """Node id -> what it keeps (words, or the context writes `_what` words only for the few
    it names), for every running node that keeps state in the copy's memory
    or sends to the copy's own clients: stateful nodes (from the catalogue), context written
    in a per-copy store while handling messages (and read somewhere), WebSocket/TCP broadcasts
    to this copy's clients."""
    got = ctx.shared.get("per_copy_state")
    if got is not None:
        return got
    from hacheck.engine.checks.context_state import context_index, default_store, never_read, store_kind

    eff, flow = ctx.effects, ctx.flow
    out: dict[str, object] = {}
    for t in flow.by_type:
        entry = eff.catalogue.get(t)
        if entry is None or not any(e["kind"] == "state" or e.get("class") == "broadcast" for e in entry.get("effect", ())):
            continue  # only the catalogue's stateful and broadcasting types are looked at
        for n in flow.by_type[t]:
            if n.is_config or n.id not in flow.running:
                continue
            e = eff.roles(n).effect
            if e is not None and (e.kind == "state" or (e.kind == "view" and e.cls == "broadcast")):
                out[n.id] = e.what or n.type
    idx = context_index(ctx)
    default = default_store(ctx)
    for nid, accs in idx.by_node.items():
        writes = [a for a in accs if a.writes and a.field not in ("initialize", "finalize") and store_kind(ctx, a.store, default) in ("local", "unknown")]
        if writes and nid not in out and not never_read(ctx, idx, writes):
            out[nid] = writes
    ctx.shared["per_copy_state"] = out
    return out


# --- words -------------------------------------------------------------------------------------


def path_text(flow, ids: tuple[str, ...]) -> str:
    """"mqtt in 'cmd' -> function 'map' -> mqtt out 'lamp'"; long paths keep both ends."""
    names = [step_name(flow, i) for i in ids]
    if len(names) > _HEAD + _TAIL + 1:
        names = names[:_HEAD] + [f"({len(names) - _HEAD - _TAIL} more)"] + names[-_TAIL:]
    return " -> ".join(names)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def effects_text(ctx, reached: Reached) -> str:
    return _join([ctx.effects.what(t) for t, _ in reached.effects])


def splits_text(ctx, reached: Reached) -> str:
    if not reached.splits:
        return ""
    flow = ctx.flow
    shown = [f"{step_name(flow, t)} ({what})" for t, what in reached.splits[:MAX_SPLITS]]
    return (
        f" Once shared, each copy gets only part of the messages, so the state it feeds would split"
        f" between the copies, starting with {_join(shown)}; keep a plain subscription for what"
        f" every copy must see."
    )


def hit(ctx, node: Node, reached: Reached, args: dict | None = None, path: str | None = None, js_line: int | None = None) -> Hit:
    """The finding on `node`: the effects reached (message args `effects`, `path`, `splits`),
    each effect and each step of the nearest path as related locations."""
    flow, eff = ctx.flow, ctx.effects
    first = reached.effects[0][1]
    related: list[Related] = []
    seen = {node.id}
    for t, p in reached.effects:
        if t not in seen:
            seen.add(t)
            related.append(_related(flow, t, f"reached: {eff.what(t)}, once per copy ({path_text(flow, p)})"))
    for i, nid in enumerate(first[1:-1], 1):
        if nid not in seen:
            seen.add(nid)
            related.append(_related(flow, nid, f"step {i} on the way to {step_name(flow, first[-1])}"))
    for t, what in reached.splits:
        if t not in seen:
            seen.add(t)
            related.append(_related(flow, t, f"would split once the source is shared: {what}"))
    more = len({t for t, _ in reached.effects}) - 1
    full = {
        "effects": effects_text(ctx, reached),
        # for the headline: the first effect, and how many others
        "effect": eff.act(reached.effects[0][0]),
        "more": f" (+{more} more)" if more > 0 else "",
        "path": path_text(flow, first),
        "splits": splits_text(ctx, reached),
        **(args or {}),
    }
    unsafe = ""
    if reached.splits:
        unsafe = "sharing it would split " + _join([step_name(flow, t) for t, _ in reached.splits[:MAX_SPLITS]]) + " between the copies"
    return Hit(node.id, args=full, path=path, js_line=js_line, related=tuple(related),
               effect_paths=tuple(p for _, p in reached.effects), fix_unsafe=unsafe)


def _related(flow, nid: str, message: str) -> Related:
    n = flow.by_id.get(nid)
    if n is None:
        return Related(nid, message)
    return Related(nid, message, n.type, n.name or None, n.line, n.z)


def reaches_hit(ctx, rule, node: Node) -> Hit | None:
    """A declarative rule's `reaches:`: a Hit when the node reaches the effects it names."""
    from hacheck.engine.checks.host import exclusive

    if exclusive(ctx, node):
        return None  # one copy holds the session at a time: nothing runs twice (HA108's)
    spec = rule.match.get("reaches") or {}
    reached = outbound(ctx, node, tuple(spec.get("ignore", ())))
    if reached is None:
        return None
    if spec.get("splits"):
        reached = with_splits(ctx, node, reached)
    src = ctx.effects.roles(node).source
    return hit(ctx, node, reached, {"source": src.what if src is not None and src.what else "runs"})
