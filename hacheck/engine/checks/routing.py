"""HA1xx: work that every copy pulls in or starts itself, and HTTP requests that never get a reply.

The declarative rules (HA101, HA102, HA104, HA106, HA121, HA130) live in their YAML files; what
is here needs a message that depends on the node, a look at other nodes, or the message graph.
Every check looks only at nodes that run (`ctx.nodes(..., running=True)`).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator

from hacheck.engine.checks.duplication import hit, outbound
from hacheck.effects.roles import local_broker
from hacheck.model.findings import Hit, Related
from hacheck.analysis.graph import SEP
from hacheck.model.flow import Node

# Node-RED replaces a property by an environment value only when the whole string is `${VAR}`
# or the old `$(VAR)` (runtime/lib/flows/util.js mapEnvVarProperties: EnvVarPropertyRE and
# EnvVarPropertyRE_old); `prefix-${VAR}` is used as written.
ENV_WHOLE = re.compile(r"\$\{\S+\}|\$\(\S+\)")  # use with fullmatch
_ENV_PART = re.compile(r"\$\{[^}]*\}|\$\([^)]*\)")


def _text(v) -> str:
    """A node property as the runtime would see it in a string context ('' when unset)."""
    if isinstance(v, bool) or v is None:
        return ""
    if isinstance(v, (int, float)):
        return str(v)
    return v if isinstance(v, str) else ""


def _number(v) -> float | None:
    """Like JavaScript's `v * 1` for the values editors write: '60' -> 60.0, '' -> None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and v.strip():
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _quoted(n: Node) -> str:
    # dashboard widgets often have no name but a `label`, which is what the page shows
    name = n.name or (n.get("label") if isinstance(n.get("label"), str) else "")
    return f"{n.type} '{name}'" if name else n.type


# --- HA103 mqtt-fixed-client-id ------------------------------------------------------------------


def fixed_client_id(ctx, rule) -> Iterator[Hit]:
    flow = ctx.flow
    per_copy = {str(v) for v in ctx.config.rule_options(rule).get("per_copy_env") or ()}
    for broker in ctx.nodes("mqtt-broker"):
        cid = _text(broker.get("clientid"))
        # '' makes Node-RED generate 'nodered' + a random id on every start (10-mqtt.js)
        if cid == "" or local_broker(broker):
            continue
        note = ""
        whole = ENV_WHOLE.fullmatch(cid)
        if whole:
            var = cid[2:-1]
            if var in per_copy:
                continue
            note = (
                f" (the environment variable {var} has the same value on every copy unless the"
                " platform sets it per copy, as it does HOSTNAME; a variable set in the instance"
                " settings, or one that is unset and stays as written, is the same everywhere)"
            )
        elif _ENV_PART.search(cid):
            note = (
                " (Node-RED substitutes an environment variable only when it is the whole value,"
                " so every copy uses this text exactly as written)"
            )
        users = [u for u in flow.config_users.get(broker.id, ()) if flow.runs(u)]
        yield Hit(
            broker.id,
            args={"clientid": cid, "note": note, "users": _count(len(users), "running node"), "address": _address(broker)},
            path="/clientid",
            related=tuple(_related(flow, u, "uses this broker") for u in users[:20]),
        )


def _address(broker: Node) -> str:
    """' (host:port)' for the message; user info in a URL-style host is never shown."""
    host = _text(broker.get("broker")).strip()
    if not host:
        return ""
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "", host
    rest = rest.rpartition("@")[2]
    port = _text(broker.get("port")).strip()
    shown = (f"{scheme}://" if sep else "") + rest + (f":{port}" if port and not sep else "")
    return f" ({shown})"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _related(flow, n: Node, message: str) -> Related:
    return Related(n.id, message, n.type, n.name or None, n.line, n.z)


# --- HA105 mqtt-announcement-per-replica --------------------------------------------------------

_ANNOUNCEMENTS = (("birthTopic", "a birth message"), ("closeTopic", "a close message"), ("willTopic", "a last-will message"))


