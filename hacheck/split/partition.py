"""Cut a flow into an HA part (several copies) and a singleton part (one copy).

The partition is decided on the message graph from the findings of the rules about several
copies (docs/split.md): the node a finding names must run once or on one host, so it moves to
the singleton, with every node downstream that only moved nodes reach. A node the HA part also
reaches stays in HA and gets the moved path over a bridge; a request/response pair never crosses
one, nor a link call unless it can become a project link call (else the group that would make
them cross stays, and the report says why). Then the HA part is checked again, and what the
split itself gave a finding moves too (`split_checked`).

Nodes keep their ids, fields and order; only the wires that cross a bridge change, bridges are
added at the end of each part, and credentials are never written.
"""

from __future__ import annotations

import json
import re
from collections import deque

from hacheck.analysis.graph import FlowGraph, SEP
from hacheck.engine.directives import INSTANCE_KEYWORD
from hacheck.model.flow import FlowFile, Node
from hacheck.split.bridges import BRIDGES, BROKER_ID, broker_node, call_bridges, is_link, wire_bridges
from hacheck.split.context import context_report
from hacheck.split.parts import Broker, Group, HA, Kept, PARTS, SINGLE, Split, SplitError, new_id


MARKER_LINE = f"{INSTANCE_KEYWORD}: singleton"


# Findings on config nodes (a broker's client id or birth message) are not moved: the config
# goes with the nodes that use it, and the singleton marker judges its copy
FAMILY = {
    **dict.fromkeys(("HA101", "HA105", "HA107", "HA109", "HA110", "HA111", "HA112"), "runs in every copy and what it does would be done once per copy"),
    "HA140": "a dashboard needs one copy (its socket and widget state live in one process)",
    **dict.fromkeys(("HA120", "HA122"), "needs one host (a listener or hardware of its own)"),
    **dict.fromkeys(("HA201", "HA202", "HA203", "HA204", "HA205"), "keeps state that load-balanced messages would split between the copies"),
}


MOVING_RULES = frozenset(FAMILY)


_WATCHERS = ("catch", "status", "complete")


_STRUCTURE = frozenset({"tab", "subflow", "group"})


