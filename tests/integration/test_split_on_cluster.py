"""`hacheck split` proven on the real thing (issue 32, proof 3).

One flow of core nodes holds every kind of source the split is about, each ending in a POST to
a recorder (an HTTP server in this test process, keeping each body and the order):
  - a repeating inject (every second), numbering its ticks per copy: tick-1, tick-2, ...
  - a plain MQTT subscription: every message m<i> is POSTed, by a node that an `http in`
    (events e<i> through the load balancer) feeds too: so the split must bridge back from the
    singleton to the HA part, where one copy must handle each message
  - a `tcp in` listener: every line t<i> is POSTed
  - a stateful `join` (count 2) on a load-balanced path: http in -> join -> POST, the request
    answered before the join, so the pair http in -> http response never crosses a bridge
  - an `http in` API answering through the load balancer.
The same actions are driven in every run; what the recorder sees is compared:
  0. the original flow on ONE copy: the reference (how the flow is meant to behave);
  1. the original flow on two replicas behind nginx: timer and subscription actions twice, join
     groups made of other pairs;
  2. split: the HA part on the two replicas, the singleton on a third Node-RED: each action once,
     join groups as on one copy (or the report says why the join could not move), API via LB;
  3. one HA replica plus the singleton: the same sequence as the reference.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.conftest import run_cli

from .cluster import HOST, ComponentFailed, ComponentMissing, NodeRedCluster, free_port, wait_until

pytestmark = pytest.mark.integration

MQTT_MESSAGES = ["m1", "m2", "m3"]
EVENT_REQUESTS = ["e1", "e2"]  # the same handling as the MQTT messages, through the LB
TCP_LINES = ["t1", "t2", "t3"]
JOIN_REQUESTS = ["j1", "j2", "j3", "j4"]  # join count 2: two groups on one copy
JOIN_COUNT = 2
ACTION_TIMEOUT = 60.0  # per action, on a loaded 2-core machine
SETTLE_TICKS = 2  # after the last action: this many more ticks from the ticking copy
CANNOT_LISTEN = "unable to listen on port"
# what hacheck says of the original flow (node names without the run suffix): the four things
# the split is meant to resolve, and that the runs below show on real components
SPLIT_RULES = {"HA101", "HA110", "HA120", "HA201"}
EXPECTED_FINDINGS = {("HA110", "tick"), ("HA101", "sub"), ("HA120", "tcp"), ("HA201", "pair-join")}
# every copy runs on this one host: the broker and the recorder on 127.0.0.1 are the shared ones
CONFIG = "localhost_services: shared\nignore: [HA123]  # the loopback services are the shared ones here\n"


# ---------------------------------------------------------------- the recorder


class Recorder:
    """HTTP server recording (path, body) of every POST, in arrival order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries: list[tuple[str, dict]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    data = json.loads(body)
                except ValueError:
                    data = {"raw": body.decode("utf-8", "replace")}
                with recorder.lock:
                    recorder.entries.append((self.path, data))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # keep pytest's output for the findings
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer((HOST, self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://{HOST}:{self.port}"

    def of(self, run: str) -> list[tuple[str, dict]]:
        """(kind, body) of one run's POSTs, in arrival order (paths are /<run>/<kind>)."""
        with self.lock:
            return [(p.split("/")[2], b) for p, b in self.entries if p.startswith(f"/{run}/")]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- the flow


def _fn(id_, tab, name, func, x, y, wires):
    return {"id": id_, "type": "function", "z": tab, "name": name, "func": func, "outputs": 1,
            "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [],
            "x": x, "y": y, "wires": [wires]}


def _post(id_, tab, name, url, x, y):
    return {"id": id_, "type": "http request", "z": tab, "name": name, "method": "POST", "ret": "txt",
            "paytoqs": "ignore", "url": url, "tls": "", "persist": False, "proxy": "", "insecureHTTPParser": False,
            "authType": "", "senderr": False, "headers": [], "x": x, "y": y, "wires": [[]]}


TAG = "msg.payload = { tag: {expr}, copy: env.get('HACHECK_COPY') };\nreturn msg;"


def original_flows(run: str, broker, recorder: Recorder, tcp_port: int) -> list[dict]:
    """The flow as a user would export it: nothing in it is ready for two copies. Ids, topics,
    paths and the tcp port are this run's own (node context outlives a redeploy of the same id)."""
    i = lambda name: f"{name}-{run}"  # noqa: E731
    tab = i("tab")
    rec = f"{recorder.url}/{run}"
    return [
        {"id": tab, "type": "tab", "label": "Split proof", "disabled": False, "info": "", "env": []},
        # a timer that must fire once
        {"id": i("tick"), "type": "inject", "z": tab, "name": "every second", "props": [],
         "repeat": "1", "crontab": "", "once": False, "onceDelay": 0.1, "topic": "",
         "x": 120, "y": 60, "wires": [[i("tick-tag")]]},
        _fn(i("tick-tag"), tab, "number the tick",
            "const n = (context.get('n') || 0) + 1;\ncontext.set('n', n);\n"
            + TAG.replace("{expr}", "'tick-' + n"), 320, 60, [i("tick-post")]),
        _post(i("tick-post"), tab, "record tick", f"{rec}/tick", 520, 60),
        # a plain subscription: every copy gets every message
        {"id": i("sub"), "type": "mqtt in", "z": tab, "name": "events", "topic": f"split/{run}/events",
         "qos": "1", "datatype": "utf8", "broker": i("broker"), "nl": False, "rap": True, "rh": 0,
         "inputs": 0, "x": 120, "y": 120, "wires": [[i("sub-tag")]]},
        _fn(i("sub-tag"), tab, "tag event", TAG.replace("{expr}", "msg.payload"), 320, 120, [i("sub-post")]),
        _post(i("sub-post"), tab, "record event", f"{rec}/mqtt", 520, 120),
        # the same events posted through the LB, handled by the same node
        {"id": i("ev-in"), "type": "http in", "z": tab, "name": "event", "url": f"/{run}/event",
         "method": "post", "upload": False, "swaggerDoc": "", "x": 110, "y": 150,
         "wires": [[i("ev-res"), i("ev-key")]]},
        {"id": i("ev-res"), "type": "http response", "z": tab, "name": "", "statusCode": "",
         "headers": {}, "x": 300, "y": 160, "wires": []},
        _fn(i("ev-key"), tab, "event id", "return { payload: msg.payload.id };", 220, 150, [i("sub-tag")]),
        # a non-HTTP listener: one host, one port
        {"id": i("tcp"), "type": "tcp in", "z": tab, "name": "lines", "server": "server", "host": "",
         "port": str(tcp_port), "datamode": "stream", "datatype": "utf8", "newline": "\\n", "topic": "",
         "trim": False, "base64": False, "tls": "", "x": 120, "y": 180, "wires": [[i("tcp-tag")]]},
        _fn(i("tcp-tag"), tab, "tag line", TAG.replace("{expr}", "msg.payload"), 320, 180, [i("tcp-post")]),
        _post(i("tcp-post"), tab, "record line", f"{rec}/tcp", 520, 180),
        # a stateful join on a load-balanced path; the request is answered before the join
        {"id": i("pair-in"), "type": "http in", "z": tab, "name": "pair", "url": f"/{run}/pair",
         "method": "post", "upload": False, "swaggerDoc": "", "x": 110, "y": 240,
         "wires": [[i("pair-ack"), i("pair-key")]]},
        _fn(i("pair-ack"), tab, "ack", "msg.payload = { ok: true, copy: env.get('HACHECK_COPY') };\nreturn msg;",
            300, 220, [i("pair-res")]),
        {"id": i("pair-res"), "type": "http response", "z": tab, "name": "", "statusCode": "",
         "headers": {}, "x": 480, "y": 220, "wires": []},
        _fn(i("pair-key"), tab, "keep the id", "return { payload: msg.payload.id };", 300, 260, [i("pair-join")]),
        {"id": i("pair-join"), "type": "join", "z": tab, "name": "pairs", "mode": "custom", "build": "array",
         "property": "payload", "propertyType": "msg", "key": "topic", "joiner": "\\n", "joinerType": "str",
         "useparts": False, "accumulate": False, "timeout": "", "count": str(JOIN_COUNT),
         "reduceRight": False, "reduceExp": "", "reduceInit": "", "reduceInitType": "", "reduceFixup": "",
         "x": 480, "y": 260, "wires": [[i("pair-tag")]]},
        _fn(i("pair-tag"), tab, "tag pair", TAG.replace("{expr}", "msg.payload.join('+')"), 640, 260,
            [i("pair-post")]),
        _post(i("pair-post"), tab, "record pair", f"{rec}/join", 820, 260),
        # an API answering through the load balancer
        {"id": i("api-in"), "type": "http in", "z": tab, "name": "status", "url": f"/{run}/api",
         "method": "get", "upload": False, "swaggerDoc": "", "x": 110, "y": 320, "wires": [[i("api-fn")]]},
        _fn(i("api-fn"), tab, "status", "msg.payload = { api: 'ok', copy: env.get('HACHECK_COPY') };\nreturn msg;",
            300, 320, [i("api-res")]),
        {"id": i("api-res"), "type": "http response", "z": tab, "name": "", "statusCode": "",
         "headers": {}, "x": 480, "y": 320, "wires": []},
        {"id": i("broker"), "type": "mqtt-broker", "name": "events broker", "broker": broker.host,
         "port": str(broker.port), "clientid": "", "autoConnect": True, "usetls": False,
         "protocolVersion": "4", "keepalive": "60", "cleansession": True, "autoUnsubscribe": True,
         "birthTopic": "", "closeTopic": "", "willTopic": "", "sessionExpiry": ""},
    ]


def findings(path: Path) -> set[tuple[str, str]]:
    """(rule, node id) of `hacheck check` on a flow file (its .hacheck.yaml found upward)."""
    res = run_cli("check", "--format", "json", str(path))
    assert res.returncode in (0, 1), f"hacheck check {path}: exit {res.returncode}\n{res.out}\n{res.err}"
    return {(f["rule"], f["node"]) for f in json.loads(res.out)["findings"]}


def write_flows(tmp: Path, flows: list[dict]) -> Path:
    (tmp / ".hacheck.yaml").write_text(CONFIG)
    path = tmp / "flows.json"
    path.write_text(json.dumps(flows, indent=4) + "\n", "utf-8")
    return path


# ---------------------------------------------------------------- driving a run


@dataclass
class Deployment:
    """Which copies run what, for one run."""

    run: str
    tcp_port: int
    http_base: str  # where the test sends its HTTP requests (the LB, or one replica)
    instances: list[tuple[NodeRedCluster, list[str], list[dict]]]  # (instance, its urls, flows)


@dataclass
class Seen:
    """What the recorder saw in one run."""

    entries: list[tuple[str, dict]]
    api_answers: list[dict] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)  # which copy answered each pair request

    def tags(self, kind: str) -> Counter:
        return Counter(b["tag"] for k, b in self.entries if k == kind)

    def copies_of(self, kind: str) -> set[str]:
        return {b["copy"] for k, b in self.entries if k == kind}

    def groups(self) -> list[str]:
        return [b["tag"] for k, b in self.entries if k == "join"]

    def ticks(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for k, b in self.entries:
            if k == "tick":
                out.setdefault(b["copy"], []).append(b["tag"])
        return out

    def sequence(self) -> list[str]:
        """The order of the driven actions' POSTs (the ticks run on their own clock)."""
        return [b["tag"] for k, b in self.entries if k != "tick"]

    def summary(self) -> str:
        by_copy = dict(Counter(b["copy"] for k, b in self.entries if k == "mqtt"))
        return (f"mqtt {dict(self.tags('mqtt'))} by copy {by_copy}, tcp {dict(self.tags('tcp'))}, "
                f"join {self.groups()}, "
                f"ticks {{{', '.join(f'{c}: {len(t)}' for c, t in self.ticks().items())}}}, "
                f"sequence {self.sequence()}")


def mqtt_in_topics(flows: list[dict]) -> list[str]:
    return [n["topic"] for n in flows if n.get("type") == "mqtt in"]


def subscriptions(broker, topic: str, since: int) -> int:
    # mosquitto `log_type subscribe` writes "<ts>: <clientid> <qos> <filter>"
    return sum(line.endswith(f" {topic}") for line in broker.log_text()[since:].splitlines())


def deploy(dep: Deployment, broker) -> dict:
    """Deploy every instance's flows to each of its copies (empty flows stop a copy's work), then
    wait until the copies are connected end to end: every `mqtt in` subscribed once per copy
    that runs it, every http in answering on each copy that runs it. Returns log offsets."""
    mark = len(broker.log_text())
    marks = {}
    for inst, urls, flows in dep.instances:
        for url in urls:
            i = inst.replicas.index(url)
            marks[(inst.name, i)] = len(inst.log_text(i))
            inst.deploy(url, flows)
    for topic in {t for _, _, flows in dep.instances for t in mqtt_in_topics(flows)}:
        want = sum(len(urls) * mqtt_in_topics(flows).count(topic) for _, urls, flows in dep.instances)
        wait_until(lambda: subscriptions(broker, topic, mark) >= want, 120,
                   f"{want} subscription(s) to {topic} in run {dep.run}")
    for inst, urls, flows in dep.instances:
        for node in flows:
            if node.get("type") == "http in" and node.get("method") == "get":
                for url in urls:
                    wait_until(lambda: answers(inst.http, f"{url}{node['url']}"), 120, f"GET {node['url']} on {url}")
    return marks


def log_problems(dep: Deployment, marks: dict) -> list[str]:
    """[error] and [warn] lines every copy of the deployment logged since its deploy."""
    out = []
    for inst, urls, _ in dep.instances:
        for url in urls:
            i = inst.replicas.index(url)
            out += [f"{inst.name}-{i}: {line}" for line in inst.log_text(i)[marks[(inst.name, i)]:].splitlines()
                    if "[error]" in line or "[warn]" in line]
    return out


def answers(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def wait_listening(port: int, timeout: float = 120) -> None:
    def up():
        try:
            with socket.create_connection((HOST, port), timeout=2):
                return True
        except OSError:
            return False
    wait_until(up, timeout, f"a tcp listener on port {port}")


class BridgeWatch:
    """A client on the broker that sees what the HA part sends over its bridge topics: two HA
    replicas publish from two connections, so the order the singleton gets is the order the
    broker got them in; the driver waits for each crossing before the next request."""

    def __init__(self, broker, topics: list[str], run: str):
        self.lock = threading.Lock()
        self.payloads: list[bytes] = []
        ready = threading.Event()
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"bridge-watch-{run}")
        self.client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        wait_until(ready.is_set, 60, f"the bridge watcher's subscription to {topics}")

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.payloads.append(bytes(msg.payload))

    def crossed(self, text: str) -> bool:
        needle = json.dumps(text).encode()  # the id as a JSON string, however the msg is wrapped
        with self.lock:
            return any(needle in p or p == text.encode() for p in self.payloads)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def drive(dep: Deployment, broker, recorder: Recorder, settle_copy: str,
          bridge: BridgeWatch | None = None) -> Seen:
    """The same actions in every run, one at a time, each waited for (by the first copy to
    handle it) before the next, so that the order of their POSTs is the order of the actions."""
    run = dep.run
    seen = lambda kind, tag: any(k == kind and b["tag"] == tag for k, b in recorder.of(run))  # noqa: E731

    pub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{run}")
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    try:
        for m in MQTT_MESSAGES:
            info = pub.publish(f"split/{run}/events", m, qos=1)
            info.wait_for_publish(timeout=60)
            assert info.is_published(), f"broker did not acknowledge {m}"
            wait_until(lambda: seen("mqtt", m), ACTION_TIMEOUT, f"the POST of MQTT message {m}")
    finally:
        pub.disconnect()
        pub.loop_stop()

    with httpx.Client(timeout=30, trust_env=False) as http:
        for e in EVENT_REQUESTS:
            r = http.post(f"{dep.http_base}/{run}/event", json={"id": e})
            assert r.status_code == 200, f"event {e}: {r.status_code} {r.text}"
            wait_until(lambda: seen("mqtt", e), ACTION_TIMEOUT, f"the POST of event {e}")

    wait_listening(dep.tcp_port)
    with socket.create_connection((HOST, dep.tcp_port), timeout=30) as s:
        for t in TCP_LINES:
            s.sendall(f"{t}\n".encode())
            wait_until(lambda: seen("tcp", t), ACTION_TIMEOUT, f"the POST of tcp line {t}")

    acks = []
    with httpx.Client(timeout=30, trust_env=False) as http:
        for j in JOIN_REQUESTS:
            r = http.post(f"{dep.http_base}/{run}/pair", json={"id": j})
            assert r.status_code == 200 and r.json()["ok"] is True, f"pair request {j}: {r.status_code} {r.text}"
            acks.append(r.json()["copy"])
            if bridge is not None:
                wait_until(lambda: bridge.crossed(j), ACTION_TIMEOUT, f"pair request {j} on the bridge")
        # a group is complete once its last member is in: wait for every request to be in one
        wait_until(lambda: set(JOIN_REQUESTS) <= {x for g in Seen(recorder.of(run)).groups()
                                                  for x in g.split("+")},
                   ACTION_TIMEOUT, f"join groups covering {JOIN_REQUESTS}")
        answers = []
        for _ in range(4):  # round-robin: each replica answers twice
            r = http.get(f"{dep.http_base}/{run}/api")
            assert r.status_code == 200, f"API: {r.status_code} {r.text}"
            answers.append(r.json())

    # duplicates of the last actions may still be on their way from another copy: let the
    # ticking copy, which runs on its own clock, tick a few more times before counting
    def ticks_of_settler():
        return Seen(recorder.of(run)).ticks().get(settle_copy, [])
    n0 = len(ticks_of_settler())
    wait_until(lambda: len(ticks_of_settler()) >= n0 + SETTLE_TICKS, 60,
               f"{SETTLE_TICKS} more ticks from {settle_copy}")
    return Seen(recorder.of(run), api_answers=answers, acks=acks)


def consecutive_ticks(ticks: list[str]) -> bool:
    return ticks == [f"tick-{k}" for k in range(1, len(ticks) + 1)]


# ---------------------------------------------------------------- fixtures


def _start(factory, what: str):
    try:
        return factory()
    except (ComponentMissing, ComponentFailed) as e:
        message = f"{what}: {e}"
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="module")
def recorder():
    rec = Recorder()
    yield rec
    rec.stop()


@pytest.fixture(scope="module")
def singleton(tmp_path_factory):
    """A third Node-RED, one copy: the singleton instance."""
    inst = _start(lambda: NodeRedCluster(tmp_path_factory.mktemp("singleton"), replicas=1, name="singleton"),
                  "singleton Node-RED")
    try:
        _start(inst.start, "singleton Node-RED")
        yield inst
    finally:
        inst.stop()


@pytest.fixture(scope="module")
def ha(node_red_cluster):
    yield node_red_cluster
    node_red_cluster.deploy_all([])  # stop this module's timers, listeners and clients


def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def reference(ha, singleton, mosquitto, recorder):
    """The original flow on ONE copy (replica 0; replica 1 and the singleton idle)."""
    run = run_id()
    port = free_port()
    flows = original_flows(run, mosquitto, recorder, port)
    r0, r1 = ha.replicas
    dep = Deployment(run, port, r0, [(ha, [r0], flows), (ha, [r1], []), (singleton, singleton.replicas, [])])
    deploy(dep, mosquitto)
    seen = drive(dep, mosquitto, recorder, settle_copy="nodered-replica-0")
    print(f"one copy: {seen.summary()}")
    # the reference itself is what the flow is meant to do
    assert seen.tags("mqtt") == Counter({m: 1 for m in MQTT_MESSAGES + EVENT_REQUESTS}), seen.summary()
    assert seen.tags("tcp") == Counter({t: 1 for t in TCP_LINES}), seen.summary()
    assert seen.groups() == ["j1+j2", "j3+j4"], seen.summary()
    assert list(seen.ticks()) == ["nodered-replica-0"] and consecutive_ticks(seen.ticks()["nodered-replica-0"])
    return seen


# ---------------------------------------------------------------- the proofs


def test_unsplit_on_two_replicas_does_timer_and_subscription_work_twice(ha, singleton, nginx_lb, mosquitto,
                                                                        recorder, reference, tmp_path):
    run = run_id()
    port = free_port()
    flows = original_flows(run, mosquitto, recorder, port)
    # the linter's verdict, which the run below shows on real components
    found = findings(write_flows(tmp_path, flows))
    assert found == {(rule, f"{node}-{run}") for rule, node in EXPECTED_FINDINGS}, found
    dep = Deployment(run, port, nginx_lb.url, [(ha, ha.replicas, flows), (singleton, singleton.replicas, [])])
    marks = deploy(dep, mosquitto)
    seen = drive(dep, mosquitto, recorder, settle_copy="nodered-replica-0")
    print(f"unsplit, two replicas: {seen.summary()}")

    # every subscription-triggered action twice, once by each copy; the same node fed through
    # the LB does its work once
    assert seen.tags("mqtt") == Counter({**{m: 2 for m in MQTT_MESSAGES}, **{e: 1 for e in EVENT_REQUESTS}}), \
        seen.summary()
    assert seen.copies_of("mqtt") == {"nodered-replica-0", "nodered-replica-1"}, seen.summary()
    # every timer action twice: both copies tick, each numbering tick-1, tick-2, ...
    ticks = seen.ticks()
    assert sorted(ticks) == ["nodered-replica-0", "nodered-replica-1"], seen.summary()
    assert all(consecutive_ticks(t) for t in ticks.values()), seen.summary()
    both = min(len(t) for t in ticks.values())
    assert both >= SETTLE_TICKS
    assert all(seen.tags("tick")[f"tick-{k}"] == 2 for k in range(1, both + 1)), seen.summary()
    # the listener: on one host only one copy can have the port; the other logs that it cannot
    cannot = [i for i in range(len(ha.replicas))
              if f"{CANNOT_LISTEN} {port}" in ha.log_text(i)[marks[(ha.name, i)]:]]
    assert len(cannot) == 1, f"replicas that could not listen on {port}: {cannot}"
    assert seen.tags("tcp") == Counter({t: 1 for t in TCP_LINES}), seen.summary()
    # the join pairs what each copy happened to get, not what one copy would pair
    assert seen.groups() != reference.groups(), seen.summary()
    assert sorted(x for g in seen.groups() for x in g.split("+")) == JOIN_REQUESTS, seen.summary()
    assert seen.copies_of("join") == {"nodered-replica-0", "nodered-replica-1"}, seen.summary()
    # the API answers through the LB from both copies
    assert {a["copy"] for a in seen.api_answers} == {"nodered-replica-0", "nodered-replica-1"}


# ---------------------------------------------------------------- the split


@dataclass
class Split:
    run: str
    tcp_port: int
    original: list[dict]
    ha: list[dict]
    singleton: list[dict]
    report: dict
    report_text: str
    out: Path

    def ids(self, part: str) -> set[str]:
        return {n["id"] for n in getattr(self, part)}

    def bridge_topics_out_of_ha(self) -> list[str]:
        """Topics the HA part publishes on that the original did not: its bridge to the singleton."""
        before = {n.get("topic") for n in self.original if n.get("type") == "mqtt out"}
        return [n["topic"] for n in self.ha if n.get("type") == "mqtt out" and n.get("topic") not in before]


def split_flow(run: str, broker, recorder: Recorder, tmp: Path) -> Split:
    port = free_port()
    original = original_flows(run, broker, recorder, port)
    src = write_flows(tmp, original)
    out = tmp / "split"
    res = run_cli("split", str(src), "-o", str(out), "--bridge", "mqtt",
                  "--broker", f"mqtt://{broker.host}:{broker.port}", cwd=tmp)
    assert res.returncode == 0, f"hacheck split exited {res.returncode}:\n{res.out}\n{res.err}"
    for f in ("ha/flows.json", "singleton/flows.json", "report.json"):
        assert (out / f).is_file(), f"hacheck split did not write {f}: {sorted(p.name for p in out.rglob('*'))}"
    return Split(run, port, original, json.loads((out / "ha" / "flows.json").read_text("utf-8")),
                 json.loads((out / "singleton" / "flows.json").read_text("utf-8")),
                 json.loads((out / "report.json").read_text("utf-8")), res.out, out)


def inject_copy(sp: Split, singleton_copy: str, ha_copy: str) -> str:
    """The copy whose ticks mark time after the last action: wherever the timer went."""
    return singleton_copy if f"tick-{sp.run}" in sp.ids("singleton") else ha_copy


def deploy_split_and_drive(dep: Deployment, sp: Split, mosquitto, recorder) -> tuple:
    """Deploy both parts, drive every action (watching the bridge out of the HA part, so the join
    requests reach the singleton in order) and return (the log marks, what the recorder saw)."""
    marks = deploy(dep, mosquitto)
    bridge = BridgeWatch(mosquitto, sp.bridge_topics_out_of_ha(), sp.run) if sp.bridge_topics_out_of_ha() else None
    try:
        return marks, drive(dep, mosquitto, recorder, inject_copy(sp, "singleton-0", "nodered-replica-0"), bridge)
    finally:
        if bridge is not None:
            bridge.close()


def join_verdict(sp: Split) -> str | None:
    """None if the join moved to the singleton, else why the report says it stayed (never silent)."""
    join = f"pair-join-{sp.run}"
    if join in sp.ids("singleton") and join not in sp.ids("ha"):
        return None
    assert join in sp.ids("ha") and join not in sp.ids("singleton"), f"the join is in both parts:\n{sp.report_text}"
    kept = [k for k in sp.report.get("kept", []) if k["id"] == join]
    assert kept and kept[0]["why"], f"the join stayed in the HA part and the report does not say why:\n{sp.report_text}"
    return kept[0]["why"]


def assert_partition(sp: Split) -> None:
    r = sp.run
    single, ha = sp.ids("singleton"), sp.ids("ha")
    # what must run once or needs one host moved, with what only it uses
    for node in ("tick", "tick-tag", "tick-post", "sub", "tcp", "tcp-tag", "tcp-post"):
        assert f"{node}-{r}" in single and f"{node}-{r}" not in ha, f"{node} not moved:\n{sp.report_text}"
    # load-balanced work stayed, with what it shares with a moved path, and no http in ->
    # http response pair crossed
    for node in ("pair-in", "pair-ack", "pair-res", "api-in", "api-fn", "api-res",
                 "ev-in", "ev-res", "ev-key", "sub-tag", "sub-post"):
        assert f"{node}-{r}" in ha and f"{node}-{r}" not in single, f"{node} not in the HA part:\n{sp.report_text}"
    # nothing lost: every original node is in a part
    assert {n["id"] for n in sp.original} <= single | ha
    assert not any("credentials" in n for n in sp.ha + sp.singleton)


def test_split_on_two_replicas_plus_singleton_does_each_action_once(ha, singleton, nginx_lb, mosquitto,
                                                                   recorder, reference, tmp_path):
    sp = split_flow(run_id(), mosquitto, recorder, tmp_path)
    print(f"split report:\n{sp.report_text}")
    assert_partition(sp)
    verdict = join_verdict(sp)
    dep = Deployment(sp.run, sp.tcp_port, nginx_lb.url,
                     [(ha, ha.replicas, sp.ha), (singleton, singleton.replicas, sp.singleton)])
    marks, seen = deploy_split_and_drive(dep, sp, mosquitto, recorder)
    print(f"split, two HA replicas + singleton: {seen.summary()}")

    # each action exactly once; the subscription's messages cross back to the HA part, where the
    # node they share with the LB's events runs, and one HA copy handles each
    assert seen.tags("mqtt") == Counter({m: 1 for m in MQTT_MESSAGES + EVENT_REQUESTS}), seen.summary()
    assert {b["copy"] for k, b in seen.entries if k == "mqtt"} <= {"nodered-replica-0", "nodered-replica-1"}
    assert any(t.startswith("$share/") for t in mqtt_in_topics(sp.ha)), mqtt_in_topics(sp.ha)
    assert seen.tags("tcp") == Counter({t: 1 for t in TCP_LINES}), seen.summary()
    ticks = seen.ticks()
    assert list(ticks) == ["singleton-0"] and consecutive_ticks(ticks["singleton-0"]), seen.summary()
    assert len(ticks["singleton-0"]) >= SETTLE_TICKS
    # no copy logged an error or a warning: above all no HA replica tried the tcp port
    # ("unable to listen on port", as in the unsplit run), and the bridges connected
    assert log_problems(dep, marks) == []
    # the join groups what one copy groups, or the report says why it could not move
    if verdict is None:
        assert seen.groups() == reference.groups(), seen.summary()
    else:
        print(f"join not moved: {verdict}")
        assert sorted(x for g in seen.groups() for x in g.split("+")) == JOIN_REQUESTS, seen.summary()
    # the load-balanced paths still are: both HA replicas answered pair and API requests via the LB
    assert set(seen.acks) == {"nodered-replica-0", "nodered-replica-1"}, seen.acks
    assert {a["copy"] for a in seen.api_answers} == {"nodered-replica-0", "nodered-replica-1"}, seen.api_answers
    # the report claims to have resolved exactly what this run showed resolved
    resolved = {(r["rule"], r["node"]) for g in sp.report["groups"] for r in g["resolves"]}
    shown = {(rule, f"{node}-{sp.run}") for rule, node in EXPECTED_FINDINGS
             if verdict is None or node != "pair-join"}
    assert resolved == shown, sp.report_text
    # the linter's verdict on the parts agrees: the HA part as HA, the singleton (its file says so) as one copy
    for part in ("ha", "singleton"):
        left = {(rule, node) for rule, node in findings(sp.out / part / "flows.json") if rule in SPLIT_RULES}
        if verdict is not None and part == "ha":
            left.discard(("HA201", f"pair-join-{sp.run}"))  # the join the report says could not move
        assert not left, f"{part} part still has {sorted(left)}"


def test_one_ha_replica_plus_singleton_behaves_as_the_original_on_one_copy(ha, singleton, mosquitto, recorder,
                                                                          reference, tmp_path):
    sp = split_flow(run_id(), mosquitto, recorder, tmp_path)
    r0, r1 = ha.replicas
    dep = Deployment(sp.run, sp.tcp_port, r0,
                     [(ha, [r0], sp.ha), (ha, [r1], []), (singleton, singleton.replicas, sp.singleton)])
    marks, seen = deploy_split_and_drive(dep, sp, mosquitto, recorder)
    print(f"split, one HA replica + singleton: {seen.summary()}")
    assert log_problems(dep, marks) == []
    assert seen.sequence() == reference.sequence(), f"{seen.summary()}\nreference: {reference.summary()}"
    ticks = seen.ticks()
    assert len(ticks) == 1 and all(consecutive_ticks(t) for t in ticks.values()), seen.summary()
    assert set(seen.acks) == {"nodered-replica-0"} and {a["copy"] for a in seen.api_answers} == {"nodered-replica-0"}
