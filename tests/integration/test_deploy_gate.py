"""`hacheck deploy` against two REAL Node-RED 4.1.15 replicas behind a real nginx round-robin.

The CLI runs as a subprocess, as a pipeline would run it. Each test first deploys its own
baseline (fresh node ids) to both replicas, so "the old flows" are known. The gate's TEST SEAM
(HACHECK_TEST_SEAM_DIR, see hacheck/deploy/gate.py) pauses the deploy at an exact point so a
test can kill a replica or change its flows there. Killed replicas are restarted in teardown.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from .cluster import find_exe
from .flows import web_flows

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
USER_ENV, PASS_ENV = "HC_IT_NR_USER", "HC_IT_NR_PASS"


# ---------------------------------------------------------------- flows


def fixed_client_id_flows(uid: str, broker_port: int) -> list:
    tab = f"mq-{uid}"
    return [
        {"id": tab, "type": "tab", "label": "ingest"},
        {"id": f"brk-{uid}", "type": "mqtt-broker", "broker": "127.0.0.1", "port": str(broker_port),
         "clientid": f"ingest-{uid}", "protocolVersion": "4", "keepalive": "60", "cleansession": True},
        {"id": f"sub-{uid}", "type": "mqtt in", "z": tab, "topic": "$share/workers/jobs/#", "qos": "1",
         "datatype": "auto-detect", "broker": f"brk-{uid}", "nl": False, "rap": True, "rh": 0, "inputs": 0, "wires": [[]]},
    ]


# ---------------------------------------------------------------- running the gate


class Gate:
    def __init__(self, cluster, tmp_path: Path, verify: dict | None = None, recover_timeout: float | None = None):
        self.cluster, self.dir = cluster, tmp_path
        self.targets = tmp_path / "hacheck-targets.yaml"
        self.audit = tmp_path / "deploy-audit.log"
        self.seam_dir = tmp_path / "seam"
        self.seam_dir.mkdir()
        # both replicas run on this one host: the broker on 127.0.0.1 is one they share
        (tmp_path / ".hacheck.yaml").write_text("localhost_services: shared\nignore: [HA123]  # the loopback address is already the one shared service\n")
        verify = verify or {"timeout": 60}
        target = {"kind": "node-red", "replicas": cluster.replicas,
                  "auth": {"username_env": USER_ENV, "password_env": PASS_ENV},
                  "timeout": 15, "retries": 2, "backoff": 0.2, "verify": verify}
        if recover_timeout is not None:
            target["recover_timeout"] = recover_timeout
        self.targets.write_text(json.dumps({"targets": {"prod": target}}, indent=1))  # JSON is YAML
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HACHECK_")}
        self.env.update({USER_ENV: cluster.username, PASS_ENV: cluster.password, "PYTHONPATH": str(REPO),
                         "NO_COLOR": "1"})

    def flows_file(self, content, name="flows.json") -> Path:
        p = self.dir / name
        p.write_text(json.dumps(content, indent=1))
        return p

    def cmd(self, flows: Path | None, *extra: str) -> list[str]:
        return [sys.executable, "-m", "hacheck", "deploy", *([str(flows)] if flows else []), "--target", "prod",
                "--targets", str(self.targets), "--audit-log", str(self.audit), *extra]

    def run(self, flows: Path | None, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(flows, *extra), cwd=self.dir, env=env or self.env,
                              capture_output=True, text=True, timeout=600)

    def start_paused(self, flows: Path, points=("after-preflight", "after-member-0", "after-member-1"),
                     stdout=subprocess.PIPE) -> subprocess.Popen:
        """The gate pauses at each of `points` until the test releases it."""
        env = dict(self.env, HACHECK_TEST_SEAM_DIR=str(self.seam_dir), HACHECK_TEST_SEAM_POINTS=",".join(points))
        return subprocess.Popen(self.cmd(flows), cwd=self.dir, env=env, stdout=stdout,
                                stderr=subprocess.STDOUT if stdout is not subprocess.PIPE else subprocess.PIPE, text=True)

    def wait_for(self, point: str, proc: subprocess.Popen, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not (self.seam_dir / f"{point}.reached").exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"gate ended before {point}: {proc.returncode}\n{out}\n{err}")
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"gate never reached {point}")
            time.sleep(0.05)

    def release(self, point: str) -> None:
        (self.seam_dir / f"{point}.continue").touch()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.audit.read_text().splitlines()]

    def revs(self) -> list[str]:
        return [self.cluster.get_flows(u)["rev"] for u in self.cluster.replicas]


@pytest.fixture
def cluster(node_red_cluster):
    """The session's two replicas; a test that stopped or killed one hands back a healthy
    cluster to the next."""
    yield node_red_cluster
    for i in range(len(node_red_cluster.replicas)):
        if not node_red_cluster.is_running(i):
            node_red_cluster.start_replica(i)


@pytest.fixture
def gate(cluster, tmp_path):
    return Gate(cluster, tmp_path)


def baseline(cluster, uid: str) -> tuple[list, str]:
    old = web_flows(f"old{uid}", f"old-{uid}")
    revs = cluster.deploy_all(old)
    assert len(set(revs)) == 1
    return old, revs[0]


def lb_get(lb_url: str, path: str, n: int = 4) -> list[tuple[int, str]]:
    with httpx.Client(timeout=15, trust_env=False) as c:
        return [(r.status_code, r.text) for r in (c.get(f"{lb_url}{path}") for _ in range(n))]


def assert_clean(proc, *secrets: str, audit: Path | None = None) -> None:
    text = proc.stdout + proc.stderr + (audit.read_text() if audit and audit.exists() else "")
    assert "Traceback" not in text
    for s in secrets:
        assert s not in text


# ---------------------------------------------------------------- tests


def test_passing_flows_reach_both_replicas_and_answer_through_the_load_balancer(node_red_cluster, nginx_lb, tmp_path):
    uid = uuid.uuid4().hex[:8]
    _, old_rev = baseline(node_red_cluster, uid)
    new = web_flows(uid, f"hello-{uid}")
    # POST /flows answers before the flows run: the probe makes the gate wait until they serve
    g = Gate(node_red_cluster, tmp_path, verify={"timeout": 60, "probes": [{"path": f"/hc-{uid}", "contains": f"hello-{uid}"}]})
    p = g.run(g.flows_file(new))
    assert p.returncode == 0, p.stdout + p.stderr
    revs = g.revs()
    assert revs[0] == revs[1] != old_rev
    assert all(node_red_cluster.get_flows(u)["flows"] == new for u in node_red_cluster.replicas)
    assert "DEPLOYED" in p.stdout and revs[0][:12] in p.stdout
    # through the round-robin balancer: every answer is the new flow's, from both replicas
    before = len(nginx_lb.access_log().splitlines())
    answers = lb_get(nginx_lb.url, f"/hc-{uid}", 6)
    assert answers == [(200, f"hello-{uid}")] * 6
    served_by = {line.rsplit("upstream=", 1)[-1] for line in nginx_lb.access_log().splitlines()[before:] if f"/hc-{uid}" in line}
    assert served_by == {f"127.0.0.1:{port}" for port in node_red_cluster.ports}
    rec = g.records()[-1]
    assert rec["outcome"] == "deployed"
    assert [(m["rev_before"], m["rev_after"]) for m in rec["members"]] == [(old_rev, revs[0])] * 2
    assert_clean(p, node_red_cluster.password, audit=g.audit)


def test_failing_flows_exit_1_and_both_replicas_keep_their_rev(gate, node_red_cluster, mosquitto):
    uid = uuid.uuid4().hex[:8]
    _, old_rev = baseline(node_red_cluster, uid)
    p = gate.run(gate.flows_file(fixed_client_id_flows(uid, mosquitto.port)))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "HA103" in p.stdout and f"ingest-{uid}" in p.stdout
    assert "nothing was contacted or changed" in p.stdout
    assert gate.revs() == [old_rev, old_rev]
    assert gate.records()[-1]["outcome"] == "check-failed"
    assert_clean(p, node_red_cluster.password, audit=gate.audit)


def test_a_replica_down_at_preflight_changes_nothing_anywhere(gate, node_red_cluster):
    uid = uuid.uuid4().hex[:8]
    _, old_rev = baseline(node_red_cluster, uid)
    node_red_cluster.stop_replica(1)
    p = gate.run(gate.flows_file(web_flows(uid, "new")))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "cannot connect" in p.stdout and "pre-flight failed; nothing was changed" in p.stdout
    assert node_red_cluster.get_flows(node_red_cluster.replicas[0])["rev"] == old_rev
    node_red_cluster.start_replica(1)
    assert gate.revs() == [old_rev, old_rev]  # the stopped one reloads the same, old, flows
    rec = gate.records()[-1]
    assert rec["outcome"] == "preflight-failed"
    assert [m["status"] for m in rec["members"]] == ["unchanged", "preflight-failed"]


def test_second_replica_killed_after_the_first_was_updated_rolls_the_first_back(gate, node_red_cluster):
    uid = uuid.uuid4().hex[:8]
    old, old_rev = baseline(node_red_cluster, uid)
    new = web_flows(uid, "new")
    proc = gate.start_paused(gate.flows_file(new))
    gate.wait_for("after-preflight", proc)
    gate.release("after-preflight")
    gate.wait_for("after-member-0", proc)
    first = node_red_cluster.replicas[0]
    assert node_red_cluster.get_flows(first)["flows"] == new  # the first really was updated
    node_red_cluster.stop_replica(1)
    gate.release("after-member-0")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, out + err
    assert "rolled back to rev" in out and "cannot connect" in out
    now = node_red_cluster.get_flows(first)
    assert now["rev"] == old_rev and now["flows"] == old
    node_red_cluster.start_replica(1)
    assert gate.revs() == [old_rev, old_rev]
    rec = gate.records()[-1]
    assert rec["outcome"] == "rolled-back"
    assert [(m["status"], m["rev_after"]) for m in rec["members"]] == [("rolled-back", old_rev), ("unchanged", old_rev)]


def test_a_cancelled_job_sigterm_mid_deploy_rolls_back(gate, node_red_cluster):
    uid = uuid.uuid4().hex[:8]
    old, old_rev = baseline(node_red_cluster, uid)
    proc = gate.start_paused(gate.flows_file(web_flows(uid, "new")))
    gate.release("after-preflight")
    gate.wait_for("after-member-0", proc)
    proc.send_signal(signal.SIGTERM)  # what a CI runner sends when the job is cancelled
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, out + err
    assert "interrupted" in out and "rolled back to rev" in out
    assert gate.revs() == [old_rev, old_rev]
    assert node_red_cluster.get_flows(node_red_cluster.replicas[0])["flows"] == old
    assert gate.records()[-1]["outcome"] == "rolled-back"


def test_flows_changed_between_preflight_and_deploy_is_a_409_and_nothing_is_half_deployed(gate, node_red_cluster):
    uid = uuid.uuid4().hex[:8]
    _, old_rev = baseline(node_red_cluster, uid)
    proc = gate.start_paused(gate.flows_file(web_flows(uid, "ours")))
    gate.wait_for("after-preflight", proc)
    # someone else deploys to the SECOND replica: the first will have been updated by then
    theirs_rev = node_red_cluster.deploy(node_red_cluster.replicas[1], web_flows(f"x{uid}", "theirs"))
    for point in ("after-preflight", "after-member-0", "after-member-1"):
        gate.release(point)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, out + err
    assert "409" in out and "someone else deployed" in out
    assert gate.revs() == [old_rev, theirs_rev]  # ours rolled back, theirs left alone
    rec = gate.records()[-1]
    assert rec["outcome"] == "rolled-back"
    assert [m["status"] for m in rec["members"]] == ["rolled-back", "conflict"]


@pytest.mark.parametrize("how", ["password", "token"])
def test_wrong_credentials_exit_with_a_clear_message_and_no_secret(gate, node_red_cluster, how):
    uid = uuid.uuid4().hex[:8]
    _, old_rev = baseline(node_red_cluster, uid)
    wrong = f"wrong-{how}-{uid}-secret"
    env = dict(gate.env)
    if how == "password":
        env[PASS_ENV] = wrong
    else:
        settings = json.loads(gate.targets.read_text())
        settings["targets"]["prod"]["auth"] = {"token_env": "HC_IT_NR_TOKEN"}
        gate.targets.write_text(json.dumps(settings))
        env["HC_IT_NR_TOKEN"] = wrong
    p = gate.run(gate.flows_file(web_flows(uid, "new")), env=env)
    assert p.returncode in (1, 2), p.stdout + p.stderr
    assert "authentication failed" in p.stdout or "HTTP 401" in p.stdout
    assert ("$HC_IT_NR_USER/$HC_IT_NR_PASS" if how == "password" else "$HC_IT_NR_TOKEN") in p.stdout
    assert gate.revs() == [old_rev, old_rev]
    assert_clean(p, wrong, node_red_cluster.password, audit=gate.audit)


def test_encrypted_credentials_are_deployed_to_every_replica_and_never_printed(gate, node_red_cluster, nginx_lb):
    uid = uuid.uuid4().hex[:8]
    baseline(node_red_cluster, uid)
    user, password = f"svc-{uid}", f"cred-pw-{uid}-s3cret"
    tab = f"cred-{uid}"
    flows = [
        {"id": tab, "type": "tab", "label": "credentials"},
        # /hc-echo answers the Authorization header it received
        {"id": f"ein-{uid}", "type": "http in", "z": tab, "url": f"/hc-echo-{uid}", "method": "get", "wires": [[f"efn-{uid}"]]},
        {"id": f"efn-{uid}", "type": "function", "z": tab, "func": "msg.payload = msg.req.headers.authorization || 'none';\nreturn msg;",
         "outputs": 1, "wires": [[f"eout-{uid}"]]},
        {"id": f"eout-{uid}", "type": "http response", "z": tab, "wires": []},
        # /hc-cred calls /hc-echo with basic auth from the node's (deployed) credentials
        {"id": f"cin-{uid}", "type": "http in", "z": tab, "url": f"/hc-cred-{uid}", "method": "get", "wires": [[f"req-{uid}"]]},
        {"id": f"req-{uid}", "type": "http request", "z": tab, "method": "GET", "ret": "txt", "authType": "basic",
         "url": f"{nginx_lb.url}/hc-echo-{uid}", "wires": [[f"cout-{uid}"]]},
        {"id": f"cout-{uid}", "type": "http response", "z": tab, "wires": []},
    ]
    encrypted = encrypt_credentials(node_red_cluster.credential_secret, {f"req-{uid}": {"user": user, "password": password}})
    p = gate.run(gate.flows_file({"flows": flows, "credentials": encrypted}))
    assert p.returncode == 0, p.stdout + p.stderr
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    assert lb_get(nginx_lb.url, f"/hc-cred-{uid}", 4) == [(200, expected)] * 4  # both replicas have them
    assert_clean(p, password, encrypted["$"], audit=gate.audit)


def test_a_node_type_a_replica_lacks_fails_preflight_and_changes_nothing(gate, node_red_cluster):
    uid = uuid.uuid4().hex[:8]
    _, old_rev = baseline(node_red_cluster, uid)
    flows = web_flows(uid, "new") + [{"id": f"odd-{uid}", "type": "node-red-contrib-not-installed", "z": f"tab-{uid}", "wires": []}]
    p = gate.run(gate.flows_file(flows))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "node-red-contrib-not-installed" in p.stdout
    assert gate.revs() == [old_rev, old_rev]


def test_flows_that_do_not_come_up_healthy_are_rolled_back(node_red_cluster, tmp_path):
    uid = uuid.uuid4().hex[:8]
    old, old_rev = baseline(node_red_cluster, uid)
    # the probe expects text these flows never answer: the first replica fails verification
    g = Gate(node_red_cluster, tmp_path, verify={"timeout": 5, "probes": [{"path": f"/hc-{uid}", "contains": "ready"}]})
    p = g.run(g.flows_file(web_flows(uid, "not-what-the-probe-wants")))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "probe GET" in p.stdout and "rolled back" in p.stdout
    assert g.revs() == [old_rev, old_rev]
    assert all(node_red_cluster.get_flows(u)["flows"] == old for u in node_red_cluster.replicas)
    # the second replica was never touched: the gate stopped at the first
    assert [m["status"] for m in g.records()[-1]["members"]] == ["rolled-back", "unchanged"]


def test_dry_run_reports_the_change_and_touches_nothing(gate, node_red_cluster):
    uid = uuid.uuid4().hex[:8]
    old, old_rev = baseline(node_red_cluster, uid)
    new = old[:1] + web_flows(uid, "new")
    new[-1]["x"] = 120.0  # a float JS writes as 120: the predicted rev must still be right
    flows = gate.flows_file(new)
    p = gate.run(flows, "--dry-run")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("4 added, 3 removed, 0 changed, 1 unchanged") == 2
    assert gate.revs() == [old_rev, old_rev]
    assert gate.records()[-1]["outcome"] == "dry-run"
    predicted = p.stdout.split(" -> ", 2)[-1].split(" (predicted)")[0]
    assert gate.run(flows).returncode == 0
    assert gate.revs()[0].startswith(predicted) and len(predicted) == 12


# ---------------------------------------------------------------- a replica that dies mid-deploy


def kill_second_as_it_takes_the_new_flows(g: Gate, cluster, new: list, log: Path) -> subprocess.Popen:
    """Start a deploy; SIGKILL replica 2 once it has stored the new flows and before hacheck has
    verified it (a crash, or a pod evicted mid-deploy). Returns the running gate."""
    with open(log, "w") as out:
        proc = g.start_paused(g.flows_file(new), points=("after-deploy-1",), stdout=out)
    g.wait_for("after-deploy-1", proc)
    assert cluster.get_flows(cluster.replicas[1])["flows"] == new  # it has them
    cluster.kill_replica(1)
    g.release("after-deploy-1")
    return proc


def wait_for_text(log: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, f"the gate ended before printing {text!r}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} in:\n{log.read_text()}"
        time.sleep(0.2)


def gave_up(g: Gate, cluster, new: list) -> dict:
    """A deploy whose replica 2 died as it took `new` and stayed away past recover_timeout; it
    is then restarted (on the new flows: the cluster is split). The failed deploy's record."""
    log = g.dir / "gate.out"
    proc = kill_second_as_it_takes_the_new_flows(g, cluster, new, log)
    assert proc.wait(timeout=300) == 1, log.read_text()
    assert "FAILED AND NOT RECOVERED" in log.read_text() and "--recover --target prod" in log.read_text()
    cluster.start_replica(1)
    failed = g.records()[-1]
    assert failed["outcome"] == "rollback-failed"
    return failed


