"""The gate's orchestration, against an in-memory target double (fake_target.py): every
failure path must end with all members on the new flows or all on the old ones."""

from __future__ import annotations

import json
from io import StringIO

import pytest

from hacheck.deploy import gate
from hacheck.deploy.base import StepFailed

from .fake_target import OLD_FLOWS, FakeClock, FakeTarget

PASSING = [
    {"id": "web", "type": "tab", "label": "Web"},
    {"id": "in1", "type": "http in", "z": "web", "url": "/hello", "method": "get", "wires": [["set1"]]},
    {"id": "set1", "type": "change", "z": "web", "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": "hi", "tot": "str"}], "wires": [["out1"]]},
    {"id": "out1", "type": "http response", "z": "web", "wires": []},
]
# an mqtt in on a plain topic feeding a publish: HA101 (error) -- every replica would publish for every message
FAILING = [
    {"id": "t", "type": "tab", "label": "Ingest"},
    {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": ""},
    {"id": "m", "type": "mqtt in", "z": "t", "topic": "jobs/#", "qos": "1", "broker": "b", "inputs": 0, "wires": [["act"]]},
    {"id": "act", "type": "mqtt out", "z": "t", "name": "command", "topic": "plant/cmd", "broker": "b", "wires": []},
]


class Harness:
    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.targets = tmp_path / "hacheck-targets.yaml"
        self.targets.write_text("targets:\n  prod:\n    kind: node-red\n    replicas: [http://127.0.0.1:9, http://127.0.0.1:10]\n")
        self.audit = tmp_path / "audit.log"
        self.out = self.err = ""
        self.seams: list[str] = []
        self.time = FakeClock()  # waiting for a member that is away takes no real time

    def flows(self, content, name="flows.json") -> str:
        p = self.dir / name
        p.write_text(json.dumps(content, indent=1))
        return str(p)

    def run(self, target, flows, **kw) -> int:
        out, err = StringIO(), StringIO()
        kw.setdefault("targets_path", str(self.targets))
        kw.setdefault("audit_log", str(self.audit))
        code = gate.run(flows, kw.pop("target_name", "prod"), out=out, err=err,
                        make_target=(lambda spec: target) if target is not None else None,
                        seam=self.seams.append, clock=self.time.clock, sleep=self.time.sleep, **kw)
        self.out, self.err = out.getvalue(), err.getvalue()
        return code

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.audit.read_text().splitlines()]


@pytest.fixture
def h(tmp_path):
    return Harness(tmp_path)


def steps(target, kind):
    return [m for s, m in target.calls if s == kind]


def test_passing_flows_are_deployed_member_by_member_and_verified(h):
    t = FakeTarget()
    assert h.run(t, h.flows(PASSING)) == 0
    assert t.revs() == {"r1": "rev-new", "r2": "rev-new"}
    # every pre-flight before any deploy; each member verified before the next is touched
    order = [c for c in t.calls if c[0] != "snapshot"]
    assert order[:4] == [("preflight", "r1"), ("preflight", "r2"), ("deploy", "r1"), ("verify", "r1")]
    assert order[4:6] == [("deploy", "r2"), ("verify", "r2")]
    assert h.seams == ["after-preflight", "after-deploy-0", "after-member-0", "after-deploy-1", "after-member-1"]
    rec = h.records()[-1]
    assert rec["outcome"] == "deployed" and rec["target"] == "prod" and rec["dry_run"] is False
    assert [(m["member"], m["rev_before"], m["rev_after"], m["status"]) for m in rec["members"]] == [
        ("r1", "rev-old", "rev-new", "deployed"), ("r2", "rev-old", "rev-new", "deployed")]
    assert rec["check"]["failed"] is False and rec["check"]["error"] == 0
    assert len(rec["flows_sha256"]) == 64
    assert "DEPLOYED" in h.out
    assert t.closed


def test_failing_check_touches_nothing(h):
    t = FakeTarget()
    assert h.run(t, h.flows(FAILING)) == 1
    assert t.calls == []
    assert "HA101" in h.out and "NOT DEPLOYED" in h.out
    rec = h.records()[-1]
    assert rec["outcome"] == "check-failed" and rec["check"]["error"] >= 1 and rec["check"]["failed"] is True


def test_fail_on_never_lets_findings_through_but_not_an_unreadable_file(h):
    t = FakeTarget()
    assert h.run(t, h.flows(FAILING), fail_on="never") == 0
    assert t.revs() == {"r1": "rev-new", "r2": "rev-new"}
    bad = h.dir / "broken.json"
    bad.write_text("[{")
    t2 = FakeTarget()
    assert h.run(t2, str(bad), fail_on="never") == 1
    assert t2.calls == [] and "HC001" in h.out


