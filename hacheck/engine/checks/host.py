"""State and things outside Node-RED's memory that each copy has on its own: its disk, its
hardware, the services on its localhost, and the sessions only one copy can hold.

What binds a node to its host or to a session comes from the effect catalogue (`host:` and
`session:` roles, rules/effects/*.yaml); the checks here decide when that is a hazard:
disk writes and hardware commands when a load-balanced input reaches them (HA204, HA122),
a localhost service always (HA123: a warning that the address must change, or information
when the configuration says each copy runs its own, `localhost_services: per-copy`), an exclusive
session always (HA108).
"""

from __future__ import annotations

from collections.abc import Iterator

from hacheck.analysis.match import localhost_per_copy
from hacheck.model.findings import Hit, Related, Severity
from hacheck.model.flow import Node
from hacheck.analysis.paths import describe_paths, hit_paths, input_paths, related_node, step_name

# sessions with a rule of their own: a fixed MQTT client id is HA103; FlowFuse's own broker
# connection is inferred from its code to share one id between copies, not seen to
_SESSIONS_ELSEWHERE = ("mqtt-broker", "ff-mqtt-conf")


def _nodes_with(ctx, axis: str, kinds: tuple[str, ...]) -> list[tuple[Node, object]]:
    """Running nodes (config nodes included) whose `axis` role is one of `kinds`, with the role."""
    flow, eff = ctx.flow, ctx.effects
    out = []
    for t in flow.by_type:
        entry = eff.catalogue.get(t)
        if t != "function" and (entry is None or axis not in entry):
            continue  # only types the catalogue gives such a role (and functions, by their modules)
        for n in flow.by_type[t]:
            if n.id not in flow.running:
                continue
            role = getattr(eff.roles(n), axis)
            if role is not None and role.kind in kinds:
                out.append((n, role))
    out.sort(key=lambda nr: nr[0].index)
    return out


# --- HA204 local-disk-state ---------------------------------------------------------------------


# the Node.js fs calls (and their Sync forms) that change the disk
_FS_WRITES = frozenset(
    f"{name}{suffix}"
    for name in ("writeFile", "appendFile", "unlink", "rm", "rmdir", "mkdir", "rename", "copyFile", "cp",
                 "truncate", "chmod", "chown", "symlink", "link", "utimes", "mkdtemp", "write")
    for suffix in ("", "Sync")
) | {"createWriteStream", "outputFile", "outputJson", "writeJson", "writeJSON", "ensureDir", "emptyDir"}
# an embedded database's writes (sqlite3, better-sqlite3, nedb, lowdb)
_DB_WRITES = frozenset({"run", "exec", "insert", "update", "remove", "write", "prepare"})
_DB_MODULES = frozenset({"sqlite3", "better-sqlite3", "nedb", "lowdb"})


def _function_writes(n: Node) -> bool:
    """The code calls a writing method on a disk module it loads through `libs`."""
    from hacheck.analysis.js import member_calls

    mods = {lib["var"]: lib["module"] for lib in n.raw.get("libs") or () if isinstance(lib, dict) and isinstance(lib.get("var"), str) and isinstance(lib.get("module"), str)}
    calls = member_calls(n.raw.get("func") or "", _FS_WRITES | _DB_WRITES)
    if calls is None:
        return True  # code that cannot be parsed: taken as writing
    for obj, method in calls:
        module = mods.get(obj)
        if module in _DB_MODULES and method in _DB_WRITES:
            return True
        if module is not None and module not in _DB_MODULES and method in _FS_WRITES:
            return True
    return False


def local_disk_state(ctx, rule) -> Iterator[Hit]:
    if not ctx.ingress:
        return
    flow, eff = ctx.flow, ctx.effects
    disk = _nodes_with(ctx, "host", ("disk",))
    fed_writers: list[Node] = []
    for n, host in disk:
        if n.is_config or not _writes(eff, n):
            continue  # a reader, or the database file's config: the writes are elsewhere
        paths = input_paths(ctx, n)
        if not paths:
            continue
        fed_writers.append(n)
        effect = eff.roles(n).effect
        fed, related = describe_paths(flow, paths, n.id)
        what = effect.what if effect is not None and effect.what else host.what
        others = [m for m, _ in disk if m.id != n.id and not m.is_config and _same_place(n, m)]
        related += tuple(related_node(flow, m, "uses the same place on the disk") for m in others[:20])
        yield Hit(n.id, args={"what": what, "fed": fed}, related=related, paths=hit_paths(paths))
    if fed_writers:
        yield from _read_back(ctx, disk, fed_writers)


def _writes(eff, n: Node) -> bool:
    if n.type == "function":
        return _function_writes(n)
    effect = eff.roles(n).effect
    return effect is not None and effect.kind in ("outbound", "state")


