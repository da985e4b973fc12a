"""`hacheck split`: cut a flow into an HA part (several copies) and a singleton part (one copy).

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

import hashlib
import json
import re
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hacheck.analysis.graph import SEP, FlowGraph
from hacheck.engine.directives import INSTANCE_KEYWORD
from hacheck.model.flow import FlowFile, Node

HA, SINGLE = "ha", "singleton"
PARTS = (HA, SINGLE)
BRIDGES = ("project-link", "mqtt")
TOPIC_PREFIX = "hacheck/split/"
SHARE_GROUP = "hacheck"
MARKER_LINE = f"{INSTANCE_KEYWORD}: singleton"
BROKER_ID = hashlib.sha1(b"hacheck-split-broker").hexdigest()[:16]

# Findings on config nodes (a broker's client id or birth message) are not moved: the config
# goes with the nodes that use it, and the singleton marker judges its copy
_FAMILY = {
    **dict.fromkeys(("HA101", "HA105", "HA107", "HA109", "HA110", "HA111", "HA112"), "runs in every copy and what it does would be done once per copy"),
    "HA140": "a dashboard needs one copy (its socket and widget state live in one process)",
    **dict.fromkeys(("HA120", "HA122"), "needs one host (a listener or hardware of its own)"),
    **dict.fromkeys(("HA201", "HA202", "HA203", "HA204", "HA205"), "keeps state that load-balanced messages would split between the copies"),
}
MOVING_RULES = frozenset(_FAMILY)
_WATCHERS = ("catch", "status", "complete")
_STRUCTURE = frozenset({"tab", "subflow", "group"})

# the message as it was, in the payload (mqtt carries payload and topic only); the request and
# response objects of an http in cannot be serialised and never cross (docs/split.md)
WRAP_EXPR = '$sift($$, function($v, $k) {$not($k in ["req", "res", "_msgid", "_linkSource"])})'
UNWRAP_CODE = (
    "// hacheck split: the message as the other part sent it (wrapped in the payload)\n"
    "const sent = msg.payload;\n"
    "if (sent === null || typeof sent !== \"object\" || Array.isArray(sent)) {\n"
    "    return msg;\n"
    "}\n"
    "sent._msgid = msg._msgid;\n"
    "return sent;\n"
)


class SplitError(Exception):
    """The input cannot be split (exit 2, one line)."""


@dataclass
class Broker:
    host: str
    port: int
    tls: bool
    url: str


def parse_broker(url: str) -> Broker:
    """mqtt://host[:port] or mqtts://host[:port]; credentials in the URL are refused (they
    would be written into both parts)."""
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError as e:
        raise SplitError(f"--broker {url!r}: not a broker URL ({e})") from None
    if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not u.hostname:
        raise SplitError(f"--broker {url!r}: expected mqtt://host:port or mqtts://host:port")
    if u.username or u.password:
        raise SplitError("--broker: the URL holds a user or password; give the broker's credentials in the Node-RED instances, never in the flow")
    if u.path not in ("", "/") or u.query:
        raise SplitError(f"--broker {url!r}: a broker URL has no path or query")
    tls = u.scheme in ("mqtts", "ssl")
    return Broker(u.hostname, port or (8883 if tls else 1883), tls, f"{u.scheme}://{u.hostname}:{port or (8883 if tls else 1883)}")


@dataclass
class Bridge:
    id: str
    direction: str  # "singleton-to-ha" | "ha-to-singleton"
    source: str  # node id whose output crosses
    port: int | None  # its output port; None for a link out
    targets: list[str]
    topic: str
    nodes: dict[str, list[str]] = field(default_factory=dict)  # part -> ids of the bridge's nodes
    every_copy: bool = False  # to HA, received by every copy (a broadcast to each copy's clients)
    call: bool = False  # a link call made a project link call: the answer comes back

    @property
    def sender(self) -> str:
        return SINGLE if self.direction == "singleton-to-ha" else HA


@dataclass
class Group:
    seeds: list[str]
    nodes: list[str]
    rules: dict[str, list[str]]  # seed id -> rule ids
    resolves: list[dict]
    after: dict[str, list[str]] = field(default_factory=dict)  # seed id -> rules found after a round
    bridges: list[str] = field(default_factory=list)


@dataclass
class Kept:
    node: str
    rules: list[str]
    why: str


@dataclass
class Split:
    parts: dict[str, list[dict]]
    home: dict[str, set[str]]  # node id -> the parts it is in
    groups: list[Group]
    bridges: list[Bridge]
    kept: list[Kept]
    context: list[dict]
    notes: list[str]
    changed: dict[str, list[str]]  # part -> ids of original nodes whose fields the split changed
    rounds: int = 1


def _nid(*parts: str) -> str:
    """A Node-RED-shaped id (16 hex digits), the same on every run for the same input."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


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
    bridges = _bridges(flow, p, home_top, raw, bridge, changed, every)
    bridges += _call_bridges(flow, p, home_top, raw, changed)
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
                parts[part].append(_broker_node(bid, broker))
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
    ctx = _context_report(flow, home)
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
                or not _is_link(by_id.get(m))]
        if kept != node["links"]:
            node = {**node, "links": kept}
            changed[part].add(n.id)
    return node


