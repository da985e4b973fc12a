"""Real components for the integration tests: a Mosquitto broker, two Node-RED replicas and an
nginx round-robin load balancer, each started as this test process's own child on loopback
ports picked free at run time.

Standard library + httpx only. Every wait polls against a deadline: on an overloaded machine
fixed sleeps overshoot badly and start-up times vary from 25 s to 90 s for Node-RED.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_RED_VERSION = "4.1.15"
NODE_RED_DIR = REPO_ROOT / ".cache" / "node-red" / "node_modules" / "node-red"
INSTALL_HINT = "run `bash scripts/install-deps` (installs mosquitto, nginx-light, node-red@4.1.15)"

READY_TIMEOUT = 300.0  # Node-RED start-up is 25-90 s on a loaded 2-core machine
HOST = "127.0.0.1"


class ComponentMissing(RuntimeError):
    """A real component is not installed: the fixture fails (never skips) with this message."""


class ComponentFailed(RuntimeError):
    """A component did not start or become ready in time; the message carries its log tail."""


# ---------------------------------------------------------------- processes and ports


def find_exe(name: str) -> str:
    # /usr/sbin is not on every user's PATH, and Debian puts mosquitto and nginx there.
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    if not path:
        raise ComponentMissing(f"`{name}` not found: {INSTALL_HINT}")
    return path


def _die_with_parent() -> None:
    # If pytest is killed, its children get SIGTERM instead of holding ports forever.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(cmd: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    log = open(log_path, "ab")  # append: a restarted replica keeps its earlier log
    try:
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, preexec_fn=_die_with_parent,
        )
    finally:
        log.close()  # the child holds its own copy of the descriptor


def stop_process(proc: subprocess.Popen | None, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL; always reaps so the port is free before anyone reuses it."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_taken: set[int] = set()


def free_port() -> int:
    """A free loopback port BELOW the ephemeral range, so that the many outgoing client
    sockets of a test run can never grab the port of a replica that is being restarted."""
    high = min(_ephemeral_low(), 65536)
    for _ in range(200):
        port = random.randrange(20000, max(20001, high))
        if port in _taken:
            continue
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        _taken.add(port)
        return port
    with socket.socket() as s:  # fall back to an ephemeral port
        s.bind((HOST, 0))
        return s.getsockname()[1]


def log_tail(path: Path, n: int = 40) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:])


def wait_until(pred, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_http(url: str, status: int, timeout: float, what: str, proc: subprocess.Popen | None = None,
              log_path: Path | None = None, interval: float = 0.2) -> None:
    """GET `url` until it answers `status`; with `proc`, fail at once (with its log) if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None:
            assert proc.poll() is None, f"{what}: exited:\n{log_tail(log_path) if log_path else ''}"
        try:
            if httpx.get(url, timeout=5, trust_env=False).status_code == status:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, (
            f"{what}: {url} did not answer {status} within {timeout}s" + (f":\n{log_tail(log_path)}" if log_path else "")
        )
        time.sleep(interval)


