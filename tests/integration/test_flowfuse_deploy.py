"""`hacheck deploy --target <flowfuse>` against a REAL FlowFuse 2.4.0 platform (see
flowfuse_platform.py): a development and a production instance (Node-RED 4.1.15, run by the
localfs driver) and a DevOps pipeline between them. The flows a test deploys are first put on
the development instance, as a developer's editor would: the pipeline ships what runs there,
and hacheck checks the same flows first. The CLI runs as a subprocess, as a pipeline runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from .cluster import ComponentFailed, ComponentMissing
from .flowfuse_platform import FlowFusePlatform
from .flows import web_flows

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TOKEN_ENV = "HC_IT_FF_TOKEN"


def failing_flows(uid: str) -> list:
    """A plain MQTT subscription that publishes a command: HA101, an error."""
    tab = f"mq-{uid}"
    return [
        {"id": tab, "type": "tab", "label": "ingest"},
        {"id": f"b-{uid}", "type": "mqtt-broker", "broker": "mqtt.plant.invalid", "port": "1883", "clientid": ""},
        {"id": f"m-{uid}", "type": "mqtt in", "z": tab, "topic": "jobs/#", "qos": "1", "broker": f"b-{uid}", "inputs": 0, "wires": [[f"o-{uid}"]]},
        {"id": f"o-{uid}", "type": "mqtt out", "z": tab, "topic": "plant/cmd", "broker": f"b-{uid}", "wires": []},
    ]


@pytest.fixture(scope="module")
def flowfuse(tmp_path_factory):
    platform = FlowFusePlatform(tmp_path_factory.mktemp("flowfuse"))
    try:
        platform.start()
    except (ComponentMissing, ComponentFailed) as e:
        platform.stop()
        pytest.fail(f"FlowFuse: {e}", pytrace=False)
    yield platform
    platform.stop()
    time.sleep(1)
    left = platform.processes_left()
    assert not left, f"FlowFuse processes still running after teardown: {left}"
    assert "flowforge.com" not in platform.log_text() and "flowfuse.com" not in platform.log_text(), \
        "the platform tried to reach outside the machine"


class Deploy:
    def __init__(self, ff: FlowFusePlatform, tmp: Path, token: str | None = None, verify_timeout: int = 120):
        self.ff, self.dir = ff, tmp
        self.targets = tmp / "hacheck-targets.yaml"
        self.audit = tmp / "audit.log"
        self.seam_dir = tmp / "seam"
        self.seam_dir.mkdir()
        self.targets.write_text(json.dumps({"targets": {"prod": {
            "kind": "flowfuse", "url": ff.url, "pipeline": ff.ids["pipeline"], "stage": ff.ids["dev_stage"],
            "instance": ff.ids["prod"], "token_env": TOKEN_ENV, "timeout": 30, "retries": 2, "backoff": 0.2,
            "verify": {"timeout": verify_timeout, "poll_interval": 0.5}}}}, indent=1))
        self.token = token or ff.token
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HACHECK_")}
        self.env.update({TOKEN_ENV: self.token, "PYTHONPATH": str(REPO), "NO_COLOR": "1"})

    def cmd(self, flows: list, *extra: str) -> list[str]:
        path = self.dir / "flows.json"
        path.write_text(json.dumps(flows, indent=1))
        return [sys.executable, "-m", "hacheck", "deploy", str(path), "--target", "prod", "--targets", str(self.targets),
                "--audit-log", str(self.audit), *extra]

    def run(self, flows: list, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(flows, *extra), cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=900)

    def start_paused(self, flows: list, point: str) -> subprocess.Popen:
        env = dict(self.env, HACHECK_TEST_SEAM_DIR=str(self.seam_dir), HACHECK_TEST_SEAM_POINTS=point)
        return subprocess.Popen(self.cmd(flows), cwd=self.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait_for(self, point: str, proc: subprocess.Popen, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not (self.seam_dir / f"{point}.reached").exists():
            if proc.poll() is not None:
                raise AssertionError(f"the deploy ended before {point}: {proc.returncode}\n{proc.stdout.read()}")
            assert time.monotonic() < deadline, f"never reached {point}"
            time.sleep(0.1)

    def release(self, point: str) -> None:
        (self.seam_dir / f"{point}.continue").touch()

    def record(self) -> dict:
        return json.loads(self.audit.read_text().splitlines()[-1])


def serves(ff: FlowFusePlatform, project: str, path: str, timeout: float = 60) -> str | None:
    """What GET path answers on the instance once it is running (None: 404 or nothing)."""
    ff.wait_running(project, timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = ff.get(project, path)
            if r.status_code == 200:
                return r.text
            if r.status_code == 404:
                return None
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"instance never answered {path}"
        time.sleep(0.5)


def baseline(ff: FlowFusePlatform, tmp: Path) -> str:
    """Deploy a known 'old' version to production through hacheck; its uid."""
    uid = uuid.uuid4().hex[:8]
    old = web_flows(uid, f"old-{uid}")
    ff.set_flows(ff.ids["dev"], old)
    base = tmp / f"base-{uid}"
    base.mkdir()
    p = Deploy(ff, base).run(old)
    assert p.returncode == 0, p.stdout + p.stderr
    assert serves(ff, ff.ids["prod"], f"/hc-{uid}") == f"old-{uid}"
    return uid


def assert_prod_untouched(ff: FlowFusePlatform, before, uid: str) -> None:
    """No snapshot was added to prod, and it still serves the baseline's flows."""
    assert ff.snapshots(ff.ids["prod"]) == before
    assert serves(ff, ff.ids["prod"], f"/hc-{uid}") == f"old-{uid}"


