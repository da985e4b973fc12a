"""The roles of one node: the catalogue entry of its type, with its `when` conditions decided
on this node's fields, plus the modules a function node loads. (Context writes of function,
change and template nodes are read by the context index, which knows their stores.)

A type the catalogue does not know is judged by its shape: a dashboard-like type (`ui_*`,
`ui-*`) is a view; a node without output ports is taken as acting on the world (it is where a
message ends: senders, writers, actuators), marked `assumed` so a message can say so; a node
with outputs passes messages on and does nothing else that hacheck can see.
"""

from __future__ import annotations

import re
import weakref

from hacheck.analysis.match import evaluate, is_local
from hacheck.model.flow import CODE_FIELD_WORDS, FlowFile, Node
from hacheck.util.url_secrets import scrub

AXES = ("source", "effect", "passes", "host", "session")

# modules a function node can load through `libs` that act on the world
_OUTBOUND_MODULES = frozenset({
    "axios", "node-fetch", "got", "request", "superagent", "undici", "http", "https", "net", "dgram",
    "nodemailer", "mqtt", "ws", "socket.io-client", "pg", "mysql", "mysql2", "mongodb", "mongoose",
    "redis", "ioredis", "@influxdata/influxdb-client", "influx", "twilio", "telegraf",
    "node-telegram-bot-api", "discord.js", "@slack/web-api", "knx", "modbus-serial", "node-opcua",
    "child_process", "amqplib", "kafkajs", "nats", "firebase-admin",
})
_DISK_MODULES = frozenset({"fs", "fs-extra", "fs/promises", "path", "sqlite3", "better-sqlite3", "nedb", "lowdb"})
# modules that open a server of the copy's own, and the calls on the module that do it
# (`new osc.Server(8001)`, `net.createServer(...)`): a port the load balancer does not front
_SERVER_CALLS = {
    "node-osc": ("Server",),
    "net": ("createServer",),
    "http": ("createServer",),
    "https": ("createServer",),
    "http2": ("createServer", "createSecureServer"),
    "ws": ("Server", "WebSocketServer"),
    "socket.io": ("Server",),
    "coap": ("createServer",),
    "modbus-serial": ("ServerTCP",),
}


class Role:
    """One role of a node on one axis. `assumed`: not from the catalogue, guessed from shape.
    `acts` (sources): each event the node sends is also an action of its own effect."""

    __slots__ = ("acts", "assumed", "axis", "cls", "kind", "what")

    def __init__(self, axis: str, kind: str, cls: str = "", what: str = "", assumed: bool = False, acts: bool = True):
        self.axis, self.kind, self.cls, self.what, self.assumed, self.acts = axis, kind, cls, what, assumed, acts

    def __repr__(self) -> str:
        return f"Role({self.axis}:{self.kind}/{self.cls} {self.what!r})"


class Roles:
    __slots__ = ("effect", "host", "known", "passes", "session", "source")

    def __init__(self, source=None, effect=None, passes=True, host=None, session=None, known=True):
        self.source: Role | None = source
        self.effect: Role | None = effect
        self.passes: bool = passes
        self.host: Role | None = host
        self.session: Role | None = session
        self.known: bool = known  # the type is in the catalogue (or is structure)


_NOTHING = Roles()


class _Fields(dict):
    def __missing__(self, key):
        return ""


def render(template: str, node: Node) -> str:
    """A `what` template with {f[field]} filled from the node (never its credentials)."""
    if "{" not in template:
        return template
    fields = _Fields({k: v for k, v in node.raw.items() if k not in ("credentials", "env")})
    try:
        text = template.format_map({"f": fields}).replace("''", "'?'")
    except (ValueError, IndexError, AttributeError, TypeError, KeyError):
        return template
    return scrub(text)  # a URL's password or token never reaches a message


def _first(entries, axis: str, node: Node, flow: FlowFile) -> Role | None:
    for e in entries:
        cond = e.get("when")
        if cond is None or evaluate(cond, node, flow):
            kind = e["kind"]
            if kind == "none":
                return None
            return Role(axis, kind, e.get("class", ""), render(e.get("what", ""), node), acts=e.get("acts", True))
    return None


def _passes(entries, node: Node, flow: FlowFile) -> bool:
    for e in entries:
        cond = e.get("when")
        if cond is None or evaluate(cond, node, flow):
            return bool(e["value"])
    return True


def of(node: Node, flow: FlowFile, catalogue: dict[str, dict]) -> Roles:
    t = node.type
    entry = catalogue.get(t)
    if entry is None:
        return _by_shape(node, flow)
    if entry.get("neutral"):
        roles = _NOTHING
    else:
        roles = Roles(
            source=_first(entry.get("source", ()), "source", node, flow),
            effect=_first(entry.get("effect", ()), "effect", node, flow),
            passes=_passes(entry.get("passes", ()), node, flow),
            host=_first(entry.get("host", ()), "host", node, flow),
            session=_first(entry.get("session", ()), "session", node, flow),
        )
    if t == "function":
        return _function(node, roles)
    if t == "switch" and _correlation_gate(node, flow):
        return Roles(roles.source, roles.effect, False, roles.host, roles.session)
    return roles


