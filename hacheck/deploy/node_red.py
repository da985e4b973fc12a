"""Target kind `node-red`: each replica's own Admin API (v2), one replica at a time.

Facts this relies on (measured on Node-RED 4.1.15, see ../shared/NODE-RED.md section 7):
- `GET /flows` with `Node-RED-API-Version: v2` gives `{flows, rev}`; identical flows give the
  identical rev on every replica, and credentials are never returned.
- `POST /flows` `{flows, rev, credentials?}` with `Node-RED-Deployment-Type: full` answers
  `{rev}`, or 409 `version_mismatch` when `rev` is not the current one (someone else deployed).
- It answers BEFORE the flows run, and a flow with an unknown node type is accepted while
  `/flows/state` still says "start" (the runtime just waits for the type): so the installed
  types are compared at pre-flight and health is probed after the deploy.
"""

from __future__ import annotations

import os
import time

import httpx

from hacheck.deploy.base import ConfigurationError, Payload, Snapshot, StepFailed, Target, short
from hacheck.deploy.flowdiff import diff_flows, predict_rev, same_flows
from hacheck.deploy.retrying_http import RetryingHttp, tls_verify

API = {"Node-RED-API-Version": "v2"}
# Node types the runtime handles itself: never listed by GET /nodes
BUILTIN_TYPES = {"tab", "subflow", "group"}
DEFAULT_VERIFY_TIMEOUT = 60.0
POLL = 0.5


