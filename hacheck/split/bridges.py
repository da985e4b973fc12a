"""The bridges between the parts: where a path crosses, one sender and one receiver per crossing
output (FlowFuse project links, or MQTT with a shared subscription on the HA side), and link calls
that become project link calls (docs/split.md, Bridges).

`p` below is partition.py's _Partition (which part each node is in); it is not imported, because
partition.py imports this module."""

from __future__ import annotations

import hashlib

from hacheck.model.flow import FlowFile, Node
from hacheck.split.parts import Bridge, Broker, HA, SINGLE, as_number, new_id, other_part


BRIDGES = ("project-link", "mqtt")


TOPIC_PREFIX = "hacheck/split/"


SHARE_GROUP = "hacheck"


BROKER_ID = hashlib.sha1(b"hacheck-split-broker").hexdigest()[:16]


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


def is_link(n: Node | None) -> bool:
    return n is not None and n.type in ("link in", "link out", "link call")


def wire_bridges(flow: FlowFile, p, home: dict[str, str], raw, kind: str, changed, every=frozenset()) -> list[Bridge]:
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
                inlet = new_id("hacheck-split-link", nid)
                raw[("new", inlet)] = {
                    "id": inlet, "type": "link in", "z": n.z, "name": f"hacheck split: to {other_part(here)}",
                    "links": [nid], "x": as_number(n.get("x")) + 120, "y": as_number(n.get("y")) + 60, "wires": [[b.nodes[here][0]]],
                }
                b.nodes[here].insert(0, inlet)
                raw[nid]["links"] = [t for t in links if t not in there] + [inlet]
                changed[here].add(nid)
    return out


PROJECT_ENV = {HA: "HACHECK_SPLIT_HA_ID", SINGLE: "HACHECK_SPLIT_SINGLETON_ID"}


def call_bridges(flow: FlowFile, p, home: dict[str, str], raw, changed) -> list[Bridge]:
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
        there = other_part(here)
        n = by_id[call]
        bid = new_id("hacheck-split-call", call)
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
        recv = new_id(bid, "receive")
        raw[("new", recv)] = {
            "id": recv, "type": "project link in", "z": first.z, "name": f"hacheck split {bid[:6]}: called from {here}",
            "project": "", "broadcast": False, "topic": topic,
            "x": as_number(first.get("x")), "y": as_number(first.get("y")) + 60, "wires": [entries],
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


def _make_bridge(flow: FlowFile, kind: str, n: Node, port: int | None, targets: list[str], here: str, raw, every=frozenset()) -> Bridge:
    by_id = flow.by_id
    bid = new_id("hacheck-split", n.id, "link" if port is None else str(port))
    there = other_part(here)
    topic = TOPIC_PREFIX + bid
    b = Bridge(bid, f"{here}-to-{there}", n.id, port, list(targets), topic, {here: [], there: []})
    b.every_copy = there == HA and bid in every
    x, y = as_number(n.get("x")), as_number(n.get("y"))
    first = by_id[targets[0]] if targets else n
    tz = first.z if targets else n.z
    tx, ty = as_number(first.get("x")), as_number(first.get("y"))
    label = f"hacheck split {bid[:6]}"
    if kind == "mqtt":
        wrap, send, recv, unwrap = (new_id(bid, s) for s in ("wrap", "send", "receive", "unwrap"))
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
        send, recv = new_id(bid, "send"), new_id(bid, "receive")
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


def broker_node(bid: str, broker: Broker) -> dict:
    # no client id: Node-RED makes a unique one per copy; no credentials: set in each instance
    return {
        "id": bid, "type": "mqtt-broker", "name": "hacheck split bridge", "broker": broker.host, "port": str(broker.port),
        "clientid": "", "autoConnect": True, "usetls": broker.tls, "protocolVersion": "5", "keepalive": "60",
        "cleansession": True, "autoUnsubscribe": True, "birthTopic": "", "birthQos": "0", "birthRetain": "false",
        "birthPayload": "", "birthMsg": {}, "closeTopic": "", "closeQos": "0", "closeRetain": "false", "closePayload": "",
        "closeMsg": {}, "willTopic": "", "willQos": "0", "willRetain": "false", "willPayload": "", "willMsg": {},
        "userProps": "", "sessionExpiry": "",
    }