def announcement_per_replica(ctx, rule) -> Iterator[Hit]:
    for broker in ctx.nodes("mqtt-broker"):
        if local_broker(broker):
            continue  # each copy's own broker: the others never see these
        parts = []
        for key, what in _ANNOUNCEMENTS:
            topic = _text(broker.get(key))
            if topic.strip():
                parts.append(f"{what} on '{topic}'")
        if parts:
            yield Hit(broker.id, args={"announcements": _join(parts), "address": _address(broker)})


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# --- HA110 timer-per-replica ---------------------------------------------------------------------


def _inject_timer(n: Node, flow) -> tuple[str, str | None] | None:
    # 20-inject.js: setInterval when repeat is a number in (0, 2147483]; else cron when crontab is set
    rep = _number(n.get("repeat"))
    if rep is not None and 0 < rep <= 2147483:
        return f"repeats every {_duration(rep)}", "/repeat"
    cron = _text(n.get("crontab"))
    if cron.strip():
        return f"fires on the schedule '{cron}'", "/crontab"
    return None


def _modbus_read_timer(n: Node, flow) -> tuple[str, str | None] | None:
    rate, unit = _text(n.get("rate")), _text(n.get("rateUnit")) or "ms"
    every = f" every {rate} {unit}" if rate.strip() else ""
    return f"polls Modbus address {_text(n.get('adr')) or '?'}{every}", "/rate"


def _ping_timer(n: Node, flow) -> tuple[str, str | None] | None:
    # 88-ping.js: setInterval(timer * 1000) unless mode is "triggered"
    t = _number(n.get("timer"))
    if n.get("mode") == "triggered" or not t or t <= 0:
        return None
    return f"pings '{_text(n.get('host'))}' every {_duration(t)}", "/timer"


def _poll_state_timer(n: Node, flow) -> tuple[str, str | None] | None:
    every = _text(n.get("updateInterval"))
    units = _text(n.get("updateIntervalUnits")) or "seconds"
    return f"polls Home Assistant for '{_text(n.get('entityId'))}' every {every or '?'} {units}", "/updateInterval"


def _email_in_timer(n: Node, flow) -> tuple[str, str | None] | None:
    # 61-email.js: with an input (inputs: 1) it checks only when triggered; else every `repeat`
    # seconds (300 when unset), and "mark read"/"delete" on one copy races the other copy
    if str(n.get("inputs")) == "1":
        return None
    rep = _number(n.get("repeat")) or 300
    return f"checks the mailbox every {_duration(rep)}", "/repeat"


def _plc_scan(n: Node, flow) -> tuple[str, str | None] | None:
    # node-red-contrib-s7 / -cip-ethernet-ip: the endpoint config reads the PLC every
    # `cycletime` ms and the `in` node sends what it read (or what changed)
    ep = flow.by_id.get(_text(n.get("endpoint")))
    cycle = _text(ep.get("cycletime")) if ep is not None else ""
    every = f" every {cycle} ms" if cycle.strip() else ""
    var = _text(n.get("variable"))
    what = f"the PLC variable '{var}'" if var and n.get("mode") == "single" else "the PLC"
    return f"reads {what}{every} and sends what it reads", None


SELF_TIMED = {
    "inject": _inject_timer,
    "modbus-read": _modbus_read_timer,  # node-red-contrib-modbus: polls on `rate`/`rateUnit`
    "ping": _ping_timer,  # node-red-node-ping
    "poll-state": _poll_state_timer,  # node-red-contrib-home-assistant-websocket
    "e-mail in": _email_in_timer,  # node-red-node-email
    "s7 in": _plc_scan,
    "eth-ip in": _plc_scan,
}
# Contrib schedulers (cronplus, bigtimer, suncron, ...) are HA112, found through the effect
# catalogue.
_KEEPALIVE = re.compile(r"(?i)heart-?beat|keep-?alive")


