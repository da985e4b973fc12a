"""`hacheck deploy --recover --target NAME`: finish a rollback that a deploy could not.

The last audit record of the target says which members may run the new flows (outcome
`rollback-failed`), each member's recorded rev, and the new rev. Every member is looked at
before any is changed; if one runs flows that are neither its recorded ones nor the new ones,
someone else has deployed since, and nothing is changed. Otherwise each member on the new
flows is rolled back to its recorded flows, copied from a member that runs them (the Admin
API gives flows without credentials, as the gate's own rollback does), and verified; members
still away are waited for up to the target's `recover_timeout`. A new audit record says what
happened: outcome `recovered`, `recover-refused` or still `rollback-failed`.
"""

from __future__ import annotations

import json
import sys
import time

from hacheck.deploy import audit
from hacheck.deploy.base import ConfigurationError, Snapshot, describe, short
from hacheck.deploy.gate import Console, MemberResult, _audit_path, build_target, recover_timeout
from hacheck.deploy.reconcile import UNSETTLED, Expected, Reconciler
from hacheck.deploy.redact import Redactor
from hacheck.deploy.targets_file import DEFAULT_TARGETS_FILE, TargetsError, load_targets

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


class RecoverError(Exception):
    """The audit log or the target cannot be used: exit 2, nothing contacted."""


def run(target_name: str, targets_path: str | None = None, *, audit_log: str | None = None, out=None, err=None,
        make_target=None, clock=None, sleep=None) -> int:
    con = Console(out or sys.stdout, err or sys.stderr, Redactor())
    try:
        targets = load_targets(targets_path or DEFAULT_TARGETS_FILE)
        spec = targets.target(target_name)
    except TargetsError as e:
        con.error(str(e))
        return EXIT_ERROR
    audit_path = audit_log or _audit_path(spec, targets.audit_log)
    try:
        last = last_record(audit_path, target_name)
    except RecoverError as e:
        con.error(str(e))
        return EXIT_ERROR
    say = con.say
    say(f"hacheck deploy --recover: target '{target_name}', audit log {audit_path}")
    if last is None:
        say(f"result: NOTHING TO RECOVER: no deploy of '{target_name}' is recorded there")
        return EXIT_OK
    if last.get("outcome") != "rollback-failed":
        say(f"result: NOTHING TO RECOVER: the last deploy of '{target_name}' ({last.get('time')}) "
            f"ended '{last.get('outcome')}'")
        return EXIT_OK
    try:
        target = (make_target or build_target)(spec)
    except ConfigurationError as e:
        con.error(str(e))
        return EXIT_ERROR
    if not target.recoverable:
        target.close()
        con.error(f"--recover is for node-red targets; '{target_name}' is a {spec.kind} target: roll its "
                  f"{target.noun} back to the snapshot taken before the deploy, in {spec.kind}")
        return EXIT_ERROR
    con.redact.watch(target.secrets)
    try:
        recorded = _recorded_members(last, target.members())
        try:
            audit.ensure_writable(audit_path)
        except audit.AuditError as e:
            raise RecoverError(str(e)) from None
    except RecoverError as e:
        target.close()
        con.error(str(e))
        return EXIT_ERROR
    record = audit.base_record(target, last.get("flows_file"), last.get("flows_sha256"), False)
    record["recovers"] = last.get("time")
    results = [MemberResult(m, rev_before=recorded[m]["rev_before"]) for m in target.members()]
    rec = Reconciler(target, say, recover_timeout(spec), clock=clock or time.monotonic, sleep=sleep or time.sleep)
    try:
        with rec.stop_on_term():
            outcome, code = _recover(target, rec, results, last, say)
    finally:
        target.close()
    record["outcome"] = outcome
    record["members"] = [r.record() for r in results]
    if last.get("new_rev"):
        record["new_rev"] = last["new_rev"]
    try:
        audit.append(audit_path, record, con.redact)
    except audit.AuditError as e:
        con.error(f"{e} (outcome was: {outcome})")
        return EXIT_ERROR
    say(f"audit: outcome '{outcome}' appended to {audit_path}")
    return code