def test_a_replica_killed_as_it_takes_the_new_flows_is_rolled_back_when_it_returns(cluster, tmp_path):
    g = Gate(cluster, tmp_path, verify={"timeout": 5}, recover_timeout=240)
    uid = uuid.uuid4().hex[:8]
    old, old_rev = baseline(cluster, uid)
    log = tmp_path / "gate.out"
    proc = kill_second_as_it_takes_the_new_flows(g, cluster, web_flows(uid, "new"), log)
    wait_for_text(log, "waiting up to 240s", proc)
    time.sleep(6)  # past the verify window: the gate is waiting, not verifying
    cluster.start_replica(1)  # Kubernetes restarts the pod; it loads the NEW flows it had stored
    assert proc.wait(timeout=300) == 1, log.read_text()
    out = log.read_text()
    assert "was on the new flows; rolled back to rev" in out, out
    assert g.revs() == [old_rev, old_rev]
    assert cluster.get_flows(cluster.replicas[1])["flows"] == old
    for url in cluster.replicas:  # and both serve them
        assert lb_get(url, f"/hc-old{uid}", n=1) == [(200, f"old-{uid}")]
        assert lb_get(url, f"/hc-{uid}", n=1)[0][0] == 404
    rec = g.records()[-1]
    assert rec["outcome"] == "rolled-back"
    assert [(m["status"], m["rev_after"]) for m in rec["members"]] == [("rolled-back", old_rev), ("rolled-back", old_rev)]