def _read_back(ctx, disk, fed_writers: list[Node]) -> Iterator[Hit]:
    """A file or local database read on a load-balanced path, that a load-balanced path writes
    (a request, a shared subscription): each copy's disk holds only what its own share wrote,
    so the answer depends on which copy the reading request lands on. The writer is reported
    above; this is the reader's side. What every copy writes in full (a timer, a plain
    subscription) is on every copy's disk alike."""
    flow, eff = ctx.flow, ctx.effects
    for n, host in disk:
        if n.is_config or _writes(eff, n):
            continue
        mine = [w for w in fed_writers if _same_place(n, w)]
        if not mine:
            continue
        paths = input_paths(ctx, n)
        if not paths:
            continue
        fed, related = describe_paths(flow, paths, n.id)
        writer = mine[0]
        what = f"{host.what or 'reads a file on this copy' + chr(39) + 's disk'}, which {step_name(flow, writer.id)} writes there from its share of the requests,"
        related += tuple(related_node(flow, w, "writes what it reads, on each copy's disk") for w in mine[:20])
        yield Hit(n.id, args={"what": what, "fed": fed}, related=related, paths=hit_paths(paths), detail="read-back")


def _same_place(a: Node, b: Node) -> bool:
    """Both name the same file, folder or database config."""
    def place(n: Node):
        for key in ("filename", "files", "mydb", "db"):
            v = n.get(key)
            if isinstance(v, str) and v.strip():
                return v.strip()
        return None

    pa = place(a)
    return pa is not None and pa == place(b)


# --- HA122 host-bound-output --------------------------------------------------------------------


def host_bound_output(ctx, rule) -> Iterator[Hit]:
    if not ctx.ingress:
        return
    flow, eff = ctx.flow, ctx.effects
    for n, host in _nodes_with(ctx, "host", ("hardware",)):
        if n.is_config or eff.roles(n).source is not None:
            continue  # inputs are HA120's
        paths = input_paths(ctx, n)
        if not paths:
            continue
        fed, related = describe_paths(flow, paths, n.id)
        yield Hit(n.id, args={"what": host.what or f"uses the host's {n.type}", "fed": fed}, related=related, paths=hit_paths(paths))


# --- HA123 localhost-service --------------------------------------------------------------------


def _through_config(found: list) -> list:
    """The nodes found, without those that only use a config node found too: the finding
    belongs on the connection, with its users as related locations."""
    configs = {n.id for n, _ in found if n.is_config}
    out = []
    for n, role in found:
        if not n.is_config and any(isinstance(v, str) and v in configs for v in n.raw.values()):
            continue
        out.append((n, role))
    return out


_JUDGED_SHARED = (
    "on HA nothing else runs in a copy's container, so this address must change to a service"
    " every copy reaches (a broker, database or PLC on its own host) before the flow can run there."
    " hacheck judges the paths through it as through that one shared service"
    " (localhost_services: shared): the duplicated-work and client-id findings (HA101, HA103,"
    " HA105, HA107, HA110-HA112) that reach it assume so. If every copy runs its own service"
    " beside it on purpose, set localhost_services: per-copy"
)
_JUDGED_PER_COPY = (
    "each copy reaches the service in its own pod or container, not a shared one"
    " (localhost_services: per-copy). If the service is meant to be shared, give its real"
    " address; if each copy runs its own on purpose, make sure nothing expects them to agree"
)


def localhost_service(ctx, rule) -> Iterator[Hit]:
    flow = ctx.flow
    per_copy = localhost_per_copy()
    judged = _JUDGED_PER_COPY if per_copy else _JUDGED_SHARED
    for n, host in _through_config(_nodes_with(ctx, "host", ("local-service",))):
        users = [u for u in flow.config_users.get(n.id, ()) if flow.runs(u)] if n.is_config else []
        yield Hit(
            n.id,
            args={"what": host.what or "talks to a service on localhost", "judged": judged},
            related=tuple(Related(u.id, "uses it", u.type, u.name or None, u.line, u.z) for u in users[:20]),
            # a deployment that runs the service beside each copy has nothing to change
            severity=Severity.INFO if per_copy else None,
        )


# --- HA108 exclusive-session --------------------------------------------------------------------


def exclusive_session(ctx, rule) -> Iterator[Hit]:
    flow = ctx.flow
    for n, session in _through_config(_nodes_with(ctx, "session", ("exclusive",))):
        if n.type in _SESSIONS_ELSEWHERE:
            continue
        users = [u for u in flow.config_users.get(n.id, ()) if flow.runs(u)] if n.is_config else []
        yield Hit(
            n.id,
            args={"what": session.what or "holds a session only one process can have"},
            related=tuple(Related(u.id, "uses it", u.type, u.name or None, u.line, u.z) for u in users[:20]),
        )


def exclusive(ctx, node: Node) -> bool:
    """The node holds, or uses a config node that holds, a session only one copy can have at
    a time: the copies take it from each other, so what it receives is never handled twice."""
    eff, flow = ctx.effects, ctx.flow
    if _is_exclusive(eff.roles(node).session):
        return True
    for v in node.raw.values():
        if isinstance(v, str) and v in flow.config_ids:
            c = flow.by_id[v]
            if c.type not in _SESSIONS_ELSEWHERE and _is_exclusive(eff.roles(c).session):
                return True
    return False


def _is_exclusive(role) -> bool:
    return role is not None and role.kind == "exclusive"