def test_empty_flows_are_refused(h):
    t = FakeTarget()
    assert h.run(t, h.flows([])) == 1
    assert t.calls == []
    assert "would delete every flow" in h.out


def test_preflight_failure_on_any_member_changes_nothing(h):
    t = FakeTarget(fail={("preflight", "r2"): StepFailed("unreachable", "GET http://r2/flows: cannot connect", applied=False)})
    assert h.run(t, h.flows(PASSING)) == 1
    assert steps(t, "deploy") == [] and t.revs() == {"r1": "rev-old", "r2": "rev-old"}
    assert "cannot connect" in h.out
    rec = h.records()[-1]
    assert rec["outcome"] == "preflight-failed"
    assert {m["member"]: m["status"] for m in rec["members"]} == {"r1": "unchanged", "r2": "preflight-failed"}


def test_second_member_down_rolls_back_the_first(h):
    t = FakeTarget(fail={("deploy", "r2"): StepFailed("unreachable", "POST http://r2/flows: cannot connect", applied=False)})
    assert h.run(t, h.flows(PASSING)) == 1
    assert steps(t, "rollback") == ["r1"]
    assert t.revs() == {"r1": "rev-old", "r2": "rev-old"}
    assert t.state["r1"]["flows"] == OLD_FLOWS
    rec = h.records()[-1]
    assert rec["outcome"] == "rolled-back"
    assert {m["member"]: (m["status"], m["rev_after"]) for m in rec["members"]} == {
        "r1": ("rolled-back", "rev-old"), "r2": ("unchanged", "rev-old")}


def test_failed_verification_rolls_back_that_member_too_newest_first(h):
    t = FakeTarget(fail={("verify", "r2"): StepFailed("not-started", "probe GET /health answered HTTP 500")})
    assert h.run(t, h.flows(PASSING)) == 1
    assert steps(t, "rollback") == ["r2", "r1"]
    assert t.revs() == {"r1": "rev-old", "r2": "rev-old"}
    assert "probe GET /health" in h.out


def test_a_deploy_that_may_have_landed_is_looked_at_and_rolled_back(h):
    def lands_then_times_out(t):
        t.state["r2"] = {"rev": "rev-new", "flows": PASSING}
        raise StepFailed("timeout", "POST http://r2/flows: no answer in time")

    t = FakeTarget(fail={("deploy", "r2"): lands_then_times_out})
    assert h.run(t, h.flows(PASSING)) == 1
    assert steps(t, "rollback") == ["r2", "r1"]
    assert t.revs() == {"r1": "rev-old", "r2": "rev-old"}


def test_conflict_rolls_back_ours_and_leaves_the_other_change_alone(h):
    def someone_else_deploys(t):
        t.state["r2"] = {"rev": "rev-theirs", "flows": [{"id": "x", "type": "tab"}]}

    t = FakeTarget(fail={("deploy", "r2"): someone_else_deploys})
    assert h.run(t, h.flows(PASSING)) == 1
    assert steps(t, "rollback") == ["r1"]
    assert t.revs() == {"r1": "rev-old", "r2": "rev-theirs"}
    assert "409" in h.out
    rec = h.records()[-1]
    assert {m["member"]: m["status"] for m in rec["members"]} == {"r1": "rolled-back", "r2": "conflict"}


def test_rollback_failure_is_reported_loudly(h):
    t = FakeTarget(fail={("deploy", "r2"): StepFailed("unreachable", "down", applied=False),
                         ("rollback", "r1"): StepFailed("unreachable", "r1 went away too", applied=False)})
    assert h.run(t, h.flows(PASSING)) == 1
    assert "FAILED AND NOT RECOVERED" in h.out and "r1" in h.out
    assert h.records()[-1]["outcome"] == "rollback-failed"


def test_a_crash_inside_the_deploy_still_rolls_back(h):
    t = FakeTarget(fail={("verify", "r2"): ZeroDivisionError("boom")})
    assert h.run(t, h.flows(PASSING)) == 1
    assert t.revs() == {"r1": "rev-old", "r2": "rev-old"}
    assert "internal error ZeroDivisionError" in h.out


def test_interrupt_during_the_deploy_rolls_back(h):
    t = FakeTarget(fail={("deploy", "r2"): KeyboardInterrupt()})
    assert h.run(t, h.flows(PASSING)) == 1
    assert t.revs() == {"r1": "rev-old", "r2": "rev-old"}
    assert "interrupted" in h.out


def test_drift_after_deploy_is_caught_by_the_final_check(h):
    def drift_r1(t):
        t.state["r1"] = {"rev": "rev-theirs", "flows": []}

    t = FakeTarget(fail={("verify", "r2"): drift_r1})
    assert h.run(t, h.flows(PASSING)) == 1
    assert "changed again during the deploy" in h.out
    assert t.revs() == {"r1": "rev-old", "r2": "rev-old"}