def _is_link(n: Node | None) -> bool:
    return n is not None and n.type in ("link in", "link out", "link call")


def _bridges(flow: FlowFile, p: _Partition, home: dict[str, str], raw, kind: str, changed, every=frozenset()) -> list[Bridge]:
    """Each output that crosses between the parts becomes a send in its part and a receive in
    the other: one bridge per output port (or link out), whatever number of nodes it feeds."""
    by_id = flow.by_id
    out: list[Bridge] = []
    for nid in p.top:
        n = by_id[nid]
        here = home[nid]
        running = nid in flow.running
        wires = raw[nid].get("wires")
        if isinstance(wires, list):
            new_wires = []
            for port, targets in enumerate(wires):
                if not isinstance(targets, list):
                    new_wires.append(targets)
                    continue
                there = [t for t in targets if isinstance(t, str) and t in home and home[t] != here]
                if not there:
                    new_wires.append(targets)
                    continue
                stay = [t for t in targets if t not in there]
                if running:
                    b = _make_bridge(flow, kind, n, port, there, here, raw, every)
                    out.append(b)
                    stay.append(b.nodes[here][0])
                changed[here].add(nid)
                new_wires.append(stay)
            raw[nid]["wires"] = new_wires
        if n.type == "link out" and n.get("mode", "link") != "return":
            links = [t for t in (n.get("links") or ()) if isinstance(t, str)]
            there = [t for t in links if t in home and home[t] != here and by_id[t].type == "link in"]
            if there and running:
                targets = [w for t in there for port in by_id[t].wires[:1] for w in port if w in home and home[w] != here]
                # a link in of the sender's own, feeding the bridge: the link out keeps its shape
                b = _make_bridge(flow, kind, n, None, sorted(set(targets), key=lambda i: by_id[i].index), here, raw, every)
                out.append(b)
                inlet = _nid("hacheck-split-link", nid)
                raw[("new", inlet)] = {
                    "id": inlet, "type": "link in", "z": n.z, "name": f"hacheck split: to {_other(here)}",
                    "links": [nid], "x": _num(n.get("x")) + 120, "y": _num(n.get("y")) + 60, "wires": [[b.nodes[here][0]]],
                }
                b.nodes[here].insert(0, inlet)
                raw[nid]["links"] = [t for t in links if t not in there] + [inlet]
                changed[here].add(nid)
    return out


PROJECT_ENV = {HA: "HACHECK_SPLIT_HA_ID", SINGLE: "HACHECK_SPLIT_SINGLETON_ID"}


