"""Target kind `flowfuse`: a DevOps pipeline stage deploying to an HA instance on FlowFuse.

On FlowFuse the replicas' Admin APIs are not reachable from outside; the platform itself
restarts the replicas one at a time after importing a snapshot. So the one member here is the
instance, and its "rev" is the id of the snapshot it runs. Routes used (FlowFuse
`forge/ee/routes/pipeline/index.js`, `forge/routes/api/project*.js`; ../shared/NODE-RED.md
section 3), all with `Authorization: Bearer <personal access token>`:

- `GET  /api/v1/projects/:instanceId` -> instance with `meta: {state, isDeploying}`
- `GET  /api/v1/projects/:instanceId/snapshots` -> `{count, snapshots: [...]}`, newest first
- `POST /api/v1/projects/:instanceId/snapshots` `{name, description}` -> the new snapshot
- `PUT  /api/v1/pipelines/:pipelineId/stages/:stageId/deploy` `{sourceSnapshotId?}` ->
  `{status: "importing"}`; the import finishes asynchronously and first creates a new snapshot
  on the target instance, then restarts it
- `POST /api/v1/projects/:instanceId/actions/rollback` `{snapshot}` -> `{status: "okay"}`

The rollback point is a snapshot taken right before the deploy, not the newest existing one:
after a rollback (which creates no snapshot) the newest snapshot is the one rolled away from.

Tested against tests/deploy/flowfuse_contract_double.py (a stand-in for those routes), not
against a running FlowFuse platform.
"""

from __future__ import annotations

import os
import time

import httpx

from hacheck.deploy.base import ConfigurationError, Payload, Snapshot, StepFailed, Target, short
from hacheck.deploy.retrying_http import RetryingHttp, tls_verify

DEFAULT_VERIFY_TIMEOUT = 600.0  # an import plus a rolling restart of two pods
DEFAULT_POLL = 5.0
# meta.state values that will not turn into "running" by waiting
FAILED_STATES = {"crashed", "stopped", "suspended", "error"}
# states a rollback leaves an instance in that actions/start brings back to running
_START_AGAIN = {"crashed", "stopped", "suspended"}