def _catalogue_timers(ctx, seen: set[str]) -> list:
    """The other self-timed types of the effect catalogue (source class timer or poll), with
    the catalogue's words for what they do."""
    out = []
    for n in ctx.effects.sources(("every-copy",), ("timer", "poll")):
        if n.id not in seen and n.type not in SELF_TIMED:
            out.append((n, ctx.effects.roles(n).source.what or "runs on its own timer", None, None))
    return out


def timer_per_replica(ctx, rule) -> Iterator[Hit]:
    """Self-timed nodes whose messages reach an action; a keep-alive sent over the copy's own
    connection is not one (each copy must keep its connection alive)."""
    found: list[tuple[Node, str, str | None, int | None]] = []
    for n in ctx.nodes(*SELF_TIMED):
        timer = SELF_TIMED[n.type](n, ctx.flow)
        if timer is not None:
            found.append((n, timer[0], timer[1], None))
    for n in ctx.nodes("function"):
        src = n.get("initialize")
        if not isinstance(src, str) or "setInterval" not in src:
            continue
        timers = [t for t in ctx.js(n, "initialize").timers if t.kind == "setInterval"]
        if timers:
            found.append((n, f"starts a setInterval timer in its On Start code (line {timers[0].line})", "/initialize", timers[0].line))
    found.extend(_catalogue_timers(ctx, {f[0].id for f in found}))
    found.sort(key=lambda f: f[0].index)
    for n, what, path, js_line in found:
        if _KEEPALIVE.search(n.name):
            continue  # named a heartbeat or keep-alive: each copy keeps its own alive
        reached = outbound(ctx, n, ("connection",))
        if reached is not None:
            yield hit(ctx, n, reached, {"what": what}, path=path, js_line=js_line)


# --- HA120 listener-per-replica ------------------------------------------------------------------

_NETWORK = (
    "The load balancer of an HA instance forwards only HTTP, so senders reach the one copy they are"
    " pointed at (or none), and what they send is handled there only."
)
_DEVICE = (
    "A device can be opened by one process at a time: the other copies fail to open it, or on"
    " FlowFuse run in containers that do not have it, so they receive nothing."
)
_FILES = (
    "Each copy watches its own file system: a change on one copy is seen only there, and on a"
    " shared volume every copy handles every change."
)


def _tcp_in(n: Node, flow) -> tuple[str, str] | None:
    server = n.get("server")
    # 31-tcpin.js: `(typeof n.server == 'boolean') ? n.server : (n.server == "server")`
    if server is True or server == "server":
        return f"listens on TCP port {_text(n.get('port')) or '?'}", _NETWORK
    return None


def _udp_in(n: Node, flow) -> tuple[str, str] | None:
    port = _text(n.get("port")) or "?"
    if _text(n.get("multicast")) != "true" and port in _udp_out_ports(flow):
        # 32-udp.js: a `udp out` whose source port (`outport`) a `udp in` listens on sends
        # from that node's socket, so the device's replies come back to the copy that asked
        return None
    if _text(n.get("multicast")) == "true":
        return (
            f"joins the multicast group {_text(n.get('group')) or '?'} on UDP port {port}",
            "Every copy that can join the group receives every datagram, so each one is handled once per copy.",
        )
    return f"listens on UDP port {port}", _NETWORK


def _udp_out_ports(flow) -> set[str]:
    return {_text(o.get("outport")).strip() for o in flow.by_type.get("udp out", ()) if flow.runs(o) and _text(o.get("outport")).strip()}


def _serial(n: Node, flow) -> tuple[str, str] | None:
    cfg = flow.by_id.get(_text(n.get("serial")))
    port = _text(cfg.get("serialport")) if cfg is not None else ""
    return f"opens the serial port '{port or '?'}'", _DEVICE


def _gpio(n: Node, flow) -> tuple[str, str] | None:
    return f"reads GPIO pin {_text(n.get('pin')) or '?'}", _DEVICE


def _gpiod(n: Node, flow) -> tuple[str, str] | None:
    return (
        f"reads GPIO pin {_text(n.get('pin')) or '?'} through pigpiod on '{_text(n.get('host')) or 'localhost'}'",
        "Every copy connects to the same daemon, so every pin change is handled once per copy.",
    )


