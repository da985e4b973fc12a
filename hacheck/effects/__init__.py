"""What each node does to the world, and which effects each node's messages reach.

`catalogue` reads the effect catalogue (rules/effects/*.yaml), `roles` decides one node's
roles from it, `reach` answers "which effects does this node reach, and along which path"
for all nodes at once. `Effects` ties them to one checked flow (`RuleContext.effects`).
"""

from __future__ import annotations

import re

from hacheck.effects import roles as _roles
from hacheck.effects.reach import Reach, count, nearest
from hacheck.analysis.graph import SEP
from hacheck.analysis.match import values_at
from hacheck.model.flow import FlowFile, Node

__all__ = ["Effects", "Reach", "count", "nearest"]


class Effects:
    def __init__(self, flow: FlowFile, graph, catalogue: dict[str, dict]):
        self.flow = flow
        self.graph = graph
        self.catalogue = catalogue
        self._roles: dict[str, _roles.Roles] = {}
        self._by_type: dict[str, _roles.Roles] = {}  # types whose roles no field changes
        self._by_fields: dict[tuple, _roles.Roles] = {}  # (type, the values its conditions read)
        self._fields: dict[str, tuple | None] = {}
        self._whats: dict[str, tuple] = {}
        self._reach: dict[object, Reach] = {}
        self._pred: dict[str, list[str]] | None = None
        self._hops: set[tuple[str, str]] = set()  # (watched, watcher): a catch or complete hop
        self._idle: set[str] | None = None
        self._blocked: set[str] | None = None
        self._sources: list[Node] | None = None
        self._classes_by_node: dict[str, str] | None = None

    @property
    def pred(self) -> dict[str, list[str]]:
        """The graph's predecessors, plus the hops a message makes outside the wires: a
        `complete` node receives the message a node in its scope finished with, a `catch`
        with a list of nodes the message a node in it failed on, and an `mqtt in` what an
        `mqtt out` of the same copy publishes to a broker on localhost (each copy's own)."""
        if self._pred is None:
            self._pred, self._hops = _with_event_hops(self.graph, self.flow)
            _add_local_broker_hops(self._pred, self.graph, self.flow)
        return self._pred

    def roles(self, node: Node) -> _roles.Roles:
        r = self._roles.get(node.id)
        if r is None:
            t = node.type
            r = self._by_type.get(t)
            if r is None:
                key = self._memo_key(node)
                r = self._by_fields.get(key) if key is not None else None
                if r is None:
                    r = _roles.of(node, self.flow, self.catalogue)
                    if _sql_from_topic(node):  # judged by the nodes before it, node by node
                        if r.effect is not None and self._selects(node):
                            r = _roles.Roles(r.source, None, r.passes, r.host, r.session)
                    elif _roles.same_for_every_node(t, self.catalogue.get(t)):
                        self._by_type[t] = r
                    elif t == "http request" and node.raw.get("method") == "use" and r.effect is not None and self._reads(node):
                        r = _roles.Roles(r.source, None, r.passes, r.host, r.session)
                    elif key is not None:
                        self._by_fields[key] = r
            self._roles[node.id] = r
        return r

    def _memo_key(self, node: Node):
        """Nodes of one type whose conditions read the same values get the same roles (a
        100k-node flow has thousands of injects and subscriptions, and few distinct ones).
        None when the roles depend on more than the node's own fields."""
        t = node.type
        fields = self._fields.get(t, False)
        if fields is False:
            fields = self._fields[t] = _roles.condition_fields(t, self.catalogue.get(t))
        if fields is None or (t == "switch" and _roles.may_gate(node)):
            return None  # a switch comparing with context may be a correlation gate (roles.py)
        raw = node.raw
        values = tuple(raw.get(f) if "." not in f and "[" not in f else tuple(values_at(raw, f)) for f in fields)
        try:
            hash(values)
        except TypeError:
            return None
        what = self._whats.get(t)
        if what is None:
            what = self._whats[t] = _roles.template_fields(self.catalogue.get(t))
        if what:  # the words of a role name fields too: they must match as well
            extra = tuple(raw.get(f) for f in what)
            try:
                hash(extra)
            except TypeError:
                return None
            values += extra
        return (t, values)

    def _reads(self, node: Node) -> bool:
        """An `http request` whose method the message sets: every node just before it sets
        msg.method to GET or HEAD (in function code or a change rule), and the text it builds
        msg.url from does not read as a command (judged by the catalogue's own entry)."""
        from hacheck.analysis.js import assigned_strings

        before = self._before(node)
        if not before:
            return False
        urls: list[str] = []
        for nid in before:
            n = self.flow.by_id[nid]
            if n.type == "function":
                code = n.raw.get("func") or ""
                methods = assigned_strings(code, "msg", "method")
                urls.extend(assigned_strings(code, "msg", "url", True) or ())
            elif n.type == "change":
                rules = [r for r in n.raw.get("rules") or () if isinstance(r, dict) and r.get("t") == "set" and r.get("pt") == "msg" and r.get("tot") == "str"]
                methods = tuple(r.get("to") for r in rules if r.get("p") == "method")
                urls.extend(str(r.get("to")) for r in rules if r.get("p") == "url")
            else:
                return False
            if not methods or any(not isinstance(m, str) or m.upper() not in ("GET", "HEAD") for m in methods):
                return False
        as_static = Node({**node.raw, "method": "GET", "url": " ".join(urls)}, node.id, node.type, node.index)
        return _roles.of(as_static, self.flow, self.catalogue).effect is None

    def _selects(self, node: Node) -> bool:
        """A database node that runs the SQL in msg.topic: every node just before it sets
        msg.topic to a query that only reads (SELECT, SHOW, ...), in function code, a change
        rule or a template. Taken as a write otherwise, as the catalogue says."""
        before = self._before(node)
        return bool(before) and all(self.sets_read_only_query(nid) for nid in before)

    def _before(self, node: Node) -> set[str]:
        """The ids of the nodes wired (or linked) just before `node`, in any instance."""
        pred = self.graph.pred
        return {u.rpartition(SEP)[2] for v in self.graph.vertices_of.get(node.id, ()) for u in pred.get(v, ())}

    def reads_after(self, node: Node, before: str) -> bool:
        """A database node that runs the SQL in msg.topic, reached from the node `before`,
        which sets a read-only query: on that path it reads, whatever its other inputs send."""
        return _sql_from_topic(node) and self.sets_read_only_query(before)

    def sets_read_only_query(self, nid: str) -> bool:
        from hacheck.analysis.js import assigned_strings

        n = self.flow.by_id[nid]
        if n.type == "function":
            code = n.raw.get("func") or ""
            queries = assigned_strings(code, "msg", "topic", True)
            if not queries:  # built in a variable and sent in a new message: its SQL texts
                queries = tuple(q for q in _literals(code) if _READ_ONLY_SQL.match(q) or _WRITE_SQL.search(q))
        elif n.type == "change":
            queries = tuple(str(r.get("to")) for r in n.raw.get("rules") or ()
                            if isinstance(r, dict) and r.get("t") == "set" and r.get("pt") == "msg" and r.get("p") == "topic" and r.get("tot") == "str")
        elif n.type == "template" and n.raw.get("field") == "topic" and n.raw.get("fieldType", "msg") == "msg":
            queries = (str(n.raw.get("template") or ""),)
        else:
            return False
        # all the text the node can put there, in order: a write anywhere makes it a write
        text = " ".join(queries or ())
        return bool(_READ_ONLY_SQL.match(text)) and not _WRITE_SQL.search(text)

    def _types(self, want) -> list[str]:
        """The node types of this flow for which `want(entry)` holds; `None` stands for a
        type the catalogue does not know. Looking per type, not per node, keeps a 100k-node
        flow to a few dict lookups for most of its nodes."""
        cat = self.catalogue
        return [t for t in self.flow.by_type if want(cat.get(t))]

    def _vertices(self, types: list[str]):
        vo, node_at = self.graph.vertices_of, self.graph.node
        for t in types:
            for n in self.flow.by_type.get(t, ()):
                for v in vo.get(n.id, ()):
                    yield v, node_at(v)

    @property
    def blocked(self) -> set[str]:
        """Vertices of nodes that do not pass their input on."""
        if self._blocked is None:
            types = self._types(lambda e: e is not None and "passes" in e)
            blocked = {v for v, n in self._vertices(types) if not self.roles(n).passes}
            # a switch stops messages only as a correlation gate (roles.py): rules on context
            blocked.update(v for v, n in self._vertices(["switch"]) if _roles.may_gate(n) and not self.roles(n).passes)
            # function code is looked at for this alone on every function of the flow
            blocked.update(v for v, n in self._vertices(["function"]) if not _roles.function_passes(n))
            self._blocked = blocked
        return self._blocked

    def passes(self, vertex: str) -> bool:
        return vertex not in self.blocked

    def sources(self, kinds: tuple[str, ...], classes: tuple[str, ...] = ()) -> list[Node]:
        """Running nodes whose source role is one of `kinds` (and `classes`), in file order."""
        if self._sources is None:
            flow = self.flow
            # the catalogue's sources, and types it does not know (judged by their shape)
            types = self._types(lambda e: e is None or "source" in e)
            found = [n for t in types for n in flow.by_type[t] if not n.is_config and n.id in flow.running]
            # a function is a source when a module it loads opens a server (roles.py)
            found += [n for n in flow.by_type.get("function", ()) if n.raw.get("libs") and n.id in flow.running]
            found.sort(key=lambda n: n.index)
            self._sources = [n for n in found if self.roles(n).source is not None]
        out = []
        for n in self._sources:
            src = self.roles(n).source
            if src.kind in kinds and (not classes or src.cls in classes):
                out.append(n)
        return out

    def idle(self, node: Node) -> bool:
        """Messages reach the node only from manual injects, which never fire on an HA
        instance (its editor is disabled): the node never runs there."""
        if self._idle is None:
            self._idle = self._idle_vertices()
        vs = self.graph.vertices_of.get(node.id, ())
        return bool(vs) and all(v in self._idle for v in vs)

    def _idle_vertices(self) -> set[str]:
        """What the manual injects reach, less what anything else reaches: found by walking
        forward from the manual injects, back from there to the other starting points (the
        vertices nothing feeds), and forward again from those: never the whole graph."""
        pred, succ = self.pred, self.graph.succ
        manual = {v for v, n in self._vertices(["inject"]) if v not in pred and self.roles(n).source is None}
        if not manual:
            return set()
        region = _walk(manual, succ)
        ancestors = _walk(region, pred)
        live = [v for v in ancestors if v not in pred and v not in manual]
        return region - _walk(live, succ)

    def outbound(self, ignore: tuple[str, ...] = ()) -> Reach:
        """Where each vertex's messages reach an effect that acts on the world; `ignore`
        leaves out classes of effect (a timer's keep-alive over the copy's own connection)."""
        key = ("outbound", ignore)
        reach = self._reach.get(key)
        if reach is not None:
            return reach
        if ignore:
            full = self.outbound()
            if not any(self._outbound[t] in ignore for t in full.targets):
                reach = self._reach[key] = full  # nothing to leave out: the same search
                return reach
        types = self._types(_may_act)
        targets = []
        classes = {}
        acting = [(v, n) for v, n in self._vertices(types)]
        # a function acts only through a module it loads (roles.py): the others are skipped unread
        acting += [(v, n) for v, n in self._vertices(["function"]) if n.raw.get("libs")]
        for v, n in acting:
            e = self.roles(n).effect
            if e is not None and e.kind == "outbound":
                classes[v] = e.cls
                if e.cls not in ignore:
                    targets.append(v)
        if not ignore:
            self._outbound = classes
        reach = self._reach[key] = Reach(self.pred, targets, self.blocked, hops=self._hops)
        return reach

    def outbound_classes(self) -> dict[str, str]:
        """Node id -> the class of its outbound effect, for every node that acts."""
        if self._classes_by_node is None:
            self.outbound()
            self._classes_by_node = {v.rpartition(SEP)[2]: c for v, c in self._outbound.items()}
        return self._classes_by_node

    def reaching(self, name: str, node_ids, k: int = 3) -> Reach:
        """A search towards a set of nodes chosen by a rule (e.g. the per-copy state), keeping
        the nearest `k` per vertex; built once per name and flow."""
        reach = self._reach.get(name)
        if reach is None:
            vo = self.graph.vertices_of
            targets = [v for nid in node_ids for v in vo.get(nid, ())]
            reach = self._reach[name] = Reach(self.pred, targets, self.blocked, k, hops=self._hops)
        return reach

    def nearest(self, reach: Reach, node: Node) -> list[tuple[str, list[str]]]:
        by_id = self.flow.by_id
        return nearest(reach, self.graph.vertices_of.get(node.id, ()), lambda i: by_id[i].index if i in by_id else 1 << 30)

    def what(self, node_id: str) -> str:
        """How an effect reads in a message: "mqtt out 'lamp' (publishes to 'home/lamp/set')"."""
        n = self.flow.by_id.get(node_id)
        if n is None:
            return node_id
        name = _name(self.flow, n)
        words = self._effect_words(n)
        return f"{name} ({words})" if words else name

    def act(self, node_id: str) -> str:
        """What an effect does, as a verb phrase without the node's name, for a headline:
        "publishes to 'home/lamp/set'"; "runs mqtt out 'lamp'" where the catalogue has no words."""
        n = self.flow.by_id.get(node_id)
        if n is None:
            return f"runs {node_id}"
        return self._effect_words(n) or f"runs {_name(self.flow, n)}"

    def _effect_words(self, n) -> str:
        """The catalogue's words for what the node does ('' for none, or for a guess by shape)."""
        e = self.roles(n).effect
        return e.what if e is not None and e.what and not e.assumed else ""