class FlowFuseTarget(Target):
    kind = "flowfuse"
    noun = "instance"

    def __init__(self, spec, env=None, *, sleep=time.sleep, clock=time.monotonic, transport=None):
        super().__init__(spec.name)
        env = os.environ if env is None else env
        s = spec.settings
        self.base = s["url"].rstrip("/")
        self.pipeline, self.stage, self.instance = s["pipeline"], s["stage"], s["instance"]
        self.token_env = s["token_env"]
        self.token = env.get(self.token_env)
        if not self.token:
            raise ConfigurationError(f"environment variable {self.token_env} (named by token_env of target '{spec.name}' "
                                     f"in {spec.file}) is not set or empty")
        self.source_snapshot = s.get("source_snapshot")
        verify = s.get("verify") or {}
        self.verify_timeout = float(verify.get("timeout", DEFAULT_VERIFY_TIMEOUT))
        self.poll = float(verify.get("poll_interval", DEFAULT_POLL))
        self.sleep, self.clock = sleep, clock
        ca_file = spec.path(s["ca_file"]) if s.get("ca_file") else None
        self.http = RetryingHttp(timeout=float(s.get("timeout", 30)), retries=int(s.get("retries", 3)),
                                 backoff=float(s.get("backoff", 0.5)), verify=tls_verify(s.get("verify_tls", True), ca_file),
                                 sleep=sleep, transport=transport)

    # ---------------------------------------------------------------- interface

    def members(self) -> list[str]:
        return [f"instance {self.instance}"]

    def preflight(self, member: str, payload: Payload) -> Snapshot:
        snap = self.snapshot(member)
        state, deploying = snap.extra["state"], snap.extra["deploying"]
        if deploying or state != "running":
            raise StepFailed("not-started", f"the instance is '{state}'{' and deploying' if deploying else ''}, "
                                            "not running idle: try again when it is")
        if self._source_snapshot(payload) is None:
            snap.notes.append("no source snapshot id (FLOWS is not a FlowFuse snapshot export with an id, and the "
                              "target has no source_snapshot): the stage's own action picks what is deployed")
        return snap

    def snapshot(self, member: str) -> Snapshot:
        project = self._get(f"/api/v1/projects/{self.instance}", "reading the instance")
        meta = project.get("meta") if isinstance(project.get("meta"), dict) else {}
        ids = self._snapshot_ids()
        return Snapshot(member, ids[0] if ids else None, None,
                        extra={"state": meta.get("state", "unknown"), "deploying": bool(meta.get("isDeploying")),
                               "snapshot_ids": ids})

    def deploy(self, member: str, payload: Payload, before: Snapshot) -> str:
        # The pipeline route has no precondition like Node-RED's rev: look again right before,
        # which narrows the window in which someone else's deploy would go unnoticed.
        now = self._snapshot_ids()
        if (now[0] if now else None) != before.rev:
            raise StepFailed("conflict", f"the instance's newest snapshot changed after pre-flight "
                                         f"({short(before.rev)} -> {short(now[0] if now else None)}): someone else deployed",
                             applied=False)
        # the rollback point: exactly what runs now (flows, credentials, settings)
        made = self._post(f"/api/v1/projects/{self.instance}/snapshots",
                          {"name": f"hacheck: before deploy {payload.sha256[:12]}",
                           "description": f"taken by hacheck deploy before deploying {os.path.basename(payload.path)}"},
                          "taking the rollback snapshot", applied=False)
        if not isinstance(made.get("id"), str):
            raise StepFailed("http-error", "creating the rollback snapshot gave no snapshot id", applied=False)
        before.extra["rollback_snapshot"] = made["id"]
        body = {}
        source = self._source_snapshot(payload)
        if source:
            body["sourceSnapshotId"] = source
        r = self.http.request("PUT", self._url(f"/api/v1/pipelines/{self.pipeline}/stages/{self.stage}/deploy"),
                              json=body, headers=self._headers())
        self._fail_on_error(r, "starting the pipeline deploy", applied=r.status_code >= 500)
        # the import creates a new snapshot on the instance first; its id is the new "rev"
        known = set(before.extra.get("snapshot_ids") or []) | {made["id"]}
        deadline = self.clock() + self.verify_timeout
        while True:
            ids = self._snapshot_ids()
            fresh = [i for i in ids if i not in known]
            if fresh:
                return fresh[0]
            if self.clock() >= deadline:
                raise StepFailed("timeout", f"no new snapshot on the instance {self.verify_timeout:g}s after the deploy started")
            self.sleep(self.poll)

    def verify(self, member: str, rev: str) -> None:
        deadline = self.clock() + self.verify_timeout
        while True:
            snap = self.snapshot(member)
            state, deploying = snap.extra["state"], snap.extra["deploying"]
            if snap.rev != rev:
                problem = f"newest snapshot is {short(snap.rev)}, expected {short(rev)}"
            elif state in FAILED_STATES:
                raise StepFailed("not-started", f"the instance is '{state}' after the deploy")
            elif state == "running" and not deploying:
                return
            else:
                problem = f"the instance is '{state}'{' (deploying)' if deploying else ''}"
            if self.clock() >= deadline:
                raise StepFailed("timeout", f"not running the new snapshot after {self.verify_timeout:g}s: {problem}")
            self.sleep(self.poll)

    def rollback(self, member: str, before: Snapshot) -> str:
        point = before.extra.get("rollback_snapshot")
        if not point:
            raise StepFailed("rollback", "no rollback snapshot was taken before the deploy")
        self._post(f"/api/v1/projects/{self.instance}/actions/rollback", {"snapshot": point}, "rolling back (actions/rollback)")
        deadline = self.clock() + self.verify_timeout
        started = False
        while True:
            snap = self.snapshot(member)
            state, deploying = snap.extra["state"], snap.extra["deploying"]
            if state == "running" and not deploying:
                return point
            if state in _START_AGAIN and before.extra.get("state") == "running" and not started:
                # the platform imports the snapshot into an instance that is not running and
                # leaves it so (measured on FlowFuse 2.4.0: a suspended one stays suspended;
                # its source restarts only a running one): it ran at pre-flight, so it is
                # started again, on the old flows, as it was
                self._post(f"/api/v1/projects/{self.instance}/actions/start", {}, "starting the instance again (actions/start)")
                started = True
            elif state in FAILED_STATES and not started:
                raise StepFailed("not-started", f"the instance is '{state}' after the rollback")
            if self.clock() >= deadline:
                raise StepFailed("timeout", f"the instance is still '{state}' {self.verify_timeout:g}s after the rollback")
            self.sleep(self.poll)

    def plan(self, before: Snapshot, payload: Payload) -> str:
        source = self._source_snapshot(payload)
        what = f"snapshot {source}" if source else "the snapshot the stage's action picks"
        return (f"newest snapshot {short(before.rev)}; would take a rollback snapshot, then pipeline {self.pipeline} "
                f"stage {self.stage} would deploy {what} and the platform would restart the replicas one at a time")

    def secrets(self) -> list[str]:
        return [self.token] if self.token else []

    def close(self) -> None:
        self.http.close()

    # ---------------------------------------------------------------- helpers

    def _source_snapshot(self, payload: Payload) -> str | None:
        return self.source_snapshot or payload.snapshot_id

    def _url(self, path: str) -> str:
        return f"{self.base}{path}"

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    def _get(self, path: str, doing: str) -> dict:
        r = self.http.request("GET", self._url(path), headers=self._headers())
        self._fail_on_error(r, doing)
        try:
            body = r.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise StepFailed("http-error", f"{doing}: GET {path} did not answer a JSON object")
        return body

    def _post(self, path: str, body: dict, doing: str, applied: bool = True) -> dict:
        r = self.http.request("POST", self._url(path), json=body, headers=self._headers())
        self._fail_on_error(r, doing, applied=applied and r.status_code >= 500)
        try:
            answer = r.json()
        except ValueError:
            answer = None
        return answer if isinstance(answer, dict) else {}

    def _snapshot_ids(self) -> list[str]:
        body = self._get(f"/api/v1/projects/{self.instance}/snapshots", "listing the instance's snapshots")
        snaps = body.get("snapshots")
        if not isinstance(snaps, list):
            raise StepFailed("http-error", "the snapshot list has no 'snapshots' array")
        return [s["id"] for s in snaps if isinstance(s, dict) and isinstance(s.get("id"), str)]

    def _fail_on_error(self, r: httpx.Response, doing: str, applied: bool = False) -> None:
        if r.status_code < 400:
            return
        try:
            body = r.json()
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        detail = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else ""
        text = f"{doing}: HTTP {r.status_code}" + (f" {code}" if code else "") + (f": {detail[:200]}" if detail else "")
        if r.status_code == 401:
            raise StepFailed("auth", f"{text} (the personal access token in ${self.token_env} was rejected)", applied=False)
        if r.status_code == 403:
            raise StepFailed("auth", f"{text} (deploying a pipeline stage needs the Owner role)", applied=False)
        if r.status_code == 404:
            raise StepFailed("rejected", f"{text} (check the pipeline, stage and instance ids)", applied=False)
        raise StepFailed("http-error" if r.status_code >= 500 else "rejected", text, applied=applied)
