"""Deterministic generator of realistic Node-RED flows for the benchmarks and the --jobs test.

A flow is built from the patterns real flows are made of (see the corpus manifest): MQTT
ingest pipelines (shared, plain and dynamic subscriptions; broker config nodes with fixed,
empty and per-host client ids), HTTP APIs (http in -> ... -> http response, some without a
response), timers, stateful nodes (smooth, join, delay rate, trigger, rbe), function nodes
with real code that uses context, link out/in across tabs and link call with a return,
subflows with several instances (one nested), groups, junctions, disabled nodes, and long
chains from load-balanced inputs (deep paths for the ingress tracing). Same seed, same bytes.

    python -m benchmarks.flowgen 10000 -o /tmp/flows.json [--seed 1] [--compact]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

GENERATOR_VERSION = 1  # bump when the output changes, so cached benchmark files are remade

_FUNCTIONS = [
    # per-client counter in flow context (HA: each copy counts only its share)
    """// count requests per client and reply with the running total
let counts = flow.get("counts_{k}") || {{}};
const who = msg.req && msg.req.ip ? msg.req.ip : "unknown";
counts[who] = (counts[who] || 0) + 1;
flow.set("counts_{k}", counts);
msg.payload = {{ client: who, total: counts[who] }};
return msg;
""",
    # moving average in node context
    """const win = context.get("window") || [];
win.push(Number(msg.payload) || 0);
if (win.length > {n}) {{
    win.shift();
}}
context.set("window", win);
msg.payload = win.reduce((a, b) => a + b, 0) / win.length;
return msg;
""",
    # a pure transform: no state
    """const data = typeof msg.payload === "string" ? JSON.parse(msg.payload) : msg.payload;
const out = [];
for (const item of data?.items ?? []) {{
    if (item.value > {n}) {{
        out.push({{ id: item.id, value: item.value * 1.8 + 32, unit: "F" }});
    }}
}}
msg.payload = out;
msg.topic = `sensors/{k}/${{out.length}}`;
return [msg, out.length ? null : {{ payload: "empty" }}];
""",
    # configuration from a persistent global store
    """const cfg = global.get("config_{k}", "persistent") || {{ threshold: {n} }};
if (msg.payload.temperature > cfg.threshold) {{
    node.warn(`threshold exceeded on ${{msg.topic}}`);
    node.status({{ fill: "red", shape: "dot", text: "alarm" }});
    return [null, msg];
}}
node.status({{}});
return [msg, null];
""",
    # a timer inside a function, with a pending count in context
    """const pending = context.get("pending") || 0;
context.set("pending", pending + 1);
setTimeout(() => {{
    context.set("pending", context.get("pending") - 1);
    node.send({{ payload: "done", topic: msg.topic }});
}}, {n} * 100);
return null;
""",
    # async lookup with a cache in flow context
    """async function lookup(id) {{
    const cache = flow.get("cache_{k}") ?? {{}};
    if (cache[id]) {{
        return cache[id];
    }}
    const value = await Promise.resolve({{ id, at: Date.now() }});
    cache[id] = value;
    flow.set("cache_{k}", cache);
    return value;
}}
msg.payload = await lookup(msg.payload.id);
return msg;
""",
    # de-duplication in global context
    """const seen = global.get("seen_ids_{k}") || [];
if (seen.includes(msg.payload.id)) {{
    return null;
}}
seen.push(msg.payload.id);
if (seen.length > {n}0) {{
    seen.splice(0, seen.length - {n}0);
}}
global.set("seen_ids_{k}", seen);
return msg;
""",
    # strings, a regex literal and comments that only look like context use
    """/* build the query; keep values out of the SQL text */
