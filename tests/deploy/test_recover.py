"""A member away during the rollback: the gate waits for it (recover_timeout) and puts it back;
`deploy --recover` finishes the job later. Against the in-memory target double and a fake
clock (fake_target.py); tests/integration/test_deploy_gate.py does it with real replicas."""

from __future__ import annotations

import json
import os
import signal
from io import StringIO

import pytest

from hacheck.commands.cli import cli
from hacheck.deploy import recover
from hacheck.deploy.base import StepFailed

from .fake_target import OLD_FLOWS, FakeTarget
from .test_gate import PASSING, Harness, steps


def dies_after_taking_the_new_flows(member):
    """The member stores the new flows, then goes away before it can be verified."""
    def act(t):
        t.down.add(member)
        raise StepFailed("unreachable", f"GET http://{member}/flows: cannot connect")
    return act


@pytest.fixture
def h(tmp_path):
    return Harness(tmp_path)


def recover_run(h, target, **kw) -> int:
    out, err = StringIO(), StringIO()
    code = recover.run("prod", str(h.targets), audit_log=str(h.audit), out=out, err=err,
                       make_target=lambda spec: target, clock=h.time.clock, sleep=h.time.sleep, **kw)
    h.out, h.err = out.getvalue(), err.getvalue()
    return code


def members(rec):
    return {m["member"]: (m["status"], m["rev_after"]) for m in rec["members"]}


# ---------------------------------------------------------------- the gate waits


def test_a_member_back_on_the_new_flows_within_the_timeout_is_rolled_back(h):
    t = FakeTarget(fail={("verify", "r2"): dies_after_taking_the_new_flows("r2")})
    h.time.at[40] = lambda: t.down.discard("r2")  # Kubernetes restarts it 40 s later
    assert h.run(t, h.flows(PASSING)) == 1
    assert t.revs() == {"r1": "rev-old", "r2": "rev-old"}
    assert t.state["r2"]["flows"] == OLD_FLOWS
    assert 40 <= h.time.slept < 180
    assert "waiting up to 180s" in h.out and "r2: was on the new flows; rolled back" in h.out
    rec = h.records()[-1]
    assert rec["outcome"] == "rolled-back"
    assert members(rec) == {"r1": ("rolled-back", "rev-old"), "r2": ("rolled-back", "rev-old")}
    assert rec["new_rev"] == "rev-new"


def test_a_member_whose_deploy_had_not_landed_comes_back_unchanged(h):
    def away_before_it_lands(t):
        t.down.add("r2")
        raise StepFailed("timeout", "POST http://r2/flows: no answer in time")  # may have landed

    t = FakeTarget(fail={("deploy", "r2"): away_before_it_lands})
    h.time.at[10] = lambda: t.down.discard("r2")
    assert h.run(t, h.flows(PASSING)) == 1
    assert "cannot tell whether the deploy landed" in h.out
    assert steps(t, "rollback") == ["r1"]  # r2 had nothing to undo
    rec = h.records()[-1]
    assert rec["outcome"] == "rolled-back"
    assert members(rec) == {"r1": ("rolled-back", "rev-old"), "r2": ("unchanged", "rev-old")}


def test_a_member_that_stays_away_is_waited_for_then_reported(h):
    t = FakeTarget(fail={("verify", "r2"): dies_after_taking_the_new_flows("r2")})
    assert h.run(t, h.flows(PASSING)) == 1
    assert 180 <= h.time.slept < 200  # the timeout, not forever
    assert t.revs() == {"r1": "rev-old", "r2": "rev-new"}
    assert "FAILED AND NOT RECOVERED: r2" in h.out and "hacheck deploy --recover --target prod" in h.out
    rec = h.records()[-1]
    assert rec["outcome"] == "rollback-failed"
    r2 = next(m for m in rec["members"] if m["member"] == "r2")
    assert r2["status"] == "rollback-failed" and "still away after 180s" in r2["detail"]


