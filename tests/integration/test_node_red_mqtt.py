"""The MQTT facts again, this time through real Node-RED `mqtt in` / `mqtt-broker` nodes
deployed on two replicas: what the HA rules actually flag is flow configuration."""

from __future__ import annotations

import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from .cluster import wait_until

pytestmark = pytest.mark.integration

N = 50

COUNT_FUNC = "let c = (flow.get('n')||0)+1; flow.set('n', c); return null;"


def mqtt_flow(broker, topic: str, clientid: str = "") -> tuple[str, list[dict]]:
    """mqtt in (topic) -> function counting messages in flow context. Fresh ids each time."""
    sfx = uuid.uuid4().hex[:8]
    tab, brk, min_, fn = f"tab-{sfx}", f"broker-{sfx}", f"in-{sfx}", f"fn-{sfx}"
    return tab, [
        {"id": tab, "type": "tab", "label": "mqtt", "disabled": False, "info": "", "env": []},
        {"id": brk, "type": "mqtt-broker", "name": "test broker", "broker": broker.host,
         "port": str(broker.port), "clientid": clientid, "autoConnect": True, "usetls": False,
         "protocolVersion": "4", "keepalive": "60", "cleansession": True, "autoUnsubscribe": True,
         "birthTopic": "", "closeTopic": "", "willTopic": "", "sessionExpiry": ""},
        {"id": min_, "type": "mqtt in", "z": tab, "name": "", "topic": topic, "qos": "1",
         "datatype": "utf8", "broker": brk, "nl": False, "rap": True, "rh": 0, "inputs": 0,
         "x": 120, "y": 80, "wires": [[fn]]},
        {"id": fn, "type": "function", "z": tab, "name": "count", "func": COUNT_FUNC, "outputs": 1,
         "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [],
         "x": 300, "y": 80, "wires": [[]]},
    ]




def subscribe_lines(broker, topic: str) -> int:
    # mosquitto `log_type subscribe` writes "<ts>: <clientid> <qos> <filter>"
    return sum(line.endswith(f" {topic}") for line in broker.log_text().splitlines())


def counted(cluster, url: str, tab: str) -> int:
    ctx = cluster.get_context(url, f"flow/{tab}/n")
    # an unset key answers {"msg": "(undefined)", "format": "undefined"}: nothing counted yet
    return int(ctx["msg"]) if ctx.get("format") == "number" else 0


def publish(broker, topic_root: str, n: int = N) -> None:
    pub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                      client_id=f"pub-{uuid.uuid4().hex[:8]}")
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    try:
        infos = [pub.publish(f"{topic_root}/{i}", f"job-{i}", qos=1) for i in range(n)]
        deadline = time.monotonic() + 60
        for info in infos:
            info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
            assert info.is_published()
    finally:
        pub.disconnect()
        pub.loop_stop()


@pytest.fixture
def cluster(node_red_cluster):
    yield node_red_cluster
    node_red_cluster.deploy_all([])  # stop the test's MQTT clients (a flapping pair above all)


def run_jobs(cluster, broker, sub_topic: str, topic_root: str) -> list[int]:
    tab, flows = mqtt_flow(broker, sub_topic)
    cluster.deploy_all(flows)
    # POST /flows answers before the clients connect: wait for both SUBSCRIBEs at the broker
    wait_until(lambda: subscribe_lines(broker, sub_topic) >= 2, 120, f"2 subscriptions to {sub_topic}")
    publish(broker, topic_root)
    total = lambda: sum(counted(cluster, u, tab) for u in cluster.replicas)  # noqa: E731
    wait_until(lambda: total() >= N, 120, f"{N} jobs processed")
    # settle: let any duplicate that is still on its way show up before we compare
    last, since = total(), time.monotonic()
    while time.monotonic() - since < 1.5:
        time.sleep(0.2)
        if total() != last:
            last, since = total(), time.monotonic()
    return [counted(cluster, u, tab) for u in cluster.replicas]


def test_mqtt_in_plain_topic_processes_every_job_on_both_replicas(cluster, mosquitto):
    root = f"plain-{uuid.uuid4().hex[:8]}"
    per_replica = run_jobs(cluster, mosquitto, f"{root}/#", root)
    assert per_replica == [N, N]  # every job processed twice


def test_mqtt_in_shared_subscription_processes_each_job_once(cluster, mosquitto):
    root = f"jobs-{uuid.uuid4().hex[:8]}"
    per_replica = run_jobs(cluster, mosquitto, f"$share/ha/{root}/#", root)
    assert sum(per_replica) == N, per_replica
    assert all(c > 0 for c in per_replica), per_replica


def test_fixed_clientid_on_both_replicas_flaps_at_the_broker(cluster, mosquitto):
    clientid = f"fixed-{uuid.uuid4().hex[:8]}"
    _, flows = mqtt_flow(mosquitto, f"flap-{clientid}/#", clientid=clientid)
    cluster.deploy_all(flows)

    def takeovers() -> int:
        return mosquitto.log_text().count(f"Client {clientid} already connected, closing old connection")

    # mqttReconnectTime is 1 s in the fixture's settings: the pair kicks each other ~1/s
    wait_until(lambda: takeovers() >= 4, 120, "repeated takeovers between the replicas")