def test_recover_brings_back_a_replica_that_returned_after_the_gate_gave_up(cluster, tmp_path):
    g = Gate(cluster, tmp_path, verify={"timeout": 5}, recover_timeout=3)
    uid = uuid.uuid4().hex[:8]
    old, old_rev = baseline(cluster, uid)
    new = web_flows(uid, "new")
    failed = gave_up(g, cluster, new)
    assert cluster.get_flows(cluster.replicas[1])["flows"] == new  # the cluster is split
    assert cluster.get_flows(cluster.replicas[1])["rev"] == failed["new_rev"] and g.revs()[0] == old_rev

    p = g.run(None, "--recover")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "RECOVERED" in p.stdout
    assert g.revs() == [old_rev, old_rev]
    assert cluster.get_flows(cluster.replicas[1])["flows"] == old
    rec = g.records()[-1]
    assert rec["outcome"] == "recovered" and rec["recovers"] == failed["time"]
    assert [(m["status"], m["rev_after"]) for m in rec["members"]] == [("unchanged", old_rev), ("rolled-back", old_rev)]
    assert_clean(p, cluster.password)

    n = len(g.records())
    again = g.run(None, "--recover")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "NOTHING TO RECOVER" in again.stdout
    assert len(g.records()) == n and g.revs() == [old_rev, old_rev]