def _recover(target, rec: Reconciler, results, last: dict, say) -> tuple[str, int]:
    new_revs = {m.get("rev_after") for m in last.get("members", []) if m.get("rev_after") and m.get("rev_after") != m.get("rev_before")}
    if last.get("new_rev"):
        new_revs.add(last["new_rev"])
    expected = Expected({r for r in new_revs if isinstance(r, str)})
    say("")
    say(f"1. look at every {target.noun} before changing any")
    now: dict[str, Snapshot] = {}

    def look(r) -> bool:
        try:
            target.reconnect(r.member)
            now[r.member] = snap = target.snapshot(r.member)
        except Exception as e:  # noqa: BLE001 - away: waited for below
            r.status, r.last_problem = "unknown", describe(e)[1]
            return False
        if snap.rev == r.rev_before:
            r.status, r.rev_after = "unchanged", snap.rev
            say(f"  ok    {r.member}: runs its recorded flows (rev {short(snap.rev)})")
        elif expected.is_new(target, snap):
            r.status, r.rev_after = "rollback-failed", snap.rev
            say(f"  new   {r.member}: runs the new flows (rev {short(snap.rev)}): to roll back")
        else:
            r.status, r.rev_after = "conflict", snap.rev
            say(f"  FAIL  {r.member}: runs rev {short(snap.rev)}, neither its recorded rev {short(r.rev_before)} "
                "nor the new flows")
        return True

    away = [r for r in results if not look(r)]
    for r in away:
        say(f"  ...   {r.member}: away ({r.last_problem})")
    # the away ones are seen before anything changes: one may run someone else's flows, or be
    # the only one that runs the recorded flows to copy
    still_away = rec.retry(away, look, "before changing any")
    if rec.stopped:
        say("result: NOT RECOVERED: stopped (SIGTERM) before anything was changed")
        return "rollback-failed", EXIT_FAIL
    if any(r.status == "conflict" for r in results):
        for r in results:
            if r.status == "conflict":
                r.detail = "runs flows that are neither its recorded nor the new ones: someone else deployed since"
        say("result: NOT RECOVERED: someone else has deployed since; nothing was changed (deploy again, "
            "or fix by hand)")
        return "recover-refused", EXIT_FAIL
    if not any(r.status in UNSETTLED for r in results):
        say(f"result: RECOVERED: every {target.noun} already runs its recorded flows; nothing was changed")
        return "recovered", EXIT_OK
    if still_away:  # waited for already: the others are put back, these stay unknown
        say(f"  still away: {', '.join(r.member for r in still_away)}; the others are put back")
    to_do = [r for r in results if r.status == "rollback-failed"]
    before = _recorded_flows(target, results, now)
    missing = [r for r in to_do if r.member not in before]
    for r in missing:
        r.detail = f"no {target.noun} runs its recorded flows (rev {short(r.rev_before)}) to copy them from"
        say(f"  FAIL  {r.member}: {r.detail}")
    to_do = [r for r in to_do if r.member in before]
    if to_do:
        say("")
        say(f"2. put back every {target.noun} not on its recorded flows")
        left = [r for r in to_do if not rec.settle(r, before[r.member], expected)]
        if left:
            rec.wait_for(left, before, expected)
    bad = [r for r in results if r.status in UNSETTLED]
    say("")
    if bad:
        say(f"result: NOT RECOVERED: {', '.join(r.member for r in bad)} may still run the NEW flows; "
            "run --recover again once they are back, or fix by hand")
        return "rollback-failed", EXIT_FAIL
    say(f"result: RECOVERED: every {target.noun} runs its recorded flows")
    return "recovered", EXIT_OK


def _recorded_flows(target, results, now: dict[str, Snapshot]) -> dict[str, Snapshot]:
    """For each member, its recorded state as a rollback copy: the flows of a member that
    reports the recorded rev now (the rev is a hash of the flows, so they are the same)."""
    by_rev = {s.rev: s for s in now.values() if s.flows is not None}
    out = {}
    for r in results:
        src = by_rev.get(r.rev_before)
        if src is not None:
            out[r.member] = Snapshot(r.member, r.rev_before, src.flows)
    return out


def last_record(path: str, target_name: str) -> dict | None:
    """The last record of a real deploy (or recovery) of the target in the audit log."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        raise RecoverError(f"audit log {path}: not found (name it with --audit-log)") from None
    except OSError as e:
        raise RecoverError(f"audit log {path}: cannot be read: {e.strerror or e}") from None
    for n in range(len(lines), 0, -1):
        line = lines[n - 1].strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise RecoverError(f"audit log {path}: line {n} is not a JSON record") from None
        if isinstance(rec, dict) and rec.get("target") == target_name and not rec.get("dry_run"):
            return rec
    return None


def _recorded_members(rec: dict, members: list[str]) -> dict[str, dict]:
    listed = {m.get("member"): m for m in rec.get("members") or [] if isinstance(m, dict)}
    if set(listed) != set(members):
        raise RecoverError("the target's members differ from those in the audit record "
                           f"({', '.join(sorted(map(str, listed)))}): recover by hand, or restore the targets file")
    for m in members:
        if not isinstance(listed[m].get("rev_before"), str):
            raise RecoverError(f"the audit record has no recorded rev for {m}: nothing to recover it to")
    return listed