def _call_bridges(flow: FlowFile, p: _Partition, home: dict[str, str], raw, changed) -> list[Bridge]:
    """A link call whose subroutine moved to the other part becomes a `project link call` (it
    still waits for the answer); the subroutine gets a `project link in` where its link in was
    entered, and its return link outs become `project link out`s in return mode. The call names
    the other instance by an environment variable (PROJECT_ENV) set in its instance settings."""
    by_id = flow.by_id
    single = {nid for nid, part in home.items() if part == SINGLE}
    out = []
    for call in p.top:
        targets = p.call_targets.get(call)
        if not targets or (home[call] == home[next(iter(targets))]) or not p.bridgeable_call(call, single):
            continue
        here = home[call]
        there = _other(here)
        n = by_id[call]
        bid = _nid("hacheck-split-call", call)
        topic = TOPIC_PREFIX + bid
        entries = sorted({w for t in targets for port in by_id[t].wires[:1] for w in port if w in home},
                         key=lambda i: by_id[i].index)
        b = Bridge(bid, f"{here}-to-{there}", call, None, entries, topic, {here: [call], there: []})
        timeout = raw[call].get("timeout")
        node = {k: v for k, v in raw[call].items() if k not in ("links", "linkType")}
        node.update({"type": "project link call", "project": "${" + PROJECT_ENV[there] + "}", "topic": topic,
                     "timeout": str(timeout) if timeout not in (None, "") else "30"})
        raw[call] = node
        changed[here].add(call)
        first = by_id[min(targets, key=lambda t: by_id[t].index)]
        recv = _nid(bid, "receive")
        raw[("new", recv)] = {
            "id": recv, "type": "project link in", "z": first.z, "name": f"hacheck split {bid[:6]}: called from {here}",
            "project": "", "broadcast": False, "topic": topic,
            "x": _num(first.get("x")), "y": _num(first.get("y")) + 60, "wires": [entries],
        }
        b.nodes[there].append(recv)
        for r in sorted(p.call_returns.get(call, ()), key=lambda i: by_id[i].index):
            if raw[r].get("type") == "link out":
                ret = {k: v for k, v in raw[r].items() if k != "links"}
                ret.update({"type": "project link out", "mode": "return", "broadcast": False, "project": "", "topic": ""})
                raw[r] = ret
                changed[there].add(r)
            b.nodes[there].append(r)
        b.call = True
        out.append(b)
    return out


def _other(part: str) -> str:
    return SINGLE if part == HA else HA


def _num(v) -> float:
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else 0