def test_dry_run_reports_and_changes_nothing(h):
    t = FakeTarget()
    assert h.run(t, h.flows(PASSING), dry_run=True) == 0
    assert steps(t, "deploy") == [] and t.revs() == {"r1": "rev-old", "r2": "rev-old"}
    assert "would deploy" in h.out
    rec = h.records()[-1]
    assert rec["outcome"] == "dry-run" and rec["dry_run"] is True


def test_flows_already_running_are_not_redeployed(h):
    t = FakeTarget()
    assert h.run(t, h.flows(OLD_FLOWS)) == 0
    assert steps(t, "deploy") == []
    assert "UP TO DATE" in h.out and h.records()[-1]["outcome"] == "up-to-date"


def test_no_secret_in_output_or_audit_log(h):
    cred_password = "pw-inline-7c1d2e"
    top_password = "pw-toplevel-5a4b3c"
    body = {"flows": PASSING + [{"id": "brk", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": "",
                                 "credentials": {"user": "svc", "password": cred_password}}],
            "credentials": {"brk": {"password": top_password}}}
    t = FakeTarget()
    # a server that echoes secrets back in an error: the gate must still not print them
    t.fail[("deploy", "r2")] = StepFailed("rejected", f"HTTP 400 token {t.secret} pw {cred_password} {top_password}", applied=False)
    # SEC301 (plain credentials in a flow file) is an error; this project has accepted it
    assert h.run(t, h.flows(body), fail_on="never") == 1
    assert "SEC301" in h.out and steps(t, "deploy") == ["r1", "r2"]
    everything = h.out + h.err + h.audit.read_text()
    for secret in (t.secret, cred_password, top_password):
        assert secret not in everything
    assert "***" in h.out  # the echoed message was kept, masked


def test_unknown_target_and_bad_targets_file_exit_2(h):
    assert h.run(FakeTarget(), h.flows(PASSING), target_name="staging") == 2
    assert "no target 'staging'" in h.err and "prod" in h.err
    h.targets.write_text("targets:\n  prod:\n    kind: node-red\n    replicas: []\n")
    assert h.run(FakeTarget(), h.flows(PASSING)) == 2
    assert "targets.prod.replicas" in h.err


def test_missing_flows_file_exits_2(h):
    assert h.run(FakeTarget(), str(h.dir / "nope.json")) == 2
    assert "nope.json" in h.err


def test_unset_environment_variable_exits_2_naming_it(h, monkeypatch):
    monkeypatch.delenv("HC_TEST_NR_TOKEN", raising=False)
    h.targets.write_text("targets:\n  prod:\n    kind: node-red\n    replicas: [http://127.0.0.1:9]\n"
                         "    auth: {token_env: HC_TEST_NR_TOKEN}\n")
    assert h.run(None, h.flows(PASSING)) == 2
    assert "HC_TEST_NR_TOKEN" in h.err and "auth.token_env" in h.err


def test_unwritable_audit_log_stops_before_contacting_anything(h):
    t = FakeTarget()
    (h.dir / "adir").mkdir()
    assert h.run(t, h.flows(PASSING), audit_log=str(h.dir / "adir")) == 2
    assert t.calls == [] and "audit log" in h.err


def test_audit_log_location_from_the_targets_file(h, monkeypatch):
    h.targets.write_text("audit_log: logs/deploys.jsonl\ntargets:\n  prod:\n    kind: node-red\n    replicas: [http://127.0.0.1:9]\n")
    out, err = StringIO(), StringIO()
    code = gate.run(h.flows(PASSING), "prod", str(h.targets), out=out, err=err,
                    make_target=lambda spec: FakeTarget(members=("r1",)), seam=lambda p: None)
    assert code == 0
    # relative to the targets file, not to the working directory
    lines = (h.dir / "logs" / "deploys.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["outcome"] == "deployed"


def test_a_token_obtained_during_the_run_is_masked_too(h):
    late = "access-token-issued-at-preflight-4242"

    class LoggingInTarget(FakeTarget):
        def secrets(self):
            return [self.secret] + ([late] if self.calls else [])

    t = LoggingInTarget(fail={("preflight", "r2"): StepFailed("auth", f"server said: bad token {late}", applied=False)})
    assert h.run(t, h.flows(PASSING)) == 1
    assert late not in h.out + h.err + h.audit.read_text()
    assert "bad token ***" in h.out


def test_an_unexpected_error_in_pre_flight_changes_nothing(h):
    t = FakeTarget(fail={("preflight", "r1"): KeyError("rev")})
    assert h.run(t, h.flows(PASSING)) == 1
    assert steps(t, "deploy") == [] and "internal error KeyError" in h.out
    assert h.records()[-1]["outcome"] == "preflight-failed"