const re = /^[a-z0-9_]+$/i;
const table = re.test(msg.table || "") ? msg.table : "readings_{k}";
msg.topic = "INSERT INTO " + table + " (ts, value) VALUES ($ts, $value)";
msg.payload = {{ $ts: Date.now(), $value: msg.payload }};
// context.set('not', 'real') is only a comment
const note = "flow.set('x', 1) inside a string";
return msg;
""",
]

_INIT = 'context.set("started", Date.now());\n'


class _Builder:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.nodes: list[dict] = []
        self.counter = 0

    def nid(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def add(self, node: dict) -> dict:
        self.nodes.append(node)
        return node

    def flow_node(self, ntype: str, z: str, x: int, y: int, wires: int = 1, **fields) -> dict:
        n = {"id": self.nid(), "type": ntype, "z": z, "name": fields.pop("name", "")}
        n.update(fields)
        n["x"], n["y"] = x, y
        n["wires"] = [[] for _ in range(wires)]
        return self.add(n)

    def function_code(self) -> str:
        self.counter += 1
        tpl = self.rng.choice(_FUNCTIONS)
        return tpl.format(k=self.counter % 97, n=self.rng.randint(3, 50))


def _wire(a: dict, b: dict, port: int = 0) -> None:
    a["wires"][port].append(b["id"])


def _chain(nodes: list[dict]) -> None:
    for a, b in zip(nodes, nodes[1:]):
        _wire(a, b)


class _Flow:
    """State shared by the blocks of one generated flow."""

    def __init__(self, b: _Builder, n_nodes: int):
        self.b = b
        self.brokers: list[str] = []
        self.link_ins: list[tuple[str, dict]] = []  # (tab, node) for cross-tab link outs
        self.subflows: list[dict] = []
        self.tabs: list[str] = []
        self.url_seq = 0
        self._configs(n_nodes)

    def _configs(self, n_nodes: int) -> None:
        b = self.b
        tls = b.add({"id": b.nid(), "type": "tls-config", "name": "broker tls", "cert": "", "key": "", "ca": "", "verifyservercert": True})
        count = max(2, n_nodes // 5000)
        for i in range(count):
            clientid = ("", "${HOSTNAME}", f"plant-{i}")[i % 3]  # empty, per-host, fixed (HA-unready)
            b.add(
                {
                    "id": b.nid(),
                    "type": "mqtt-broker",
                    "name": f"broker {i}",
                    "broker": f"mqtt{i}.example.internal",
                    "port": "8883" if i % 2 else "1883",
                    "tls": tls["id"] if i % 2 else "",
                    "clientid": clientid,
                    "autoConnect": True,
                    "usetls": bool(i % 2),
                    "protocolVersion": "5" if i % 2 else "4",
                    "keepalive": "60",
                    "cleansession": True,
                    "birthTopic": f"status/{i}" if i % 4 == 1 else "",
                    "birthQos": "0",
                    "birthPayload": "online",
                    "closeTopic": "",
                    "willTopic": "",
                    "userProps": "",
                    "sessionExpiry": "",
                }
            )
            self.brokers.append(b.nodes[-1]["id"])
        self._subflow_defs(n_nodes)

    def _subflow_defs(self, n_nodes: int) -> None:
        """Subflow definitions: a smoothing filter and an enrich step; one nests the other."""
        b = self.b
        count = max(2, n_nodes // 4000)
        for i in range(count):
            sid = b.nid()
            sf = b.add(
                {
                    "id": sid,
                    "type": "subflow",
                    "name": f"smooth and enrich {i}",
                    "info": "",
                    "category": "",
                    "in": [{"x": 60, "y": 80, "wires": []}],
                    "out": [{"x": 700, "y": 80, "wires": []}],
                    "env": [{"name": "WINDOW", "type": "num", "value": str(5 + i)}],
                    "color": "#DDAA99",
                }
            )
            smooth = b.flow_node("smooth", sid, 200, 80, property="payload", action="mean", count="${WINDOW}", round="", mult="single", reduce=False)
            fn = b.flow_node("function", sid, 360, 80, func=b.function_code(), outputs=1, timeout=0, noerr=0, initialize="", finalize="", libs=[])
            rbe = b.flow_node("rbe", sid, 520, 80, func="deadband", gap="1", start="", inout="out", septopics=True, property="payload", topi="topic")
            nodes = [smooth, fn, rbe]
            if self.subflows and i % 2 == 1:  # nest the previous subflow inside this one
                inner = b.flow_node("subflow:" + self.subflows[-1]["id"], sid, 600, 140, name="inner")
                nodes.append(inner)
            _chain(nodes)
            sf["in"][0]["wires"].append({"id": smooth["id"]})
            sf["out"][0]["wires"].append({"id": nodes[-1]["id"], "port": 0})
            self.subflows.append(sf)

    # --- blocks: each adds a few nodes to tab `z` at row y and returns how many ---------------

    def mqtt_ingest(self, z: str, y: int) -> int:
        b, rng = self.b, self.b.rng
        kind = rng.random()
        topic = f"site{rng.randint(1, 40)}/line{rng.randint(1, 9)}/+/telemetry"
        fields = {"topic": topic, "qos": "1", "datatype": "auto-detect", "broker": rng.choice(self.brokers), "nl": False, "rap": True, "rh": 0, "inputs": 0}
        if kind < 0.55:
            fields["topic"] = f"$share/workers/{topic}"
        elif kind > 0.9:
            fields.update(topic="", inputs=1)  # dynamic subscription
        src = b.flow_node("mqtt in", z, 120, y, name=f"telemetry {y}", **fields)
        parse = b.flow_node("json", z, 280, y, property="payload", action="", pretty=False)
        fn = b.flow_node("function", z, 440, y, wires=2, func=b.function_code(), outputs=2, timeout=0, noerr=0, initialize=_INIT if rng.random() < 0.2 else "", finalize="", libs=[])
        sw = b.flow_node(
            "switch", z, 600, y, wires=3, property="payload.value", propertyType="msg",
            rules=[{"t": "gt", "v": "100", "vt": "num"}, {"t": "lte", "v": "100", "vt": "num"}, {"t": "else"}],
            checkall="true", repair=False, outputs=3,
        )
        chg = b.flow_node("change", z, 760, y, rules=[{"t": "set", "p": f"last_{y}", "pt": "flow", "to": "payload", "tot": "msg"}])
        rbe = b.flow_node("rbe", z, 760, y + 40, func="rbe", gap="", start="", inout="out", septopics=True, property="payload", topi="topic")
        out = b.flow_node("mqtt out", z, 920, y, wires=0, topic=f"processed/{y}", qos="1", retain="false", respTopic="", contentType="", userProps="", correl="", expiry="", broker=rng.choice(self.brokers))
        _chain([src, parse, fn])
        _wire(fn, sw)
        _wire(fn, chg, 1)
        _wire(sw, chg, 0)
        _wire(sw, rbe, 1)
        _wire(sw, out, 2)
        _wire(rbe, out)
        return 7

    def http_api(self, z: str, y: int) -> int:
        b, rng = self.b, self.b.rng
        self.url_seq += 1
        url = f"/api/v1/{z[:6]}/{self.url_seq}" if rng.random() > 0.02 else "/api/v1/status"  # a few duplicate URLs
        method = rng.choice(["get", "post", "post", "put"])
        src = b.flow_node("http in", z, 120, y, name="", url=url, method=method, upload=False, swaggerDoc="")
        fn = b.flow_node("function", z, 300, y, func=b.function_code(), outputs=1, timeout=0, noerr=0, initialize="", finalize="", libs=[])
        tpl = b.flow_node("template", z, 460, y, field="payload", fieldType="msg", format="handlebars", syntax="mustache", template="{\"total\": {{payload.total}}, \"site\": \"{{flow.site}}\"}", output="json")
        nodes = [src, fn, tpl]
        if rng.random() < 0.9:  # some APIs forget to answer
            nodes.append(b.flow_node("http response", z, 620, y, wires=0, statusCode="", headers={}))
        _chain(nodes)
        return len(nodes)

    def timer_job(self, z: str, y: int) -> int:
        b, rng = self.b, self.b.rng
        repeat = rng.choice(["", "60", "300", "3600"])
        crontab = "*/5 * * * *" if not repeat and rng.random() < 0.5 else ""
        inj = b.flow_node(
            "inject", z, 120, y, props=[{"p": "payload"}, {"p": "topic", "vt": "str"}], repeat=repeat, crontab=crontab,
            once=rng.random() < 0.3, onceDelay=0.1, topic="poll", payload="", payloadType="date",
        )
        fn = b.flow_node("function", z, 280, y, func=b.function_code(), outputs=1, timeout=0, noerr=0, initialize="", finalize="", libs=[])
        req = b.flow_node("http request", z, 440, y, method="GET", ret="obj", paytoqs="ignore", url=f"https://api.example.com/v2/items/{y}", tls="", persist=False, proxy="", authType="")
        join = b.flow_node("join", z, 600, y, mode="custom", build="array", property="payload", propertyType="msg", key="topic", joiner="\\n", joinerType="str", accumulate=False, timeout="30", count="10", reduceRight=False)
        dbg = b.flow_node("debug", z, 760, y, wires=0, active=True, tosidebar=True, console=False, tostatus=False, complete="payload", targetType="msg")
        _chain([inj, fn, req, join, dbg])
        return 5

    def stateful(self, z: str, y: int) -> int:
        b, rng = self.b, self.b.rng
        lin = b.flow_node("link in", z, 120, y, name=f"in {y}", links=[])
        delay = b.flow_node("delay", z, 280, y, pauseType="rate", timeout="5", timeoutUnits="seconds", rate="10", nbRateUnits="1", rateUnits="second", randomFirst="1", randomLast="5", randomUnits="seconds", drop=rng.random() < 0.5, allowrate=False, outputs=1)
        trig = b.flow_node("trigger", z, 440, y, op1="1", op2="0", op1type="str", op2type="str", duration="250", extend=False, overrideDelay=False, units="ms", reset="", bytopic="all", topic="topic", outputs=1)
        smooth = b.flow_node("smooth", z, 600, y, property="payload", action="mean", count="10", round="2", mult="multi", reduce=False)
        dbg = b.flow_node("debug", z, 760, y, wires=0, active=False, tosidebar=True, console=False, tostatus=False, complete="true", targetType="full")
        _chain([lin, delay, trig, smooth, dbg])
        self.link_ins.append((z, lin))
        return 5

    def links(self, z: str, y: int) -> int:
        """A link out to a link in on another tab, and a link call to a return-mode link out."""
        b, rng = self.b, self.b.rng
        other = [n for t, n in self.link_ins if t != z]
        if not other:
            return 0
        target = rng.choice(other)
        src = b.flow_node("http in", z, 120, y, url=f"/hook/{z[:6]}/{y}", method="post", upload=False, swaggerDoc="")
        lout = b.flow_node("link out", z, 280, y, wires=0, mode="link", links=[target["id"]])
        target["links"].append(lout["id"])
        _wire(src, lout)
        # link call -> link in -> change -> link out (return)
        lin = b.flow_node("link in", z, 120, y + 40, name=f"lookup {y}", links=[])
        chg = b.flow_node("change", z, 280, y + 40, rules=[{"t": "set", "p": "payload.looked_up", "pt": "msg", "to": f"lookup_{y}", "tot": "global"}])
        ret = b.flow_node("link out", z, 440, y + 40, wires=0, mode="return", links=[])
        _chain([lin, chg, ret])
        call = b.flow_node("link call", z, 440, y, links=[lin["id"]], linkType="static", timeout="30")
        resp = b.flow_node("http response", z, 600, y, wires=0, statusCode="200", headers={})
        _wire(src, call)
        _wire(call, resp)
        return 7

    def subflow_uses(self, z: str, y: int) -> int:
        b, rng = self.b, self.b.rng
        sf = rng.choice(self.subflows)
        src = b.flow_node("mqtt in", z, 120, y, topic=f"$share/g/raw/{y}/#", qos="0", datatype="json", broker=rng.choice(self.brokers), nl=False, rap=True, rh=0, inputs=0)
        a = b.flow_node("subflow:" + sf["id"], z, 280, y, name="", env=[{"name": "WINDOW", "type": "num", "value": str(rng.randint(3, 30))}])
        c = b.flow_node("subflow:" + rng.choice(self.subflows)["id"], z, 440, y)
        dbg = b.flow_node("debug", z, 600, y, wires=0, active=True, tosidebar=True, console=False, tostatus=False, complete="payload", targetType="msg")
        _chain([src, a, c, dbg])
        return 4

    def long_chain(self, z: str, y: int, length: int) -> int:
        """A deep path from a load-balanced input: change, switch and function steps."""
        b, rng = self.b, self.b.rng
        src = b.flow_node("http in", z, 120, y, url=f"/pipeline/{z[:6]}/{y}", method="post", upload=False, swaggerDoc="")
        nodes = [src]
        for i in range(length - 2):
            x = 280 + 160 * (i % 8)
            yy = y + 40 * (i // 8)
            r = rng.random()
            if r < 0.45:
                n = b.flow_node("change", z, x, yy, rules=[{"t": "set", "p": f"payload.step{i}", "pt": "msg", "to": str(i), "tot": "num"}])
            elif r < 0.7:
                n = b.flow_node("switch", z, x, yy, wires=2, property="payload.ok", propertyType="msg", rules=[{"t": "true"}, {"t": "else"}], checkall="true", repair=False, outputs=2)
            elif r < 0.95:
                n = b.flow_node("function", z, x, yy, func=b.function_code(), outputs=1, timeout=0, noerr=0, initialize="", finalize="", libs=[])
            else:
                n = b.flow_node("junction", z, x, yy)
                del n["name"]
            nodes.append(n)
        end = b.flow_node("http response", z, 280 + 160 * 8, y, wires=0, statusCode="", headers={})
        nodes.append(end)
        _chain(nodes)
        return len(nodes)

    def misc(self, z: str, y: int) -> int:
        b = self.b
        b.flow_node("comment", z, 120, y, wires=0, info="Owned by the data team. Do not change the topic layout without telling them.")
        cat = b.flow_node("catch", z, 280, y, scope=None, uncaught=False)
        dbg = b.flow_node("debug", z, 440, y, wires=0, active=True, tosidebar=True, console=True, tostatus=False, complete="error", targetType="msg")
        _wire(cat, dbg)
        off = b.flow_node("inject", z, 600, y, props=[{"p": "payload"}], repeat="10", crontab="", once=False, onceDelay=0.1, topic="", payload="", payloadType="date")
        off["d"] = True  # a disabled timer: not running, must not be reported
        return 4


_BLOCKS = ("mqtt_ingest", "http_api", "timer_job", "stateful", "links", "subflow_uses", "misc")


def generate(n_nodes: int, seed: int = 1) -> list[dict]:
    """A flow of exactly `n_nodes` nodes (config, tabs and subflows included) for n_nodes >= 40."""
    if n_nodes < 40:
        raise ValueError("generate() needs at least 40 nodes; small_flow() makes a 20-node flow")
    b = _Builder(seed)
    f = _Flow(b, n_nodes)
    rng = b.rng
    tab_size = 150 if n_nodes < 20_000 else 300
    while len(b.nodes) < n_nodes - 60:
        z = b.nid()
        b.add({"id": z, "type": "tab", "label": f"Area {len(f.tabs) + 1}", "disabled": len(f.tabs) % 40 == 39, "info": "", "env": []})
        f.tabs.append(z)
        start = len(b.nodes)
        y = 40
        while len(b.nodes) - start < tab_size and len(b.nodes) < n_nodes - 60:
            first = len(b.nodes)
            if rng.random() < 0.08:
                added = f.long_chain(z, y, rng.randint(20, 60))
            else:
                added = getattr(f, rng.choice(_BLOCKS))(z, y)
            if added and rng.random() < 0.15:
                _group(b, z, b.nodes[first:], y)
            y += 120 + 40 * (added // 8)
    _fill(b, f, n_nodes)
    assert len(b.nodes) == n_nodes
    return b.nodes


def _group(b: _Builder, z: str, members: list[dict], y: int) -> None:
    members = [m for m in members if m.get("z") == z]
    gid = b.nid()
    for m in members:
        m["g"] = gid
    b.add({"id": gid, "type": "group", "z": z, "name": f"block {y}", "style": {"label": True}, "nodes": [m["id"] for m in members], "x": 94, "y": y - 39, "w": 900, "h": 122})


def _fill(b: _Builder, f: _Flow, n_nodes: int) -> None:
    """Top up to the exact count with an http chain on the last tab (always wired, never dangling)."""
    z = f.tabs[-1] if f.tabs else b.add({"id": b.nid(), "type": "tab", "label": "Area 1", "disabled": False, "info": "", "env": []})["id"]
    remaining = n_nodes - len(b.nodes)
    if remaining >= 2:
        f.long_chain(z, 10_000, remaining)
    elif remaining == 1:
        b.flow_node("comment", z, 120, 10_000, wires=0, info="")


def small_flow(seed: int = 1) -> list[dict]:
    """A 20-node flow like one a user commits: a tab, a broker, MQTT in and out, an HTTP API."""
    b = _Builder(seed)
    z = b.nid()
    b.add({"id": z, "type": "tab", "label": "Flow 1", "disabled": False, "info": "", "env": []})
    f = _Flow.__new__(_Flow)
    f.b, f.link_ins, f.subflows, f.tabs, f.url_seq = b, [], [], [z], 0
    f.brokers = [b.add({"id": b.nid(), "type": "mqtt-broker", "name": "broker", "broker": "mqtt.example.internal", "port": "1883", "clientid": "", "autoConnect": True, "usetls": False, "protocolVersion": "4", "keepalive": "60", "cleansession": True})["id"]]
    f.mqtt_ingest(z, 40)
    f.http_api(z, 160)
    f.timer_job(z, 280)
    while len(b.nodes) < 20:
        b.flow_node("comment", z, 120, 400 + 40 * len(b.nodes), wires=0, info="")
    del b.nodes[20:]  # http_api may add 3 or 4 nodes; keep exactly 20 without cutting a wire target
    ids = {n["id"] for n in b.nodes}
    for n in b.nodes:
        if "wires" in n:
            n["wires"] = [[t for t in port if t in ids] for port in n["wires"]]
    return b.nodes


def dumps(nodes: list[dict], pretty: bool = True) -> str:
    """Node-RED's own layouts: pretty is JSON.stringify(flows, null, 4) (flowFilePretty)."""
    if pretty:
        return json.dumps(nodes, indent=4, ensure_ascii=False) + "\n"
    return json.dumps(nodes, separators=(",", ":"), ensure_ascii=False)


def write_fleet(root: Path, count: int, seed: int = 1, min_nodes: int = 40, max_nodes: int = 400) -> list[Path]:
    """`count` flow files of varied sizes under root/instance-NNN/flows.json (a fleet of projects)."""
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        d = root / f"instance-{i:04d}"
        d.mkdir(parents=True, exist_ok=True)
        p = d / "flows.json"
        p.write_text(dumps(generate(rng.randint(min_nodes, max_nodes), seed=seed * 100_003 + i), pretty=i % 2 == 0), "utf-8")
        paths.append(p)
    return paths


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.flowgen", description=__doc__.splitlines()[0])
    ap.add_argument("nodes", type=int)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--compact", action="store_true", help="one line, as Node-RED writes without flowFilePretty")
    a = ap.parse_args(argv)
    nodes = small_flow(a.seed) if a.nodes == 20 else generate(a.nodes, a.seed)
    Path(a.output).write_text(dumps(nodes, pretty=not a.compact), "utf-8")


if __name__ == "__main__":
    main()