def _may_act(entry: dict | None) -> bool:
    """A type that may act on the world: one the catalogue does not know (judged by its
    shape), or one with an outbound effect in some configuration."""
    if entry is None:
        return True
    return any(e.get("kind") == "outbound" for e in entry.get("effect", ()))


def _walk(start, nbrs) -> set[str]:
    seen = set(start)
    stack = list(seen)
    empty = ()
    while stack:
        for w in nbrs.get(stack.pop(), empty):
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


def _with_event_hops(graph, flow: FlowFile) -> tuple[dict[str, list[str]], set[tuple[str, str]]]:
    from hacheck.analysis.graph import SEP

    base = graph.pred
    hops: set[tuple[str, str]] = set()
    watchers = [v for t in ("complete", "catch") for n in flow.by_type.get(t, ()) for v in graph.vertices_of.get(n.id, ())]
    if not watchers:
        return base, hops
    pred = dict(base)
    for c in watchers:
        scope = graph.node(c).get("scope")
        if not isinstance(scope, list):
            continue  # a catch of the whole tab: every node's errors; not followed
        prefix = c.rpartition(SEP)[0]
        extra = [prefix + SEP + s if prefix else s for s in scope if isinstance(s, str)]
        extra = [v for v in extra if v in graph.succ and v != c]
        if extra:
            pred[c] = list(pred.get(c, ())) + extra
            hops.update((v, c) for v in extra)
    return pred, hops