def test_recover_refuses_when_someone_else_deployed_meanwhile(cluster, tmp_path):
    g = Gate(cluster, tmp_path, verify={"timeout": 5}, recover_timeout=3)
    uid = uuid.uuid4().hex[:8]
    baseline(cluster, uid)
    gave_up(g, cluster, web_flows(uid, "new"))
    theirs_rev = cluster.deploy(cluster.replicas[0], web_flows(f"x{uid}", "theirs"))  # a hand fix, say
    before = g.revs()
    p = g.run(None, "--recover")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "someone else has deployed since; nothing was changed" in p.stdout
    assert g.revs() == before and before[0] == theirs_rev
    rec = g.records()[-1]
    assert rec["outcome"] == "recover-refused"
    assert [m["status"] for m in rec["members"]] == ["conflict", "rollback-failed"]


def encrypt_credentials(secret: str, creds: dict) -> dict:
    """Encrypt as Node-RED does (aes-256-ctr, key sha256(credentialSecret), hex iv prefix),
    with node's own crypto: the result must be what a replica decrypts with its secret."""
    script = ("const c=require('crypto');const [s,j]=process.argv.slice(1);"
              "const k=c.createHash('sha256').update(s).digest();const iv=c.randomBytes(16);"
              "const x=c.createCipheriv('aes-256-ctr',k,iv);"
              "process.stdout.write(iv.toString('hex')+x.update(j,'utf8','base64')+x.final('base64'));")
    out = subprocess.run([find_exe("node"), "-e", script, secret, json.dumps(creds)], capture_output=True, text=True,
                         timeout=60, check=True)
    return {"$": out.stdout}