def wait_port(port: int, proc: subprocess.Popen, log_path: Path, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise ComponentFailed(f"{what} exited with {proc.returncode}:\n{log_tail(log_path)}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ComponentFailed(f"{what} not listening on {port} after {timeout}s:\n{log_tail(log_path)}")
        time.sleep(0.1)


def _user_directive() -> str:
    # Run as root, mosquitto and nginx would drop to an unprivileged user that cannot enter
    # pytest's 0700 tmp dirs; keep them as root (the directive is ignored when not root).
    return "root" if os.geteuid() == 0 else ""


# ---------------------------------------------------------------- mosquitto


class Mosquitto:
    def __init__(self, workdir: Path):
        self.exe = find_exe("mosquitto")
        self.workdir = workdir
        self.host = HOST
        self.port = free_port()
        self.conf_path = workdir / "mosquitto.conf"
        self.log_path = workdir / "mosquitto.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Mosquitto":
        user = _user_directive()
        self.conf_path.write_text(
            (f"user {user}\n" if user else "")
            + f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            # stderr, not a file (a root-owned dir is unwritable after the privilege drop)
            # and not stdout (block-buffered when redirected)
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            "log_type subscribe\n"
            "connection_messages true\n"
            "log_timestamp true\n"
        )
        self.proc = spawn([self.exe, "-c", str(self.conf_path)], self.log_path)
        wait_port(self.port, self.proc, self.log_path, timeout, "mosquitto")
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc)


# ---------------------------------------------------------------- Node-RED replicas

SETTINGS_TEMPLATE = """// generated by tests/integration/cluster.py for replica {index}
module.exports = {{
    uiHost: "127.0.0.1",
    uiPort: {port},
    flowFile: 'flows.json',
    // the SAME secret on every replica, as HA needs, so encrypted credentials move freely
    credentialSecret: {secret},
    disableEditor: true,            // as FlowFuse HA does; the Admin API stays up
    runtimeState: {{ enabled: true, ui: false }},   // POST /flows/state for the deploy gate
    telemetry: {{ enabled: false, updateNotification: false }},
    diagnostics: {{ enabled: true, ui: false }},
    externalModules: {{ autoInstall: false, palette: {{ allowInstall: false, allowUpload: false }},
                       modules: {{ allowInstall: false }} }},
    functionExternalModules: false,
    contextStorage: {{ default: {{ module: "memory" }} }},
    mqttReconnectTime: 1000,       // 15 s in the template: far too slow for tests
    logging: {{ console: {{ level: "info", metrics: false, audit: false }} }},
    adminAuth: {{
        type: "credentials",
        users: [{{ username: {username}, password: {pwhash}, permissions: "*" }}],
        // a static bearer token valid on EVERY replica (self-hosted setups do this), so a
        // request sent through the load balancer authenticates whichever replica it reaches
        tokens: function(token) {{
            return Promise.resolve(token === {static_token} ? {{ username: {username}, permissions: "*" }} : null);
        }},
    }},
}};
"""


def bcrypt_hash(password: str) -> str:
    """bcrypt hash made by the bcryptjs that ships inside node-red's own node_modules, so
    no fixed hash can drift from the password it stands for."""
    node = find_exe("node")
    script = "process.stdout.write(require(process.argv[1]).hashSync(process.argv[2], 8))"
    bcryptjs = str(NODE_RED_DIR.parent / "bcryptjs")
    out = subprocess.run([node, "-e", script, bcryptjs, password],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0 or not out.stdout.startswith("$2"):
        raise ComponentMissing(f"cannot hash with bcryptjs ({out.stderr.strip()}): {INSTALL_HINT}")
    return out.stdout


def _js(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class NodeRedCluster:
    """N Node-RED replicas of one 'instance': separate userDirs, same secret and credentials.

    `name` tells instances apart when a test runs more than one (an HA part and a singleton):
    each process gets HACHECK_COPY=<name>-<index>, unique across the test's instances."""

    username = "admin"
    password = "hacheck-test-password"  # test-only; hashed at start-up with node-red's bcryptjs
    credential_secret = "hacheck-integration-credential-secret"
    static_token = "hacheck-static-test-token"

    def __init__(self, workdir: Path, replicas: int = 2, name: str = "nodered-replica"):
        self.node = find_exe("node")
        self.name = name
        pkg = NODE_RED_DIR / "package.json"
        if not (NODE_RED_DIR / "red.js").is_file() or not pkg.is_file():
            raise ComponentMissing(f"Node-RED not installed at {NODE_RED_DIR}: {INSTALL_HINT}")
        version = json.loads(pkg.read_text()).get("version")
        if version != NODE_RED_VERSION:
            raise ComponentMissing(f"Node-RED {version} installed, {NODE_RED_VERSION} needed: {INSTALL_HINT}")
        self.workdir = workdir
        self.ports = [free_port() for _ in range(replicas)]
        self.replicas = [f"http://{HOST}:{p}" for p in self.ports]
        self.user_dirs = [workdir / f"replica{i}" for i in range(replicas)]
        self.log_paths = [workdir / f"replica{i}.log" for i in range(replicas)]
        self.procs: list[subprocess.Popen | None] = [None] * replicas
        self._tokens: dict[str, str] = {}
        self.http = httpx.Client(timeout=30.0, trust_env=False)  # never via an env proxy

    # ---- lifecycle

    def start(self, timeout: float = READY_TIMEOUT) -> "NodeRedCluster":
        pwhash = bcrypt_hash(self.password)
        for i, (port, udir) in enumerate(zip(self.ports, self.user_dirs)):
            udir.mkdir(parents=True, exist_ok=True)
            (udir / "settings.js").write_text(SETTINGS_TEMPLATE.format(
                index=i, port=port, secret=_js(self.credential_secret), username=_js(self.username),
                pwhash=_js(pwhash), static_token=_js(self.static_token)))
        for i in range(len(self.ports)):  # start all first: the slow start-ups overlap
            self._spawn(i)
        deadline = time.monotonic() + timeout
        for i in range(len(self.ports)):
            self._wait_ready(i, deadline)
        return self

    def _spawn(self, i: int) -> None:
        udir = self.user_dirs[i]
        env = dict(
            os.environ,
            HACHECK_REPLICA=str(i),  # flows can tell replicas apart: env.get()
            HOSTNAME=f"nodered-replica-{i}",  # per copy, as Kubernetes sets a pod's name
            HACHECK_COPY=f"{self.name}-{i}",  # per copy AND per instance
            HACHECK_SITE="plant-a",  # the same on every copy, like an instance setting
            HACHECK_DISK_FILE=str(udir / "disk" / "notes.txt"),  # each copy's own disk
        )
        self.procs[i] = spawn(
            [self.node, str(NODE_RED_DIR / "red.js"), "--userDir", str(udir),
             "--settings", str(udir / "settings.js")],
            self.log_paths[i], env=env)

    def _wait_ready(self, i: int, deadline: float) -> None:
        """Ready = the Admin API answers, a token can be had and the flows runtime is 'start'."""
        url, proc = self.replicas[i], self.procs[i]
        last = "no answer yet"
        while True:
            if proc is None or proc.poll() is not None:
                raise ComponentFailed(f"Node-RED replica {i} exited ({proc and proc.returncode}):\n"
                                      f"{log_tail(self.log_paths[i])}")
            try:
                r = self.http.get(f"{url}/auth/login", timeout=5)
                if r.status_code == 200:
                    r = self.http.get(f"{url}/flows/state", headers=self.auth(url), timeout=10)
                    if r.status_code == 200 and r.json().get("state") == "start":
                        return
                last = f"HTTP {r.status_code} {r.text[:200]}"
            except (httpx.HTTPError, ValueError) as e:
                last = repr(e)
            if time.monotonic() > deadline:
                raise ComponentFailed(f"Node-RED replica {i} not ready ({last}):\n{log_tail(self.log_paths[i])}")
            time.sleep(0.5)

    def stop_replica(self, i: int) -> None:
        stop_process(self.procs[i])
        self._tokens.pop(self.replicas[i], None)

    def kill_replica(self, i: int) -> None:
        """SIGKILL, as a crash or an evicted pod: no shutdown of its flows."""
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        self._tokens.pop(self.replicas[i], None)

    def start_replica(self, i: int, timeout: float = READY_TIMEOUT) -> None:
        """Restart a stopped replica on the same port and userDir (it reloads its flows.json)."""
        if self.procs[i] is not None and self.procs[i].poll() is None:
            raise RuntimeError(f"replica {i} is still running")
        self._spawn(i)
        self._wait_ready(i, time.monotonic() + timeout)

    def is_running(self, i: int) -> bool:
        return self.procs[i] is not None and self.procs[i].poll() is None

    def stop(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.terminate()  # both at once, then reap
        for p in self.procs:
            stop_process(p)
        self.http.close()

    def log_text(self, i: int) -> str:
        return self.log_paths[i].read_text(errors="replace")

    # ---- Admin API helpers

    def token(self, url: str) -> str:
        """POST /auth/token (password grant) on one replica; tokens are per replica."""
        r = self.http.post(f"{url}/auth/token", data={
            "client_id": "node-red-admin", "grant_type": "password", "scope": "*",
            "username": self.username, "password": self.password})
        r.raise_for_status()
        return r.json()["access_token"]

    def auth(self, url: str) -> dict[str, str]:
        if url not in self._tokens:
            self._tokens[url] = self.token(url)
        return {"Authorization": f"Bearer {self._tokens[url]}"}

    def get_flows(self, url: str) -> dict:
        """GET /flows, API v2: {"flows": [...], "rev": "<sha256>"}."""
        r = self.http.get(f"{url}/flows", headers={**self.auth(url), "Node-RED-API-Version": "v2"})
        r.raise_for_status()
        return r.json()

    def post_flows(self, url: str, flows: list, rev: str | None = None,
                   deployment_type: str = "full", headers: dict | None = None) -> httpx.Response:
        """POST /flows, API v2; returns the raw response (for tests of 409 and friends)."""
        body: dict = {"flows": flows}
        if rev is not None:
            body["rev"] = rev
        h = headers if headers is not None else self.auth(url)
        return self.http.post(f"{url}/flows", json=body, headers={
            **h, "Node-RED-API-Version": "v2", "Node-RED-Deployment-Type": deployment_type})

    def deploy(self, url: str, flows: list, rev: str | None = None) -> str:
        """Full deployment to ONE replica; returns the new rev. Note it returns before the
        flows are running: check readiness end to end (an HTTP or MQTT round trip)."""
        r = self.post_flows(url, flows, rev)
        if r.status_code != 200:
            raise AssertionError(f"deploy to {url} failed: HTTP {r.status_code} {r.text[:500]}")
        return r.json()["rev"]

    def deploy_all(self, flows: list) -> list[str]:
        """Deploy to every replica by its own port (through the LB only one would change)."""
        return [self.deploy(url, flows) for url in self.replicas]

    def get_context(self, url: str, path: str) -> dict:
        """GET /context/<path>, e.g. "flow/<tab>/count" -> {"msg": "10", "format": "number"};
        without a key the answer is keyed by store name first: {"default": {...}}."""
        r = self.http.get(f"{url}/context/{path}", headers=self.auth(url))
        r.raise_for_status()
        return r.json()

    def flows_state(self, url: str) -> str:
        r = self.http.get(f"{url}/flows/state", headers=self.auth(url))
        r.raise_for_status()
        return r.json()["state"]


# ---------------------------------------------------------------- nginx load balancer

NGINX_TEMPLATE = """# generated by tests/integration/cluster.py
{user}
worker_processes 1;   # one worker: round-robin then strictly alternates
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format lb '$remote_addr "$request" $status upstream=$upstream_addr';
    access_log {dir}/access.log lb;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream nodered {{
{servers}
    }}
    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://nodered;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""


class NginxLB:
    """Plain round-robin over the replicas, like a ClusterIP Service without session affinity."""

    def __init__(self, workdir: Path, upstream_ports: list[int]):
        self.exe = find_exe("nginx")
        self.workdir = workdir
        self.host = HOST
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.upstream_ports = upstream_ports
        self.conf_path = workdir / "nginx.conf"
        self.log_path = workdir / "nginx.stderr.log"
        self.access_log_path = workdir / "access.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "NginxLB":
        user = _user_directive()
        # max_fails=0: a refused connection still falls through to the next replica, but no
        # replica is ever benched for fail_timeout, so round-robin stays strict after a restart
        servers = "\n".join(f"        server {HOST}:{p} max_fails=0;" for p in self.upstream_ports)
        self.conf_path.write_text(NGINX_TEMPLATE.format(
            user=f"user {user};" if user else "", dir=self.workdir, servers=servers,
            host=HOST, port=self.port))
        # -e: the error log used before the config is read (else /var/log/nginx, root-only)
        self.proc = spawn([self.exe, "-p", str(self.workdir), "-c", str(self.conf_path),
                           "-e", str(self.workdir / "error.log"), "-g", "daemon off;"],
                          self.log_path)
        wait_port(self.port, self.proc, self.log_path, timeout, "nginx")
        return self

    def access_log(self) -> str:
        return self.access_log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc)
