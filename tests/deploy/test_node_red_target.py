"""The node-red target's protocol details, against an in-process TEST DOUBLE of one replica's
Admin API (httpx.MockTransport). The real thing is exercised by tests/integration/test_deploy_gate.py."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from hacheck.deploy.base import ConfigurationError, Payload, StepFailed
from hacheck.deploy.node_red import NodeRedTarget
from hacheck.deploy.targets_file import TargetSpec

URL = "http://replica-0:1880"
PASSWORD = "pw-unit-test-31337"
TOKEN = "tok-unit-test-abcdef"


def rev_of(flows) -> str:
    return hashlib.sha256(json.dumps(flows, separators=(",", ":")).encode()).hexdigest()


class FakeReplica:
    """TEST DOUBLE of a Node-RED 4 replica's Admin API: /auth/token, /flows (v2), /flows/state, /nodes."""

    def __init__(self, types=("inject", "debug", "http in", "http response", "change", "junction")):
        self.flows: list = [{"id": "t0", "type": "tab"}]
        self.types = list(types)
        self.state = "start"
        self.requests: list[httpx.Request] = []
        self.script: dict[str, list] = {}  # "POST /flows" -> [callable(request) -> Response|None, ...]
        self.probe_status = 200

    @property
    def rev(self) -> str:
        return rev_of(self.flows)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.method} {request.url.path}"
        if self.script.get(key):
            answer = self.script[key].pop(0)(request)
            if answer is not None:
                return answer
        if key == "POST /auth/token":
            form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
            if form.get("password") == PASSWORD:
                return httpx.Response(200, json={"access_token": "issued-" + "x" * 20, "expires_in": 604800, "token_type": "Bearer"})
            return httpx.Response(403, json={"error": "invalid_grant", "error_description": "Invalid resource owner credentials"})
        if request.url.path in ("/flows", "/flows/state", "/nodes"):
            auth = request.headers.get("Authorization", "")
            if auth not in (f"Bearer {TOKEN}", "Bearer issued-" + "x" * 20):
                return httpx.Response(401, text="Unauthorized")
        if key == "GET /flows":
            assert request.headers["Node-RED-API-Version"] == "v2"
            return httpx.Response(200, json={"flows": self.flows, "rev": self.rev})
        if key == "POST /flows":
            body = json.loads(request.content)
            if "rev" in body and body["rev"] != self.rev:
                return httpx.Response(409, json={"code": "version_mismatch", "message": "Error"})
            self.flows = [{k: v for k, v in n.items() if k != "credentials"} for n in body["flows"]]
            return httpx.Response(200, json={"rev": self.rev})
        if key == "GET /flows/state":
            return httpx.Response(200, json={"state": self.state})
        if key == "GET /nodes":
            return httpx.Response(200, json=[{"id": f"node-red/{t}", "types": [t], "enabled": True} for t in self.types])
        if key == "GET /health":
            return httpx.Response(self.probe_status, text="ok")
        return httpx.Response(404, text="Cannot " + key)


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def make(replica: FakeReplica, auth=None, env=None, **settings):
    spec = TargetSpec("prod", "node-red", {"kind": "node-red", "replicas": [URL], **({"auth": auth} if auth else {}), **settings},
                      "hacheck-targets.yaml", ".")
    clock = Clock()
    env = env if env is not None else {"NR_TOKEN": TOKEN, "NR_USER": "admin", "NR_PASS": PASSWORD}
    return NodeRedTarget(spec, env, sleep=clock.sleep, clock=clock, transport=httpx.MockTransport(replica.handle))


FLOWS = [{"id": "t1", "type": "tab"}, {"id": "n1", "type": "inject", "z": "t1", "wires": [[]]}]


def payload(flows=FLOWS, credentials=None) -> Payload:
    return Payload("flows.json", "0" * 64, flows, credentials)


def test_deploy_speaks_admin_api_v2_with_rev_and_full_deployment():
    replica = FakeReplica()
    t = make(replica, auth={"token_env": "NR_TOKEN"})
    before = t.preflight(URL, payload())
    creds = {"$": "0123456789abcdef0123456789abcdefENCRYPTED"}
    rev = t.deploy(URL, payload(credentials=creds), before)
    post = [r for r in replica.requests if r.method == "POST"][-1]
    assert post.headers["Node-RED-API-Version"] == "v2"
    assert post.headers["Node-RED-Deployment-Type"] == "full"
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    body = json.loads(post.content)
    assert body == {"flows": FLOWS, "rev": before.rev, "credentials": creds}
    assert rev == rev_of(FLOWS) == replica.rev
    t.verify(URL, rev)


def test_password_is_exchanged_for_a_token_and_a_rejection_names_the_variables_not_the_values():
    replica = FakeReplica()
    t = make(replica, auth={"username_env": "NR_USER", "password_env": "NR_PASS"})
    t.preflight(URL, payload())
    assert replica.requests[0].url.path == "/auth/token"
    assert replica.requests[1].headers["Authorization"].startswith("Bearer issued-")
    bad = make(FakeReplica(), auth={"username_env": "NR_USER", "password_env": "NR_PASS"},
               env={"NR_USER": "admin", "NR_PASS": "wrong-password-123"})
    with pytest.raises(StepFailed) as e:
        bad.preflight(URL, payload())
    assert e.value.reason == "auth"
    assert "$NR_USER/$NR_PASS" in e.value.message and "HTTP 403" in e.value.message
    assert "wrong-password-123" not in e.value.message
    assert "wrong-password-123" in bad.secrets()  # so the gate masks it anywhere it might appear