def test_passing_flows_are_deployed_through_the_pipeline_and_served(flowfuse, tmp_path):
    uid = uuid.uuid4().hex[:8]
    new = web_flows(uid, f"new-{uid}")
    flowfuse.set_flows(flowfuse.ids["dev"], new)
    before = flowfuse.snapshots(flowfuse.ids["prod"])
    d = Deploy(flowfuse, tmp_path)
    p = d.run(new)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "DEPLOYED" in p.stdout
    assert serves(flowfuse, flowfuse.ids["prod"], f"/hc-{uid}") == f"new-{uid}"
    rec = d.record()
    assert rec["outcome"] == "deployed" and rec["kind"] == "flowfuse"
    after = flowfuse.snapshots(flowfuse.ids["prod"])
    assert rec["members"][0]["rev_after"] == after[0] and after[0] not in before
    assert flowfuse.token not in p.stdout + p.stderr + d.audit.read_text()


def test_failing_flows_deploy_nothing(flowfuse, tmp_path):
    uid = baseline(flowfuse, tmp_path)
    bad = failing_flows(uid)
    before = flowfuse.snapshots(flowfuse.ids["prod"])
    d = Deploy(flowfuse, tmp_path)
    p = d.run(bad)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "HA101" in p.stdout and "NOT DEPLOYED" in p.stdout
    assert_prod_untouched(flowfuse, before, uid)
    assert d.record()["outcome"] == "check-failed"


def test_dry_run_changes_nothing(flowfuse, tmp_path):
    uid = baseline(flowfuse, tmp_path)
    new = web_flows(uid, f"new-{uid}")
    flowfuse.set_flows(flowfuse.ids["dev"], new)
    before = flowfuse.snapshots(flowfuse.ids["prod"])
    d = Deploy(flowfuse, tmp_path)
    p = d.run(new, "--dry-run")
    assert p.returncode == 0, p.stdout + p.stderr
    assert_prod_untouched(flowfuse, before, uid)
    assert d.record()["outcome"] == "dry-run"


def test_someone_deploying_after_pre_flight_is_refused(flowfuse, tmp_path):
    uid = baseline(flowfuse, tmp_path)
    ours = web_flows(uid, f"ours-{uid}")
    flowfuse.set_flows(flowfuse.ids["dev"], ours)
    d = Deploy(flowfuse, tmp_path)
    proc = d.start_paused(ours, "after-preflight")
    d.wait_for("after-preflight", proc)
    # someone else runs the pipeline (with their flows on development) meanwhile
    flowfuse.set_flows(flowfuse.ids["dev"], web_flows(uid, f"theirs-{uid}"))
    flowfuse.api("PUT", f"/api/v1/pipelines/{flowfuse.ids['pipeline']}/stages/{flowfuse.ids['dev_stage']}/deploy", json={})
    deadline = time.monotonic() + 120
    while serves(flowfuse, flowfuse.ids["prod"], f"/hc-{uid}") != f"theirs-{uid}":
        assert time.monotonic() < deadline, "their deploy did not land"
        time.sleep(1)
    theirs = flowfuse.snapshots(flowfuse.ids["prod"])
    d.release("after-preflight")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 1, out
    assert "someone else deployed" in out
    assert flowfuse.snapshots(flowfuse.ids["prod"]) == theirs  # nothing of ours: no snapshot, no deploy
    assert serves(flowfuse, flowfuse.ids["prod"], f"/hc-{uid}") == f"theirs-{uid}"


def test_a_failure_after_the_deploy_started_rolls_back_to_the_snapshot_taken(flowfuse, tmp_path):
    uid = baseline(flowfuse, tmp_path)
    new = web_flows(uid, f"new-{uid}")
    flowfuse.set_flows(flowfuse.ids["dev"], new)
    d = Deploy(flowfuse, tmp_path)
    proc = d.start_paused(new, "after-deploy-0")
    d.wait_for("after-deploy-0", proc)
    # the new flows are in; now the production instance is suspended through the platform
    flowfuse.api("POST", f"/api/v1/projects/{flowfuse.ids['prod']}/actions/suspend", json={})
    d.release("after-deploy-0")
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 1, out
    assert "rolled back" in out, out
    rec = d.record()
    assert rec["outcome"] == "rolled-back", out
    assert serves(flowfuse, flowfuse.ids["prod"], f"/hc-{uid}", timeout=120) == f"old-{uid}"


def test_a_bad_token_changes_nothing_and_is_never_printed(flowfuse, tmp_path):
    bad = "ffpat_" + "x" * 40
    before = flowfuse.snapshots(flowfuse.ids["prod"])
    d = Deploy(flowfuse, tmp_path, token=bad)
    p = d.run(web_flows(uuid.uuid4().hex[:8], "never"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert d.record()["outcome"] == "preflight-failed"
    assert flowfuse.snapshots(flowfuse.ids["prod"]) == before
    assert bad not in p.stdout + p.stderr + d.audit.read_text()
