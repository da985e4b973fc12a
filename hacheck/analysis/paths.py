"""Where a node's messages come from: the load-balanced inputs that reach it, as paths.

Built on the one shared `ctx.trace` (a single BFS from every load-balanced input), so asking
for the paths of many nodes costs only the walk back along each path, never a traversal.

Besides wires, links and subflows (the graph's edges), messages also reach `catch`,
`status` and `complete` nodes as events of the nodes they watch: an error thrown by a node
fed by `http in` starts a flow at the `catch` node on every request that fails. Those hops
are added here (one extra BFS, only when such a watcher sees a load-balanced node), and are
shown as `-(error)->`, `-(status)->`, `-(done)->` in the path text.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import partial

from hacheck.model.findings import Related
from hacheck.analysis.graph import SEP
from hacheck.analysis.ingress import describe
from hacheck.model.flow import FlowFile, Node

# A path longer than this is kept as its input plus the last MAX_STEPS steps: walking and
# storing whole paths of a 100k-node chain for every finding on it would be quadratic.
MAX_STEPS = 32
# Steps of the shortest path given as related locations (the input, then the first and
# last steps of a longer path).
MAX_RELATED_STEPS = 12
# Inputs reported per node (the trace keeps at most this many per vertex anyway).
MAX_INPUTS = 3

_EVENT_TYPES = {"catch": "error", "status": "status", "complete": "done"}


@dataclass(slots=True, unsafe_hash=True)  # as if frozen: see findings.Related
class InputPath:
    """One way messages get from a load-balanced input to a node."""

    source: str  # node id of the input
    nodes: tuple[str, ...]  # node ids, input first, the node last (shortened if `elided`)
    events: frozenset[int] = frozenset()  # i: nodes[i-1] -> nodes[i] is an event hop (catch...)
    elided: bool = False  # steps between nodes[0] and nodes[1] were left out


class Feeds:
    """Input paths for every vertex, from the shared trace plus catch/status/complete hops."""

    def __init__(self, ctx):
        self.graph = ctx.graph
        self.trace = ctx.trace if ctx.ingress else None
        self._events = None  # (trace from the watchers, {watcher vertex: [vertex paths]})

    def candidates(self, v: str):
        """Each way to vertex v, up to MAX_INPUTS per way of arriving: (len, elided, input
        vertex, build), where `build()` walks the path back (vertex ids input first, event
        hops, elided) and len and elided are what it would give, known from the traces'
        depths: only the paths worth showing are walked."""
        if self.trace is None:
            return
        trace = self.trace
        depth = trace.depth
        for s in trace.sources_of(v):
            n, el = _walked_size(depth[(v, s)])
            yield n, el, s, partial(_main_path, trace, s, v)
        ev_trace, pre = self._event_trace()
        if ev_trace is not None:
            ev_depth = ev_trace.depth
            for w in ev_trace.sources_of(v):
                tail_n, el2 = _walked_size(ev_depth[(v, w)])
                for head, events, el1 in pre.get(w, ()):
                    yield len(head) + tail_n - 1, el1 or el2, head[0], partial(_event_path, ev_trace, w, v, head, events, el1)

    def _event_trace(self):
        if self._events is None:
            pre = _watchers_fed(self.graph, self.trace)
            self._events = (self.graph.trace(pre) if pre else None, pre)
        return self._events


def _main_path(trace, s: str, v: str):
    path, elided = _walk(trace, s, v)
    return path, frozenset(), elided


def _event_path(ev_trace, w: str, v: str, head: list[str], events: frozenset[int], el1: bool):
    tail, el2 = _walk(ev_trace, w, v)
    return head + tail[1:], events, el1 or el2


def _walked_size(depth: int) -> tuple[int, bool]:
    """(len, elided) of what _walk returns for a path of `depth` hops."""
    if depth >= MAX_STEPS:
        return MAX_STEPS + 1, True
    return depth + 1, False


def _walk(trace, src: str, v: str) -> tuple[list[str], bool]:
    """The path src -> v from the trace's parent links, shortened to MAX_STEPS. (Trace.path
    walks the whole way back, which is what makes a long chain quadratic.)"""
    parent = trace._parent
    out = [v]
    cur = v
    while cur != src:
        if len(out) >= MAX_STEPS:
            out.append(src)
            out.reverse()
            return out, True
        cur = parent[(cur, src)]
        out.append(cur)
    out.reverse()
    return out, False


def _watchers_fed(graph, trace) -> dict[str, list[tuple[list[str], frozenset[int], bool]]]:
    """catch/status/complete vertices that watch a node reached by a load-balanced input,
    each with the vertex paths to it (the last hop being the event)."""
    flow = graph.flow
    watchers = [v for t in _EVENT_TYPES for n in flow.by_type.get(t, ()) for v in graph.vertices_of.get(n.id, ())]
    if not watchers:
        return {}
    by_container: dict[tuple[str, str], dict[str, str]] | None = None
    out: dict[str, list] = {}
    for c in sorted(watchers):
        node = graph.node(c)
        prefix = c.rpartition(SEP)[0]
        scope = node.get("scope")
        if isinstance(scope, list) or scope == "group":
            if scope == "group":
                g = node.g
                ids = [] if g is None else [n.id for n in flow.children.get(node.z or "", ()) if n.g == g]
            else:
                ids = [t for t in scope if isinstance(t, str)]
            firsts: dict[str, str] = {}
            for t in ids:
                w = prefix + SEP + t if prefix else t
                if w == c or w not in graph.succ:
                    continue
                for s in trace.sources_of(w):
                    firsts.setdefault(s, w)
        elif node.type == "complete":
            continue  # complete needs a list of nodes: no scope means it watches nothing
        else:
            if by_container is None:
                by_container = _fed_by_container(graph, trace)
            firsts = by_container.get((prefix, node.z or ""), {})
        found = []
        for s, w in list(firsts.items())[:MAX_INPUTS]:
            if w == c:
                continue
            path, el = _walk(trace, s, w)
            found.append((path + [c], frozenset({len(path)}), el))
        if found:
            out[c] = found
    return out


def _fed_by_container(graph, trace) -> dict[tuple[str, str], dict[str, str]]:
    """(instance prefix, tab or subflow id) -> {input vertex: a vertex there it reaches}."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    node = graph.node
    top: dict[str | None, dict[str, str]] = {}  # the same dicts by z alone, for top-level vertices
    for v, srcs in trace.labels.items():
        if srcs:
            if SEP in v:
                d = out.setdefault((v.rpartition(SEP)[0], node(v).z or ""), {})
            else:  # most vertices: no prefix to split off, and one dict lookup by z
                z = node(v).z
                d = top.get(z)
                if d is None:
                    d = top[z] = out.setdefault(("", z or ""), {})
            for s in srcs:
                # the input itself is the first vertex: prefer a node it feeds, which is the
                # one whose errors are worth naming
                if s not in d or d[s] == s:
                    d[s] = v
    return out