def test_the_pauses_grow_up_to_a_cap(h):
    t = FakeTarget(fail={("verify", "r2"): dies_after_taking_the_new_flows("r2")})
    h.run(t, h.flows(PASSING))
    tries = [c for c in t.calls if c == ("reconnect", "r2")]
    assert 10 <= len(tries) <= 20  # 1, 2, 4, 8, 15, 15 ... s over 180 s: not a busy loop


def test_recover_timeout_0_gives_up_at_once(h):
    h.targets.write_text(h.targets.read_text() + "    recover_timeout: 0\n")
    t = FakeTarget(fail={("verify", "r2"): dies_after_taking_the_new_flows("r2")})
    assert h.run(t, h.flows(PASSING)) == 1
    assert h.time.slept == 0 and "waiting" not in h.out
    assert h.records()[-1]["outcome"] == "rollback-failed"


def test_a_member_back_with_someone_elses_flows_is_left_alone(h):
    def theirs():
        t.down.discard("r2")
        t.state["r2"] = {"rev": "rev-theirs", "flows": [{"id": "x", "type": "tab"}]}

    t = FakeTarget(fail={("verify", "r2"): dies_after_taking_the_new_flows("r2")})
    h.time.at[20] = theirs
    assert h.run(t, h.flows(PASSING)) == 1
    assert steps(t, "rollback") == ["r2", "r1"]  # the first try on r2 failed; never again
    assert t.revs() == {"r1": "rev-old", "r2": "rev-theirs"}
    assert "someone else changed it" in h.out
    assert h.records()[-1]["outcome"] == "rollback-failed"


def test_sigterm_while_waiting_stops_the_wait_and_says_who_is_unknown(h):
    t = FakeTarget(fail={("verify", "r2"): dies_after_taking_the_new_flows("r2")})
    h.time.at[5] = lambda: os.kill(os.getpid(), signal.SIGTERM)  # the CI job is cancelled
    before = signal.getsignal(signal.SIGTERM)
    assert h.run(t, h.flows(PASSING)) == 1
    assert h.time.slept < 10
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back
    rec = h.records()[-1]
    assert rec["outcome"] == "rollback-failed"
    r2 = next(m for m in rec["members"] if m["member"] == "r2")
    assert "the wait was stopped (SIGTERM)" in r2["detail"]


# ---------------------------------------------------------------- deploy --recover


def failed_deploy(h) -> FakeTarget:
    """A deploy that gave up on r2 (recover_timeout 0): r1 is back on the old flows, r2 is
    away on the new ones."""
    h.targets.write_text(h.targets.read_text() + "    recover_timeout: 0\n")
    t = FakeTarget(fail={("verify", "r2"): dies_after_taking_the_new_flows("r2")})
    assert h.run(t, h.flows(PASSING)) == 1
    assert h.records()[-1]["outcome"] == "rollback-failed"
    t.fail.clear()
    return t


def test_recover_rolls_back_a_member_left_on_the_new_flows_then_is_a_no_op(h):
    t = failed_deploy(h)
    t.down.discard("r2")  # restarted after the gate gave up, on the new flows
    assert t.revs() == {"r1": "rev-old", "r2": "rev-new"}
    assert recover_run(h, t) == 0
    assert t.revs() == {"r1": "rev-old", "r2": "rev-old"}
    assert t.state["r2"]["flows"] == OLD_FLOWS  # copied from r1, which runs the recorded rev
    assert "RECOVERED" in h.out
    rec = h.records()[-1]
    assert rec["outcome"] == "recovered" and rec["recovers"] == h.records()[-2]["time"]
    assert members(rec) == {"r1": ("unchanged", "rev-old"), "r2": ("rolled-back", "rev-old")}
    n = len(h.records())
    calls = len(t.calls)
    assert recover_run(h, t) == 0
    assert "NOTHING TO RECOVER" in h.out and "ended 'recovered'" in h.out
    assert len(h.records()) == n and len(t.calls) == calls  # nothing contacted, nothing recorded