class _Partition:
    """Which part each top-level flow node goes to, and why."""

    def __init__(self, flow: FlowFile, findings, bridge: str, after=()):
        self.flow = flow
        self.bridge = bridge
        self.graph = FlowGraph(flow)
        by_id = flow.by_id
        self.top = [n.id for n in flow.nodes if self._is_top(n)]
        self.top_set = set(self.top)
        self.succ: dict[str, set[str]] = {v: set() for v in self.top_set}
        self.calls: list[tuple[str, str]] = []  # (link call, link in) and (return link out, link call)
        self.call_targets: dict[str, set[str]] = {}  # link call -> its link ins
        self.call_returns: dict[str, set[str]] = {}  # link call -> the return link outs that answer it
        self.returns_to: dict[str, set[str]] = {}  # return link out -> the link calls it answers
        for u, nbrs in self.graph.succ.items():
            tu = u.split(SEP, 1)[0]
            for v, attrs in nbrs.items():
                tv = v.split(SEP, 1)[0]
                if tu == tv or tu not in self.top_set or tv not in self.top_set:
                    continue
                self.succ[tu].add(tv)
                if any(a.get("kind") in ("link-call", "return") for a in attrs):
                    self.calls.append((tu, tv))
                if any(a.get("kind") == "link-call" for a in attrs):
                    self.call_targets.setdefault(tu, set()).add(tv)
                if any(a.get("kind") == "return" for a in attrs):
                    self.call_returns.setdefault(tv, set()).add(tu)
                    self.returns_to.setdefault(tu, set()).add(tv)
        self.pred: dict[str, set[str]] = {v: set() for v in self.top_set}
        for u, vs in self.succ.items():
            for v in vs:
                self.pred[v].add(u)
        # the seeds: each finding's node, as the top-level node that runs it
        self.seeds: dict[str, set[str]] = {}
        self.resolves: dict[str, list[dict]] = {}  # top-level node -> findings it carries
        for f in findings:
            if f.rule_id not in MOVING_RULES or f.suppressed is not None or f.node_id not in by_id:
                continue
            n = by_id[f.node_id]
            # HA140 names the tab once for all its widgets, each in `related`
            named = [by_id[r.node_id] for r in f.related if r.node_id in by_id] if f.rule_id == "HA140" and f.related else [n]
            for t in (t for m in named if not m.is_config for t in self._tops_of(m)):
                self.seeds.setdefault(t, set()).add(f.rule_id)
                self.resolves.setdefault(t, []).append({"rule": f.rule_id, "node": f.node_id})
        # found on the HA part of an earlier round: what would feed the moved nodes from every
        # copy, or state the bridge's load-balanced messages would split
        self.after: dict[str, set[str]] = {}
        for rule_id, node_id in after:
            n = by_id.get(node_id)
            if n is None or n.is_config:
                continue
            for t in self._tops_of(n):
                self.seeds.setdefault(t, set()).add(rule_id)
                self.after.setdefault(t, set()).add(rule_id)
        self._anchored: set[str] | None = None
        self.http_pairs = self._on_request_paths()

    def _is_top(self, n: Node) -> bool:
        if n.is_config or n.type in _STRUCTURE:
            return False
        c = self.flow.by_id.get(n.z) if n.z else None
        return c is None or c.type != "subflow"

    def _tops_of(self, n: Node, seen: frozenset = frozenset()) -> list[str]:
        """The top-level nodes that run `n`: itself, or the instances of the subflow it is in."""
        if n.id in self.top_set:
            return [n.id]
        c = self.flow.by_id.get(n.z) if n.z else None
        if c is None or c.type != "subflow" or c.id in seen:
            return []
        out = []
        for inst in self.flow.instances.get(c.id, ()):
            out.extend(self._tops_of(inst, seen | {c.id}))
        return out

    def _walk(self, starts, adj, blocked=frozenset()) -> set[str]:
        seen = set(starts)
        queue = deque(starts)
        while queue:
            u = queue.popleft()
            for v in adj.get(u, ()):
                if v not in seen and v not in blocked:
                    seen.add(v)
                    queue.append(v)
        return seen

    def _on_request_paths(self) -> set[str]:
        """Nodes between an `http in` and an `http response`: the request and response objects
        live in one process, so the pair never crosses a bridge."""
        by_id = self.flow.by_id
        ins = [i for i in self.top if by_id[i].type == "http in" or (by_id[i].type == "websocket in" and self._listener(by_id[i]))]
        outs = [i for i in self.top if by_id[i].type == "http response" or (by_id[i].type == "websocket out" and self._listener(by_id[i]))]
        if not ins or not outs:
            return set()
        return self._walk(ins, self.succ) & self._walk(outs, self.pred)

    def _listener(self, n: Node) -> bool:
        """A websocket node on a listener: a reply to a client goes out of the process it
        connected to (msg._session), as an http response does."""
        cfg = self.flow.by_id.get(n.get("server")) if isinstance(n.get("server"), str) else None
        return cfg is not None and cfg.type == "websocket-listener"

    def _idle(self, nid: str) -> bool:
        """A node nothing feeds that sends only when clicked in the editor (a manual inject)."""
        n = self.flow.by_id[nid]
        if self.pred[nid]:
            return False
        if n.type == "inject":
            return not (n.get("repeat") or n.get("crontab") or n.get("once") in (True, "true"))
        return n.type in ("comment",) or not any(n.wires)

    def solve(self) -> tuple[dict[str, str], list[Group], list[Kept]]:
        running = self.flow.running
        kept: dict[str, Kept] = {}
        for s, rules in self.seeds.items():
            if s in self.http_pairs:
                kept[s] = Kept(s, sorted(rules), "it is between an http in (or websocket in) and its http response (or websocket out): the request and its reply live in one process and cannot cross a bridge")
        # nodes that go with the moved ones without a finding of their own: the catch/status/
        # complete that watch only moved nodes, a subroutine's link ins (project links)
        extra: set[str] = set()
        banned: set[str] = set()
        for _ in range(200):
            seeds = {s for s in self.seeds if s not in kept and s in running}
            moved = seeds | extra
            single = self._single(moved)
            more = (self._watchers(single) | self._call_entries(single)) - extra - banned
            if more:
                extra |= more
                continue
            bad, loose = self._violations(single, seeds)
            if bad:
                for s, why in bad.items():
                    kept[s] = Kept(s, sorted(self.seeds[s]), why)
                extra = set()
                continue
            if loose & extra:  # a crossing only an extra node makes: it stays
                banned |= loose & extra
                extra -= banned
                continue
            break
        home = {nid: (SINGLE if nid in single else HA) for nid in self.top if nid in self.top_set and nid in self.succ and self._placed(nid, single)}
        self._attach(home)
        groups = self._groups(single, moved)
        return home, groups, sorted(kept.values(), key=lambda k: self.flow.by_id[k.node].index)

    def _placed(self, nid: str, single: set[str]) -> bool:
        return nid in single or (nid in self.flow.running and not self._idle(nid))

    def _single(self, moved: set[str]) -> set[str]:
        reach = self._walk(moved, self.succ)
        running = self.flow.running
        starts = [n for n in self.top if n not in reach and n in running and not self._idle(n)]
        ha_reach = self._walk(starts, self.succ, blocked=moved)
        return moved | (reach - ha_reach - (self.anchored - moved))

    @property
    def anchored(self) -> set[str]:
        """Nodes that answer or broadcast to the clients the load balancer sends to the HA
        copies (a websocket out on a listener, an http response of an http in): moved paths
        reach them over a bridge, they never move with them. (An http response no http in
        reaches answers nothing anywhere: it goes with what feeds it.)"""
        if self._anchored is None:
            by_id = self.flow.by_id
            self._anchored = {i for i in self.top if (by_id[i].type == "http response" and i in self.http_pairs)
                              or (by_id[i].type == "websocket out" and self._listener(by_id[i]))}
        return self._anchored

    def _groups_of(self, single: set[str], moved: set[str]) -> dict[str, set[str]]:
        """Seed -> the moved nodes it reaches (within the singleton)."""
        adj = {u: [v for v in vs if v in single] for u, vs in self.succ.items() if u in single}
        return {s: self._walk([s], adj) for s in moved}

    def _violations(self, single: set[str], seeds: set[str]) -> tuple[dict[str, str], set[str]]:
        """Seed -> why its group cannot move; and the nodes of crossings no seed's group makes."""
        bad: dict[str, str] = {}
        loose: set[str] = set()
        reach = self._groups_of(single, seeds)
        for nid in single & self.http_pairs:
            named = [s for s, r in reach.items() if nid in r]
            for s in named:
                bad.setdefault(s, f"the nodes it would take along include {self._label(nid)}, between an http in (or websocket in) and its reply, which cannot cross a bridge")
            if not named:
                loose.add(nid)
        for u, v in self.calls:
            if (u in single) != (v in single):
                call = u if u in self.call_targets else v
                if self.bridge == "project-link" and self.bridgeable_call(call, single):
                    continue
                why = ("the mqtt bridge makes no call that returns; --bridge project-link does" if self.bridge == "mqtt" else
                       "its link ins and return link outs are not all on the other side, or a return link out also answers a call of its own side")
                named = [s for s, r in reach.items() if u in r or v in r]
                for s in named:
                    bad.setdefault(s, f"a link call would cross the bridge ({self._label(u)} -> {self._label(v)}): {why}")
                if not named:
                    loose |= {u, v}
        return bad, loose

    def bridgeable_call(self, call: str, single: set[str]) -> bool:
        """A link call that becomes a `project link call`: its link ins and the link outs that
        return to it are all in the other part, and those answer only calls of this part."""
        here = call in single
        ends = self.call_targets.get(call, set()) | self.call_returns.get(call, set())
        if not ends or any((e in single) == here for e in ends):
            return False
        return all((c in single) == here for r in self.call_returns.get(call, ()) for c in self.returns_to.get(r, ()))

    def _call_entries(self, single: set[str]) -> set[str]:
        """With project links, a subroutine that moved takes its link ins along when they feed
        only moved nodes: the link call then becomes a project link call."""
        if self.bridge != "project-link":
            return set()
        out = set()
        for call, targets in self.call_targets.items():
            rets = self.call_returns.get(call, set())
            if call in single or not rets or not rets <= single:
                continue
            for t in targets:
                nxt = self.succ.get(t, set())
                if t not in single and nxt and nxt <= single:
                    out.add(t)
        return out

    def _scope(self, nid: str) -> list[str]:
        n = self.flow.by_id[nid]
        scope = n.get("scope") if n.type in _WATCHERS else None
        return [t for s in scope if s in self.flow.by_id for t in self._tops_of(self.flow.by_id[s])] if isinstance(scope, list) else []

    def _watchers(self, single: set[str]) -> set[str]:
        """catch/status/complete nodes that watch only moved nodes go with them."""
        out = set()
        by_id = self.flow.by_id
        for nid in self.top:
            n = by_id[nid]
            if n.type not in _WATCHERS or nid in single or nid not in self.flow.running:
                continue
            scope = n.get("scope")
            if isinstance(scope, list) and scope:
                watched = [t for s in scope if s in by_id for t in self._tops_of(by_id[s])]
            else:
                watched = [c.id for c in self.flow.children.get(n.z or "", ()) if c.id in self.top_set and by_id[c.id].type not in _WATCHERS and c.id in self.flow.running]
            if watched and all(w in single for w in watched):
                out.add(nid)
        return out

    def _attach(self, home: dict[str, str]) -> None:
        """Nodes that never run on their own (manual injects, disabled nodes, comments) go with
        the nodes they are wired to, else with their tab."""
        by_id = self.flow.by_id
        left = [nid for nid in self.top if nid not in home]
        nbrs: dict[str, set[str]] = {nid: set() for nid in self.top}
        for nid in self.top:
            for port in by_id[nid].wires:
                for t in port:
                    if t in nbrs and t != nid:
                        nbrs[nid].add(t)
                        nbrs[t].add(nid)
        progress = True
        while left and progress:
            progress = False
            rest = []
            for nid in left:
                placed = [home[m] for m in nbrs[nid] if m in home]
                if placed:
                    home[nid] = SINGLE if all(p == SINGLE for p in placed) else HA
                    progress = True
                else:
                    rest.append(nid)
            left = rest
        for nid in left:
            tab_parts = {home[c.id] for c in self.flow.children.get(by_id[nid].z or "", ()) if c.id in home}
            home[nid] = SINGLE if tab_parts == {SINGLE} else HA

    def _groups(self, single: set[str], moved: set[str]) -> list[Group]:
        reach = self._groups_of(single, moved)
        seeds = [s for s in self.top if s in moved and s in self.seeds]
        parent = {s: s for s in seeds}

        def find(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        owner: dict[str, str] = {}
        for s in seeds:
            for nid in reach[s]:
                o = owner.setdefault(nid, s)
                if o != s:
                    parent[find(s)] = find(o)
        members: dict[str, list[str]] = {}
        for s in seeds:
            members.setdefault(find(s), []).append(s)
        order = {nid: i for i, nid in enumerate(self.top)}
        groups = []
        for root, ss in members.items():
            nodes = sorted(set().union(*(reach[s] for s in ss)), key=order.__getitem__)
            resolves = [r for s in ss for r in self.resolves.get(s, ())]
            after = {s: sorted(self.after[s]) for s in ss if s in self.after}
            groups.append(Group(ss, nodes, {s: sorted(self.seeds[s]) for s in ss}, resolves, after=after))
        # nodes moved without a finding (a watcher, a subroutine's link in): with the group
        # they feed or watch, else reported under no seed
        group_of = {nid: g for g in groups for nid in g.nodes}
        rest = []
        for n in self.top:
            if n not in single or n in group_of:
                continue
            near = self.succ.get(n, set()) | set(self._scope(n))
            home_g = next((group_of[m] for m in sorted(near, key=order.__getitem__) if m in group_of), None)
            if home_g is not None:
                home_g.nodes = sorted({*home_g.nodes, n}, key=order.__getitem__)
                group_of[n] = home_g
            else:
                rest.append(n)
        if rest:
            groups.append(Group([], rest, {}, []))
        groups.sort(key=lambda g: order[g.nodes[0]] if g.nodes else 0)
        return groups

    def _label(self, nid: str) -> str:
        n = self.flow.by_id[nid]
        return f"{n.type} '{n.name}'" if n.name else f"{n.type} {nid}"


def split_checked(flow: FlowFile, check, bridge: str = "project-link", broker: Broker | None = None, rounds: int = 8) -> Split:
    """`split_flow`, then the HA part checked with the same rules: a node there that the split
    gave a finding of the moving rules (a timer that fed a dashboard now feeds a bridge, once
    per copy; a `join` now fed by a bridge's shared subscription) moves too, round after round
    until the HA part has none but those that cannot move. `check(flow)` gives the findings."""
    from hacheck.load.loader import parse_bytes

    findings = check(flow)
    seen = {(f.rule_id, f.node_id) for f in findings}
    after: list[tuple[str, str]] = []
    every: set[str] = set()
    never: set[str] = set()
    for i in range(1, rounds + 1):
        s = split_flow(flow, findings, bridge, broker, after, every)
        s.rounds = i
        # compact and ASCII (the C encoder; lone surrogates escaped): read, never shown
        ha = parse_bytes(flow.path, json.dumps(s.parts[HA], separators=(",", ":")).encode("ascii"))
        receivers = {nid: b.id for b in s.bridges if b.direction == "singleton-to-ha" for nid in b.nodes[HA][:1]}
        every_rx = {nid: bid for nid, bid in receivers.items() if bid in every}
        new, more = [], set()
        for f in check(ha):
            key = (f.rule_id, f.node_id)
            if f.suppressed is not None or key in seen:
                continue
            if f.rule_id == "HA101" and f.node_id in every_rx:
                # the broadcast's messages also reach actions: one copy must do those
                never.add(every_rx[f.node_id])
                more.add(None)
            elif f.rule_id == "HA121":
                # a broadcast to each copy's own WebSocket clients: every copy must get it
                more |= {receivers[p[0]] for p in f.paths if p and p[0] in receivers} - every - never
            elif f.rule_id in MOVING_RULES and f.node_id in flow.by_id:
                seen.add(key)
                new.append(key)
        if not new and not more:
            break
        after.extend(new)
        every = (every | more) - never - {None}
    for bid in sorted(never):
        s.notes.append(f"bridge {bid}: its messages reach both a broadcast to each HA copy's own WebSocket clients and actions that must run once: "
                       "one copy receives them, so only that copy's clients see the broadcast (HA121 on the HA part)")
    return s


def split_flow(flow: FlowFile, findings, bridge: str = "project-link", broker: Broker | None = None, after=(), every=frozenset()) -> Split:
    """`every`: ids of bridges to the HA part whose messages every copy must receive."""
    if bridge not in BRIDGES:
        raise SplitError(f"unknown bridge {bridge!r}; choose from {', '.join(BRIDGES)}")
    if bridge == "mqtt" and broker is None:
        raise SplitError("--bridge mqtt needs --broker mqtt://host:port")
    if flow.duplicates:
        raise SplitError(f"{flow.path}: cannot split: node ids are not unique ({', '.join(sorted({getattr(d, 'id', str(d)) for d in flow.duplicates})[:3])}): fix HC003 first")
    p = _Partition(flow, findings, bridge, after)
    home_top, groups, kept = p.solve()
    by_id = flow.by_id
    # a copy of each node's own dict: the split replaces values (wires, links), never changes
    # one inside, so the input's nested values are shared, not copied (a deep copy was 1.6 s of 10k nodes)
    raw = {n.id: dict(n.raw) for n in flow.nodes}
    changed: dict[str, set[str]] = {HA: set(), SINGLE: set()}
    bridges = wire_bridges(flow, p, home_top, raw, bridge, changed, every)
    bridges += call_bridges(flow, p, home_top, raw, changed)
    home = _homes(flow, home_top, raw)
    notes: list[str] = []
    _unique_client_ids(flow, home, raw, changed, notes)
    parts: dict[str, list[dict]] = {HA: [], SINGLE: []}
    credentials = [n.id for n in flow.nodes if "credentials" in n.raw]
    for n in flow.nodes:
        for part in PARTS:
            if part not in home.get(n.id, ()):
                continue
            node = raw[n.id] if part == HA or not isinstance(raw.get((SINGLE, n.id)), dict) else raw[(SINGLE, n.id)]
            node = {k: v for k, v in node.items() if k != "credentials"}
            node = _for_part(node, n, part, home, by_id, changed)
            parts[part].append(node)
    for b in bridges:
        for part, nodes in b.nodes.items():
            parts[part].extend(raw[("new", nid)] for nid in nodes if ("new", nid) in raw)  # not the nodes a call bridge converted
    if bridge == "mqtt":
        bid = BROKER_ID
        for part in PARTS:
            if any(b.nodes.get(part) for b in bridges):
                parts[part].append(broker_node(bid, broker))
                home.setdefault(bid, set()).add(part)
    if parts[SINGLE]:
        _mark_singleton(parts[SINGLE], changed)
    if credentials:
        notes.append(f"credentials of {len(credentials)} node(s) are not written ({', '.join(credentials[:5])}{', ...' if len(credentials) > 5 else ''}): set them again in each instance (Node-RED keeps them in flows_cred.json)")
    bridges_at: dict[str, list[str]] = {}
    for b in bridges:
        for nid in dict.fromkeys([b.source, *b.targets]):
            bridges_at.setdefault(nid, []).append(b.id)
    for g in groups:
        g.bridges = list(dict.fromkeys(bid for nid in g.nodes for bid in bridges_at.get(nid, ())))
    ctx = context_report(flow, home)
    return Split(parts, home, groups, bridges, kept, ctx, notes, {k: sorted(v) for k, v in changed.items()})


def _homes(flow: FlowFile, home_top: dict[str, str], raw) -> dict[str, set[str]]:
    """Each original node's parts: flow nodes as placed; subflow definitions (and their
    nodes) and config nodes in each part whose nodes use them; tabs and groups where their
    nodes are."""
    by_id = flow.by_id
    home: dict[str, set[str]] = {nid: {p} for nid, p in home_top.items()}
    subflow_ids = set(flow.subflows)
    config_ids = flow.config_ids

    def refs(nid: str):
        n = raw.get(nid)
        if n is None:
            return
        t = n.get("type")
        if isinstance(t, str) and t.startswith("subflow:") and t[8:] in subflow_ids:
            yield t[8:]
        if nid in subflow_ids:
            for c in flow.children.get(nid, ()):
                yield c.id
        for k, v in n.items():
            if k in ("id", "z", "wires", "g", "links", "type"):
                continue
            if isinstance(v, str):
                if v in config_ids and v != nid:
                    yield v
            elif isinstance(v, list):
                for item in v:
                    if isinstance(item, str) and item in config_ids and item != nid:
                        yield item

    for part in PARTS:
        stack = [nid for nid, ps in home.items() if part in ps]
        seen = set(stack)
        while stack:
            u = stack.pop()
            for v in refs(u):
                if v not in seen:
                    seen.add(v)
                    home.setdefault(v, set()).add(part)
                    stack.append(v)
    single_used = any(SINGLE in ps for ps in home.values())
    for n in flow.nodes:
        if n.id in home or n.type in ("tab", "group"):
            continue
        if n.type == "global-config":
            home[n.id] = set(PARTS) if single_used else {HA}
        elif n.is_config and n.type.startswith(("ui_", "ui-")) and single_used:
            home[n.id] = {SINGLE}  # an unused dashboard config is the dashboard's: one copy
        else:
            home[n.id] = {HA}
    # a config node or a subflow's node on a tab needs its tab; groups where their members are
    for n in flow.nodes:
        if n.type == "group":
            continue
        z = n.z
        if z in by_id and by_id[z].type == "tab":
            home.setdefault(z, set()).update(home.get(n.id, ()))
    groups = [n for n in flow.nodes if n.type == "group"]
    for _ in range(4):  # nested groups: a group is a member of its parent group
        for g in groups:
            members = [m for m in (g.get("nodes") or ()) if isinstance(m, str)]
            ps = set().union(*(home.get(m, set()) for m in members)) if members else set()
            home[g.id] = ps or home.get(g.id) or {HA}
    for t in flow.tabs:
        home.setdefault(t, {HA})
        if not home[t]:
            home[t] = {HA}
    return home


def _for_part(node: dict, n: Node, part: str, home, by_id, changed) -> dict:
    """A group lists only its members in this part; a link lists only the links of this part."""
    if n.type == "group" and isinstance(node.get("nodes"), list):
        kept = [m for m in node["nodes"] if not isinstance(m, str) or part in home.get(m, {part})]
        if kept != node["nodes"]:
            node = {**node, "nodes": kept}
            changed[part].add(n.id)
    if n.type in _WATCHERS and isinstance(node.get("scope"), list):
        kept = [m for m in node["scope"] if not isinstance(m, str) or part in home.get(m, {part})]
        if kept != node["scope"]:
            node = {**node, "scope": kept}
            changed[part].add(n.id)
    if n.type in ("link in", "link out", "link call") and isinstance(node.get("links"), list):
        kept = [m for m in node["links"] if not isinstance(m, str) or m not in by_id or part in home.get(m, ())
                or not is_link(by_id.get(m))]
        if kept != node["links"]:
            node = {**node, "links": kept}
            changed[part].add(n.id)
    return node


def _unique_client_ids(flow: FlowFile, home, raw, changed, notes: list[str]) -> None:
    """A broker config in both parts with a fixed client id: the singleton's copy gets its own
    id, or the broker would drop one connection each time the other connects."""
    for n in flow.by_type.get("mqtt-broker", ()):
        cid = n.get("clientid")
        if home.get(n.id) == set(PARTS) and isinstance(cid, str) and cid.strip():
            new = f"{cid}-singleton"
            raw[(SINGLE, n.id)] = {**raw[n.id], "clientid": new}
            changed[SINGLE].add(n.id)
            notes.append(f"mqtt-broker '{n.name or n.id}' is in both parts with the fixed client id '{cid}': the singleton's copy uses '{new}'")


def _mark_singleton(nodes: list[dict], changed) -> None:
    """The marker in each tab's Description; nodes on a tab the file does not hold (an export
    of some nodes) get a comment node there carrying it."""
    holders = {n.get("id") for n in nodes if n.get("type") in ("tab", "subflow")}
    loose = []
    for n in nodes:
        z = n.get("z")
        if isinstance(z, str) and z and z not in holders and z not in loose:
            loose.append(z)
    for z in loose:
        nodes.append({"id": new_id("hacheck-split-marker", z), "type": "comment", "z": z, "name": "hacheck split: the singleton instance",
                      "info": MARKER_LINE, "x": 160, "y": 20, "wires": []})
    for i, node in enumerate(nodes):
        if node.get("type") != "tab":
            continue
        info = node.get("info")
        info = info if isinstance(info, str) else ""
        if re.search(rf"(?m)^[ \t]*`?{INSTANCE_KEYWORD}:\s*singleton", info):
            continue
        nodes[i] = {**node, "info": (info.rstrip("\n") + "\n\n" if info.strip() else "") + MARKER_LINE}
        changed[SINGLE].add(node["id"])
