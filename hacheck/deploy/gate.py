"""`hacheck deploy`: check, pre-flight, deploy member by member with verification, roll back on
any failure, audit. The promise: the target ends fully on the new flows or fully on the old.

1. Check the flows with the project's configuration; a failing check changes nothing.
2. Pre-flight EVERY member before changing ANY: reachable, authenticated, started, able to run
   the flows; record each one's current state (the rollback copy).
3. Deploy one member, verify it, then the next. Any failure (down, timeout, 409 conflict, not
   healthy, interrupted, even a bug here) rolls back every member already changed.
4. Append an audit record, whatever happened.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

from hacheck.deploy import audit
from hacheck.deploy.base import (ConfigurationError, Interrupted, Payload, Snapshot, StepFailed, Target, describe as _describe,
                                 on_sigterm, short)
from hacheck.deploy.reconcile import DEFAULT_RECOVER_TIMEOUT, UNSETTLED, Expected, Reconciler
from hacheck.deploy.redact import Redactor, credential_values
from hacheck.deploy.targets_file import DEFAULT_TARGETS_FILE, TargetsError, TargetSpec, load_targets

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2

# TEST SEAM: when this environment variable names a directory, the gate stops at each seam
# point named in TEST_SEAM_POINTS_ENV (comma-separated), creates `<dir>/<point>.reached` and
# waits for `<dir>/<point>.continue`. The integration tests use it to kill a replica, or
# change its flows, at an exact moment. Inert when unset; it can only make a deploy wait,
# never skip a step. Points: after-preflight, after-deploy-<i> (member i took the flows, not
# yet verified), after-member-<i> (member i verified).
TEST_SEAM_ENV = "HACHECK_TEST_SEAM_DIR"
TEST_SEAM_POINTS_ENV = "HACHECK_TEST_SEAM_POINTS"
TEST_SEAM_WAIT = 300.0


@dataclass
class MemberResult:
    member: str
    rev_before: str | None = None
    rev_after: str | None = None
    status: str = "not contacted"
    detail: str = ""
    last_problem: str = ""  # why it could not be reached, while waiting for it (not recorded)

    def record(self) -> dict:
        out = {"member": self.member, "rev_before": self.rev_before, "rev_after": self.rev_after, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        return out


class Console:
    """Everything printed goes through the redactor."""

    def __init__(self, out, err, redact: Redactor):
        self.out, self.err, self.redact = out, err, redact

    def say(self, text: str = "") -> None:
        self.out.write(self.redact(text) + "\n")
        self.out.flush()

    def error(self, text: str) -> None:
        self.err.write(self.redact(f"hacheck: error: {text}") + "\n")
        self.err.flush()


def run(flows_path: str, target_name: str, targets_path: str | None = None, *, dry_run: bool = False,
        audit_log: str | None = None, fail_on: str | None = None, config_file: str | None = None, out=None, err=None,
        make_target=None, seam=None, clock=None, sleep=None) -> int:
    """The whole command; returns the exit code. `make_target(spec)`, `seam(point)`, `clock`
    and `sleep` are for tests (a target double, a pause point, time for waiting on members that
    are away); the CLI passes none."""
    con = Console(out or sys.stdout, err or sys.stderr, Redactor())
    targets_path = targets_path or DEFAULT_TARGETS_FILE
    try:
        targets = load_targets(targets_path)
        spec = targets.target(target_name)
    except TargetsError as e:
        con.error(str(e))
        return EXIT_ERROR
    try:
        data = _read_flows(flows_path)
    except OSError as e:
        con.error(f"{flows_path}: cannot be read: {e.strerror or e}")
        return EXIT_ERROR
    sha = hashlib.sha256(data).hexdigest()
    try:
        target = (make_target or build_target)(spec)
    except ConfigurationError as e:
        con.error(str(e))
        return EXIT_ERROR
    con.redact.watch(target.secrets)
    audit_path = audit_log or _audit_path(spec, targets.audit_log)
    try:
        audit.ensure_writable(audit_path)
    except audit.AuditError as e:
        target.close()
        con.error(str(e))
        return EXIT_ERROR
    record = audit.base_record(target, flows_path, sha, dry_run)
    try:
        gate = _Gate(target, con, seam or _env_seam, recover_timeout(spec), clock=clock, sleep=sleep)
        outcome, code = gate.run(flows_path, data, sha, fail_on, config_file, dry_run, record)
        record["members"] = [r.record() for r in gate.results]
        if gate.new_rev:
            record["new_rev"] = gate.new_rev  # what `deploy --recover` may find and undo
    except _UsageProblem as e:
        con.error(str(e))
        return EXIT_ERROR
    finally:
        target.close()
    record["outcome"] = outcome
    try:
        audit.append(audit_path, record, con.redact)
    except audit.AuditError as e:
        con.error(f"{e} (outcome was: {outcome})")
        return EXIT_ERROR
    con.say(f"audit: outcome '{outcome}' appended to {audit_path}")
    return code


def build_target(spec: TargetSpec) -> Target:
    from hacheck.deploy import KINDS

    return KINDS[spec.kind](spec)


class _UsageProblem(Exception):
    """Configuration or rules cannot be loaded: exit 2, nothing recorded."""


def recover_timeout(spec: TargetSpec) -> float:
    return float(spec.settings.get("recover_timeout", DEFAULT_RECOVER_TIMEOUT))


class _Gate:
    def __init__(self, target: Target, con: Console, seam, recover_timeout: float = 0.0, *, clock=None, sleep=None):
        self.t, self.con, self.seam = target, con, seam
        self.new_rev: str | None = None  # what a member reports once it runs the new flows
        self.reconciler = Reconciler(target, con.say, recover_timeout, clock=clock or time.monotonic, sleep=sleep or time.sleep)
        self.noun = target.noun
        self.results: list[MemberResult] = [MemberResult(m) for m in target.members()]

    # ------------------------------------------------------------------ the steps

    def run(self, flows_path: str, data: bytes, sha: str, fail_on, config_file, dry_run: bool, record: dict) -> tuple[str, int]:
        t, say = self.t, self.con.say
        n = len(self.results)
        say(f"hacheck deploy: {flows_path} (sha256 {sha[:12]}) -> target '{t.name}' "
            f"({t.kind}, {n} {t.noun}{'' if n == 1 else 's'}){' [dry run]' if dry_run else ''}")
        say("")
        say("1. check")
        result, flow = self._check(flows_path, data, fail_on, config_file)
        record["check"] = audit.check_summary(result)
        payload, problem = _payload(flows_path, sha, flow)
        if payload is not None:
            self.con.redact.add(*credential_values(payload.flows, payload.credentials))
        self._render_check(result)
        if result.failed() or problem:
            if problem:
                say(f"  {problem}")
            say("result: NOT DEPLOYED: the check failed; nothing was contacted or changed")
            return "check-failed", EXIT_FAIL

        say("")
        say(f"2. pre-flight (every {self.noun} before changing any)")
        before = self._preflight(payload)
        if before is None:
            say("result: NOT DEPLOYED: pre-flight failed; nothing was changed")
            return "preflight-failed", EXIT_FAIL
        self.seam("after-preflight")

        if dry_run:
            say("")
            say("3. would deploy (dry run: nothing changed)")
            for r in self.results:
                r.rev_after, r.status = r.rev_before, "unchanged"
                say(f"  {r.member}: {self.t.plan(before[r.member], payload)}")
            say("result: dry run passed: check and pre-flight OK")
            return "dry-run", EXIT_OK

        if all(self.t.unchanged(before[r.member], payload) for r in self.results):
            for r in self.results:
                r.rev_after, r.status = r.rev_before, "unchanged"
            say("")
            say(f"result: UP TO DATE: every {self.noun} already runs these flows; nothing deployed")
            return "up-to-date", EXIT_OK

        say("")
        say(f"3. deploy (one {self.noun} at a time, each verified before the next)")
        self.new_rev = self.t.expected_rev(payload)
        return self._deploy(payload, before)

    def _check(self, flows_path: str, data: bytes, fail_on, config_file):
        from hacheck.load.loader import parse_bytes
        from hacheck.run.runner import RunResult, check_one

        config, rules = project_config(flows_path, config_file, fail_on)
        # the bytes checked are the bytes deployed: the file is read once
        flow = parse_bytes(flows_path, data)
        return RunResult([check_one(flow, rules, config)], rules, config), flow

    def _render_check(self, result) -> None:
        from hacheck.reporters import text

        buf = StringIO()
        text.render(result, buf, color=False)
        for line in buf.getvalue().rstrip("\n").splitlines():
            self.con.say(f"  {line}" if line else "")

    def _preflight(self, payload: Payload) -> dict[str, Snapshot] | None:
        before: dict[str, Snapshot] = {}
        ok = True
        for r in self.results:
            try:
                snap = self.t.preflight(r.member, payload)
            except Exception as e:  # noqa: BLE001 - nothing has changed yet: any failure just stops here
                ok = False
                r.status, r.detail = "preflight-failed", _describe(e)[1]
                self.con.say(f"  FAIL  {r.member}: {r.detail}")
                continue
            before[r.member] = snap
            r.rev_before, r.status = snap.rev, "ready"
            notes = f" ({'; '.join(snap.notes)})" if snap.notes else ""
            self.con.say(f"  ok    {r.member}: rev {short(snap.rev)}{notes}")
        if not ok:
            for r in self.results:
                if r.status == "ready":
                    r.rev_after, r.status = r.rev_before, "unchanged"
            return None
        return before

    def _deploy(self, payload: Payload, before: dict[str, Snapshot]) -> tuple[str, int]:
        say = self.con.say
        changed: list[MemberResult] = []
        failed: MemberResult | None = None
        error: BaseException | None = None
        with on_sigterm(_raise_interrupted):
            try:
                for i, r in enumerate(self.results):
                    failed, error = r, None
                    r.status = "deploying"
                    r.rev_after = self.t.deploy(r.member, payload, before[r.member])
                    if not i:
                        self.new_rev = r.rev_after  # as the member says, over any prediction
                    r.status = "deployed"
                    changed.append(r)
                    self.seam(f"after-deploy-{i}")
                    self.t.verify(r.member, r.rev_after)
                    r.status = "verified"
                    say(f"  ok    {r.member}: rev {short(r.rev_before)} -> {short(r.rev_after)}, verified")
                    self.seam(f"after-member-{i}")
                failed = None
                self._final_consistency(changed)
            except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - any failure, even a bug here, must roll back
                error = e
        if error is None:
            rev = self.results[0].rev_after if self.results else None
            for r in self.results:
                r.status = "deployed"
            say(f"result: DEPLOYED: every {self.noun} runs the new flows (rev {short(rev)})")
            return "deployed", EXIT_OK
        return self._recover(failed, error, changed, before, payload)

    def _final_consistency(self, changed: list[MemberResult]) -> None:
        """Every member still reports the rev it was given, and all the same one."""
        revs = set()
        for r in changed:
            now = self.t.snapshot(r.member)
            if now.rev != r.rev_after:
                raise StepFailed("conflict", f"{r.member} changed again during the deploy (now rev {short(now.rev)}, "
                                             f"deployed {short(r.rev_after)})")
            revs.add(now.rev)
        if len(revs) > 1:
            raise StepFailed("inconsistent", "the members report different revs for the same flows: "
                             + ", ".join(f"{r.member}={short(r.rev_after)}" for r in changed))

    def _recover(self, failed: MemberResult | None, error: BaseException, changed: list[MemberResult],
                 before: dict[str, Snapshot], payload: Payload) -> tuple[str, int]:
        say = self.con.say
        reason, message = _describe(error)
        to_restore = list(changed)
        if failed is not None and failed not in changed:
            failed.detail = message
            if reason == "conflict":
                # someone else's change: not ours to undo
                failed.status = "conflict"
                failed.rev_after = None
                say(f"  FAIL  {failed.member}: {message} (left as it is: the change is not hacheck's)")
            elif isinstance(error, StepFailed) and not error.applied:
                failed.status, failed.rev_after = "unchanged", failed.rev_before
                say(f"  FAIL  {failed.member}: {message} (not changed)")
            else:
                say(f"  FAIL  {failed.member}: {message}")
                landed = self._landed(failed)
                if landed is None:
                    failed.status = "unknown"
                    say(f"        {failed.member}: cannot tell whether the deploy landed (unreachable)")
                elif landed:
                    to_restore.append(failed)
                else:
                    failed.status, failed.rev_after = "unchanged", failed.rev_before
        elif failed is not None:
            failed.detail = message
            say(f"  FAIL  {failed.member}: {message}")
        else:
            say(f"  FAIL  {message}")

        say("")
        say(f"rollback (every {self.noun} already changed, last changed first)" if to_restore else "rollback: nothing was changed")
        # SIGTERM is ignored during the rollback: stopping half way would leave the target
        # mixed (the outcome is a failure anyway; a CI runner's final SIGKILL cannot be caught)
        with on_sigterm(signal.SIG_IGN):
            for r in reversed(to_restore):
                try:
                    rev = self.t.rollback(r.member, before[r.member])
                except Exception as e:  # noqa: BLE001 - try every member, whatever failed on one
                    r.last_problem = _describe(e)[1]
                    r.status = "rollback-failed"
                    r.detail = (r.detail + "; " if r.detail else "") + f"rollback failed: {r.last_problem}"
                    say(f"  FAIL  {r.member}: ROLLBACK FAILED: {r.last_problem}")
                    continue
                r.status, r.rev_after = "rolled-back", rev
                same = "" if rev == r.rev_before else f" (recorded rev was {short(r.rev_before)})"
                say(f"  ok    {r.member}: rolled back to rev {short(rev)}{same}")
        for r in self.results:
            if r.status == "ready":  # never reached
                r.status, r.rev_after = "unchanged", r.rev_before
        away = [r for r in self.results if r.status in UNSETTLED]
        if away and self.reconciler.timeout > 0:
            say("")
            new_revs = {r.rev_after for r in changed if r.rev_after and r.rev_after != r.rev_before}
            self.reconciler.wait_for(away, before, Expected(new_revs, payload))
        bad = [r for r in self.results if r.status in UNSETTLED]
        say("")
        if bad:
            then = (f"once {'it is' if len(bad) == 1 else 'they are'} back, run `hacheck deploy --recover --target "
                    f"{self.t.name}`" if self.t.recoverable else "fix by hand")
            say(f"result: FAILED AND NOT RECOVERED: {', '.join(r.member for r in bad)} may run the NEW flows while others "
                f"run the old; {then} (the audit log has each {self.noun}'s rev before)")
            return "rollback-failed", EXIT_FAIL
        rolled = [r for r in self.results if r.status == "rolled-back"]
        said = (f"every {self.noun} changed was rolled back to its recorded flows" if rolled
                else f"no {self.noun} was changed")
        say(f"result: NOT DEPLOYED ({reason}): {said}")
        return "rolled-back" if rolled else "failed-unchanged", EXIT_FAIL

    def _landed(self, r: MemberResult) -> bool | None:
        """Did our deploy change this member? None when it cannot be asked."""
        try:
            now = self.t.snapshot(r.member)
        except Exception:  # noqa: BLE001 - unreachable or worse: we cannot know
            return None
        return now.rev != r.rev_before


def project_config(flows_path: str, config_file: str | None, fail_on: str | None):
    """The project's configuration exactly as `hacheck check FLOWS` finds it (searching upward
    from the flows file, or --config), with --fail-on on top; and the rule catalogue."""
    from hacheck.engine.catalog import CatalogError, load_catalog
    from hacheck.config.files import ConfigError, check_rule_refs, load_config

    try:
        config = load_config([flows_path] if flows_path != "-" else [], config_file, {"fail_on": fail_on} if fail_on else {})
        rules = load_catalog(config.rule_packs)
        check_rule_refs(config, rules)
    except (ConfigError, CatalogError) as e:
        raise _UsageProblem(str(e)) from None
    return config, rules


def _payload(path: str, sha: str, flow) -> tuple[Payload | None, str | None]:
    """The body to deploy, from the flow file the check read; or why it cannot be deployed."""
    if flow.shape == "unreadable" or flow.problems:
        return None, "the flows file cannot be deployed as it is (see the HC0xx findings above)"
    try:
        doc = json.loads(flow.text)
    except (TypeError, ValueError):
        return None, "the flows file cannot be decoded"
    credentials, snapshot_id = None, None
    if flow.shape == "array":
        flows = doc
    elif flow.shape == "admin-api-v2":
        flows, credentials = doc["flows"], doc.get("credentials")
    else:  # flowfuse-snapshot
        flows, credentials = doc["flows"]["flows"], doc["flows"].get("credentials")
        snapshot_id = doc.get("id") if isinstance(doc.get("id"), str) else None
    if not flows:
        return None, "the flows file has no nodes: deploying it would delete every flow on the target"
    if credentials is not None and not isinstance(credentials, dict):
        return None, "the top-level 'credentials' is not an object"
    return Payload(path, sha, flows, credentials, snapshot_id), None


def _read_flows(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    if os.path.isdir(path):
        raise IsADirectoryError(21, "is a directory; name one flows file")
    with open(path, "rb") as fh:
        return fh.read()


def _audit_path(spec: TargetSpec, file_default: str | None) -> str:
    """--audit-log, else the target's audit_log, else the file's, else .hacheck-deploy.log in
    the working directory. Paths in the targets file are relative to that file."""
    chosen = spec.settings.get("audit_log") or file_default
    return spec.path(chosen) if chosen else audit.DEFAULT_AUDIT_LOG


def _raise_interrupted(signum, frame):
    """During the deploy, SIGTERM (a cancelled CI job) raises Interrupted so we roll back."""
    raise Interrupted()


def _env_seam(point: str) -> None:
    """TEST SEAM (see TEST_SEAM_ENV): inert unless the variable is set."""
    d = os.environ.get(TEST_SEAM_ENV)
    if not d or point not in os.environ.get(TEST_SEAM_POINTS_ENV, "").split(","):
        return
    Path(d, f"{point}.reached").touch()
    go = Path(d, f"{point}.continue")
    deadline = time.monotonic() + TEST_SEAM_WAIT
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