def feeds(ctx) -> Feeds:
    """The Feeds of one RuleContext, shared by every rule that runs on it, kept on the
    context. A Feeds must not refer back to the context: the cycle would keep the whole
    checked flow alive until a garbage collection, and the CLI runs without one."""
    f = ctx.shared.get("feeds")
    if f is None:
        f = ctx.shared["feeds"] = Feeds(ctx)
    return f


class Inputs(list):
    """InputPaths to a node, shortest first: at most MAX_INPUTS of them, and in `total` how
    many load-balanced inputs reach it (a node in a subflow with 200 instances may have 200)."""

    __slots__ = ("total",)

    def __init__(self, paths=(), total: int = 0):
        super().__init__(paths)
        self.total = total


def input_paths(ctx, node: Node) -> Inputs:
    """The load-balanced inputs that reach `node` (any of its subflow copies): the shortest
    path from each of the nearest MAX_INPUTS inputs, shortest first; empty when none does.
    Paths are chosen by the trace's depths and only the chosen ones are walked."""
    if not ctx.ingress:
        return Inputs()
    f = feeds(ctx)
    best: dict[str, tuple[int, bool, object]] = {}  # source id -> (len, elided, build)
    for v in ctx.graph.vertices_of.get(node.id, ()):
        for n, elided, src_v, build in f.candidates(v):
            if n < 2:
                continue  # the node is itself the input
            src = src_v.rpartition(SEP)[2] if SEP in src_v else src_v
            old = best.get(src)
            if old is None or (n, elided) < (old[0], old[1]):
                best[src] = (n, elided, build)
    if not best:
        return Inputs()
    flow = ctx.flow
    chosen = sorted(best.items(), key=lambda kv: (kv[1][1], kv[1][0], _index(flow, kv[0])))[:MAX_INPUTS]
    out = []
    for src, (_, _, build) in chosen:
        vpath, events, elided = build()
        ids = tuple([x.rpartition(SEP)[2] if SEP in x else x for x in vpath])
        out.append(InputPath(ids[0], ids, events, elided))
    return Inputs(out, len(best))


def _index(flow: FlowFile, node_id: str) -> int:
    n = flow.by_id.get(node_id)
    return n.index if n is not None else 1 << 30


# --- words -----------------------------------------------------------------------------------

_NAMES: weakref.WeakKeyDictionary[FlowFile, dict[str, str]] = weakref.WeakKeyDictionary()


def step_name(flow: FlowFile, node_id: str) -> str:
    """How one step of a path reads: "function 'store'", "subflow 'Average'", "smooth"."""
    names = _names_of(flow)
    name = names.get(node_id)
    if name is None:
        name = names[node_id] = _step_name(flow, node_id)
    return name


def _names_of(flow: FlowFile) -> dict[str, str]:
    """step_name's memo for one flow (a weak map lookup: fetched once per path, not per step)."""
    names = _NAMES.get(flow)
    if names is None:
        names = _NAMES[flow] = {}
    return names


