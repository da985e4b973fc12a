"""`hacheck fix` proven on the real thing (issue 10): an unfixed flow file misbehaves on two
Node-RED replicas sharing one Mosquitto broker, the same file after `hacheck fix` processes
every job exactly once.

The flow is a small job worker: `mqtt in` (plain topic) -> function (tags the job with the
replica's HACHECK_REPLICA) -> `mqtt out` (result topic), both MQTT nodes on one `mqtt-broker`
with a fixed client id. A paho client publishes the jobs and collects the results.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.conftest import run_cli

from .cluster import wait_until
from .test_node_red_mqtt import subscribe_lines

pytestmark = pytest.mark.integration

# Measured here: the fixed-id pair kicks each other about once a second (mqttReconnectTime is
# 1 s in the fixture's settings), and a job is lost only if it is published in the few
# milliseconds between a takeover and the new connection's SUBSCRIBE: about one job per
# takeover at one job every 2-5 ms, and often none at all at one job every 100 ms. So jobs
# are published in rounds, briskly, each round lasting until the broker has logged a few
# takeovers; the pace only shapes the load, every wait polls against a deadline.
JOB_INTERVAL = 0.002
BATCH = 25
TAKEOVERS_PER_ROUND = 3
MAX_ROUNDS = 5
ROUND_TIMEOUT = 60.0
TAKEOVER = "already connected, closing old connection"

WORK_FUNC = (
    "// one result per processed job, tagged with the replica that did the work\n"
    "msg.payload = { replica: env.get('HACHECK_REPLICA'), job: msg.payload };\n"
    "msg.topic = '{results}';\n"
    "return msg;"
)


def unfixed_flows(broker, sfx: str) -> list[dict]:
    """The job worker as a user would export it, with both HA mistakes in it."""
    tab, brk, inp, fn, out = (f"{p}-{sfx}" for p in ("tab", "broker", "jobs-in", "work", "results-out"))
    return [
        {"id": tab, "type": "tab", "label": "Job workers", "disabled": False, "info": "", "env": []},
        {"id": inp, "type": "mqtt in", "z": tab, "name": "jobs", "topic": f"jobs/{sfx}/#", "qos": "1",
         "datatype": "utf8", "broker": brk, "nl": False, "rap": True, "rh": 0, "inputs": 0,
         "x": 120, "y": 80, "wires": [[fn]]},
        {"id": fn, "type": "function", "z": tab, "name": "work",
         "func": WORK_FUNC.replace("{results}", f"results/{sfx}"), "outputs": 1, "timeout": 0,
         "noerr": 0, "initialize": "", "finalize": "", "libs": [], "x": 300, "y": 80, "wires": [[out]]},
        {"id": out, "type": "mqtt out", "z": tab, "name": "results", "topic": "", "qos": "1",
         "retain": "false", "respTopic": "", "contentType": "", "userProps": "", "correl": "",
         "expiry": "", "broker": brk, "x": 480, "y": 80, "wires": []},
        {"id": brk, "type": "mqtt-broker", "name": "jobs broker", "broker": broker.host,
         "port": str(broker.port), "clientid": f"worker-{sfx}", "autoConnect": True, "usetls": False,
         "protocolVersion": "4", "keepalive": "60", "cleansession": True, "autoUnsubscribe": True,
         "birthTopic": "", "closeTopic": "", "willTopic": "", "sessionExpiry": ""},
    ]


class JobClient:
    """The outside world: publishes jobs and probes, collects (replica, job) results."""

    def __init__(self, broker, sfx: str):
        self.sfx = sfx
        self.lock = threading.Lock()
        self.results: list[tuple[str, str]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"jobclient-{sfx}")
        self.client.on_connect = lambda c, *a: c.subscribe(f"results/{sfx}", qos=1)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        wait_until(self.subscribed.is_set, 60, "the result collector's subscription")

    def _on_message(self, client, userdata, msg):
        r = json.loads(msg.payload)
        with self.lock:
            self.results.append((str(r["replica"]), r["job"]))

    def snapshot(self) -> list[tuple[str, str]]:
        with self.lock:
            return list(self.results)

    def publish(self, payload: str, deadline: float) -> None:
        info = self.client.publish(f"jobs/{self.sfx}/{payload}", payload, qos=1)
        info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
        assert info.is_published(), f"broker did not acknowledge {payload}"

    def publish_jobs(self, jobs: list[str], interval: float) -> None:
        """Publish at a steady pace without waiting for each PUBACK (a slow broker would
        stretch the pace), then wait for all of them against one deadline."""
        infos = []
        for job in jobs:
            infos.append(self.client.publish(f"jobs/{self.sfx}/{job}", job, qos=1))
            time.sleep(interval)
        deadline = time.monotonic() + 60
        for job, info in zip(jobs, infos):
            info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
            assert info.is_published(), f"broker did not acknowledge {job}"

    def flush(self, phase: str, replicas: int, timeout: float = 120) -> None:
        """Publish probes until EVERY replica has answered one. Each replica handles its
        messages in order, so when its probe's result is back, every job it was given
        earlier has had its result published: duplicates cannot still be on their way."""
        deadline = time.monotonic() + timeout
        k = 0
        while True:
            answered = {rep for rep, job in self.snapshot() if job.startswith(f"probe-{phase}-")}
            if len(answered) >= replicas:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"probes answered only by replicas {sorted(answered)} after {timeout}s")
            self.publish(f"probe-{phase}-{k}", deadline)
            k += 1
            time.sleep(0.3)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def takeovers(broker, clientid: str | None = None, since: int = 0) -> int:
    text = broker.log_text()[since:]
    if clientid is None:
        return text.count(TAKEOVER)
    return text.count(f"Client {clientid} {TAKEOVER}")


def subscribers(broker, topic: str) -> set[str]:
    # mosquitto `log_type subscribe` writes "<ts>: <clientid> <qos> <filter>"
    out = set()
    for line in broker.log_text().splitlines():
        parts = line.split(" ")
        if len(parts) == 4 and parts[3] == topic:
            out.add(parts[1])
    return out


def per_job(results: list[tuple[str, str]], jobs: list[str]) -> Counter:
    counts = Counter(job for _, job in results)
    return Counter({job: counts.get(job, 0) for job in jobs})


def read_flows(path: Path) -> list[dict]:
    return json.loads(path.read_text("utf-8"))


@pytest.fixture
def cluster(node_red_cluster):
    yield node_red_cluster
    # stop this test's MQTT clients (a flapping fixed-id pair above all) for the next tests
    node_red_cluster.deploy_all([])


def test_fix_turns_duplicate_and_lost_jobs_into_exactly_once(cluster, mosquitto, tmp_path):
    sfx = uuid.uuid4().hex[:8]  # topics and client id of this run only: the broker log is shared
    fixed_id = f"worker-{sfx}"
    plain_topic = f"jobs/{sfx}/#"
    flow_file = tmp_path / "flows.json"
    # both replicas run on this one host: the broker on 127.0.0.1 is one they share
    (tmp_path / ".hacheck.yaml").write_text("localhost_services: shared\nignore: [HA123]  # the loopback address is already the one shared service\n")
    original = json.dumps(unfixed_flows(mosquitto, sfx), indent=4) + "\n"  # flows.json style
    flow_file.write_text(original, "utf-8")

    # 1. the linter sees both problems
    before = run_cli("check", "--format", "json", str(flow_file))
    assert before.returncode == 1, before.out + before.err
    before_rules = {f["rule"] for f in json.loads(before.out)["findings"]}
    assert {"HA101", "HA103"} <= before_rules

    jobs_client = JobClient(mosquitto, sfx)
    try:
        # 2. the unfixed flow on both replicas. Only one of the two same-id connections can be
        # up at a time, so this is not 2N: jobs published while a takeover is in progress are
        # lost, and a kicked replica re-sends an unacknowledged result after reconnecting (a
        # job reported twice, seen under load)
        mark = len(mosquitto.log_text())
        cluster.deploy_all(read_flows(flow_file))
        wait_until(lambda: subscribe_lines(mosquitto, plain_topic) >= 2, 120,
                   f"both replicas to subscribe to {plain_topic}")
        jobs_a: list[str] = []
        for rnd in range(MAX_ROUNDS):
            kicks0, deadline = takeovers(mosquitto, fixed_id, mark), time.monotonic() + ROUND_TIMEOUT
            while (takeovers(mosquitto, fixed_id, mark) - kicks0 < TAKEOVERS_PER_ROUND
                   and time.monotonic() < deadline):
                batch = [f"A-{len(jobs_a) + i}" for i in range(BATCH)]
                jobs_client.publish_jobs(batch, JOB_INTERVAL)
                jobs_a += batch
            jobs_client.flush(f"A{rnd}", replicas=len(cluster.replicas))
            counts_a = per_job(jobs_client.snapshot(), jobs_a)
            if any(c != 1 for c in counts_a.values()):
                break
        lost_a = sum(1 for c in counts_a.values() if c == 0)
        doubled_a = sum(1 for c in counts_a.values() if c > 1)
        kicks_a = takeovers(mosquitto, fixed_id, mark)
        reconnects_a = [cluster.log_text(i).count(f"Connected to broker: {fixed_id}@")
                        for i in range(len(cluster.replicas))]
        summary_a = (f"unfixed: {len(jobs_a)} jobs in {rnd + 1} rounds, {sum(counts_a.values())} results, "
                     f"{lost_a} lost, {doubled_a} more than once, {kicks_a} takeovers, "
                     f"connects per replica {reconnects_a}")
        print(summary_a)
        assert kicks_a >= 1, summary_a
        assert all(c >= 2 for c in reconnects_a), summary_a  # kicked off and back, on both
        assert lost_a + doubled_a > 0, summary_a  # not "each job exactly once"

        # 3. hacheck fix changes exactly the two values, and the check passes
        fixed = run_cli("fix", str(flow_file))
        assert fixed.returncode == 0, fixed.out + fixed.err
        assert "fixed 2 values in 1 file (HA101, HA103)" in fixed.out + fixed.err
        new = flow_file.read_text("utf-8")
        old_lines, new_lines = original.splitlines(keepends=True), new.splitlines(keepends=True)
        assert len(old_lines) == len(new_lines)
        changed = [(a, b) for a, b in zip(old_lines, new_lines) if a != b]
        fixed_flows = read_flows(flow_file)
        broker_node = next(n for n in fixed_flows if n["type"] == "mqtt-broker")
        in_node = next(n for n in fixed_flows if n["type"] == "mqtt in")
        shared_topic = in_node["topic"]
        assert shared_topic.startswith("$share/") and shared_topic.endswith(f"/{plain_topic}")
        assert changed == [
            (f'        "topic": "{plain_topic}",\n', f'        "topic": "{shared_topic}",\n'),
            (f'        "clientid": "{fixed_id}",\n', '        "clientid": "",\n'),
        ]
        assert broker_node["clientid"] == ""
        after = run_cli("check", "--format", "json", str(flow_file))
        after_rules = {f["rule"] for f in json.loads(after.out)["findings"]}
        assert not after_rules & {"HA101", "HA103"}, after.out
        assert after_rules <= before_rules, after.out  # nothing new
        assert run_cli("check", "--select", "HA101,HA103", str(flow_file)).returncode == 0
        assert run_cli("fix", "--check", str(flow_file)).returncode == 0  # idempotent

        # 4. the fixed file on both replicas: every job exactly once, both replicas working
        cluster.deploy_all(fixed_flows)
        # a full deployment stops the old nodes (the fixed-id clients) before POST /flows
        # answers, so from here on no client may be taken over
        after_deploy = len(mosquitto.log_text())
        wait_until(lambda: len(subscribers(mosquitto, shared_topic)) >= 2, 120,
                   f"two distinct clients subscribed to {shared_topic}")
        # the same load as the unfixed run got
        jobs_b = [f"B-{i}" for i in range(len(jobs_a))]
        for i in range(0, len(jobs_b), BATCH):
            jobs_client.publish_jobs(jobs_b[i:i + BATCH], JOB_INTERVAL)
        wait_until(lambda: all(c > 0 for c in per_job(jobs_client.snapshot(), jobs_b).values()),
                   120, f"all {len(jobs_b)} jobs processed")
        jobs_client.flush("B", replicas=len(cluster.replicas))
        wanted = set(jobs_b)
        results_b = [(rep, job) for rep, job in jobs_client.snapshot() if job in wanted]
        counts_b = per_job(results_b, jobs_b)
        by_replica = Counter(rep for rep, _ in results_b)
        kicks_b = takeovers(mosquitto, since=after_deploy)
        summary_b = (f"fixed: {len(jobs_b)} jobs, {len(results_b)} results, per replica {dict(by_replica)}, "
                     f"{kicks_b} takeovers")
        print(summary_b)
        assert set(counts_b.values()) == {1}, summary_b
        assert len(results_b) == len(jobs_b), summary_b
        assert sorted(by_replica) == [str(i) for i in range(len(cluster.replicas))], summary_b
        assert kicks_b == 0, summary_b
    finally:
        jobs_client.close()