def _modbus_server(n: Node, flow) -> tuple[str, str] | None:
    return f"runs a Modbus server on port {_text(n.get('serverPort')) or '?'}", _NETWORK


LISTENERS = {
    "tcp in": _tcp_in,
    "udp in": _udp_in,
    "serial in": _serial,  # node-red-node-serialport
    "serial request": _serial,
    "watch": lambda n, flow: (f"watches '{_text(n.get('files'))}'", _FILES),
    "tail": lambda n, flow: (f"follows the file '{_text(n.get('filename'))}'", _FILES),  # node-red-node-tail
    "rpi-gpio in": _gpio,  # node-red-node-pi-gpio
    "rpi-mouse": lambda n, flow: ("reads the Raspberry Pi's mouse buttons", _DEVICE),
    "rpi-keyboard": lambda n, flow: ("reads the Raspberry Pi's keyboard", _DEVICE),
    "pi-gpiod in": _gpiod,  # node-red-node-pi-gpiod
    "modbus-server": _modbus_server,  # node-red-contrib-modbus
    "modbus-flex-server": _modbus_server,
    "e-mail mta": lambda n, flow: (f"runs an SMTP server on port {_text(n.get('port')) or '?'}", _NETWORK),
}


_BY_HOST = {"port": _NETWORK, "hardware": _DEVICE, "disk": _FILES}


def listener_per_replica(ctx, rule) -> Iterator[Hit]:
    """The listeners named above, with their own words; then every other running node the
    effect catalogue knows as a listener (source class listener), or as a source bound to a
    port or a device of the copy's host."""
    hits = []
    for n in ctx.nodes(*LISTENERS):
        found = LISTENERS[n.type](n, ctx.flow)
        if found is not None:
            what, consequence = found
            hits.append(Hit(n.id, args={"what": what, "consequence": consequence}))
    eff = ctx.effects
    for n in eff.sources(("every-copy", "load-balanced")):
        if n.type in LISTENERS:
            continue
        roles = eff.roles(n)
        host = roles.host
        if roles.source.cls == "listener":
            consequence = _BY_HOST.get(host.kind if host is not None else "port", _NETWORK)
            hits.append(Hit(n.id, args={"what": roles.source.what or "listens", "consequence": consequence}))
        elif host is not None and host.kind in ("port", "hardware") and roles.source.kind == "every-copy":
            hits.append(Hit(n.id, args={"what": host.what or roles.source.what, "consequence": _BY_HOST[host.kind]}))
    index = ctx.flow.by_id
    hits.sort(key=lambda h: index[h.node_id].index)
    yield from hits


# --- HA121 websocket-broadcast-partial ----------------------------------------------------------


def websocket_broadcast_partial(ctx, rule) -> Iterator[Hit]:
    """A `websocket out` on a listener that a load-balanced input reaches; replies to a
    `websocket in` on the same listener keep msg._session and go back to their client."""
    from hacheck.analysis.paths import describe_paths, hit_paths, input_paths

    flow = ctx.flow
    for n in ctx.nodes("websocket out"):
        server = flow.by_id.get(_text(n.get("server")))
        if server is None or server.type != "websocket-listener":
            continue
        paths = input_paths(ctx, n)
        if not paths or all(_session_reply(flow, p, server.id) for p in paths):
            continue
        fed, related = describe_paths(flow, paths, n.id)
        yield Hit(n.id, args={"fed": fed}, related=related, paths=hit_paths(paths))


def _session_reply(flow, path, listener_id: str) -> bool:
    src = flow.by_id.get(path.source)
    if src is None or src.type != "websocket in" or src.get("server") != listener_id or path.elided:
        return False
    for nid in path.nodes[1:-1]:
        n = flow.by_id.get(nid)
        if n is not None and n.type == "function" and "_session" in str(n.get("func") or ""):
            return False  # it may clear msg._session and broadcast
    return True


# --- HA131 amqp-queue-per-replica ---------------------------------------------------------------


