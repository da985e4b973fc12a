"""What the effect model claims, shown on two real Node-RED replicas and Mosquitto: a source
every copy runs duplicates what acts on the world and nothing else; a run-once inject acts at
each copy's start; a file written behind the load balancer holds each copy's share; a client id
from an environment variable is only as unique as the variable.

Each test also checks the flow it deploys with hacheck, so the finding and the behaviour are
seen side by side.
"""

from __future__ import annotations

import socketserver
import threading
import time
import uuid

import httpx
import paho.mqtt.client as mqtt
import pytest

from hacheck.model.config import Config
from tests.conftest import check_flow_data

from .cluster import wait_until
from .test_node_red_mqtt import publish, subscribe_lines

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(node_red_cluster):
    yield node_red_cluster
    node_red_cluster.deploy_all([])  # stop the test's clients before the next test


class Collector:
    """A plain MQTT client that records every message on a topic filter."""

    def __init__(self, broker, topic: str):
        self.messages: list[tuple[str, str]] = []
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"col-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload.decode()))
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def settle(self, at_least: int, timeout: float = 120.0) -> list[tuple[str, str]]:
        wait_until(lambda: len(self.messages) >= at_least, timeout, f"{at_least} messages")
        last, since = len(self.messages), time.monotonic()
        while time.monotonic() - since < 2.0:  # any duplicate still on its way shows up
            time.sleep(0.2)
            if len(self.messages) != last:
                last, since = len(self.messages), time.monotonic()
        return list(self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def broker_node(broker, bid: str, clientid: str = "") -> dict:
    return {"id": bid, "type": "mqtt-broker", "name": "test broker", "broker": broker.host, "port": str(broker.port),
            "clientid": clientid, "autoConnect": True, "usetls": False, "protocolVersion": "4", "keepalive": "60",
            "cleansession": True, "autoUnsubscribe": True, "birthTopic": "", "closeTopic": "", "willTopic": ""}


def fn(fid: str, tab: str, code: str, to: list[str]) -> dict:
    return {"id": fid, "type": "function", "z": tab, "name": fid, "func": code, "outputs": 1, "timeout": 0,
            "noerr": 0, "initialize": "", "finalize": "", "libs": [], "x": 300, "y": 80, "wires": [to]}


def ids(findings) -> set[tuple[str, str]]:
    return {(f.rule_id, f.node_id) for f in findings}


def checked(flows: list[dict], *rules: str) -> set[tuple[str, str]]:
    """hacheck's findings on the flow, told what this test cluster is: both replicas run on
    one host, so the broker on loopback is one broker they share (localhost_services: shared,
    the default, said here so the test does not depend on it)."""
    return ids(check_flow_data(flows, select=rules, config=Config(localhost_services="shared")))


# --- duplicated work ---------------------------------------------------------------------------


def test_a_plain_subscription_doubles_its_publishes_and_not_what_it_only_shows(cluster, mosquitto):
    sfx = uuid.uuid4().hex[:8]
    tab, brk = f"tab-{sfx}", f"b-{sfx}"
    flows = [
        {"id": tab, "type": "tab", "label": "effects"},
        broker_node(mosquitto, brk),
        # a command path: every job becomes a publish
        {"id": f"cmd-{sfx}", "type": "mqtt in", "z": tab, "topic": f"jobs-{sfx}/#", "qos": "1", "datatype": "utf8",
         "broker": brk, "inputs": 0, "x": 100, "y": 40, "wires": [[f"map-{sfx}"]]},
        fn(f"map-{sfx}", tab, "msg.topic = 'done-" + sfx + "/' + msg.payload; return msg;", [f"out-{sfx}"]),
        {"id": f"out-{sfx}", "type": "mqtt out", "z": tab, "topic": "", "qos": "1", "retain": "false", "broker": brk,
         "x": 500, "y": 40, "wires": []},
        # a display path: every reading is only shown
        {"id": f"view-{sfx}", "type": "mqtt in", "z": tab, "topic": f"temps-{sfx}/#", "qos": "1", "datatype": "utf8",
         "broker": brk, "inputs": 0, "x": 100, "y": 120, "wires": [[f"dbg-{sfx}"]]},
        {"id": f"dbg-{sfx}", "type": "debug", "z": tab, "active": True, "tosidebar": True, "complete": "payload",
         "x": 300, "y": 120, "wires": []},
    ]
    assert checked(flows, "HA101") == {("HA101", f"cmd-{sfx}")}  # the display path is not reported

    done = Collector(mosquitto, f"done-{sfx}/#")
    anything = Collector(mosquitto, "#")
    try:
        cluster.deploy_all(flows)
        wait_until(lambda: subscribe_lines(mosquitto, f"jobs-{sfx}/#") >= 2, 120, "both replicas subscribed")
        wait_until(lambda: subscribe_lines(mosquitto, f"temps-{sfx}/#") >= 2, 120, "both replicas subscribed")
        publish(mosquitto, f"temps-{sfx}", 10)
        publish(mosquitto, f"jobs-{sfx}", 10)
        got = done.settle(20)
        # every job published twice: once by each copy
        assert sorted(p for _, p in got) == sorted([f"job-{i}" for i in range(10)] * 2)
        # the readings reached both copies' debug nodes and nothing was published for them
        assert not [t for t, p in anything.messages if t.startswith("done-") and p.startswith("temp")]
        assert len([t for t, _ in anything.messages if t.startswith(f"temps-{sfx}/")]) == 10  # only ours
    finally:
        done.close()
        anything.close()


class _Feed(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def test_an_event_stream_every_copy_holds_doubles_the_actions_it_starts(cluster, mosquitto):
    """A TCP feed (like an integration's event stream): every copy connects on its own."""
    clients: list = []
    events = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            clients.append(self.request)
            events.wait(180)  # keep the connection until the test is done

    server = _Feed(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    sfx = uuid.uuid4().hex[:8]
    tab, brk = f"tab-{sfx}", f"b-{sfx}"
    flows = [
        {"id": tab, "type": "tab", "label": "feed"},
        broker_node(mosquitto, brk),
        {"id": f"feed-{sfx}", "type": "tcp in", "z": tab, "name": "feed", "server": "client", "host": "127.0.0.1",
         "port": str(port), "datamode": "stream", "datatype": "utf8", "newline": "\\n", "topic": "", "base64": False,
         "x": 100, "y": 40, "wires": [[f"act-{sfx}"]]},
        {"id": f"act-{sfx}", "type": "mqtt out", "z": tab, "topic": f"acted-{sfx}", "qos": "1", "retain": "false",
         "broker": brk, "x": 300, "y": 40, "wires": []},
    ]
    assert checked(flows, "HA107", "HA120") == {("HA107", f"feed-{sfx}")}
    acted = Collector(mosquitto, f"acted-{sfx}")
    try:
        cluster.deploy_all(flows)
        wait_until(lambda: len(clients) >= 2, 120, "both replicas connected to the feed")
        for i in range(5):
            for c in clients:
                c.sendall(f"event-{i}\n".encode())
        got = acted.settle(10)
        assert sorted(p.strip() for _, p in got) == sorted([f"event-{i}" for i in range(5)] * 2)
    finally:
        events.set()
        acted.close()
        server.shutdown()
        server.server_close()


def test_a_run_once_inject_acts_again_at_each_copys_start(cluster, mosquitto):
    sfx = uuid.uuid4().hex[:8]
    tab, brk = f"tab-{sfx}", f"b-{sfx}"
    flows = [
        {"id": tab, "type": "tab", "label": "start"},
        broker_node(mosquitto, brk),
        {"id": f"once-{sfx}", "type": "inject", "z": tab, "name": "at start", "props": [{"p": "payload"}],
         "repeat": "", "crontab": "", "once": True, "onceDelay": "2", "topic": "", "x": 100, "y": 40,
         "wires": [[f"who-{sfx}"]]},
        fn(f"who-{sfx}", tab, "msg.payload = 'off from replica ' + env.get('HACHECK_REPLICA'); return msg;", [f"pub-{sfx}"]),
        {"id": f"pub-{sfx}", "type": "mqtt out", "z": tab, "topic": f"lights-{sfx}/set", "qos": "1", "retain": "false",
         "broker": brk, "x": 500, "y": 40, "wires": []},
    ]
    assert checked(flows, "HA111") == {("HA111", f"once-{sfx}")}
    lights = Collector(mosquitto, f"lights-{sfx}/set")
    try:
        cluster.deploy_all(flows)
        got = lights.settle(2)
        assert sorted(p for _, p in got) == ["off from replica 0", "off from replica 1"]
        # one copy starts again (a rolling restart), while the other keeps running: it acts again
        cluster.deploy(cluster.replicas[1], flows)
        got = lights.settle(3)
        assert sorted(p for _, p in got) == ["off from replica 0", "off from replica 1", "off from replica 1"]
    finally:
        lights.close()


# --- state outside memory, and sessions ----------------------------------------------------------


def test_a_file_written_behind_the_load_balancer_holds_each_copys_share(cluster, nginx_lb):
    sfx = uuid.uuid4().hex[:8]
    tab = f"tab-{sfx}"
    flows = [
        {"id": tab, "type": "tab", "label": "notes"},
        {"id": f"in-{sfx}", "type": "http in", "z": tab, "url": f"/notes-{sfx}", "method": "post", "upload": False,
         "x": 100, "y": 40, "wires": [[f"line-{sfx}"]]},
        fn(f"line-{sfx}", tab, "msg.payload = String(msg.payload.n); return msg;", [f"file-{sfx}", f"ok-{sfx}"]),
        # the file name comes from HACHECK_DISK_FILE, a path on each replica's own disk
        {"id": f"file-{sfx}", "type": "file", "z": tab, "name": "append", "filename": "HACHECK_DISK_FILE",
         "filenameType": "env", "appendNewline": True, "createDir": True, "overwriteFile": "false",
         "encoding": "none", "x": 500, "y": 40, "wires": [[]]},
        {"id": f"ok-{sfx}", "type": "http response", "z": tab, "statusCode": "204", "x": 500, "y": 100, "wires": []},
    ]
    assert checked(flows, "HA204") == {("HA204", f"file-{sfx}")}
    files = [d / "disk" / "notes.txt" for d in cluster.user_dirs]
    for f in files:
        f.unlink(missing_ok=True)
    cluster.deploy_all(flows)
    with httpx.Client(timeout=30, trust_env=False) as client:
        deadline = time.monotonic() + 120
        while not all(f.exists() for f in files):  # until both replicas serve the route
            assert time.monotonic() < deadline, "the notes route is not serving on both replicas"
            try:
                client.post(f"{nginx_lb.url}/notes-{sfx}", json={"n": -1})
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        for f in files:  # the readiness probes wrote -1 lines: start from empty files
            f.write_text("")
        for n in range(20):
            assert client.post(f"{nginx_lb.url}/notes-{sfx}", json={"n": n}).status_code == 204
    lines = [f.read_text().split() for f in files]
    assert sorted(lines[0] + lines[1]) == sorted(str(n) for n in range(20))  # together: all of them
    assert len(lines[0]) == len(lines[1]) == 10  # each copy: only its share (round-robin)


def test_a_client_id_from_an_environment_variable_is_only_as_unique_as_the_variable(cluster, mosquitto):
    """${HACHECK_SITE} is the same on every replica (like a FlowFuse instance setting): the
    copies take the session from each other. ${HOSTNAME} is each replica's own (like a pod's)."""
    sfx = uuid.uuid4().hex[:8]

    def flow(tab: str, brk: str, clientid: str) -> list[dict]:
        return [
            {"id": tab, "type": "tab", "label": "clientid"},
            broker_node(mosquitto, brk, clientid),
            {"id": f"sub-{tab}", "type": "mqtt in", "z": tab, "topic": f"$share/g/{tab}/#", "qos": "1",
             "datatype": "utf8", "broker": brk, "inputs": 0, "x": 100, "y": 40, "wires": [[]]},
        ]

    same = flow(f"same-{sfx}", f"bs-{sfx}", "${HACHECK_SITE}")
    distinct = flow(f"own-{sfx}", f"bo-{sfx}", "${HOSTNAME}")
    assert checked(same + distinct, "HA103") == {("HA103", f"bs-{sfx}")}

    log_before = len(mosquitto.log_text())
    cluster.deploy_all(distinct)
    wait_until(lambda: subscribe_lines(mosquitto, f"$share/g/own-{sfx}/#") >= 2, 120, "both replicas subscribed")
    time.sleep(5)  # a flapping pair would have kicked each other several times by now
    new = mosquitto.log_text()[log_before:]
    assert "Client nodered-replica-0 already connected" not in new and "Client nodered-replica-1 already connected" not in new
    assert "nodered-replica-0" in new and "nodered-replica-1" in new  # both connected, each with its own id

    cluster.deploy_all(same)
    wait_until(lambda: mosquitto.log_text().count("Client plant-a already connected, closing old connection") >= 4, 120,
               "repeated takeovers between the replicas sharing ${HACHECK_SITE}")