class NodeRedTarget(Target):
    kind = "node-red"
    noun = "replica"
    recoverable = True

    def __init__(self, spec, env=None, *, sleep=time.sleep, clock=time.monotonic, transport=None):
        super().__init__(spec.name)
        env = os.environ if env is None else env
        s = spec.settings
        self.replicas = [u.rstrip("/") for u in s["replicas"]]
        self.sleep, self.clock = sleep, clock
        auth = s.get("auth") or {}
        self.token = self.username = self.password = None
        self.auth_desc = "no auth configured"
        if "token_env" in auth:
            self.token = _env(env, auth["token_env"], spec, "auth.token_env")
            self.auth_desc = f"the token in ${auth['token_env']}"
        elif "username_env" in auth:
            self.username = _env(env, auth["username_env"], spec, "auth.username_env")
            self.password = _env(env, auth["password_env"], spec, "auth.password_env")
            self.auth_desc = f"the username/password in ${auth['username_env']}/${auth['password_env']}"
        ca_file = spec.path(s["ca_file"]) if s.get("ca_file") else None
        verify = s.get("verify") or {}
        self.verify_timeout = float(verify.get("timeout", DEFAULT_VERIFY_TIMEOUT))
        self.probes = list(verify.get("probes") or [])
        self.http = RetryingHttp(timeout=float(s.get("timeout", 30)), retries=int(s.get("retries", 3)),
                                 backoff=float(s.get("backoff", 0.5)), verify=tls_verify(s.get("verify_tls", True), ca_file),
                                 sleep=sleep, transport=transport)
        self._tokens: dict[str, str] = {}

    # ---------------------------------------------------------------- interface

    def members(self) -> list[str]:
        return list(self.replicas)

    def preflight(self, url: str, payload: Payload) -> Snapshot:
        self._login(url)
        snap = self.snapshot(url)
        state = self._state(url)
        if state is None:
            snap.notes.append("no GET /flows/state (Node-RED before 3.1): runtime state not checked")
        elif state != "start":
            raise StepFailed("not-started", f"the flows runtime is '{state}', not started: start it before deploying")
        missing = self._missing_types(url, payload, snap)
        if missing:
            raise StepFailed("missing-types", "the flows use node types this replica does not have: "
                             + ", ".join(missing) + " (install their modules on every replica first)")
        return snap

    def snapshot(self, url: str) -> Snapshot:
        r = self.http.request("GET", f"{url}/flows", headers=self._headers(url))
        self._fail_on_error(r, "reading the flows (GET /flows)")
        body = _json(r)
        if not isinstance(body, dict) or not isinstance(body.get("flows"), list) or not isinstance(body.get("rev"), str):
            raise StepFailed("http-error", "GET /flows did not answer {flows, rev}: is this a Node-RED 1.0+ Admin API?")
        return Snapshot(url, body["rev"], body["flows"])

    def deploy(self, url: str, payload: Payload, before: Snapshot) -> str:
        body: dict = {"flows": payload.flows, "rev": before.rev}
        if payload.credentials is not None:
            body["credentials"] = payload.credentials
        return self._post_flows(url, body, before, payload)

    def verify(self, url: str, rev: str, probes: bool = True) -> None:
        """Poll until the replica reports `rev`, its runtime is started and the probes pass.
        An unreachable replica fails at once (after the transport's retries)."""
        deadline = self.clock() + self.verify_timeout
        while True:
            problem = self._health(url, rev, probes)
            if problem is None:
                return
            if self.clock() >= deadline:
                raise StepFailed("not-started", f"not healthy after {self.verify_timeout:g}s: {problem}")
            self.sleep(POLL)

    def rollback(self, url: str, before: Snapshot) -> str:
        if before.flows is None:
            raise StepFailed("rollback", "no recorded flows to roll back to")
        # no rev: the rollback must win even over a change made after our deploy
        rev = self._post_flows(url, {"flows": before.flows}, None, None)
        self.verify(url, rev, probes=False)  # the probes test the NEW flows; the old may lack them
        return rev

    def plan(self, before: Snapshot, payload: Payload) -> str:
        d = diff_flows(before.flows or [], payload.flows)
        if d.empty and not _has_credentials(payload):
            return f"rev {short(before.rev)}: same flows, nothing would change"
        creds = "; credentials would be deployed" if _has_credentials(payload) else ""
        return f"rev {short(before.rev)} -> {short(predict_rev(payload.flows))} (predicted): {d}{creds}"

    def unchanged(self, before: Snapshot, payload: Payload) -> bool:
        return not _has_credentials(payload) and same_flows(before.flows or [], payload.flows)

    def runs_flows(self, now: Snapshot, payload: Payload) -> bool:
        return same_flows(now.flows or [], payload.flows)

    def expected_rev(self, payload: Payload) -> str | None:
        return predict_rev(payload.flows)

    def reconnect(self, url: str) -> None:
        if self.username:  # a static token needs no new login
            self._tokens.pop(url, None)
            self._login(url)

    def secrets(self) -> list[str]:
        return [s for s in (self.token, self.password, *self._tokens.values()) if s]

    def close(self) -> None:
        self.http.close()

    # ---------------------------------------------------------------- Admin API

    def _login(self, url: str) -> None:
        if self.token:
            self._tokens[url] = self.token
            return
        if not self.username:
            return
        r = self.http.request("POST", f"{url}/auth/token", data={
            "client_id": "node-red-admin", "grant_type": "password", "scope": "*",
            "username": self.username, "password": self.password})
        if r.status_code in (401, 403):
            raise StepFailed("auth", f"authentication failed: the replica rejected {self.auth_desc} (HTTP {r.status_code})")
        if r.status_code == 404:
            raise StepFailed("auth", "POST /auth/token not found: this replica has no adminAuth; remove `auth` from the target")
        self._fail_on_error(r, "logging in (POST /auth/token)")
        body = _json(r)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise StepFailed("auth", "POST /auth/token did not return an access token")
        self._tokens[url] = token

    def _headers(self, url: str, extra: dict | None = None) -> dict:
        h = dict(API)
        if url in self._tokens:
            h["Authorization"] = f"Bearer {self._tokens[url]}"
        if extra:
            h.update(extra)
        return h

    def _post_flows(self, url: str, body: dict, before: Snapshot | None, payload: Payload | None) -> str:
        r = self.http.request("POST", f"{url}/flows", json=body,
                              headers=self._headers(url, {"Node-RED-Deployment-Type": "full"}))
        if r.status_code == 409 and before is not None:
            # A retried POST whose first attempt did land also gets 409: our own flows are
            # then already there, which is success, not drift.
            if self.http.last_attempts > 1 and payload is not None:
                now = self.snapshot(url)
                if same_flows(now.flows or [], payload.flows):
                    return now.rev or ""
            raise StepFailed("conflict", f"HTTP 409 version_mismatch: the flows on this replica changed after pre-flight "
                             f"(rev {short(before.rev)} was recorded): someone else deployed meanwhile", applied=False)
        if r.status_code == 400:
            raise StepFailed("rejected", f"POST /flows rejected the flows (HTTP 400 {_error_text(r)})", applied=False)
        self._fail_on_error(r, "deploying (POST /flows)", applied=r.status_code >= 500)
        answer = _json(r)
        rev = answer.get("rev") if isinstance(answer, dict) else None
        if not isinstance(rev, str):
            raise StepFailed("http-error", "POST /flows did not answer {rev}")
        return rev

    def _state(self, url: str) -> str | None:
        r = self.http.request("GET", f"{url}/flows/state", headers=self._headers(url))
        if r.status_code == 404:
            return None
        self._fail_on_error(r, "reading the runtime state (GET /flows/state)")
        body = _json(r)
        return body.get("state") if isinstance(body, dict) else None

    def _missing_types(self, url: str, payload: Payload, snap: Snapshot) -> list[str]:
        r = self.http.request("GET", f"{url}/nodes", headers=self._headers(url, {"Accept": "application/json"}))
        if r.status_code in (401, 403):
            snap.notes.append("cannot list installed node types (the token lacks nodes.read): not compared")
            return []
        self._fail_on_error(r, "listing node types (GET /nodes)")
        sets = _json(r)
        if not isinstance(sets, list):
            snap.notes.append("GET /nodes gave no list: node types not compared")
            return []
        known = {t for s in sets if isinstance(s, dict) and s.get("enabled", True) for t in s.get("types") or []}
        subflows = {n.get("id") for n in payload.flows if isinstance(n, dict) and n.get("type") == "subflow"}
        missing = set()
        for n in payload.flows:
            t = n.get("type") if isinstance(n, dict) else None
            if not isinstance(t, str) or t in BUILTIN_TYPES or t in known:
                continue
            if t.startswith("subflow:") and t[len("subflow:"):] in subflows:
                continue
            missing.add(t)
        return sorted(missing)

    def _health(self, url: str, rev: str, probes: bool) -> str | None:
        """None when healthy, else what is still wrong."""
        now = self.snapshot(url)
        if now.rev != rev:
            return f"reports rev {short(now.rev)}, expected {short(rev)}"
        state = self._state(url)
        if state not in (None, "start"):
            return f"flows runtime is '{state}'"
        if probes:
            for p in self.probes:
                problem = self._probe(url, p)
                if problem:
                    return problem
        return None

    def _probe(self, url: str, probe: dict) -> str | None:
        path, want = probe["path"], int(probe.get("status", 200))
        try:
            r = self.http.client.get(f"{url}{path}")  # one try per poll: the poll loop is the retry
        except httpx.HTTPError as e:
            return f"probe GET {path}: {type(e).__name__}"
        if r.status_code != want:
            return f"probe GET {path} answered HTTP {r.status_code}, expected {want}"
        if probe.get("contains") and probe["contains"] not in r.text:
            return f"probe GET {path} answered without the expected text"
        return None

    def _fail_on_error(self, r: httpx.Response, doing: str, applied: bool = False) -> None:
        if r.status_code < 400:
            return
        if r.status_code == 401:
            how = f"{self.auth_desc} was rejected" if (self.token or self.username) else "set `auth` in the target"
            raise StepFailed("auth", f"{doing}: HTTP 401 unauthorized: {how}", applied=False)
        if r.status_code == 403:
            raise StepFailed("auth", f"{doing}: HTTP 403 forbidden: {self.auth_desc} lacks the permission", applied=False)
        raise StepFailed("http-error", f"{doing}: HTTP {r.status_code} {_error_text(r)}", applied=applied)


def _env(env, name: str, spec, key: str) -> str:
    value = env.get(name)
    if not value:
        raise ConfigurationError(f"environment variable {name} (named by {key} of target '{spec.name}' in {spec.file}) "
                                 "is not set or empty")
    return value


def _json(r: httpx.Response):
    try:
        return r.json()
    except ValueError:
        return None


def _error_text(r: httpx.Response) -> str:
    body = _json(r)
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("code", "error", "message") if isinstance(body.get(k), str)]
        if parts:
            return " ".join(parts)[:200]
    text = (r.text or "").strip().splitlines()
    return (text[0][:200] if text else r.reason_phrase) or ""


def _has_credentials(payload: Payload) -> bool:
    return payload.credentials is not None or any(isinstance(n, dict) and "credentials" in n for n in payload.flows)