def amqp_queue_per_replica(ctx, rule) -> Iterator[Hit]:
    for n in ctx.nodes("amqp-in", "amqp-in-manual-ack"):
        queue = _text(n.get("queueName"))
        if not queue.strip():
            if outbound(ctx, n) is None:
                continue  # every copy must see what only feeds displays and per-copy state
            exchange = _text(n.get("exchangeName"))
            src = f" bound to the exchange '{exchange}'" if exchange else ""
            problem = (
                f"declares a server-named queue{src} (queue name empty): every copy gets its own queue,"
                " so every message is delivered to every copy"
            )
            yield Hit(n.id, args={"problem": problem}, path="/queueName")
        elif n.get("queueExclusive") is True or n.get("queueExclusive") == "true":
            problem = (
                f"declares the queue '{queue}' as exclusive: only the first copy can consume it; the"
                " others fail with RESOURCE_LOCKED and take no share of the work"
            )
            yield Hit(n.id, args={"problem": problem}, path="/queueExclusive")


# --- HA140 dashboard-in-ha -----------------------------------------------------------------------


def _dashboard_kind(t: str) -> str | None:
    if t.startswith("ui_"):
        return "Node-RED Dashboard"
    if t.startswith("ui-"):
        return "FlowFuse Dashboard 2"
    return None


def dashboard_in_ha(ctx, rule) -> Iterator[Hit]:
    """One finding per tab (or subflow) with the widgets that run on it, each widget in `related`;
    option `per_widget: true` gives one finding per widget instead."""
    flow = ctx.flow
    types = [t for t in flow.by_type if _dashboard_kind(t)]
    if not types:
        return
    # config nodes (ui_base, ui_tab, ui-page, ui-group, ...) run only because widgets use them
    widgets = [n for n in ctx.nodes(*types) if not n.is_config and _registers(flow, n)]
    if not widgets:
        return
    per_widget = bool(ctx.config.rule_options(rule).get("per_widget"))
    if per_widget:
        for w in widgets:
            yield Hit(w.id, args={"where": _where(flow, w), "count": "1 dashboard node", "widgets": _quoted(w),
                                  "kinds": _dashboard_kind(w.type)})
        return
    groups: dict[str | None, list[Node]] = {}
    for w in widgets:
        groups.setdefault(w.z, []).append(w)
    for z, members in groups.items():
        container = flow.by_id.get(z) if z else None
        anchor = container if container is not None and container.type in ("tab", "subflow") else members[0]
        shown = ", ".join(_quoted(w) for w in members[:3])
        if len(members) > 3:
            shown += f" and {len(members) - 3} more"
        kinds = sorted({_dashboard_kind(w.type) for w in members})
        yield Hit(
            anchor.id,
            args={"where": _where(flow, members[0]), "count": _count(len(members), "dashboard node"),
                  "widgets": shown, "kinds": " and ".join(kinds)},
            related=tuple(_related(flow, w, "dashboard node") for w in members),
        )


def _registers(flow, w: Node) -> bool:
    """A Dashboard 1 widget with a group starts only when its ui_group and that group's ui_tab
    exist (node-red-dashboard nodes/ui_*.js: `if (!group) { return; }`, then the same for the
    tab); without them the node is created but never joins the dashboard."""
    if not w.type.startswith("ui_") or "group" not in w.raw:
        return True
    group = flow.by_id.get(w.raw.get("group")) if isinstance(w.raw.get("group"), str) else None
    if group is None or group.type != "ui_group":
        # dashboard 2.0's widgets named their ui_tab directly (`tab`), and some still run there
        old = flow.by_id.get(w.raw.get("tab")) if isinstance(w.raw.get("tab"), str) else None
        return old is not None and old.type == "ui_tab"
    tab = flow.by_id.get(group.raw.get("tab")) if isinstance(group.raw.get("tab"), str) else None
    return tab is not None and tab.type == "ui_tab"


