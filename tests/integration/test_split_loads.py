"""Proof 2 of `hacheck split` (issue 32): both parts of a flow built from core nodes, split
with the MQTT bridge, load in a real Node-RED 4.1.15 with no error or warning in its log, their
bridge connections come up on a real Mosquitto, and a message crosses each way.

The HA part is deployed on one replica and the singleton part on the other: each replica is a
Node-RED of its own here, standing for the two instances."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.client as mqtt
import pytest

from tests.conftest import run_cli

from .cluster import free_port, wait_until

pytestmark = pytest.mark.integration


def core_flow(recorder_port: int, tcp_port: int, sfx: str) -> list[dict]:
    """The issue's flow, from core nodes only: a repeating inject and a plain subscription that
    POST, a tcp listener, a join fed by an http in API, the API's response. The timer repeats
    hourly and is not fired at start: nothing here calls the (absent) recorder by itself."""
    t, b = f"tab-{sfx}", f"broker-{sfx}"
    rec = f"http://127.0.0.1:{recorder_port}"

    def post(i, path, x, y):
        return {"id": f"{i}-{sfx}", "type": "http request", "z": t, "name": f"post {path}", "method": "POST",
                "ret": "txt", "paytoqs": "ignore", "url": f"{rec}/{path}", "tls": "", "persist": False,
                "proxy": "", "insecureHTTPParser": False, "authType": "", "senderr": False, "headers": [],
                "x": x, "y": y, "wires": [[]]}

    return [
        {"id": t, "type": "tab", "label": "split proof", "disabled": False, "info": "", "env": []},
        {"id": f"inj-{sfx}", "type": "inject", "z": t, "name": "hourly", "props": [{"p": "payload"}],
         "repeat": "3600", "crontab": "", "once": False, "onceDelay": 0.1, "topic": "", "payload": "",
         "payloadType": "date", "x": 120, "y": 60, "wires": [[f"tick-{sfx}"]]},
        post("tick", "tick", 360, 60),
        {"id": f"sub-{sfx}", "type": "mqtt in", "z": t, "name": "events", "topic": f"events-{sfx}/#", "qos": "1",
         "datatype": "utf8", "broker": b, "nl": False, "rap": True, "rh": 0, "inputs": 0, "x": 120, "y": 140,
         "wires": [[f"fmt-{sfx}"]]},
        {"id": f"fmt-{sfx}", "type": "change", "z": t, "name": "mark", "rules": [
            {"t": "set", "p": "marked", "pt": "msg", "to": "yes", "tot": "str"}],
         "action": "", "property": "", "from": "", "to": "", "reg": False, "x": 320, "y": 140,
         "wires": [[f"event-{sfx}", f"seen-{sfx}"]]},
        post("event", "event", 520, 140),
        # what the shared node received, where a test can read it (Admin API context)
        {"id": f"seen-{sfx}", "type": "change", "z": t, "name": "remember", "rules": [
            {"t": "set", "p": "seen", "pt": "global", "to": "payload", "tot": "msg"},
            {"t": "set", "p": "seen_topic", "pt": "global", "to": "topic", "tot": "msg"}],
         "action": "", "property": "", "from": "", "to": "", "reg": False, "x": 520, "y": 180, "wires": [[]]},
        {"id": f"api-{sfx}", "type": "http in", "z": t, "name": "api", "url": f"/api-{sfx}", "method": "post",
         "upload": False, "swaggerDoc": "", "x": 120, "y": 240, "wires": [[f"fmt-{sfx}", f"resp-{sfx}", f"join-{sfx}"]]},
        {"id": f"resp-{sfx}", "type": "http response", "z": t, "name": "", "statusCode": "", "headers": {},
         "x": 320, "y": 240, "wires": []},
        {"id": f"join-{sfx}", "type": "join", "z": t, "name": "three", "mode": "custom", "build": "array",
         "property": "payload", "propertyType": "msg", "key": "topic", "joiner": "\\n", "joinerType": "str",
         "useparts": False, "accumulate": False, "timeout": "", "count": "3", "reduceRight": False,
         "reduceExp": "", "reduceInit": "", "reduceInitType": "", "reduceFixup": "", "x": 320, "y": 300,
         "wires": [[f"joined-{sfx}"]]},
        post("joined", "join", 520, 300),
        {"id": f"tcp-{sfx}", "type": "tcp in", "z": t, "name": "listener", "server": "server", "host": "",
         "port": str(tcp_port), "datamode": "stream", "datatype": "utf8", "newline": "\\n", "topic": "",
         "trim": False, "base64": False, "tls": "", "x": 120, "y": 380, "wires": [[f"tcppost-{sfx}"]]},
        post("tcppost", "tcp", 320, 380),
        {"id": b, "type": "mqtt-broker", "name": "events broker", "broker": "127.0.0.1", "port": "1",
         "clientid": "", "autoConnect": True, "usetls": False, "protocolVersion": "4", "keepalive": "60",
         "cleansession": True, "autoUnsubscribe": True, "birthTopic": "", "birthQos": "0", "birthPayload": "",
         "birthMsg": {}, "closeTopic": "", "closeQos": "0", "closePayload": "", "closeMsg": {}, "willTopic": "",
         "willQos": "0", "willPayload": "", "willMsg": {}, "userProps": "", "sessionExpiry": ""},
    ]


_PROBLEM = re.compile(r"\[(warn|error)\]")


class Recorder:
    """The POSTs' target: a real HTTP server on loopback that records each request's path."""

    def __init__(self):
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _since(cluster, i: int, offset: int) -> str:
    return cluster.log_text(i)[offset:]


def test_both_parts_load_without_errors_or_warnings(node_red_cluster, mosquitto, tmp_path):
    cluster = node_red_cluster
    sfx = uuid.uuid4().hex[:8]
    recorder = Recorder()
    try:
        _check(cluster, mosquitto, tmp_path, recorder, sfx)
    finally:
        recorder.stop()


def _check(cluster, mosquitto, tmp_path, recorder, sfx):
    flow = core_flow(recorder.port, free_port(), sfx)
    for n in flow:  # the flow's own broker is the test's
        if n["type"] == "mqtt-broker":
            n["port"] = str(mosquitto.port)
    src = tmp_path / "flows.json"
    src.write_text(json.dumps(flow, indent=4))
    out = tmp_path / "split"
    proc = run_cli("split", str(src), "-o", str(out), "--bridge", "mqtt", "--broker",
                   f"mqtt://{mosquitto.host}:{mosquitto.port}", "-f", "json")
    assert proc.returncode == 0, proc.err
    report = json.loads(proc.out)
    ha = json.loads((out / "ha" / "flows.json").read_text())
    single = json.loads((out / "singleton" / "flows.json").read_text())
    moved = {n["id"] for n in single} - {n["id"] for n in ha}
    # what the flow must give: the timer, the subscription, the listener and the join move
    assert {f"inj-{sfx}", f"sub-{sfx}", f"tcp-{sfx}", f"join-{sfx}"} <= moved, report["groups"]
    assert {f"api-{sfx}", f"resp-{sfx}", f"fmt-{sfx}"} <= {n["id"] for n in ha} - moved
    directions = sorted(b["direction"] for b in report["bridges"])
    assert directions == ["ha-to-singleton", "singleton-to-ha"], report["bridges"]

    offsets = [len(cluster.log_text(i)) for i in (0, 1)]
    cluster.deploy(cluster.replicas[0], ha)
    cluster.deploy(cluster.replicas[1], single)
    # both bridge connections up (and the singleton's own subscription's), subscribed at Mosquitto
    for i in (0, 1):
        wait_until(lambda i=i: "Started flows" in _since(cluster, i, offsets[i]), 60, f"replica {i} started the flows")
        wait_until(lambda i=i: _since(cluster, i, offsets[i]).count("Connected to broker") >= (1 if i == 0 else 2), 60,
                   f"replica {i}'s brokers connected")
    for b in report["bridges"]:
        wait_until(lambda b=b: f" {b['receive']}" in mosquitto.log_text(), 30, f"the subscription to {b['receive']}")

    # a message crosses from the singleton (its plain subscription) to the HA part's shared node
    # with the fields a core mqtt node drops (msg.marked is set after; msg.topic is the original)
    pub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{sfx}")
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    try:
        pub.publish(f"events-{sfx}/door", "opened", qos=1).wait_for_publish(10)
    finally:
        pub.loop_stop()
        pub.disconnect()

    def seen():
        c = cluster.get_context(cluster.replicas[0], "global/seen_topic")
        return c.get("msg") if str(c.get("format", "")).startswith("string") else None

    wait_until(lambda: seen() is not None, 30, "the HA part received the singleton's message over the bridge")
    assert seen() == f"events-{sfx}/door"  # the original topic, not the bridge's
    wait_until(lambda: "/event" in recorder.seen, 30, "the HA part's POST after the bridge")

    time.sleep(2)  # anything the deployment logs late (a reconnect, a failed subscription) shows up
    for i, part in ((0, "ha"), (1, "singleton")):
        text = _since(cluster, i, offsets[i])
        problems = [line for line in text.splitlines() if _PROBLEM.search(line)]
        # the flow's http request nodes never fire here; only the deployment is judged
        assert not problems, f"{part} part on replica {i} logged:\n" + "\n".join(problems)
