"""A REAL FlowFuse platform (@flowfuse/flowfuse 2.4.0, SQLite, the localfs driver running
Node-RED 4.1.15 instances as local processes) on loopback, set up by script: the first admin,
a personal access token, a team, an application, a development and a production instance, and
a DevOps pipeline from one to the other, as measured by hand on this kind of machine first.

Licence: pipelines are an enterprise feature. The test reads the development licence that
ships, in a comment, inside the installed package (forge/licensing/index.js, marked
"Development-mode Only. Not for production"); forge/ee/LICENSE allows using the software for
development and testing without a subscription. Nothing of it is copied into this repository.

Teardown: the localfs driver starts each instance's launcher detached, in its own process
group; stopping the platform leaves them running. Their pids are recorded while the platform
runs, and each group is ended by that id.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from .cluster import NODE_RED_DIR, NODE_RED_VERSION, ComponentFailed, ComponentMissing, find_exe, log_tail, spawn

REPO_ROOT = Path(__file__).resolve().parents[2]
FF_DIR = REPO_ROOT / ".cache" / "flowfuse"
FF_VERSION = "2.4.0"
FORGE = FF_DIR / "node_modules" / "@flowfuse" / "flowfuse"
INSTALL_HINT = "run `bash scripts/install-deps` (installs @flowfuse/flowfuse, driver-localfs and nr-launcher 2.4.0)"
ADMIN, PASSWORD = "hxadmin", "hx-Platform-pw-4471"


def _free_block(n: int = 10) -> int:
    """A start port with n free ports from it and n free from it + 1000 (the launchers')."""
    for base in range(21000, 29000, 50):
        ok = True
        for p in [*range(base, base + n), *range(base + 1000, base + 1000 + n)]:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise ComponentFailed("no free block of ports for FlowFuse instances")


def dev_licence() -> str:
    text = (FORGE / "forge" / "licensing" / "index.js").read_text("utf-8")
    m = re.search(r"License:\s*\n\s*---\s*\n\s*(eyJ[\w.-]+)\s*\n\s*---", text)
    if not m:
        raise ComponentFailed("the development licence was not found in forge/licensing/index.js")
    return m.group(1)


class FlowFusePlatform:
    def __init__(self, workdir: Path):
        pkg = FORGE / "package.json"
        if not pkg.is_file():
            raise ComponentMissing(f"FlowFuse not installed at {FF_DIR}: {INSTALL_HINT}")
        self.node = find_exe("node")
        self.home = workdir / "flowfuse"
        self.start_port = _free_block(10)
        self.port = self.start_port + 500  # outside both blocks (instances, launchers)
        with socket.socket() as s:
            s.bind(("127.0.0.1", self.port))
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "flowfuse.log"
        self.proc: subprocess.Popen | None = None
        self.launchers: set[int] = set()
        self.http = httpx.Client(base_url=self.url, timeout=60, trust_env=False)
        self.token = ""
        self.ids: dict[str, str] = {}

    # ---- lifecycle

    def start(self, timeout: float = 120) -> "FlowFusePlatform":
        stack = self.home / "var" / "stacks" / NODE_RED_VERSION
        stack.mkdir(parents=True)
        (stack / "node_modules").symlink_to(NODE_RED_DIR.parent)
        (self.home / "app").mkdir()
        (self.home / "app" / "node_modules").symlink_to(FF_DIR / "node_modules")
        (self.home / "etc").mkdir()
        (self.home / "etc" / "flowforge.yml").write_text(
            f"host: 127.0.0.1\nport: {self.port}\nbase_url: {self.url}\napi_url: {self.url}\n"
            "db:\n  type: sqlite\n  storage: forge.db\n"
            f"driver:\n  type: localfs\n  options:\n    start_port: {self.start_port}\n"
            # a licensed platform reports telemetry whatever `enabled` says (telemetryMetrics.js):
            # its endpoint is pointed at a closed loopback port so nothing leaves the machine
            "telemetry:\n  enabled: false\n  url: http://127.0.0.1:9/ping\nemail:\n  enabled: false\nrate_limits:\n  enabled: false\n"
            f"license: {dev_licence()}\n")
        env = dict(os.environ, FLOWFORGE_HOME=str(self.home), NODE_ENV="production")
        self.proc = spawn([self.node, str(FORGE / "forge" / "app.js")], self.log_path, env=env)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ComponentFailed(f"FlowFuse exited ({self.proc.returncode}):\n{log_tail(self.log_path)}")
            try:
                if self.http.get("/setup", timeout=5).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ComponentFailed(f"FlowFuse did not answer:\n{log_tail(self.log_path)}")
            time.sleep(0.3)
        self._setup()
        self._create()
        return self

    def stop(self) -> None:
        self._record_launchers()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.launchers:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(1.0)
        self.http.close()

    def _record_launchers(self) -> None:
        if self.proc is None:
            return
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True).stdout
        self.launchers.update(int(p) for p in out.split())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def processes_left(self) -> list[str]:
        """Command lines of processes still running from this platform's home (launchers, Node-RED)."""
        out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        return [line.strip() for line in out.splitlines() if str(self.home) in line or
                any(line.strip().startswith(f"{p} ") for p in self.launchers)]

    # ---- set-up by script

    def _setup(self) -> None:
        page = self.http.get("/setup")
        m = re.search(r"SETUP_CSRF_TOKEN\s*=\s*[\"']([^\"']+)[\"']", page.text)
        if not m:
            raise ComponentFailed(f"no CSRF token on /setup (HTTP {page.status_code})")
        h = {"x-csrf-token": m.group(1)}
        for path, body in (("/setup/create-user", {"name": "HX Admin", "username": ADMIN, "password": PASSWORD, "email": "hx@example.invalid"}),
                           ("/setup/settings", {"telemetry": False}), ("/setup/finish", {})):
            r = self.http.post(path, json=body, headers=h)
            if r.status_code >= 400:
                raise ComponentFailed(f"POST {path}: HTTP {r.status_code} {r.text[:300]}")
        r = self.http.post("/account/login", json={"username": ADMIN, "password": PASSWORD})
        if r.status_code >= 400:
            raise ComponentFailed(f"login: HTTP {r.status_code} {r.text[:300]}")
        r = self.http.post("/api/v1/user/tokens", json={"name": "hacheck-tests", "scope": ""})
        if r.status_code >= 400:
            raise ComponentFailed(f"token: HTTP {r.status_code} {r.text[:300]}")
        self.token = r.json()["token"]

    def api(self, method: str, path: str, **kw) -> dict:
        r = self.http.request(method, path, headers={"Authorization": f"Bearer {self.token}"}, **kw)
        if r.status_code >= 400:
            raise ComponentFailed(f"{method} {path}: HTTP {r.status_code} {r.text[:300]}")
        return r.json() if r.content else {}

    def _first(self, path: str, key: str) -> str:
        return self.api("GET", path)[key][0]["id"]

    def _create(self) -> None:
        team = self.api("POST", "/api/v1/teams", json={"name": "HX Team", "slug": "hx-team", "type": self._first("/api/v1/team-types", "types")})
        app = self.api("POST", "/api/v1/applications", json={"name": "hx-app", "teamId": team["id"]})
        common = {"applicationId": app["id"], "projectType": self._first("/api/v1/project-types", "types"),
                  "stack": self._first("/api/v1/stacks", "stacks"), "template": self._first("/api/v1/templates", "templates")}
        for name in ("dev", "prod"):
            self.ids[name] = self.api("POST", "/api/v1/projects", json={"name": f"hx-{name}", **common})["id"]
        for name in ("dev", "prod"):
            self.wait_running(self.ids[name])
        self._record_launchers()
        pipe = self.api("POST", "/api/v1/pipelines", json={"name": "hx-pipeline", "applicationId": app["id"]})
        self.ids["pipeline"] = pipe["id"]
        dev_stage = self.api("POST", f"/api/v1/pipelines/{pipe['id']}/stages",
                             json={"name": "development", "instanceId": self.ids["dev"], "action": "create_snapshot"})
        self.ids["dev_stage"] = dev_stage["id"]
        prod_stage = self.api("POST", f"/api/v1/pipelines/{pipe['id']}/stages",
                              json={"name": "production", "instanceId": self.ids["prod"], "action": "create_snapshot", "source": dev_stage["id"]})
        self.ids["prod_stage"] = prod_stage["id"]

    def wait_running(self, project: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            p = self.api("GET", f"/api/v1/projects/{project}")
            meta = p.get("meta") or {}
            if meta.get("state") == "running" and not meta.get("isDeploying"):
                return
            if time.monotonic() > deadline:
                raise ComponentFailed(f"instance {project} not running: {meta}\n{log_tail(self.log_path)}")
            time.sleep(0.5)

    # ---- instances

    def instance_url(self, project: str) -> str:
        p = self.api("GET", f"/api/v1/projects/{project}")
        port = re.search(r":(\d+)", p["url"]).group(1)
        return f"http://127.0.0.1:{port}"

    def instance_token(self, project: str) -> str:
        """A bearer token for the instance's own Admin API: follow /auth/strategy with the
        platform's session cookie; the last URL carries access_token."""
        url = self.instance_url(project)
        r = self.http.get(f"{url}/auth/strategy", follow_redirects=True)
        m = re.search(r"access_token=([^&]+)", str(r.url))
        if not m:
            raise ComponentFailed(f"no access_token after {url}/auth/strategy (ended at {r.url})")
        from urllib.parse import unquote

        return unquote(m.group(1))

    def set_flows(self, project: str, flows: list) -> str:
        url = self.instance_url(project)
        r = httpx.post(f"{url}/flows", json={"flows": flows}, trust_env=False, timeout=60,
                       headers={"Authorization": f"Bearer {self.instance_token(project)}", "Node-RED-API-Version": "v2",
                                "Node-RED-Deployment-Type": "full"})
        if r.status_code >= 400:
            raise ComponentFailed(f"POST {url}/flows: HTTP {r.status_code} {r.text[:300]}")
        return r.json()["rev"]

    def get(self, project: str, path: str) -> httpx.Response:
        return httpx.get(f"{self.instance_url(project)}{path}", trust_env=False, timeout=30)

    def snapshots(self, project: str) -> list[str]:
        return [s["id"] for s in self.api("GET", f"/api/v1/projects/{project}/snapshots")["snapshots"]]
