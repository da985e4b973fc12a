"""Every way a message can travel between running nodes: a directed multigraph.

Edges: wires (with the output port), junctions, `link out` -> `link in`, `link call` ->
`link in` and back from a `link out` in return mode, and subflows. The nodes of a subflow
are expanded once per running instance (each instance has its own copies at runtime), so a
path through one instance never leaks into another. An expanded vertex is
"<instance vertex>\\x1f<node id>"; `base_id` gives the node id back.

The adjacency is kept in plain dicts shaped like networkx's (`succ[u][v] = [edge attrs]`):
importing networkx costs ~150 ms, more than checking a small flow, and a pre-commit hook
runs on every commit. `FlowGraph.nx` builds the networkx.MultiDiGraph on demand for the
algorithms that want it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable

from hacheck.model.flow import FlowFile, Node

SEP = "\x1f"
_NOT_VERTICES = frozenset({"tab", "subflow", "group"})  # structure, not message hops
_LINK_TYPES = frozenset({"link out", "link in", "link call"})
MAX_VERTICES = 2_000_000  # nested subflows multiply; past this, instances are not expanded
# Edge attributes are read, never changed: the wires of a 100k-node flow share these few
# dicts rather than make one each
_SHARED_PORTS = 16
_WIRE_ATTRS = tuple({"kind": "wire", "port": p} for p in range(_SHARED_PORTS))


def base_id(vertex: str) -> str:
    return vertex.rpartition(SEP)[2]


class FlowGraph:
    def __init__(self, flow: FlowFile):
        self.flow = flow
        self._nx = None
        self._pred: dict[str, list[str]] | None = None
        self.dead_ports: dict[str, set[int]] = {}  # switch vertex -> outputs no message can take
        self.succ: dict[str, dict[str, list[dict]]] = {}
        self.vertices_of: dict[str, list[str]] = defaultdict(list)
        self._build()

    # --- queries ---------------------------------------------------------------------------

    def successors(self, v: str) -> Iterable[str]:
        return self.succ[v]

    @property
    def pred(self) -> dict[str, list[str]]:
        """Predecessors of each vertex (only those that have one), built on first use."""
        if self._pred is None:
            pred: dict[str, list[str]] = {}
            for u, nbrs in self.succ.items():
                for v in nbrs:
                    lst = pred.get(v)
                    if lst is None:
                        pred[v] = [u]
                    else:
                        lst.append(u)
            self._pred = pred
        return self._pred

    @property
    def nx(self):
        """The same graph as a networkx.MultiDiGraph (built on first use)."""
        if self._nx is None:
            import networkx

            g = networkx.MultiDiGraph()
            g.add_nodes_from(self.succ)
            g.add_edges_from((u, v, a) for u, nbrs in self.succ.items() for v, attrs in nbrs.items() for a in attrs)
            self._nx = g
        return self._nx

    def add_edge(self, u: str, v: str, **attrs) -> None:
        self.succ[u].setdefault(v, []).append(attrs)

    def has_edge(self, u: str, v: str) -> bool:
        return v in self.succ.get(u, ())

    def edges(self) -> Iterable[tuple[str, str, dict]]:
        for u, nbrs in self.succ.items():
            for v, attrs in nbrs.items():
                for a in attrs:
                    yield u, v, a

    def reachable(self, sources: Iterable[str], stop: Callable[[str], bool] | None = None) -> set[str]:
        """Vertices reachable from `sources` (excluded unless reached again); `stop` ends a branch."""
        seen: set[str] = set()
        q = deque(sources)
        succ = self.succ
        while q:
            v = q.popleft()
            for w in succ[v]:
                if w not in seen:
                    seen.add(w)
                    if stop is None or not stop(w):
                        q.append(w)
        return seen

    def shortest_path(self, a: str, b: str) -> list[str] | None:
        import networkx

        try:
            return networkx.shortest_path(self.nx, a, b)
        except (networkx.NetworkXNoPath, networkx.NodeNotFound):
            return None

    def trace(self, sources: Iterable[str], k: int = 3) -> "Trace":
        """Which sources reach each vertex, and the shortest path from each: one BFS over the
        whole graph, each vertex entered at most k times (so linear, not once per node)."""
        labels: dict[str, list[str]] = defaultdict(list)
        parent: dict[tuple[str, str], str | None] = {}
        depth: dict[tuple[str, str], int] = {}  # hops from src: picks the shortest paths without walking them
        succ = self.succ
        frontier: list[tuple[str, str]] = []
        for s in sorted(set(sources)):
            labels[s].append(s)
            parent[(s, s)] = None
            depth[(s, s)] = 0
            frontier.append((s, s))
        d = 0
        # level by level: the same order as a FIFO queue, and each level's depth is known
        while frontier:
            d += 1
            nxt: list[tuple[str, str]] = []
            append = nxt.append
            for v, src in frontier:
                for w in succ[v]:
                    lab = labels[w]
                    if len(lab) >= k or src in lab:
                        continue
                    lab.append(src)
                    key = (w, src)  # one tuple as the parent key and the next level's entry
                    parent[key] = v
                    depth[key] = d
                    append(key)
            frontier = nxt
        return Trace(labels, parent, depth)

    # --- construction ----------------------------------------------------------------------

    def _build(self) -> None:
        flow = self.flow
        self._node_at: dict[str, Node] = {}
        # the Node at a vertex; the dict's own lookup, not a method: called ~200k times
        self.node: Callable[[str], Node] = self._node_at.__getitem__
        by_id = flow.by_id
        running = flow.running
        node_at, succ, vertices_of = self._node_at, self.succ, self.vertices_of
        top = []
        for n in by_id.values():  # _is_flow_node, and not inside a subflow: once per node
            if n.id not in running or n.type in _NOT_VERTICES or n.is_config:
                continue
            c = by_id.get(n.z) if n.z else None
            if c is None or c.type != "subflow":
                top.append(n)
                nid = n.id
                node_at[nid] = n
                succ[nid] = {}
                vertices_of[nid] = [nid]
        self._subflow_nodes: dict[str, list[Node]] = {}
        for n in top:
            if n.type.startswith("subflow:"):
                self._expand(n.id, n.type[8:], (n.type[8:],))
        self._link_pairs: set[tuple[str, str]] = set()
        wire_attrs = _WIRE_ATTRS
        # edges of every vertex in one loop (no call per vertex: it runs 100k times on a big flow)
        for v, n in list(node_at.items()):
            ntype = n.type
            prefix = v.rpartition(SEP)[0] if SEP in v else ""
            if ntype.startswith("subflow:"):
                self._subflow_edges(v, n, prefix)
                continue
            wires = n.raw.get("wires")
            if wires.__class__ is list:
                out = succ[v]
                for port, targets in enumerate(wires):
                    if targets.__class__ is not list:
                        continue
                    for t in targets:
                        if t.__class__ is not str:
                            continue
                        tv = prefix + SEP + t if prefix else t
                        if tv in node_at:
                            attrs = wire_attrs[port] if port < _SHARED_PORTS else {"kind": "wire", "port": port}
                            edges = out.get(tv)
                            if edges is None:
                                out[tv] = [attrs]
                            else:
                                edges.append(attrs)
            if ntype in _LINK_TYPES:
                self._link_edges(v, n, prefix)
        for u, v in sorted(self._link_pairs):
            self.add_edge(u, v, kind="link")
        self._add_return_edges()
        self._drop_dead_switch_ports()

    def _drop_dead_switch_ports(self) -> None:
        """A switch output that no arriving message can take is no path (topics.py)."""
        from hacheck.analysis.topics import dead_switch_ports

        dead = dead_switch_ports(self)
        for v, ports in dead.items():
            out = self.succ[v]
            for w in list(out):
                kept = [e for e in out[w] if e.get("port") not in ports]
                if kept:
                    out[w] = kept
                else:
                    del out[w]
        if dead:
            self._pred = None
            self.dead_ports = dead

    def _is_flow_node(self, n: Node) -> bool:
        return n.id in self.flow.running and n.type not in _NOT_VERTICES and not n.is_config

    def _expand(self, inst_v: str, sid: str, stack: tuple[str, ...]) -> None:
        inner_nodes = self._subflow_nodes.get(sid)
        if inner_nodes is None:  # once per subflow, not once per instance
            inner_nodes = self._subflow_nodes[sid] = (
                [n for n in self.flow.children.get(sid, ()) if self._is_flow_node(n)] if sid in self.flow.subflows else []
            )
        node_at, succ, vertices_of = self._node_at, self.succ, self.vertices_of
        for n in inner_nodes:
            if len(node_at) >= MAX_VERTICES:
                break
            v = inst_v + SEP + n.id
            node_at[v] = n
            succ[v] = {}
            vertices_of[n.id].append(v)
            if n.type.startswith("subflow:"):
                inner = n.type[8:]
                if inner not in stack:  # a subflow that contains itself is not expanded again
                    self._expand(v, inner, stack + (inner,))

    def _resolve(self, prefix: str, target: str) -> str | None:
        """The vertex of `target` seen from a node in context `prefix` ('' at the top)."""
        v = prefix + SEP + target if prefix else target
        if v in self._node_at:
            return v
        return target if target in self._node_at and not prefix else None

    def _link_edges(self, v: str, n: Node, prefix: str) -> None:
        add = self.add_edge
        if n.type == "link out" and n.get("mode", "link") != "return":
            for t in _links(n):
                tv = self._resolve(prefix, t)
                if tv is not None and self._node_at[tv].type == "link in":
                    self._link_pairs.add((v, tv))
        elif n.type == "link in":
            # link in nodes list their sources too; either side is enough for the editor
            for s in _links(n):
                sv = self._resolve(prefix, s)
                if sv is not None and self._node_at[sv].type == "link out" and self._node_at[sv].get("mode", "link") != "return":
                    self._link_pairs.add((sv, v))
        elif n.type == "link call" and n.get("linkType", "static") != "dynamic":
            for t in _links(n):
                tv = self._resolve(prefix, t)
                if tv is not None and self._node_at[tv].type == "link in":
                    add(v, tv, kind="link-call")

    def _subflow_edges(self, v: str, inst: Node, prefix: str) -> None:
        sf = self.flow.subflows.get(inst.type[8:])
        expanded = sf is not None and any(v + SEP + c.id in self._node_at for c in self.flow.children.get(sf.id, ()))
        if not expanded:
            # unknown or unexpanded subflow: treat the instance as an opaque node
            for port, targets in enumerate(inst.wires):
                for t in targets:
                    tv = self._resolve(prefix, t)
                    if tv is not None:
                        self.add_edge(v, tv, kind="wire", port=port)
            return
        for entry in _ports(sf.get("in")):
            for w in entry.get("wires") or ():
                if isinstance(w, dict) and isinstance(w.get("id"), str):
                    iv = self._resolve(v, w["id"])
                    if iv is not None:
                        self.add_edge(v, iv, kind="subflow-in")
        inst_wires = inst.wires
        for port, entry in enumerate(_ports(sf.get("out"))):
            if port >= len(inst_wires):
                break
            for w in entry.get("wires") or ():
                if not (isinstance(w, dict) and isinstance(w.get("id"), str)):
                    continue
                src = v if w["id"] == sf.id else self._resolve(v, w["id"])
                if src is None:
                    continue
                for t in inst_wires[port]:
                    tv = self._resolve(prefix, t)
                    if tv is not None:
                        self.add_edge(src, tv, kind="subflow-out", port=w.get("port", 0), subflow_port=port)

    def _add_return_edges(self) -> None:
        """A `link out` in return mode sends the message back to the `link call` that called."""
        calls = [v for v, n in self._node_at.items() if n.type == "link call"]
        if not calls or not any(n.type == "link out" and n.get("mode") == "return" for n in self._node_at.values()):
            return
        memo: dict[frozenset[str], list[str]] = {}
        for c in calls:
            targets = frozenset(w for w in self.succ[c] if self._node_at[w].type == "link in")
            if targets not in memo:
                reach = self.reachable(targets) | set(targets)
                memo[targets] = sorted(
                    r for r in reach if self._node_at[r].type == "link out" and self._node_at[r].get("mode") == "return"
                )
            for r in memo[targets]:
                self.add_edge(r, c, kind="return")


class Trace:
    def __init__(self, labels, parent, depth):
        self.labels = labels
        self._parent = parent
        self.depth = depth  # (vertex, source) -> hops on the shortest path

    def sources_of(self, v: str) -> list[str]:
        """The inputs that reach v (not a copy: do not change it)."""
        return self.labels.get(v, ())

    def path(self, src: str, v: str) -> list[str]:
        out = [v]
        cur = v
        while cur != src:
            cur = self._parent[(cur, src)]
            out.append(cur)
        out.reverse()
        return out


def _links(n: Node) -> list[str]:
    links = n.get("links")
    return [x for x in links if isinstance(x, str)] if isinstance(links, list) else []


def _ports(value) -> list[dict]:
    return [p for p in value if isinstance(p, dict)] if isinstance(value, list) else []