def test_recover_refuses_when_someone_else_deployed_meanwhile(h):
    t = failed_deploy(h)
    t.down.discard("r2")
    t.state["r1"] = {"rev": "rev-theirs", "flows": [{"id": "x", "type": "tab"}]}
    assert recover_run(h, t) == 1
    assert t.revs() == {"r1": "rev-theirs", "r2": "rev-new"}  # nothing changed
    assert steps(t, "rollback") == ["r2", "r1"]  # only the gate's, before
    assert "someone else has deployed since; nothing was changed" in h.out
    rec = h.records()[-1]
    assert rec["outcome"] == "recover-refused"
    assert members(rec)["r1"] == ("conflict", "rev-theirs")


def test_recover_waits_for_a_member_still_away(h):
    t = failed_deploy(h)
    h.targets.write_text(h.targets.read_text().replace("recover_timeout: 0", "recover_timeout: 60"))
    h.time.at[h.time.now + 30] = lambda: t.down.discard("r2")
    assert recover_run(h, t) == 0
    assert t.revs() == {"r1": "rev-old", "r2": "rev-old"}
    assert "away" in h.out and h.records()[-1]["outcome"] == "recovered"


def test_recover_looks_at_a_member_still_away_before_changing_any(h):
    """r2 comes back running someone else's flows while --recover waits: nothing is changed,
    not even r1 (which a deploy could have left on the new flows too)."""
    t = failed_deploy(h)
    h.targets.write_text(h.targets.read_text().replace("recover_timeout: 0", "recover_timeout: 60"))
    t.state["r1"] = {"rev": "rev-new", "flows": PASSING}  # say r1's rollback had failed as well

    def theirs():
        t.down.discard("r2")
        t.state["r2"] = {"rev": "rev-theirs", "flows": []}

    h.time.at[h.time.now + 20] = theirs
    rollbacks = len(steps(t, "rollback"))
    assert recover_run(h, t) == 1
    assert len(steps(t, "rollback")) == rollbacks
    assert t.revs() == {"r1": "rev-new", "r2": "rev-theirs"} and h.records()[-1]["outcome"] == "recover-refused"


def test_recover_that_still_fails_can_be_run_again(h):
    t = failed_deploy(h)
    assert recover_run(h, t) == 1
    assert h.records()[-1]["outcome"] == "rollback-failed" and "run --recover again" in h.out
    t.down.discard("r2")
    assert recover_run(h, t) == 0
    assert t.revs() == {"r1": "rev-old", "r2": "rev-old"}


def test_recover_with_nothing_recorded_or_a_bad_log(h):
    t = FakeTarget()
    h.audit.write_text("")
    assert recover_run(h, t) == 0 and "no deploy of 'prod' is recorded" in h.out
    h.audit.write_text('{"target": "prod", "outcome": "rollback-failed"\n')
    assert recover_run(h, t) == 2 and "line 1 is not a JSON record" in h.err
    os.remove(h.audit)
    assert recover_run(h, t) == 2 and "not found" in h.err
    assert t.calls == []


def test_recover_refuses_when_the_targets_members_changed(h):
    failed_deploy(h)
    t = FakeTarget(members=("r1", "r3"))
    assert recover_run(h, t) == 2
    assert "members differ" in h.err and t.calls == []


def test_recover_on_the_command_line_takes_no_flows_file(h):
    from click.testing import CliRunner

    r = CliRunner().invoke(cli, ["deploy", "flows.json", "--recover", "--target", "prod"])
    assert r.exit_code == 2 and "--recover takes no FLOWS" in r.output
    r = CliRunner().invoke(cli, ["deploy", "--target", "prod"])
    assert r.exit_code == 2 and "missing argument FLOWS" in r.output


def test_recover_timeout_is_validated(h):
    h.targets.write_text(h.targets.read_text() + "    recover_timeout: -1\n")
    assert h.run(FakeTarget(), h.flows(PASSING)) == 2
    assert "recover_timeout" in h.err


def test_the_audit_records_stay_json_lines(h):
    failed_deploy(h)
    for line in h.audit.read_text().splitlines():
        assert isinstance(json.loads(line), dict)
