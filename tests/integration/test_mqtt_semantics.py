"""What a real MQTT broker (Mosquitto) does with two replicas' subscriptions.

These are the facts behind the HA rules on `mqtt in` and `mqtt-broker` nodes: a plain
subscription on every replica duplicates work, a `$share/...` subscription splits it, and a
fixed client id makes the replicas take the session from each other in a loop.
Two paho clients stand in for the two replicas' broker connections.
"""

from __future__ import annotations

import threading
import time
import uuid
from functools import partial

import paho.mqtt.client as mqtt
import pytest

from . import cluster

pytestmark = pytest.mark.integration

N = 50
V5 = mqtt.MQTTProtocolVersion.MQTTv5
V311 = mqtt.MQTTProtocolVersion.MQTTv311

# messages on a local broker arrive within milliseconds: poll often
wait_until = partial(cluster.wait_until, interval=0.05)


def wait_quiet(counter, quiet: float = 1.0, timeout: float = 30.0) -> None:
    """Wait until `counter()` stops changing for `quiet` seconds: late duplicates would show."""
    deadline = time.monotonic() + timeout
    last, since = counter(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.05)
        now = counter()
        if now != last:
            last, since = now, time.monotonic()


class Replica:
    """One MQTT connection, recording what it receives and every (dis)connect."""

    def __init__(self, name: str, protocol, client_id: str = "", reconnect: bool = False):
        self.name = name
        self.lock = threading.Lock()
        self.received: list[str] = []
        self.connects = 0
        self.disconnect_reasons: list = []
        self.subscribed = threading.Event()
        kw = {} if protocol == V5 else {"clean_session": True}
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id, protocol=protocol,
                                  reconnect_on_failure=reconnect, **kw)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self.lock:
            self.connects += 1

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        with self.lock:
            self.disconnect_reasons.append(reason_code)

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.received.append(msg.payload.decode())

    def start(self, broker) -> "Replica":
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        wait_until(lambda: self.connects > 0, 30, f"{self.name} to connect")
        return self

    def subscribe(self, topic: str) -> None:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(30), f"{self.name}: no SUBACK for {topic}"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def replicas(request):
    made: list[Replica] = []

    def make(*args, **kw) -> Replica:
        r = Replica(*args, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def publish_all(broker, protocol, topic_root: str, n: int = N) -> list[str]:
    """Publish n QoS-1 messages and wait for every PUBACK: the broker has them all."""
    pub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                      client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=protocol)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    try:
        payloads = [f"job-{i}" for i in range(n)]
        infos = [pub.publish(f"{topic_root}/{i}", p, qos=1) for i, p in enumerate(payloads)]
        deadline = time.monotonic() + 60
        for info in infos:  # one deadline for all: a slow machine blocks publishes for seconds
            info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "broker did not acknowledge a QoS-1 publish in time"
        return payloads
    finally:
        pub.disconnect()
        pub.loop_stop()


@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
def test_plain_subscription_on_two_replicas_duplicates_every_message(mosquitto, replicas, protocol):
    a = replicas("replica-a", protocol).start(mosquitto)
    b = replicas("replica-b", protocol).start(mosquitto)
    for r in (a, b):
        r.subscribe("t/#")

    sent = publish_all(mosquitto, protocol, "t/jobs")
    wait_until(lambda: a.count() >= N and b.count() >= N, 60, "both replicas to get every message")
    wait_quiet(lambda: a.count() + b.count())

    assert sorted(a.received) == sorted(sent)
    assert sorted(b.received) == sorted(sent)
    assert a.count() + b.count() == 2 * N  # every job processed twice


@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
def test_shared_subscription_delivers_each_message_once_across_replicas(mosquitto, replicas, protocol):
    a = replicas("replica-a", protocol).start(mosquitto)
    b = replicas("replica-b", protocol).start(mosquitto)
    for r in (a, b):
        r.subscribe("$share/g/t/#")  # for 3.1.1 this is a Mosquitto extension

    sent = publish_all(mosquitto, protocol, "t/jobs")
    wait_until(lambda: a.count() + b.count() >= N, 60, "all shared messages")
    wait_quiet(lambda: a.count() + b.count())

    everything = a.received + b.received
    assert len(everything) == N, f"{a.count()} + {b.count()} deliveries for {N} messages"
    assert sorted(everything) == sorted(sent)  # each exactly once in total
    assert a.count() > 0 and b.count() > 0, "the group should split the work between replicas"


@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
def test_same_client_id_on_two_replicas_makes_them_take_over_each_other(mosquitto, replicas, protocol):
    client_id = f"fixed-{uuid.uuid4().hex[:8]}"  # like mqtt-broker `clientid` set in the flow
    a = replicas("replica-a", protocol, client_id=client_id, reconnect=True).start(mosquitto)
    b = replicas("replica-b", protocol, client_id=client_id, reconnect=True)
    b.client.connect_async(mosquitto.host, mosquitto.port, keepalive=30)
    b.client.loop_start()  # not start(): b may already have been kicked before we look

    def takeovers() -> int:
        return sum(client_id in line and "already connected" in line
                   for line in mosquitto.log_text().splitlines())

    # With both auto-reconnecting after 1 s, each reconnect kicks the other: a flapping loop.
    wait_until(lambda: takeovers() >= 4 and len(a.disconnect_reasons) >= 2
               and len(b.disconnect_reasons) >= 2, 90, "repeated session takeovers")

    log = mosquitto.log_text()
    assert f"Client {client_id} already connected, closing old connection" in log
    assert a.connects >= 2 and b.connects >= 2, "both keep reconnecting"
    # Mosquitto 2.0.11 (Debian bookworm) just drops the old connection: no DISCONNECT
    # 0x8E "Session taken over" packet (newer Mosquitto sends one to v5 clients), so the
    # kicked replica only sees an unexpected connection loss, never a clean disconnect.
    reasons = a.disconnect_reasons + b.disconnect_reasons
    assert all(rc.is_failure for rc in reasons), reasons
