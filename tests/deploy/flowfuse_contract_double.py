"""CONTRACT DOUBLE of the FlowFuse platform API: NOT FlowFuse.

The `flowfuse` target is tested against a REAL FlowFuse 2.4.0 platform in
tests/integration/test_flowfuse_deploy.py (deploy, failing check, dry run, conflict, rollback
after a failure, bad token). This double stays for what that platform cannot be made to do by
script, or only slowly: an instance that crashes or times out while it imports (scripted
failure states), a protected instance (403 protected_instance), a `prompt` stage with and
without a source snapshot id, and the fast unit tests of the gate's error paths. Where the two
disagreed the platform won: a rollback into a suspended instance leaves it suspended (the
target starts it again), as the double now does too.

It is a small loopback http.server that implements exactly the routes the target uses, with the request and response shapes of
FlowFuse's published source (forge/ee/routes/pipeline/index.js, forge/routes/api/project.js,
projectSnapshots.js, projectActions.js, forge/db/views/*):

- GET  /api/v1/projects/:instanceId            -> {id, name, url, ..., flowLastUpdatedAt, meta: {state, isDeploying}}
- GET  /api/v1/projects/:instanceId/snapshots  -> {meta: {}, count, snapshots: [{id, name, description, createdAt, updatedAt}]}, newest first
- POST /api/v1/projects/:instanceId/snapshots {name, description} -> the snapshot view {id, name, ...}
- PUT  /api/v1/pipelines/:pipelineId/stages/:stageId/deploy {sourceSnapshotId?}
       -> 200 {status: "importing"} at once; then, asynchronously, the instance is
          meta.state "importing" / isDeploying true, a NEW snapshot appears on it, and it
          restarts into "running" (or the scripted failure state)
       -> 403 {code: "protected_instance"}, 400 {code: "invalid_source_snapshot"} (prompt
          action without a snapshot id), 404 {code: "not_found"}
- POST /api/v1/projects/:instanceId/actions/rollback {snapshot}
       -> 200 {status: "okay"} after the import (synchronous, as in FlowFuse), 400 {code: "invalid_snapshot"};
          the instance's state is left as it was (FlowFuse restarts only a running one)
- POST /api/v1/projects/:instanceId/actions/start -> 200 {status: "okay"}; the instance runs again
- any route without `Authorization: Bearer <the token>` -> 401 {code: "unauthorized", error: "unauthorized"}

What the double knows that FlowFuse does not expose: `running` (a label for the flows the
instance runs; each snapshot records the label it was taken of), so tests can assert that a
rollback really restored the flows that ran before.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.http_json import send_json

_ids = itertools.count(100)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FlowFuseContractDouble:
    def __init__(self, *, token: str, instance: str = "inst-1", pipeline: str = "pipe-1", stage: str = "stage-dev",
                 action: str = "create_snapshot", snapshots: int = 1, protected: bool = False,
                 import_seconds: float = 0.2, restart_seconds: float = 0.2, after_deploy_state: str = "running"):
        self.token, self.instance, self.pipeline, self.stage = token, instance, pipeline, stage
        self.action = action
        self.protected = protected
        self.import_seconds, self.restart_seconds = import_seconds, restart_seconds
        self.after_deploy_state = after_deploy_state  # e.g. "crashed" to script a failed deploy
        self.state, self.deploying = "running", False
        self.snapshots: list[dict] = []  # newest first, as FlowFuse lists them
        self.content: dict[str, str] = {}  # snapshot id -> label of the flows it holds
        self.running = "flows-v1"
        for _ in range(snapshots):
            self._add_snapshot("Initial snapshot", self.running)
        self.calls: list[tuple[str, str, object]] = []
        self._lock = threading.RLock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FlowFuseContractDouble":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---------------------------------------------------------------- platform behaviour

    def _add_snapshot(self, name: str, content: str) -> str:
        sid = f"snap{next(_ids)}"
        self.content[sid] = content
        self.snapshots.insert(0, {"id": sid, "name": name, "description": "", "createdAt": _now(), "updatedAt": _now(),
                                  "user": {"id": "u1", "username": "owner"}})
        return sid

    def _deploy_async(self, source: str | None) -> None:
        # Pipeline.deploySnapshotToInstance: copy the snapshot onto the target, restart it
        with self._lock:
            self.state, self.deploying = "importing", True
        time.sleep(self.import_seconds)
        with self._lock:
            self.running = f"deployed-from-{source or 'latest'}"
            self._add_snapshot(f"Deploy of {source or 'latest'}", self.running)
            self.state = "starting"
        time.sleep(self.restart_seconds)
        with self._lock:
            self.state, self.deploying = self.after_deploy_state, False

    def external_deploy(self) -> str:
        """Someone else deploys a snapshot (for the conflict test)."""
        with self._lock:
            self.running = "someone-elses-flows"
            return self._add_snapshot("Deploy by someone else", self.running)

    # ---------------------------------------------------------------- HTTP

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: object) -> None:
                send_json(self, status, body)

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    return json.loads(raw) if raw else None
                except ValueError:
                    return None

            def _route(self, method: str) -> None:
                body = self._body() if method in ("PUT", "POST") else None
                double.calls.append((method, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {double.token}":
                    return self._send(401, {"code": "unauthorized", "error": "unauthorized"})
                path = self.path.split("?")[0]
                with double._lock:
                    m = re.fullmatch(r"/api/v1/projects/([^/]+)", path)
                    if method == "GET" and m:
                        if m[1] != double.instance:
                            return self._send(404, {"code": "not_found", "error": "Not Found"})
                        return self._send(200, {
                            "id": double.instance, "name": "prod-ha", "safeName": "prod-ha",
                            "url": "https://prod-ha.example.com", "createdAt": _now(), "updatedAt": _now(),
                            "ha": {"replicas": 2}, "flowLastUpdatedAt": _now(),
                            "meta": {"state": double.state, "isDeploying": double.deploying}})
                    m = re.fullmatch(r"/api/v1/projects/([^/]+)/snapshots/?", path)
                    if method == "GET" and m:
                        if m[1] != double.instance:
                            return self._send(404, {"code": "not_found", "error": "Not Found"})
                        return self._send(200, {"meta": {}, "count": len(double.snapshots),
                                                "snapshots": [dict(s) for s in double.snapshots]})
                    if method == "POST" and m:
                        if m[1] != double.instance:
                            return self._send(404, {"code": "not_found", "error": "Not Found"})
                        # createSnapshot copies what the instance runs now
                        double._add_snapshot((body or {}).get("name") or "", double.running)
                        return self._send(200, dict(double.snapshots[0]))
                    m = re.fullmatch(r"/api/v1/pipelines/([^/]+)/stages/([^/]+)/deploy", path)
                    if method == "PUT" and m:
                        if m[1] != double.pipeline or m[2] != double.stage:
                            return self._send(404, {"code": "not_found", "error": "Not Found"})
                        if double.protected:
                            return self._send(403, {"code": "protected_instance", "error": "Only Owner can Deploy to target instance"})
                        source = (body or {}).get("sourceSnapshotId") if isinstance(body, dict) else None
                        if double.action == "prompt" and not source:
                            return self._send(400, {"code": "invalid_source_snapshot",
                                                    "error": "Source snapshot is required as deploy action is set to prompt for snapshot"})
                        threading.Thread(target=double._deploy_async, args=(source,), daemon=True).start()
                        return self._send(200, {"status": "importing"})
                    m = re.fullmatch(r"/api/v1/projects/([^/]+)/actions/rollback", path)
                    if method == "POST" and m:
                        snap = (body or {}).get("snapshot") if isinstance(body, dict) else None
                        if m[1] != double.instance:
                            return self._send(404, {"code": "not_found", "error": "Not Found"})
                        if snap not in {s["id"] for s in double.snapshots}:
                            return self._send(400, {"code": "invalid_snapshot",
                                                    "error": f"snapshot '{snap}' not found for project '{double.instance}'"})
                        double.running = double.content[snap]
                        # as FlowFuse: the import restarts the flows of a running instance only;
                        # one that is suspended or crashed stays so
                        double.deploying = False
                        return self._send(200, {"status": "okay"})
                    m = re.fullmatch(r"/api/v1/projects/([^/]+)/actions/start", path)
                    if method == "POST" and m:
                        if m[1] != double.instance:
                            return self._send(404, {"code": "not_found", "error": "Not Found"})
                        double.state = "running"
                        return self._send(200, {"status": "okay"})
                return self._send(404, {"code": "not_found", "error": "Not Found"})

            def do_GET(self):
                self._route("GET")

            def do_PUT(self):
                self._route("PUT")

            def do_POST(self):
                self._route("POST")

        return Handler
