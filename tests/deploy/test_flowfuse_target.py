"""The flowfuse target, end to end through the gate, against flowfuse_contract_double.py: a
CONTRACT DOUBLE of FlowFuse's published pipeline/instance/snapshot routes, NOT a FlowFuse
platform (none can be started here)."""

from __future__ import annotations

import json
from io import StringIO

import pytest

from hacheck.deploy import gate

from .flowfuse_contract_double import FlowFuseContractDouble
from .test_gate import FAILING, PASSING

TOKEN = "ffpat_unit-test-token-0123456789"


class Run:
    def __init__(self, tmp_path, monkeypatch, double: FlowFuseContractDouble, token=TOKEN, extra: str = ""):
        monkeypatch.setenv("FF_TOKEN_TEST", token)
        self.dir = tmp_path
        self.targets = tmp_path / "hacheck-targets.yaml"
        self.targets.write_text(
            "targets:\n  ff:\n    kind: flowfuse\n"
            f"    url: {double.url}\n    pipeline: {double.pipeline}\n    stage: {double.stage}\n"
            f"    instance: {double.instance}\n    token_env: FF_TOKEN_TEST\n"
            "    retries: 1\n    backoff: 0.01\n    verify: {timeout: 10, poll_interval: 0.05}\n" + extra)
        self.audit = tmp_path / "audit.log"
        self.double = double

    def __call__(self, flows, seam=None, **kw) -> int:
        path = self.dir / "flows.json"
        path.write_text(json.dumps(flows))
        out, err = StringIO(), StringIO()
        code = gate.run(str(path), "ff", str(self.targets), audit_log=str(self.audit), out=out, err=err,
                        seam=seam or (lambda p: None), **kw)
        self.out, self.err = out.getvalue(), err.getvalue()
        return code

    def record(self) -> dict:
        return json.loads(self.audit.read_text().splitlines()[-1])

    def calls(self, method: str, suffix: str) -> list:
        return [c for c in self.double.calls if c[0] == method and c[1].split("?")[0].endswith(suffix)]


def test_pipeline_deploy_then_wait_until_the_instance_runs_the_new_snapshot(tmp_path, monkeypatch):
    with FlowFuseContractDouble(token=TOKEN) as ff:
        run = Run(tmp_path, monkeypatch, ff)
        assert run(PASSING) == 0, run.out + run.err
        assert ff.running == "deployed-from-latest" and ff.state == "running"
        assert len(run.calls("PUT", f"/stages/{ff.stage}/deploy")) == 1
        rec = run.record()
        assert rec["outcome"] == "deployed" and rec["kind"] == "flowfuse"
        m = rec["members"][0]
        assert m["rev_after"] == ff.snapshots[0]["id"]  # the snapshot the deploy created
        assert TOKEN not in run.out + run.err + run.audit.read_text()


def test_failed_deploy_rolls_back_to_the_snapshot_taken_just_before(tmp_path, monkeypatch):
    with FlowFuseContractDouble(token=TOKEN, after_deploy_state="crashed") as ff:
        run = Run(tmp_path, monkeypatch, ff)
        assert run(PASSING) == 1
        rollbacks = run.calls("POST", "/actions/rollback")
        assert len(rollbacks) == 1
        point = rollbacks[0][2]["snapshot"]
        assert ff.content[point] == "flows-v1"  # the pre-deploy snapshot holds the old flows
        assert ff.running == "flows-v1"  # and the instance runs them again
        # the import leaves a crashed instance crashed: it ran at pre-flight, so it is started
        assert len(run.calls("POST", "/actions/start")) == 1 and ff.state == "running"
        assert "crashed" in run.out and run.record()["outcome"] == "rolled-back"


def test_failing_check_never_calls_the_platform(tmp_path, monkeypatch):
    with FlowFuseContractDouble(token=TOKEN) as ff:
        run = Run(tmp_path, monkeypatch, ff)
        assert run(FAILING) == 1
        assert ff.calls == []


def test_bad_token_fails_pre_flight_without_printing_it(tmp_path, monkeypatch):
    with FlowFuseContractDouble(token=TOKEN) as ff:
        wrong = "ffpat_wrong-token-9876543210"
        run = Run(tmp_path, monkeypatch, ff, token=wrong)
        assert run(PASSING) == 1
        assert "HTTP 401" in run.out and "$FF_TOKEN_TEST" in run.out
        assert wrong not in run.out + run.err + run.audit.read_text()
        assert run.calls("PUT", "/deploy") == [] and run.record()["outcome"] == "preflight-failed"


def test_protected_instance_is_refused_and_nothing_changes(tmp_path, monkeypatch):
    with FlowFuseContractDouble(token=TOKEN, protected=True) as ff:
        run = Run(tmp_path, monkeypatch, ff)
        assert run(PASSING) == 1
        assert "protected_instance" in run.out and "Owner" in run.out
        assert ff.running == "flows-v1" and run.calls("POST", "/actions/rollback") == []


def test_someone_else_deploying_after_pre_flight_is_a_conflict(tmp_path, monkeypatch):
    with FlowFuseContractDouble(token=TOKEN) as ff:
        run = Run(tmp_path, monkeypatch, ff)

        def seam(point):
            if point == "after-preflight":
                ff.external_deploy()

        assert run(PASSING, seam=seam) == 1
        assert run.calls("PUT", "/deploy") == []
        assert ff.running == "someone-elses-flows"  # theirs, left alone
        assert "someone else deployed" in run.out


def test_snapshot_export_id_is_sent_for_a_prompt_stage(tmp_path, monkeypatch):
    with FlowFuseContractDouble(token=TOKEN, action="prompt") as ff:
        run = Run(tmp_path, monkeypatch, ff)
        snapshot_export = {"id": "snap-src-42", "name": "release 42", "flows": {"flows": PASSING}}
        assert run(snapshot_export) == 0, run.out
        assert run.calls("PUT", "/deploy")[0][2] == {"sourceSnapshotId": "snap-src-42"}
        assert ff.running == "deployed-from-snap-src-42"


def test_prompt_stage_without_a_snapshot_id_is_rejected_clearly(tmp_path, monkeypatch):
    with FlowFuseContractDouble(token=TOKEN, action="prompt") as ff:
        run = Run(tmp_path, monkeypatch, ff)
        assert run(PASSING) == 1
        assert "invalid_source_snapshot" in run.out
        # the rollback snapshot was taken, the deploy refused: nothing ran differently
        assert ff.running == "flows-v1"


def test_dry_run_contacts_but_changes_nothing(tmp_path, monkeypatch):
    with FlowFuseContractDouble(token=TOKEN) as ff:
        run = Run(tmp_path, monkeypatch, ff)
        n = len(ff.snapshots)
        assert run(PASSING, dry_run=True) == 0
        assert [c[0] for c in ff.calls] == ["GET", "GET"]
        assert len(ff.snapshots) == n and "would take a rollback snapshot" in run.out


@pytest.mark.parametrize("missing", ["pipeline", "token_env"])
def test_flowfuse_target_keys_are_required(tmp_path, monkeypatch, missing):
    with FlowFuseContractDouble(token=TOKEN) as ff:
        run = Run(tmp_path, monkeypatch, ff)
        run.targets.write_text("\n".join(line for line in run.targets.read_text().splitlines() if f" {missing}:" not in line) + "\n")
        assert run(PASSING) == 2
        assert f"missing key '{missing}'" in run.err