def _by_shape(node: Node, flow: FlowFile) -> Roles:
    t = node.type
    if t.startswith("subflow:"):
        if t[8:] in flow.subflows:
            return _NOTHING  # expanded by the graph: its inner nodes have their own roles
        return Roles(known=False)  # a subflow whose definition is not in the file
    if node.is_config or t in ("tab", "subflow", "group"):
        return _NOTHING
    if t.startswith(("ui_", "ui-")):
        return Roles(effect=Role("effect", "view", "dashboard", "shows it on a dashboard", assumed=True), known=False)
    port = _serial_port(node, flow)
    if port is not None:  # a contrib serial node: its config names the port, as serial-port does
        host = Role("host", "hardware", "", f"uses the serial port '{port}'", assumed=True)
        if t.endswith(" in"):
            return Roles(source=Role("source", "every-copy", "listener", f"reads the serial port '{port}'", assumed=True), host=host, known=False)
        return Roles(effect=Role("effect", "outbound", "command", f"writes to the serial port '{port}'", assumed=True), host=host, known=False)
    wires = node.raw.get("wires")
    if _emits_on_its_own(node, flow):
        what = (f"is of the type '{t}', which is not in the effect catalogue: with no wired input and"
                " wired outputs it is taken to emit on its own in every copy (an event stream, a poller,"
                " a timer or a server)")
        return Roles(source=Role("source", "every-copy", "unknown", what, assumed=True), known=False)
    if isinstance(wires, list) and len(wires) == 0:
        what = "not in the effect catalogue; taken as an action because it has no output"
        return Roles(effect=Role("effect", "outbound", "command", what, assumed=True), known=False)
    if _SINK_NAME.search(t):
        what = "not in the effect catalogue; taken as an action by its name"
        return Roles(effect=Role("effect", "outbound", "command", what, assumed=True), known=False)
    return Roles(known=False)


def _emits_on_its_own(node: Node, flow: FlowFile) -> bool:
    """Nothing wires into it (its own subflow's input port included) and some output is wired."""
    wires = node.raw.get("wires")
    if not isinstance(wires, list) or not any(isinstance(p, list) and p for p in wires):
        return False
    return node.id not in _wired_into(flow)


_WIRED_INTO: "weakref.WeakKeyDictionary[FlowFile, frozenset[str]]" = weakref.WeakKeyDictionary()


def _wired_into(flow: FlowFile) -> frozenset[str]:
    """The ids some node's wire, or a subflow's input port, points at (once per flow)."""
    got = _WIRED_INTO.get(flow)
    if got is None:
        ids: set[str] = set()
        for n in flow.nodes:
            for port in n.wires:
                ids.update(w for w in port if isinstance(w, str))
        for sf in flow.subflows.values():
            for port in sf.raw.get("in") or ():
                if isinstance(port, dict):
                    ids.update(w.get("id") for w in port.get("wires") or () if isinstance(w, dict))
        got = _WIRED_INTO[flow] = frozenset(ids)
    return got


# Node-RED's naming convention: "<thing> in" receives, "<thing> out" sends (mqtt out, udp out,
# influxdb out, cloudantplus out); verbs that act
_SINK_NAME = re.compile(r"(?i)(?:[ _-]out$|write|send|publish|notif|insert|command)")


def _serial_port(node: Node, flow: FlowFile) -> str | None:
    for key in ("serial", "port", "serialport"):
        ref = node.raw.get(key)
        cfg = flow.by_id.get(ref) if isinstance(ref, str) else None
        if cfg is not None and cfg.is_config and isinstance(cfg.raw.get("serialport"), str):
            return cfg.raw["serialport"]
    return None


def libs(node: Node) -> list[str]:
    libs = node.raw.get("libs")
    if not isinstance(libs, list):
        return []
    return [lib["module"] for lib in libs if isinstance(lib, dict) and isinstance(lib.get("module"), str)]


def local_broker(broker: Node) -> bool:
    """Each copy connects to a broker of its own: no takeover, no duplicate delivery (HA123)."""
    return is_local(broker.raw.get("broker"))


def function_passes(node: Node) -> bool:
    """Code that neither returns nor sends passes nothing on (an empty body), nor code whose
    every `return` gives null and that never calls `send`; in doubt (unparsable code) it
    passes: never a path lost."""
    code = node.raw.get("func")
    if not isinstance(code, str) or not ("return" in code or "send" in code):
        return not isinstance(code, str)
    # returns that all give null (a function that only updates context or logs) pass nothing;
    # only code with such a return is parsed for it
    if "send" in code or _NULL_RETURN.search(code) is None:
        return True
    from hacheck.analysis.js import passes_nothing

    return not passes_nothing(code)


_NULL_RETURN = re.compile(r"\breturn\s*(?:null\b|undefined\b|;|\}|$)", re.MULTILINE)