def test_missing_or_empty_environment_variable_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="NR_TOKEN .*auth.token_env"):
        make(FakeReplica(), auth={"token_env": "NR_TOKEN"}, env={})
    with pytest.raises(ConfigurationError, match="NR_PASS"):
        make(FakeReplica(), auth={"username_env": "NR_USER", "password_env": "NR_PASS"}, env={"NR_USER": "a", "NR_PASS": ""})


def test_no_auth_configured_but_required_says_so():
    t = make(FakeReplica())
    with pytest.raises(StepFailed, match="HTTP 401 unauthorized: set `auth` in the target"):
        t.preflight(URL, payload())


def test_preflight_refuses_node_types_the_replica_lacks():
    replica = FakeReplica()
    t = make(replica, auth={"token_env": "NR_TOKEN"})
    flows = FLOWS + [
        {"id": "s1", "type": "subflow", "name": "S"},
        {"id": "i1", "type": "subflow:s1", "z": "t1"},  # defined in the file: fine
        {"id": "g1", "type": "group", "z": "t1"},  # runtime-internal: fine
        {"id": "x1", "type": "node-red-contrib-nothing", "z": "t1"},
        {"id": "x2", "type": "subflow:undefined", "z": "t1"},
    ]
    with pytest.raises(StepFailed) as e:
        t.preflight(URL, payload(flows))
    assert e.value.reason == "missing-types"
    assert "node-red-contrib-nothing, subflow:undefined" in e.value.message


def test_preflight_refuses_a_stopped_runtime():
    replica = FakeReplica()
    replica.state = "stop"
    with pytest.raises(StepFailed, match="'stop', not started"):
        make(replica, auth={"token_env": "NR_TOKEN"}).preflight(URL, payload())


def test_stale_rev_is_a_conflict_that_changed_nothing():
    replica = FakeReplica()
    t = make(replica, auth={"token_env": "NR_TOKEN"})
    before = t.preflight(URL, payload())
    replica.flows = [{"id": "other", "type": "tab"}]  # someone else deploys
    with pytest.raises(StepFailed) as e:
        t.deploy(URL, payload(), before)
    assert e.value.reason == "conflict" and e.value.applied is False
    assert "409" in e.value.message
    assert replica.flows == [{"id": "other", "type": "tab"}]


def test_a_retried_post_whose_first_attempt_landed_is_not_mistaken_for_drift():
    replica = FakeReplica()
    t = make(replica, auth={"token_env": "NR_TOKEN"})
    before = t.preflight(URL, payload())

    def apply_then_fail(request):
        replica.flows = json.loads(request.content)["flows"]  # the deploy happened...
        return httpx.Response(502, text="Bad Gateway")  # ...but the answer got lost

    replica.script["POST /flows"] = [apply_then_fail]
    rev = t.deploy(URL, payload(), before)  # retry -> 409 -> the flows are ours -> success
    assert rev == rev_of(FLOWS)
    assert [r.method for r in replica.requests if r.url.path == "/flows"][-3:] == ["POST", "POST", "GET"]


def test_verify_waits_for_the_probe_and_gives_up_at_the_deadline():
    replica = FakeReplica()
    t = make(replica, auth={"token_env": "NR_TOKEN"}, verify={"timeout": 5, "probes": [{"path": "/health", "status": 200}]})
    before = t.preflight(URL, payload())
    rev = t.deploy(URL, payload(), before)
    replica.probe_status = 503
    with pytest.raises(StepFailed) as e:
        t.verify(URL, rev)
    assert e.value.reason == "not-started"
    assert "probe GET /health answered HTTP 503, expected 200" in e.value.message
    replica.probe_status = 200
    t.verify(URL, rev)


def test_verify_fails_when_the_replica_reports_another_rev():
    replica = FakeReplica()
    t = make(replica, auth={"token_env": "NR_TOKEN"}, verify={"timeout": 2})
    t.preflight(URL, payload())
    with pytest.raises(StepFailed, match="reports rev .* expected"):
        t.verify(URL, "f" * 64)


def test_rollback_forces_the_recorded_flows_without_a_rev():
    replica = FakeReplica()
    t = make(replica, auth={"token_env": "NR_TOKEN"}, verify={"probes": [{"path": "/health"}]})
    before = t.preflight(URL, payload())
    t.deploy(URL, payload(), before)
    replica.flows.append({"id": "late", "type": "tab"})  # changed again after our deploy
    replica.probe_status = 500  # the probe checks the NEW flows: not asked after a rollback
    assert t.rollback(URL, before) == before.rev
    assert "rev" not in json.loads([r for r in replica.requests if r.method == "POST"][-1].content)
    assert replica.flows == [{"id": "t0", "type": "tab"}]


def test_plan_counts_added_removed_changed_by_id_and_ignores_credentials():
    replica = FakeReplica()
    replica.flows = [{"id": "t1", "type": "tab"}, {"id": "a", "type": "inject", "z": "t1", "name": "x"},
                     {"id": "gone", "type": "debug", "z": "t1"}]
    t = make(replica, auth={"token_env": "NR_TOKEN"})
    before = t.preflight(URL, payload())
    new = [{"id": "t1", "type": "tab"}, {"id": "a", "type": "inject", "z": "t1", "name": "y"},
           {"id": "b", "type": "debug", "z": "t1", "credentials": {"k": "cred-value-zz"}}]
    line = t.plan(before, payload(new))
    assert "1 added, 1 removed, 1 changed, 1 unchanged" in line
    assert "credentials" in line and "cred-value-zz" not in line
    assert t.unchanged(before, payload(replica.flows)) is True
    assert t.unchanged(before, payload(new)) is False