def _make_bridge(flow: FlowFile, kind: str, n: Node, port: int | None, targets: list[str], here: str, raw, every=frozenset()) -> Bridge:
    by_id = flow.by_id
    bid = _nid("hacheck-split", n.id, "link" if port is None else str(port))
    there = _other(here)
    topic = TOPIC_PREFIX + bid
    b = Bridge(bid, f"{here}-to-{there}", n.id, port, list(targets), topic, {here: [], there: []})
    b.every_copy = there == HA and bid in every
    x, y = _num(n.get("x")), _num(n.get("y"))
    first = by_id[targets[0]] if targets else n
    tz = first.z if targets else n.z
    tx, ty = _num(first.get("x")), _num(first.get("y"))
    label = f"hacheck split {bid[:6]}"
    if kind == "mqtt":
        wrap, send, recv, unwrap = (_nid(bid, s) for s in ("wrap", "send", "receive", "unwrap"))
        raw[("new", wrap)] = {
            "id": wrap, "type": "change", "z": n.z, "name": f"{label}: wrap msg",
            "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": WRAP_EXPR, "tot": "jsonata"}],
            "action": "", "property": "", "from": "", "to": "", "reg": False,
            "x": x + 180, "y": y + 60, "wires": [[send]],
        }
        raw[("new", send)] = {
            "id": send, "type": "mqtt out", "z": n.z, "name": f"{label}: to {there}", "topic": topic,
            "qos": "2", "retain": "false", "respTopic": "", "contentType": "", "userProps": "", "correl": "",
            "expiry": "", "broker": BROKER_ID, "x": x + 380, "y": y + 60, "wires": [],
        }
        sub = (f"$share/{SHARE_GROUP}/" if there == HA and not b.every_copy else "") + topic
        raw[("new", recv)] = {
            "id": recv, "type": "mqtt in", "z": tz, "name": f"{label}: from {here}", "topic": sub, "qos": "2",
            "datatype": "json", "broker": BROKER_ID, "nl": False, "rap": True, "rh": 0,
            "inputs": 0, "x": tx - 380, "y": ty + 60, "wires": [[unwrap]],
        }
        raw[("new", unwrap)] = {
            "id": unwrap, "type": "function", "z": tz, "name": f"{label}: unwrap msg", "func": UNWRAP_CODE,
            "outputs": 1, "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [],
            "x": tx - 180, "y": ty + 60, "wires": [list(targets)],
        }
        b.nodes[here] = [wrap, send]
        b.nodes[there] = [recv, unwrap]
    else:
        send, recv = _nid(bid, "send"), _nid(bid, "receive")
        raw[("new", send)] = {
            "id": send, "type": "project link out", "z": n.z, "name": f"{label}: to {there}", "mode": "link",
            "broadcast": True, "project": "all", "topic": topic, "x": x + 200, "y": y + 60, "wires": [],
        }
        raw[("new", recv)] = {
            "id": recv, "type": "project link in", "z": tz, "name": f"{label}: from {here}", "project": "all",
            "broadcast": True, "topic": topic, "x": tx - 200, "y": ty + 60, "wires": [list(targets)],
        }
        b.nodes[here] = [send]
        b.nodes[there] = [recv]
    return b