def condition_fields(t: str, entry: dict | None) -> tuple[str, ...] | None:
    """The node fields (or paths into them, `rules[].vt`) the entry's conditions read, when
    that is all they read (no `ref` to another node); None otherwise, and for types whose
    roles are read from elsewhere too (code, the nodes before an http request)."""
    if entry is None or t in ("function", "http request"):
        return None
    fields: set[str] = set()

    def walk(cond) -> bool:
        if "ref" in cond:
            return False
        for key in ("all", "any"):
            for c in cond.get(key, ()):
                if not walk(c):
                    return False
        if "not" in cond and not walk(cond["not"]):
            return False
        if "field" in cond:
            fields.add(cond["field"])
        return True

    for axis in AXES:
        for e in entry.get(axis, ()):
            if "when" in e and not walk(e["when"]):
                return None
    return tuple(sorted(fields))


_FIELD_REF = re.compile(r"\{f\[([^\]]+)\]\}")


def template_fields(entry: dict | None) -> tuple[str, ...]:
    """The node fields the entry's `what` texts name."""
    if entry is None:
        return ()
    found = {m for axis in AXES for e in entry.get(axis, ()) for m in _FIELD_REF.findall(e.get("what", ""))}
    return tuple(sorted(found))


def same_for_every_node(t: str, entry: dict | None) -> bool:
    """No field of a node of this type changes its roles (no `when`, no code to read)."""
    if entry is None or t in ("function", "switch"):
        return False
    return not any("when" in e for axis in AXES for e in entry.get(axis, ()))


def _function(node: Node, roles: Roles) -> Roles:
    mods = libs(node)
    out = next((m for m in mods if m in _OUTBOUND_MODULES), None)
    disk = next((m for m in mods if m in _DISK_MODULES and m != "path"), None)
    server = _server(node) if any(m in _SERVER_CALLS for m in mods) else None
    passes = function_passes(node)
    if out is None and disk is None and server is None and passes:
        return roles
    effect = Role("effect", "outbound", "call", f"uses the module '{out}'") if out else roles.effect
    host = Role("host", "disk", "", f"uses the module '{disk}'") if disk else roles.host
    source = roles.source
    if server is not None:  # it sends what its server receives
        source = Role("source", "every-copy", "listener", server)
        host = Role("host", "port", "", server)
    return Roles(source, effect, passes, host, roles.session)


def _server(node: Node) -> str | None:
    """How the code opens a server through a module it loads, in words; None if it does not."""
    from hacheck.analysis.js import member_calls

    for lib in node.raw.get("libs") or ():
        if not isinstance(lib, dict):
            continue
        var, module = lib.get("var"), lib.get("module")
        names = _SERVER_CALLS.get(module)
        if not names or not isinstance(var, str):
            continue
        for field in ("initialize", "func"):
            calls = member_calls(node.raw.get(field) or "", frozenset(names))
            hit = next((name for obj, name in sorted(calls or ()) if obj == var), None)
            if hit is not None:
                return f"opens a server with {var}.{hit} of the module '{module}' in its {CODE_FIELD_WORDS[field]} code"
    return None



# What makes a value differ between copies: a random or generated id
_UNIQUE = ("Math.random", "generateId", "randomUUID", "uuid", "crypto.random")


def may_gate(node: Node) -> bool:
    """A cheap first look: a switch with a rule comparing with flow or global context."""
    rules = node.raw.get("rules")
    return isinstance(rules, list) and any(isinstance(r, dict) and r.get("vt") in ("flow", "global") for r in rules)


def _correlation_gate(node: Node, flow: FlowFile) -> bool:
    """A switch whose every rule asks whether the message equals a flow or global context
    value that its tab's function code sets from a random or generated id (a notification's
    tag, a request's correlation id): each copy makes its own, so an event that every copy
    receives passes on the one copy that made it, and is dropped on the others."""
    rules = node.raw.get("rules")
    if not isinstance(rules, list) or not rules:
        return False
    keys = set()
    for r in rules:
        if not (isinstance(r, dict) and r.get("t") == "eq" and r.get("vt") in ("flow", "global") and isinstance(r.get("v"), str)):
            return False
        keys.add((r["vt"], r["v"]))
    made = _unique_keys(flow)
    return all(((scope, node.z or "") if scope == "flow" else (scope, ""), key) in made for scope, key in keys)


_UNIQUE_KEYS: weakref.WeakKeyDictionary[FlowFile, set] = weakref.WeakKeyDictionary()


def _unique_keys(flow: FlowFile) -> set:
    """((scope, tab), key) of the context values some function sets in code that makes a
    random or generated id: looked for once per flow, in the few functions that mention one."""
    made = _UNIQUE_KEYS.get(flow)
    if made is not None:
        return made
    from hacheck.analysis.js import analyze

    made = set()
    for n in flow.by_type.get("function", ()):
        for field in ("initialize", "func"):
            code = n.raw.get(field)
            if not isinstance(code, str) or not any(u in code for u in _UNIQUE):
                continue
            for a in analyze(code).accesses:
                if a.op == "set" and a.scope in ("flow", "global"):
                    where = (a.scope, n.z or "") if a.scope == "flow" else (a.scope, "")
                    made.update((where, k) for k in a.keys)
    _UNIQUE_KEYS[flow] = made
    return made