# database nodes whose SQL comes from msg.topic (node-red-node-mysql always; sqlite and
# mssql-plus when set so), judged by the queries the nodes before them set
_READ_ONLY_SQL = re.compile(r"(?is)^\s*(select|show|describe|desc|explain|pragma|with)\b")
_WRITE_SQL = re.compile(r"(?i)\b(insert|update|delete|replace|merge|create|drop|alter|truncate|grant)\b")


_LITERAL = re.compile(r"""(["'`])((?:\\.|(?!\1).)*)\1""", re.DOTALL)


def _literals(code: str) -> list[str]:
    return [m.group(2) for m in _LITERAL.finditer(code)]


def _sql_from_topic(node: Node) -> bool:
    t = node.type
    if t == "mysql":
        return True
    if t == "sqlite":
        return node.raw.get("sqlquery", "msg.topic") == "msg.topic"
    if t == "MSSQL":  # node-red-contrib-mssql-plus, query mode, the SQL in msg.topic
        raw = node.raw
        mode = raw.get("modeOptType", raw.get("modeOpt"))
        return mode in (None, "query", "queryMode") and raw.get("queryOpt") == "topic" and raw.get("queryOptType", "msg") == "msg"
    return False


def _add_local_broker_hops(pred: dict[str, list[str]], graph, flow: FlowFile) -> None:
    local_broker = _roles.local_broker
    outs = [n for n in flow.by_type.get("mqtt out", ()) if _on_local_broker(n, flow, local_broker)]
    ins = [n for n in flow.by_type.get("mqtt in", ()) if _on_local_broker(n, flow, local_broker)]
    if not outs or not ins:
        return
    vo = graph.vertices_of
    for o in outs:
        topic = o.get("topic")
        for i in ins:
            if i.get("broker") != o.get("broker") or not _may_match(i.get("topic"), topic):
                continue
            # the broker hands the publish to what the subscription feeds (the mqtt in itself
            # does not pass on what is wired into it: control messages)
            for iv in vo.get(i.id, ()):
                for w in graph.succ.get(iv, ()):
                    pred[w] = list(pred.get(w, ())) + list(vo.get(o.id, ()))


def _on_local_broker(n: Node, flow: FlowFile, local_broker) -> bool:
    b = flow.by_id.get(n.get("broker")) if isinstance(n.get("broker"), str) else None
    return b is not None and n.id in flow.running and local_broker(b)


def _may_match(subscription, topic) -> bool:
    """Whether a publish to `topic` can match the subscription filter; a topic the message
    sets (empty) may match anything."""
    if not isinstance(subscription, str) or not subscription:
        return False
    if not isinstance(topic, str) or not topic:
        return True
    from hacheck.analysis.topics import filter_matches

    return filter_matches(subscription, topic)


def _name(flow: FlowFile, n: Node) -> str:
    if n.type.startswith("subflow:"):
        sf = flow.subflows.get(n.type[8:])
        return f"subflow '{n.name or (sf.name if sf is not None else '') or n.type[8:]}'"
    return f"{n.type} '{n.name}'" if n.name else n.type