def _step_name(flow: FlowFile, node_id: str) -> str:
    if node_id.startswith("\x00in:"):
        src = flow.by_id.get(node_id[4:])
        return describe(src, flow) if src is not None else node_id[4:]
    n = flow.by_id.get(node_id)
    if n is None:
        return node_id
    if n.type.startswith("subflow:"):
        sf = flow.subflows.get(n.type[8:])
        name = n.name or (sf.name if sf is not None else "") or n.type[8:]
        return f"subflow '{name}'"
    return f"{n.type} '{n.name}'" if n.name else n.type


def input_name(flow: FlowFile, node_id: str) -> str:
    """The input at the start of a path: 'http in POST /avg'."""
    return step_name(flow, "\x00in:" + node_id)


_JUNCTIONS: weakref.WeakKeyDictionary[FlowFile, frozenset[str]] = weakref.WeakKeyDictionary()


def _junctions(flow: FlowFile) -> frozenset[str]:
    j = _JUNCTIONS.get(flow)
    if j is None:
        j = _JUNCTIONS[flow] = frozenset(n.id for n in flow.by_type.get("junction", ()))
    return j


_HEAD, _TAIL = 3, 3  # steps shown at each end of a long path


def path_text(flow: FlowFile, p: InputPath) -> str:
    """'http in POST /avg -> function 'store' -> smooth'; junctions are left out."""
    by_id = flow.by_id
    last = len(p.nodes) - 1
    junctions = _junctions(flow) if "junction" in flow.by_type else ()
    if junctions:
        nodes = p.nodes
        shown = [i for i in range(1, last + 1) if nodes[i] not in junctions or i == last or i in p.events]
    else:
        shown = list(range(1, last + 1))
    skipped = 0
    if len(shown) > _HEAD + _TAIL + 1:
        skipped = len(shown) - _HEAD - _TAIL
        shown = shown[:_HEAD] + shown[-_TAIL:]
    out = [input_name(flow, p.source)]
    names = _names_of(flow)
    for j, i in enumerate(shown):
        if skipped and j == _HEAD:
            out.append(f" -> ({skipped} more) ->")
        if i in p.events:
            n = by_id.get(p.nodes[i])
            out.append(f" -({_EVENT_TYPES.get(n.type if n else '', 'event')})-> ")
        elif i == 1 and p.elided:
            out.append(" -> ... -> ")
        elif skipped and j == _HEAD:
            out.append(" ")
        else:
            out.append(" -> ")
        nid = p.nodes[i]
        name = names.get(nid)
        if name is None:
            name = names[nid] = _step_name(flow, nid)
        out.append(name)
    return "".join(out)


def describe_paths(flow: FlowFile, paths: Inputs, target: str) -> tuple[str, tuple[Related, ...]]:
    """(message fragment, related locations) for a finding on `target`: both at once, so
    each path's text is built once."""
    texts = [path_text(flow, p) for p in paths]
    return _fed_by(texts, paths.total), related_steps(flow, paths, target, texts)


def _fed_by(texts: list[str], total: int) -> str:
    """The message fragment naming the inputs: the shortest path, and the others."""
    if not texts:
        return ""
    text = texts[0]
    others = max(total, len(texts)) - 1
    if others:
        shown = "; ".join(texts[1:])
        if others > len(texts) - 1:  # only the nearest inputs are named
            shown = f"the nearest: {shown}" if shown else ""
        text += f" (and {others} more input{'s' if others > 1 else ''}{': ' + shown if shown else ''})"
    return text


def related_steps(flow: FlowFile, paths: list[InputPath], target: str, texts: list[str] | None = None) -> tuple[Related, ...]:
    """Related locations: each step of the shortest path, then each other input."""
    if not paths:
        return ()
    out: list[Related] = []
    first = paths[0]
    src_text = input_name(flow, first.source)
    seen: set[str] = {target}
    nodes = first.nodes
    steps = range(len(nodes))
    if len(nodes) > MAX_RELATED_STEPS:
        # the input, the first steps and the last ones: a long path's middle says little
        half = MAX_RELATED_STEPS // 2
        steps = [*range(half), *range(len(nodes) - half, len(nodes))]
    for i in steps:
        nid = nodes[i]
        if nid in seen:
            continue
        seen.add(nid)
        msg = f"load-balanced input {src_text}" if i == 0 else f"step {i} on the way from {src_text}"
        out.append(_related(flow, nid, msg))
    for j, p in enumerate(paths[1:], 1):
        if p.source in seen:
            continue
        seen.add(p.source)
        text = texts[j] if texts is not None else path_text(flow, p)
        out.append(_related(flow, p.source, f"also fed by this load-balanced input: {text}"))
    return tuple(out)


def _related(flow: FlowFile, nid: str, message: str) -> Related:
    n = flow.by_id.get(nid)
    if n is None:
        return Related(nid, message)
    return Related(nid, message, n.type, n.name or None, n.line, n.z)


def related_node(flow: FlowFile, node: Node, message: str) -> Related:
    return Related(node.id, message, node.type, node.name or None, node.line, node.z)


def hit_paths(paths: list[InputPath]) -> tuple[tuple[str, ...], ...]:
    return tuple(p.nodes for p in paths)