def _where(flow, n: Node) -> str:
    c = flow.container(n)
    if c is None:
        return "This flow"
    if c.type == "subflow":
        return f"Subflow '{c.name or c.id}'"
    return f"Tab '{flow.tab_label(n)}'"


# --- HA150 http-in-without-response ------------------------------------------------------------

# A function that touches msg.res can answer the request itself (msg.res._res.send(...)).
_USES_RES = re.compile(r"\.\s*res\b|\[\s*['\"]res['\"]\s*\]")


def http_in_without_response(ctx, rule) -> Iterator[Hit]:
    http_ins = ctx.nodes("http in")
    if not http_ins:
        return
    g = ctx.graph
    flow = ctx.flow
    answering = _can_reach_reply(g, flow)
    for n in http_ins:
        vs = g.vertices_of.get(n.id, ())
        if not vs or any(v in answering for v in vs):
            continue
        method = _text(n.get("method")).upper() or "GET"
        yield Hit(n.id, args={"route": f"{method} {_text(n.get('url')) or '(no URL)'}"})


def _replies(n: Node, flow) -> bool:
    """The node answers the request, or hacheck cannot see where messages go from it."""
    t = n.type
    if t == "http response":
        return True
    if t == "link call":
        return n.get("linkType") == "dynamic"  # the target is chosen by msg.target at runtime
    if t == "function":
        code = n.get("func")
        return isinstance(code, str) and "res" in code and _USES_RES.search(code) is not None
    return t.startswith("subflow:") and t[8:] not in flow.subflows  # definition not in this file


# A static `link call` passes a message on through its wires only after a `link out` in
# return mode sends it back; so it is two states: the call going out (to its `link in`
# targets) and the call coming back (which feeds its wires). Without the split, a call whose
# target never returns would look as if it reached the `http response` wired after it.
_BACK = "\x00back"


def _vertices(g, flow, types) -> list[str]:
    vo = g.vertices_of
    return [v for t in types for n in flow.by_type.get(t, ()) for v in vo.get(n.id, ())]


def _can_reach_reply(g, flow) -> set[str]:
    """Every vertex from which a replying vertex can be reached: one reverse BFS for all,
    over the graph's own predecessor lists. Only the few candidate types are looked at by
    node, and edge kinds only where a call is at either end."""
    calls = {v for v in _vertices(g, flow, ("link call",)) if g.node(v).get("linkType") != "dynamic"}
    candidates = ["http response", "link call", "function"]
    candidates += [t for t in flow.by_type if t.startswith("subflow:")]
    start = [v for v in _vertices(g, flow, candidates) if _replies(g.node(v), flow)]
    if not start:
        return set()
    # a `complete` node receives the message a node in its scope finished with (Flow.js
    # handleComplete): the node in scope reaches the complete node
    watched: dict[str, list[str]] = {}
    for v in _vertices(g, flow, ("complete",)):
        scope = g.node(v).get("scope")
        if not isinstance(scope, list):
            continue
        prefix = v.rpartition(SEP)[0]
        for sid in scope:
            if isinstance(sid, str):
                sv = prefix + SEP + sid if prefix else sid
                if sv in g.succ:
                    watched.setdefault(v, []).append(sv + _BACK if sv in calls else sv)
    pred, succ = g.pred, g.succ
    seen = set(start)
    q = deque(start)
    while q:
        x = q.popleft()
        back = x.endswith(_BACK)
        w = x[: -len(_BACK)] if back else x
        w_call = w in calls  # always true when back
        for u in pred.get(w, ()):
            u_call = u in calls
            if u_call or w_call:
                for a in succ[u][w]:
                    kind = a.get("kind")
                    if w_call and (kind == "return") != back:
                        continue  # a return edge feeds the call coming back; others, the call going out
                    src = u + _BACK if u_call and kind != "link-call" else u
                    if src not in seen:
                        seen.add(src)
                        q.append(src)
            elif u not in seen:
                seen.add(u)
                q.append(u)
        for u in watched.get(x, ()):
            if u not in seen:
                seen.add(u)
                q.append(u)
    return seen