def _broker_node(bid: str, broker: Broker) -> dict:
    # no client id: Node-RED makes a unique one per copy; no credentials: set in each instance
    return {
        "id": bid, "type": "mqtt-broker", "name": "hacheck split bridge", "broker": broker.host, "port": str(broker.port),
        "clientid": "", "autoConnect": True, "usetls": broker.tls, "protocolVersion": "5", "keepalive": "60",
        "cleansession": True, "autoUnsubscribe": True, "birthTopic": "", "birthQos": "0", "birthRetain": "false",
        "birthPayload": "", "birthMsg": {}, "closeTopic": "", "closeQos": "0", "closeRetain": "false", "closePayload": "",
        "closeMsg": {}, "willTopic": "", "willQos": "0", "willRetain": "false", "willPayload": "", "willMsg": {},
        "userProps": "", "sessionExpiry": "",
    }


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
        nodes.append({"id": _nid("hacheck-split-marker", z), "type": "comment", "z": z, "name": "hacheck split: the singleton instance",
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


# --- context both parts would use ---------------------------------------------------------

def _context_report(flow: FlowFile, home) -> list[dict]:
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
        other = _other(owner) if owner != "both" else None
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


# --- the report ---------------------------------------------------------------------------

def report_data(s: Split, flow: FlowFile, bridge: str, broker: Broker | None) -> dict:
    by_id = flow.by_id

    def node_ref(nid: str) -> dict:
        n = by_id.get(nid)
        return {"id": nid, "type": n.type if n else None, "name": (n.name or None) if n else None,
                "tab": (flow.tab_label(n) or None) if n else None}

    groups = []
    for i, g in enumerate(s.groups, 1):
        rules = sorted({r for rs in g.rules.values() for r in rs})
        why = sorted({_FAMILY[r] for r in rules if any(r in g.rules[sd] and r not in g.after.get(sd, ()) for sd in g.seeds)})
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
            notes.append(f"the {part} part calls the {_other(part)} part with {len(callers)} project link call node(s): set {PROJECT_ENV[_other(part)]} "
                         f"in the {part} instance's environment to the {_other(part)} instance's id")
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


def dumps_flow(nodes: list[dict]) -> str:
    """As the Node-RED editor exports: JSON.stringify(flows, null, 4)."""
    return json.dumps(nodes, indent=4, ensure_ascii=False) + "\n"


# --- running it -----------------------------------------------------------------------------

def run(flows_path: str, out_dir: str, bridge: str, broker_url: str | None, config, rules, force: bool = False) -> dict:
    """Split the file, write DIR/ha/flows.json, DIR/singleton/flows.json and the reports (all
    or nothing), and return the report. Raises SplitError for anything the user must fix."""
    import dataclasses
    import os

    from hacheck.config.suppress import Suppressor
    from hacheck.engine.check import check_flow
    from hacheck.load.loader import Source, read_source

    broker = None
    if bridge == "mqtt":
        if not broker_url:
            raise SplitError("--bridge mqtt needs --broker mqtt://host:port")
        broker = parse_broker(broker_url)
    elif broker_url:
        raise SplitError("--broker is for --bridge mqtt")
    _check_out_dir(out_dir, force)
    real_out = os.path.realpath(out_dir)
    if os.path.commonpath([real_out, os.path.realpath(flows_path)]) == real_out:
        raise SplitError(f"{out_dir}: the folder holds {flows_path}: write the parts into another folder")
    flow = read_source(Source(flows_path, flows_path))
    if flow.shape == "unreadable":
        msg = flow.problems[0].message if flow.problems else "cannot be read"
        raise SplitError(f"{flow.path}: cannot split: the file {msg}")
    if flow.problems:
        raise SplitError(f"{flow.path}: cannot split: the file {flow.problems[0].message}")
    # judged as the HA instance it is to become (a file's own singleton marker still wins)
    config = dataclasses.replace(config, instance="ha")
    supp = Suppressor(rules, config)
    s = split_checked(flow, lambda f: supp.apply(f, check_flow(f, rules, config)), bridge, broker)
    data = report_data(s, flow, bridge, broker)
    files = {
        os.path.join(HA, "flows.json"): dumps_flow(s.parts[HA]),
        os.path.join(SINGLE, "flows.json"): dumps_flow(s.parts[SINGLE]),
        "report.txt": report_text(data),
        "report.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n",
    }
    _write_dir(out_dir, files, force)
    return data


def _check_out_dir(out_dir: str, force: bool) -> None:
    import os

    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise SplitError(f"{out_dir}: exists and is not a folder")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not force:
        raise SplitError(f"{out_dir}: the folder is not empty (use --force to replace what is in it)")


def _write_dir(out_dir: str, files: dict[str, str], force: bool) -> None:
    """Everything is written into a new folder beside DIR, then renamed into place: an error
    leaves DIR as it was."""
    import os
    import shutil
    import tempfile

    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".hacheck-split-", dir=parent)
    except OSError as e:
        raise SplitError(f"{out_dir}: cannot write: {e.strerror or e}") from None
    old = None
    try:
        for rel, text in files.items():
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # a lone surrogate ("\\ud800" in a flow) has no UTF-8 form: written as the same
            # escape, which inside a JSON string is the value it was
            with open(path, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as fh:
                fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700
        _check_out_dir(out_dir, force)  # again: it may have changed meanwhile
        if os.path.isdir(out_dir):
            if os.listdir(out_dir):
                old = tempfile.mkdtemp(prefix=".hacheck-split-old-", dir=parent)
                os.rmdir(old)
                os.rename(out_dir, old)
            else:
                os.rmdir(out_dir)
        os.rename(tmp, out_dir)
        tmp = None
    except OSError as e:
        if old is not None and not os.path.exists(out_dir):
            os.rename(old, out_dir)
            old = None
        raise SplitError(f"{out_dir}: cannot write: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
