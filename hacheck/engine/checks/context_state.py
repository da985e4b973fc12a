"""HA200, HA202, HA203: flow, global and node context, and where each copy keeps it.

Every place a flow reads or writes context is collected once per file (`context_index`):
function code (parsed by `hacheck.analysis.js`, so comments and strings never count), `change` rules,
the `template` node's output field and mustache tags, typed inputs of any node
(`#:(store)::key` selects a store) and JSONata `$flowContext` / `$globalContext`.

Stores: hacheck cannot see settings.js, so it treats the default store as memory (one per
copy) unless the `default_store` option says otherwise, a store named in
`shared_context_stores` as shared (quiet), and one in `persistent_context_stores` as
FlowFuse's locally cached persistent store (HA203, not HA202).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from hacheck.model.findings import Hit, Related
from hacheck.model.flow import CODE_FIELD_WORDS, Node
from hacheck.analysis.paths import describe_paths, hit_paths, input_paths, related_node

CODE_FIELDS = ("func", "initialize", "finalize")
# names that must appear in function code for it to touch context (js.py needs them too)
_CONTEXT_WORDS = ("flow", "global", "context")
_SCOPE_WORDS = {"flow": "flow", "global": "global", "node": "node"}
_NOT_SCANNED = frozenset({"id", "type", "z", "g", "x", "y", "w", "h", "wires", "credentials", "info", "func", "initialize", "finalize", "libs"})
MAX_RELATED_READERS = 20

_STORE_KEY = re.compile(r"^#:\((\S+?)\)::(.*)$", re.DOTALL)  # util.parseContextStore
_MUSTACHE = re.compile(r"\{\{\{?\s*[#^&]?\s*((?:flow|global)(?:\[\w*\])?\.[^\s{}]+?)\s*\}?\}\}")
_MUSTACHE_KEY = re.compile(r"^(flow|global)(\[(\w*)\])?\.(.+)", re.DOTALL)  # 80-template.js parseContext
_JSONATA_CALL = re.compile(r"\$(flow|global)Context\s*\(")


@dataclass(slots=True, unsafe_hash=True)  # as if frozen: see findings.Related
class Access:
    node: Node
    scope: str  # "flow" | "global" | "node"
    op: str  # "get" | "set" | "keys" | "delete"
    keys: tuple[str, ...]  # literal keys; () when dynamic (or for keys())
    dynamic: bool
    store: str | None  # None: the default store; "?": chosen at run time
    field: str  # the node field it sits in: "func", "rules", "field", "props"...
    path: str  # JSON Pointer inside the node
    js_line: int | None = None

    @property
    def writes(self) -> bool:
        return self.op in ("set", "delete")


@dataclass
class ContextIndex:
    by_node: dict[str, list[Access]]
    # context changed without set, in function code: node id -> [(field, js.Mutation)]
    mutations: dict[str, list]
    parse_errors: list[tuple[Node, str, str]]  # (node, field, message)
    # (scope, container, root key) -> {node id: its first access}; container: the tab or
    # subflow id for flow context, "" for global; `readers` keeps the gets only
    users: dict[tuple[str, str, str], dict[str, Access]]
    readers: dict[tuple[str, str, str], dict[str, Access]]
    writers: dict[tuple[str, str, str], dict[str, Access]]


def context_index(ctx) -> ContextIndex:
    # on the context, not in a weak map keyed by it: the index refers back to the context
    idx = ctx.shared.get("context_index")
    if idx is None:
        idx = ctx.shared["context_index"] = _build_index(ctx)
    return idx


# nodes that only act on a message that arrives: with nothing wired, linked or hooked into
# them, their message-time context uses never run (a function's On Start/Stop code still does)
_ON_MESSAGE_ONLY = frozenset(("function", "change", "template", "switch"))


def _fed(ctx, node: Node) -> bool:
    """Some wire, link, subflow port or catch/status/complete hook can bring it a message."""
    g = ctx.graph
    pred = g.pred
    return any(pred.get(v) for v in g.vertices_of.get(node.id, ()))


def _build_index(ctx) -> ContextIndex:
    by_node: dict[str, list[Access]] = {}
    mutations: dict[str, list] = {}
    errors: list[tuple[Node, str, str]] = []
    for node in ctx.nodes():
        if node.is_config or node.type in ("tab", "subflow", "group", "comment"):
            continue
        found: list[Access] = []
        t = node.type
        unfed = t in _ON_MESSAGE_ONLY and not _fed(ctx, node)
        if unfed and t != "function":
            continue
        if t == "function":
            for f in CODE_FIELDS:
                src = node.raw.get(f)
                if src.__class__ is not str or not ("flow" in src or "global" in src or "context" in src):
                    continue  # none of _CONTEXT_WORDS
                res = ctx.js(node, f)
                if res.error:
                    errors.append((node, f, res.error))
                if unfed and f == "func":
                    continue  # still parsed: HA200 says when hacheck cannot read it
                for a in res.accesses:
                    found.append(Access(node, a.scope, a.op, a.keys, a.dynamic_key, a.store, f, f"/{f}", a.line))
                if res.mutations and f == "func":  # On Start/Stop code runs alike on every copy
                    mutations.setdefault(node.id, []).extend((f, m) for m in res.mutations)
        elif t == "change":
            found.extend(_change(node))
        else:
            skip = _NOT_SCANNED
            if t == "template":
                found.extend(_template(node))
                skip = _NOT_SCANNED | {"field"}  # the template's output: a write, seen above
            _typed_inputs(node, node.raw, "", skip, found)
        if found:
            by_node[node.id] = found
    users: dict[tuple[str, str, str], dict[str, Access]] = {}
    readers: dict[tuple[str, str, str], dict[str, Access]] = {}
    writers: dict[tuple[str, str, str], dict[str, Access]] = {}
    for node_id, accs in by_node.items():
        for a in accs:
            for k in a.keys:
                key = (a.scope, _container(a), root_key(k))
                users.setdefault(key, {}).setdefault(node_id, a)
                (writers if a.writes else readers).setdefault(key, {}).setdefault(node_id, a)
    return ContextIndex(by_node, mutations, errors, users, readers, writers)


def _container(a: Access) -> str:
    if a.scope == "flow":
        return a.node.z or ""
    if a.scope == "node":
        return a.node.id
    return ""


def root_key(key: str) -> str:
    """The top-level name a context key lives under: 'a.b[0]' -> 'a'."""
    return re.split(r"[.\[]", key.strip(), maxsplit=1)[0]


def _store_key(value) -> tuple[str | None, str]:
    if not isinstance(value, str):
        return None, ""
    m = _STORE_KEY.match(value)
    if m:
        return m.group(1), m.group(2)
    return None, value


def _ctx_access(node, scope, op, value, field, path) -> Access:
    store, key = _store_key(value)
    key = key.strip()
    dynamic = not key or "[msg" in key  # `a[msg.topic]` is evaluated per message
    return Access(node, scope, op, () if dynamic else (key,), dynamic, store, field, path)


def _change(node: Node) -> Iterator[Access]:
    rules = node.get("rules")
    if not isinstance(rules, list):
        return
    for i, r in enumerate(rules):
        if not isinstance(r, dict):
            continue
        t = r.get("t")
        pt, tot, fromt = r.get("pt"), r.get("tot"), r.get("fromt")
        base = f"/rules/{i}"
        if pt in ("flow", "global"):
            if t == "change":
                yield _ctx_access(node, pt, "get", r.get("p"), "rules", base + "/p")
            if t in ("set", "change"):
                yield _ctx_access(node, pt, "set", r.get("p"), "rules", base + "/p")
            elif t in ("delete", "move"):
                # move takes the value away from p: a read, then a delete
                if t == "move":
                    yield _ctx_access(node, pt, "get", r.get("p"), "rules", base + "/p")
                yield _ctx_access(node, pt, "delete", r.get("p"), "rules", base + "/p")
        if t == "move" and tot in ("flow", "global"):
            yield _ctx_access(node, tot, "set", r.get("to"), "rules", base + "/to")
        elif t in ("set", "change") and tot in ("flow", "global"):
            yield _ctx_access(node, tot, "get", r.get("to"), "rules", base + "/to")
        elif tot == "jsonata":
            yield from _jsonata(node, r.get("to"), "rules", base + "/to")
        if t == "change" and fromt in ("flow", "global"):
            yield _ctx_access(node, fromt, "get", r.get("from"), "rules", base + "/from")


def _template(node: Node) -> Iterator[Access]:
    ft = node.get("fieldType")
    if ft in ("flow", "global"):
        yield _ctx_access(node, ft, "set", node.get("field"), "field", "/field")
    text = node.get("template")
    if node.get("syntax", "mustache") != "plain" and isinstance(text, str) and "{{" in text:
        seen: set[tuple[str, str | None, str]] = set()
        for m in _MUSTACHE.finditer(text):
            km = _MUSTACHE_KEY.match(m.group(1))
            if not km:
                continue
            scope, store, key = km.group(1), km.group(3) or None, km.group(4)
            if (scope, store, key) in seen:
                continue
            seen.add((scope, store, key))
            yield Access(node, scope, "get", (key,), False, store, "template", "/template")


_TYPED = frozenset({"flow", "global", "jsonata"})
_TYPE_SUFFIXES = ("Type", "type", "t")


def _typed_inputs(node: Node, d: dict, prefix: str, skip: frozenset[str], out: list[Access], depth: int = 0) -> None:
    """Reads through typed inputs, appended to `out`: a value `v` whose type sits beside it
    (`vt`, `vType`, `vtype`) as flow, global or jsonata; in the node and in its lists of
    rules/props. Walks the type fields (rare values) rather than every value, and appends
    rather than yields: this runs on every node."""
    for k, v in d.items():
        if v.__class__ is str:
            if v not in _TYPED:
                continue
            for suffix in _TYPE_SUFFIXES:
                if k.endswith(suffix) and len(k) > len(suffix):
                    base = k[: -len(suffix)]
                    value = d.get(base)
                    if value.__class__ is str and not (depth == 0 and base in skip):
                        field = base if depth == 0 else prefix.split("/")[1]
                        if v == "jsonata":
                            out.extend(_jsonata(node, value, field, f"{prefix}/{base}"))
                        else:
                            out.append(_ctx_access(node, v, "get", value, field, f"{prefix}/{base}"))
                        break
        elif v.__class__ is list and depth < 2 and not (depth == 0 and k in skip):
            for i, item in enumerate(v):
                if item.__class__ is dict:
                    _typed_inputs(node, item, f"{prefix}/{k}/{i}", skip, out, depth + 1)


def _jsonata(node: Node, expr, field: str, path: str) -> Iterator[Access]:
    if not isinstance(expr, str) or "Context" not in expr:
        return
    for m in _JSONATA_CALL.finditer(expr):
        args = _call_args(expr, m.end())
        if args is None:
            continue
        key = _string_literal(args[0]) if args else None
        store: str | None = None
        if len(args) > 1:
            store = _string_literal(args[1])
            if store is None:
                store = "?"
        yield Access(node, m.group(1), "get", (key,) if key else (), key is None, store, field, path)


def _call_args(text: str, start: int) -> list[str] | None:
    """The top-level arguments of a call whose '(' ends just before `start`."""
    depth, quote, cur, out = 0, "", [], []
    i = start
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
            cur.append(c)
        elif c in "([{":
            depth += 1
            cur.append(c)
        elif c in ")]}":
            if depth == 0:
                out.append("".join(cur).strip())
                return [a for a in out if a] if out != [""] else []
            depth -= 1
            cur.append(c)
        elif c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    return None


def _string_literal(arg: str) -> str | None:
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'" and arg[0] not in arg[1:-1]:
        return arg[1:-1]
    return None


# --- stores ----------------------------------------------------------------------------------

_RULE_KEYS = ("HA202", "context-state", "HA203", "persistent-context-not-synchronised")


def default_store(ctx) -> str:
    """What the default store is: 'memory' (per copy), 'shared' or 'persistent'. The option
    `default_store` may be set on HA202 or HA203; it applies to both."""
    for key in _RULE_KEYS:
        v = (ctx.config.options.get(key) or {}).get("default_store")
        if v in ("memory", "shared", "persistent"):
            return v
    return "memory"


def store_kind(ctx, store: str | None, default: str) -> str:
    """'shared', 'persistent', 'local' (one per copy) or 'unknown' (chosen at run time)."""
    if store is None:
        return {"memory": "local"}.get(default, default)
    if store == "?":
        return "unknown"
    if store in ctx.config.shared_context_stores:
        return "shared"
    if store in ctx.config.persistent_context_stores:
        return "persistent"
    return "local"


# --- words -----------------------------------------------------------------------------------


def keys_text(accs: list[Access]) -> str:
    """"flow context 'count', 'total' and node context 'n'"; dynamic keys said as such."""
    parts = []
    for scope in ("flow", "global", "node"):
        mine = [a for a in accs if a.scope == scope]
        if not mine:
            continue
        names: list[str] = []
        for a in mine:
            for k in a.keys:
                q = f"'{k}'"
                if q not in names:
                    names.append(q)
        dynamic = any(a.dynamic for a in mine)
        text = f"{_SCOPE_WORDS[scope]} context"
        if names:
            text += " " + _join(names)
            if dynamic:
                text += " and under a key computed at run time"
        elif dynamic:
            text += " under a key computed at run time"
        else:
            text += " (its list of keys)"
        parts.append(text)
    return _join(parts)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _store_text(ctx, accs: list[Access], default: str) -> str:
    named = sorted({a.store for a in accs if a.store not in (None, "?")})
    bits = []
    if any(a.store is None for a in accs):
        bits.append("the default store (taken as memory: one per copy)")
    if named:
        bits.append(
            "store " + _join([f"'{s}'" for s in named]) + " (not listed in shared_context_stores)"
        )
    if any(a.store == "?" for a in accs):
        bits.append("a store chosen at run time")
    return _join(bits)


def _reader_related(ctx, idx: ContextIndex, node: Node, accs: list[Access], want: str) -> tuple[list[Related], int]:
    """Other nodes that read (want='read') or use (want='any') the same keys: the first
    MAX_RELATED_READERS as related locations, and how many there are (-1: too many to count
    cheaply, which only happens for keys used by hundreds of nodes)."""
    table = idx.readers if want == "read" else idx.users
    groups = []
    for a in accs:
        for k in a.keys:
            others = table.get((a.scope, _container(a), root_key(k)))
            if others:
                groups.append((a.scope, k, others))
    out: list[Related] = []
    seen: set[str] = {node.id}
    for scope, k, others in groups:
        for nid, other in others.items():
            if len(out) >= MAX_RELATED_READERS:
                break
            if nid not in seen:
                seen.add(nid)
                verb = "writes" if other.writes else "reads"
                out.append(related_node(ctx.flow, other.node, f"{verb} {_SCOPE_WORDS[scope]} context '{k}'"))
    if len(out) < MAX_RELATED_READERS:
        return out, len(out)
    if len(groups) == 1:
        return out, len(groups[0][2]) - (node.id in groups[0][2])
    if sum(len(g[2]) for g in groups) <= 500:
        return out, len(set().union(*(g[2] for g in groups)) - {node.id})
    return out, -1


def _readers_text(flow, readers: list[Related], count: int) -> str:
    if not readers:
        return ""
    first = readers[0]
    n = flow.by_id.get(first.node_id)
    name = f"{n.type} '{n.name}'" if n is not None and n.name else (n.type if n is not None else first.node_id)
    if count < 0:
        return f" (read by {name} and many more nodes)"
    more = count - 1
    return f" (read by {name}" + (f" and {more} more node{'s' if more > 1 else ''})" if more > 0 else ")")


# --- values passed down one message's path ---------------------------------------------------

MAX_REGION = 2000  # vertices searched to prove a value stays on one message's path


def _predecessors(ctx) -> dict[str, list[str]]:
    return ctx.graph.pred


def passed_down_the_path(ctx, idx: ContextIndex, node: Node, writes: list[Access]) -> bool:
    """The written values are only read further along the same message's path: the node is
    the only writer of each (literal) key, and every path into every reader passes through
    it. Then the read happens on the copy that wrote the value, as for a single instance
    (typically `flow.set("res", msg.res)` before an async node, read back after it)."""
    if any(a.dynamic or a.scope == "node" or a.store == "?" for a in writes):
        return False
    g = ctx.graph
    wv = g.vertices_of.get(node.id, ())
    if len(wv) != 1:
        return False  # inside subflow instances: not worth the bookkeeping
    w = wv[0]
    readers: set[str] = set()
    for a in writes:
        for k in a.keys:
            key = (a.scope, _container(a), root_key(k))
            if set(idx.writers.get(key, {})) != {node.id}:
                return False  # another node writes it too
            if any(r.node.id == node.id for r in idx.readers.get(key, {}).values()):
                return False  # read-modify-write: the value outlives the message
            for rid in idx.readers.get(key, {}):
                readers.update(g.vertices_of.get(rid, ()))
    if not readers:
        return False  # nothing here reads it: it may be read elsewhere (dashboard, API)
    below: set[str] = set()
    stack = [w]
    while stack:
        v = stack.pop()
        for x in g.succ[v]:
            if x not in below and x != w:
                below.add(x)
                if len(below) > MAX_REGION:
                    return False
                stack.append(x)
    if not readers <= below:
        return False
    pred = _predecessors(ctx)
    seen = set(readers)
    stack = list(readers)
    while stack:
        v = stack.pop()
        for u in pred.get(v, ()):
            if u == w or u in seen:
                continue
            if u not in below:
                return False  # a message can reach the reader without passing the writer
            seen.add(u)
            stack.append(u)
    return True


def never_read(ctx, idx: ContextIndex, writes: list[Access]) -> bool:
    """No running node reads any of the (literal) keys written: the value changes nothing the
    flows do. A reader that only manual injects start does not count (a manual inject
    reading it neither): on an HA instance the editor is disabled and nobody presses them."""
    if any(a.dynamic for a in writes):
        return False
    by_id, eff = ctx.flow.by_id, ctx.effects
    dynamic = ctx.shared.get("dynamic_reads")
    if dynamic is None:  # where a key computed at run time is read: it may be any key there
        dynamic = ctx.shared["dynamic_reads"] = {
            (a.scope, _container(a)) for accs in idx.by_node.values() for a in accs if a.dynamic and not a.writes
        }
    for a in writes:
        if (a.scope, _container(a)) in dynamic:
            return False
        for k in a.keys:
            for rid in idx.readers.get((a.scope, _container(a), root_key(k)), ()):
                reader = by_id[rid]
                if reader.type == "inject" and eff.roles(reader).source is None:
                    continue
                if not eff.idle(reader):
                    return False
    return True


# --- checks ----------------------------------------------------------------------------------


def context_state(ctx, rule) -> Iterator[Hit]:
    """HA202: context written per copy, by a node fed by a load-balanced input."""
    if not ctx.ingress:
        return
    idx = context_index(ctx)
    default = default_store(ctx)
    flow = ctx.flow
    for accs in idx.by_node.values():
        # On Start / On Stop code runs the same way on every copy, not per message
        writes = [
            a
            for a in accs
            if a.writes and a.field not in ("initialize", "finalize") and store_kind(ctx, a.store, default) in ("local", "unknown")
        ]
        if not writes:
            continue
        node = writes[0].node
        if never_read(ctx, idx, writes):
            continue
        paths = input_paths(ctx, node)
        if not paths or passed_down_the_path(ctx, idx, node, writes):
            continue
        readers, count = _reader_related(ctx, idx, node, writes, "read")
        fed, steps = describe_paths(flow, paths, node.id)
        yield Hit(
            node.id,
            args={
                "written": keys_text(writes),
                "store": _store_text(ctx, writes, default),
                "fed": fed,
                "readers": _readers_text(flow, readers, count),
            },
            path=writes[0].path,
            js_line=writes[0].js_line,
            detail=writes[0].field,
            related=steps + tuple(readers),
            paths=hit_paths(paths),
        )


def context_mutated_in_place(ctx, rule) -> Iterator[Hit]:
    """HA205: context changed without set (a legacy property, or a value read with get changed
    in place), by a node fed by a load-balanced input."""
    if not ctx.ingress:
        return
    idx = context_index(ctx)
    flow = ctx.flow
    for node_id, found in idx.mutations.items():
        node = flow.by_id[node_id]
        paths = input_paths(ctx, node)
        if not paths:
            continue
        field, first = found[0]
        hows = []
        for _, m in found:
            if m.how not in hows:
                hows.append(m.how)
        fed, steps = describe_paths(flow, paths, node.id)
        yield Hit(
            node.id,
            args={"how": _join(hows[:3]) + (f" and {len(hows) - 3} more" if len(hows) > 3 else ""), "fed": fed},
            path=f"/{field}",
            js_line=first.line,
            detail=f"{first.scope}:{first.key}",
            related=steps,
            paths=hit_paths(paths),
        )


def persistent_context(ctx, rule) -> Iterator[Hit]:
    """HA203: any use of a persistent store that each copy caches on its own."""
    idx = context_index(ctx)
    default = default_store(ctx)
    if not ctx.config.persistent_context_stores and default != "persistent":
        return
    for accs in idx.by_node.values():
        by_field: dict[str, list[Access]] = {}
        for a in accs:
            if store_kind(ctx, a.store, default) == "persistent":
                by_field.setdefault(a.field, []).append(a)
        for field, mine in by_field.items():
            node = mine[0].node
            ops = {"reads" if a.op in ("get", "keys") else "writes" for a in mine}
            stores = sorted({a.store if a.store is not None else "default" for a in mine})
            yield Hit(
                node.id,
                args={
                    "verb": " and ".join(sorted(ops)),
                    "keys": keys_text(mine),
                    "stores": _join([f"'{s}'" for s in stores]),
                    "where": _where(field),
                    "how": _how_kept(stores),
                },
                path=mine[0].path,
                js_line=mine[0].js_line,
                detail=field,
                related=tuple(_reader_related(ctx, idx, node, mine, "any")[0]),
            )


def _how_kept(stores: list[str]) -> str:
    if stores == ["persistent"]:
        return "FlowFuse's persistent store caches in each copy's memory and does not synchronise the copies; the copy that flushes last overwrites the other's value"
    if "persistent" not in stores:
        return "a localfilesystem store keeps its values on each copy's own disk, cached in its memory"
    return "FlowFuse's persistent store caches in each copy's memory, a localfilesystem store on each copy's own disk"


_PLACES = {"rules": "in its rules", "props": "in its properties", "template": "in its template", "field": "as its output"}


def _where(field: str) -> str:
    if field in CODE_FIELD_WORDS:
        return f"in its {CODE_FIELD_WORDS[field]} code"
    return _PLACES.get(field, f"in its '{field}' property")


def unparsable_function(ctx, rule) -> Iterator[Hit]:
    """HA200: function code that does not parse, so its context use could not be checked."""
    idx = context_index(ctx)
    for node, field, error in idx.parse_errors:
        m = re.search(r"line (\d+)", error)
        yield Hit(
            node.id,
            args={"code": CODE_FIELD_WORDS[field], "error": error},
            path=f"/{field}",
            js_line=int(m.group(1)) if m else None,
            detail=field,
        )
