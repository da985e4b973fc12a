"""No secret ever leaves hacheck, and no flow content is ever run.

Unique secret strings are planted where Node-RED and FlowFuse keep secrets: a node's inline
`credentials` (user, password, token), the plain top-level `credentials` of an Admin API
body and of a FlowFuse snapshot, `env` entries of type cred on tabs, subflows and subflow
instances, and the environment variables the deploy gate reads (their names come from the
targets schema: every key that names an environment variable). Then every output hacheck
has is produced (every registered format of `check`, `report`, `explain`, `fix --diff`,
`baseline`, `check --baseline`, `deploy --dry-run` against an unreachable target and against
a server that echoes each request back in its error) and scanned: stdout, stderr, every
file written and the audit log.

The configuration file has no key that holds a secret (the test below keeps it that way:
a new key that sounds like one must be planted here). A deploy username is not treated as
secret (it is an account name, printed in no message but not masked either); a user in a
`credentials` block is, since the whole block is what Node-RED encrypts.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import os
import re
import subprocess
import uuid
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from hacheck import reporters
from hacheck.engine.catalog import load_catalog
from tests.conftest import REPO, run_cli
from tests.http_json import send_json, serving

_RUN = uuid.uuid4().hex[:10]


def _secret(kind: str) -> str:
    return f"hxs-{kind}-{_RUN}"


SECRETS = {
    k: _secret(k)
    for k in (
        "inline-user", "inline-password", "inline-token", "admin-user", "admin-password", "snapshot-user",
        "snapshot-password", "snapshot-env", "tab-env", "subflow-env", "instance-env", "deploy-token",
        "deploy-password", "flowfuse-token", "url-password", "url-path", "url-query",
    )
}
DEPLOY_USER = f"hx-deployer-{_RUN}"  # an account name: see the module docstring
S = SECRETS


def found_secrets(blob: bytes | str) -> list[str]:
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    # a secret may be escaped on the way out (JSON, HTML, XML): look for its distinctive core
    return sorted(k for k, v in SECRETS.items() if v in text or v.split("-", 1)[1] in text)


# --- the project ------------------------------------------------------------------------------


def _tab(tid: str, env_secret: str | None = None) -> dict:
    t = {"id": tid, "type": "tab", "label": f"Tab {tid}"}
    if env_secret:
        t["env"] = [{"name": "API_KEY", "type": "cred", "value": env_secret}, {"name": "REGION", "type": "str", "value": "eu"}]
    return t


def _broker(bid: str, z: str | None = None, creds: dict | None = None) -> dict:
    # a fixed client id (HA103) and a plain topic below (HA101): `fix` has something to change
    # right next to the credentials
    b = {"id": bid, "type": "mqtt-broker", "name": f"broker {bid}", "broker": "mqtt.internal", "port": "1883", "clientid": "fixed-id"}
    if z:
        b["z"] = z
    if creds:
        b["credentials"] = creds
    return b


def _mqtt_in(nid: str, z: str, broker: str) -> dict:
    return {"id": nid, "type": "mqtt in", "z": z, "name": "jobs", "topic": "jobs/#", "qos": "1", "broker": broker, "inputs": 0,
            "x": 100, "y": 40, "wires": [[]]}


INLINE = [
    _tab("t1", S["tab-env"]),
    {"id": "sf", "type": "subflow", "name": "Lookup", "in": [{"x": 40, "y": 40, "wires": [{"id": "sf_fn"}]}], "out": [],
     "env": [{"name": "SF_SECRET", "type": "cred", "value": S["subflow-env"]}]},
    {"id": "sf_fn", "type": "function", "z": "sf", "name": "lookup", "func": "return msg;", "x": 200, "y": 40, "wires": [[]]},
    {"id": "inst", "type": "subflow:sf", "z": "t1", "x": 300, "y": 100, "wires": [],
     "env": [{"name": "SF_SECRET", "type": "cred", "value": S["instance-env"]}]},
    _broker("b1", creds={"user": S["inline-user"], "password": S["inline-password"]}),
    _mqtt_in("m1", "t1", "b1"),
    # secrets inside URLs, which findings quote (the effect an HA101 reaches, an HA123 service),
    # next to lines that `fix` changes (a diff's context)
    {"id": "mu", "type": "mqtt in", "z": "t1", "name": "orders", "topic": "orders/#", "broker": "b1", "x": 100, "y": 300, "wires": [["u1"]]},
    {"id": "u1", "type": "http request", "z": "t1", "name": "hook", "method": "POST", "x": 300, "y": 300, "wires": [[]],
     "url": f"https://hx:{S['url-password']}@hooks.example/services/{S['url-path']}?token={S['url-query']}"},
    {"id": "tick", "type": "inject", "z": "t1", "repeat": "60", "x": 100, "y": 340, "wires": [["u2"]]},
    {"id": "u2", "type": "http request", "z": "t1", "name": "local", "method": "GET", "x": 300, "y": 340, "wires": [[]],
     "url": f"http://hx:{S['url-password']}@127.0.0.1:8080/status/{S['url-path']}"},
    {"id": "req", "type": "http request", "z": "t1", "name": "api", "method": "GET", "url": "https://api.example/v1", "authType": "bearer",
     "x": 300, "y": 200, "wires": [[]], "credentials": {"user": "", "password": S["inline-token"]}},
]
ADMIN = {"rev": "abc", "flows": [_tab("t2"), _broker("b2"), _mqtt_in("m2", "t2", "b2")],
         "credentials": {"b2": {"user": S["admin-user"], "password": S["admin-password"]}}}
SNAPSHOT = {"id": "snap-1", "name": "release", "flows": {"flows": [_tab("t3"), _broker("b3"), _mqtt_in("m3", "t3", "b3")],
                                                          "credentials": {"b3": {"user": S["snapshot-user"], "password": S["snapshot-password"]}}},
            "settings": {"settings": {}, "env": {"API_KEY": S["snapshot-env"]}}}
# the places SEC301 must report (by field name): one finding each
EXPECTED_SEC301 = 7  # b1, req, t1 env, sf env, inst env, b2 (top level), b3 (snapshot)


class Scanner:
    """Runs hacheck in a project directory and collects every byte it printed or wrote."""

    def __init__(self, root: Path):
        self.root = root
        self.outputs: dict[str, bytes] = {}
        self.cache = root / "cache"
        self.env = {
            "HACHECK_CACHE_DIR": str(self.cache), "XDG_CACHE_HOME": str(self.cache), "HOME": str(root / "home"),
            "HX_NR_TOKEN": S["deploy-token"], "HX_NR_USER": DEPLOY_USER, "HX_NR_PASSWORD": S["deploy-password"],
            "HX_FF_TOKEN": S["flowfuse-token"],
        }

    def run(self, label: str, *args: str, timeout: float = 120):
        before = self._files()
        proc = run_cli(*args, cwd=self.root / "project", env=self.env, timeout=timeout)
        assert "Traceback" not in proc.err, proc.err
        self.outputs[f"{label}: stdout"] = proc.stdout
        self.outputs[f"{label}: stderr"] = proc.stderr
        for p in sorted(self._files()):
            stamp = p.stat().st_mtime_ns
            if before.get(p) != stamp and p.is_file() and not p.name.startswith("flows"):
                self.outputs[f"{label}: {p.relative_to(self.root)}"] = p.read_bytes()
        return proc

    def _files(self) -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in self.root.rglob("*") if p.is_file()}

    def leaks(self) -> dict[str, list[str]]:
        return {where: found for where, blob in self.outputs.items() if (found := found_secrets(blob))}


@pytest.fixture
def project(tmp_path) -> Scanner:
    proj = tmp_path / "project"
    proj.mkdir()
    (tmp_path / "home").mkdir()
    # one node per line, as the editor's export and many repositories have it
    (proj / "flows_inline.json").write_text("[\n" + ",\n".join(json.dumps(n) for n in INLINE) + "\n]\n")
    (proj / "flows_admin.json").write_text(json.dumps(ADMIN, indent=2))
    (proj / "flows_snapshot.json").write_text(json.dumps(SNAPSHOT, indent=2))
    return Scanner(tmp_path)


def assert_no_leak(scanner: Scanner) -> None:
    assert scanner.outputs, "nothing was produced"
    leaks = scanner.leaks()
    assert not leaks, f"secrets printed or written: {leaks}"


# --- the secrets are seen, and never shown ------------------------------------------------------


def test_the_planted_secrets_are_found_by_sec301(project):
    """The planting is meaningful: hacheck reads every place (and reports it by field name)."""
    proc = project.run("check json", "check", ".", "-f", "json")
    assert proc.returncode == 1
    sec = [f for f in json.loads(proc.out)["findings"] if f["rule"] == "SEC301"]
    assert len(sec) == EXPECTED_SEC301, [(f["node"], f["message"]) for f in sec]
    assert_no_leak(project)


def test_findings_quote_urls_without_their_secrets(project):
    """The planting reaches the messages: HA101 names the POST it reaches, HA123 the local
    service, both by a URL that held a password, a token path segment and a token query."""
    proc = project.run("check json urls", "check", ".", "-f", "json")
    by = {(f["rule"], f["node"]): f["message"] for f in json.loads(proc.out)["findings"]}
    assert "https://***@hooks.example/services/***?token=***" in by[("HA101", "mu")]
    assert "http://***@127.0.0.1:8080/status/***" in by[("HA123", "u2")]
    assert_no_leak(project)


def test_every_check_format(project):
    args = ["check", "."]
    for fmt in sorted(reporters.REPORTERS):
        args += ["-f", fmt, "-o", f"../out/report.{fmt}"]
    (project.root / "out").mkdir()
    proc = project.run("check every format", *args, "-f", "text")
    assert proc.returncode == 1, proc.err
    assert len(list((project.root / "out").iterdir())) == len(reporters.REPORTERS)
    for fmt in sorted(reporters.REPORTERS):  # and each one on stdout
        assert project.run(f"check -f {fmt}", "check", ".", "-f", fmt).returncode == 1
    assert_no_leak(project)


def test_report_explain_baseline(project):
    assert project.run("report", "report", ".", "-o", "../report.html").returncode == 1
    assert project.run("report to stdout", "report", ".", "-o", "-").returncode == 1
    for rule in load_catalog():
        if rule.category == "security":
            assert project.run(f"explain {rule.id}", "explain", rule.id).returncode == 0
    assert project.run("baseline", "baseline", ".", "-o", "../baseline.json").returncode == 0
    assert project.run("check --baseline", "check", ".", "--baseline", "../baseline.json", "-f", "json").returncode in (0, 1)
    assert_no_leak(project)


def test_fix_diff_and_fix_check(project):
    proc = project.run("fix --diff", "fix", "--diff", ".")
    assert proc.returncode == 0 and "@@" in proc.out, proc.err
    assert project.run("fix --check", "fix", "--check", ".").returncode == 1
    assert_no_leak(project)


def test_fix_in_place(project):
    proc = project.run("fix", "fix", ".")
    assert proc.returncode == 0 and "fixed" in proc.out, proc.out + proc.err
    assert_no_leak(project)


# --- the deploy gate ------------------------------------------------------------------------------


def _env_keys(schema) -> set[str]:
    """Every property that names an environment variable, anywhere in the targets schema."""
    out: set[str] = set()
    if isinstance(schema, dict):
        for k, v in (schema.get("properties") or {}).items():
            if isinstance(v, dict) and v.get("$ref") == "#/$defs/env_name":
                out.add(k)
        for v in schema.values():
            out |= _env_keys(v)
    elif isinstance(schema, list):
        for v in schema:
            out |= _env_keys(v)
    return out


PLANTED_ENV_KEYS = {"token_env", "username_env", "password_env"}


def test_every_environment_variable_the_gate_reads_is_planted():
    from hacheck.deploy.targets_file import targets_schema

    assert _env_keys(targets_schema()) == PLANTED_ENV_KEYS, "plant a secret for the new key in this test"


class _Echo(BaseHTTPRequestHandler):
    """A server that fails every request and quotes it back: headers and body. The gate must
    mask what it sent, even when a server prints it."""

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        echo = f"bad request: {body} {dict(self.headers)}"
        send_json(self, self.status, {"code": "echo", "message": echo, "error": echo})

    do_GET = do_POST = do_PUT = do_DELETE = _serve
    status = 500

    def log_message(self, *args):
        pass


class _RejectingNodeRed(_Echo):
    """Passes pre-flight like a Node-RED replica (empty flows, no runtime state, node types
    not listable), then rejects the deploy quoting the POST /flows body back."""

    status = 400

    def do_GET(self):
        answers = {"/flows": (200, {"flows": [], "rev": "r0"}), "/flows/state": (404, {}), "/nodes": (401, {})}
        send_json(self, *answers.get(self.path.split("?")[0], (404, {})))


@pytest.fixture
def echo_server():
    with serving(_Echo) as url:
        yield url


@pytest.fixture
def rejecting_node_red():
    with serving(_RejectingNodeRed) as url:
        yield url


def _targets(unreachable: str, echo: str) -> str:
    common = "retries: 0\n    timeout: 3\n    backoff: 0"
    return f"""\
audit_log: ../audit/deploy.log
targets:
  nr-token-down:
    kind: node-red
    replicas: [{unreachable}]
    auth: {{token_env: HX_NR_TOKEN}}
    {common}
  nr-token-echo:
    kind: node-red
    replicas: [{echo}]
    auth: {{token_env: HX_NR_TOKEN}}
    {common}
  nr-password-echo:
    kind: node-red
    replicas: [{echo}]
    auth: {{username_env: HX_NR_USER, password_env: HX_NR_PASSWORD}}
    {common}
  ff-echo:
    kind: flowfuse
    url: {echo}
    pipeline: p1
    stage: s1
    instance: i1
    token_env: HX_FF_TOKEN
    {common}
"""


def _unreachable_url() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("flows", ["flows_inline.json", "flows_admin.json", "flows_snapshot.json"])
def test_deploy_dry_run(project, echo_server, flows):
    (project.root / "project" / "hacheck-targets.yaml").write_text(_targets(_unreachable_url(), echo_server))
    for target in ("nr-token-down", "nr-token-echo", "nr-password-echo", "ff-echo"):
        # the check fails (SEC301): the secrets are in the check report it prints
        proc = project.run(f"deploy {target} {flows}", "deploy", flows, "--target", target, "--dry-run")
        assert proc.returncode == 1 and "NOT DEPLOYED" in proc.out, proc.out + proc.err
        # accepted: the gate goes on to the target, with the flows' credentials in hand
        proc = project.run(f"deploy {target} {flows} fail-on never", "deploy", flows, "--target", target, "--dry-run", "--fail-on", "never")
        assert proc.returncode == 1 and "pre-flight failed" in proc.out, proc.out + proc.err
    log = (project.root / "audit" / "deploy.log").read_text().splitlines()
    assert len(log) == 8 and all(json.loads(line)["dry_run"] is True for line in log)
    assert_no_leak(project)


def test_deploy_to_a_server_that_quotes_the_flows_back(project, rejecting_node_red):
    (project.root / "project" / "hacheck-targets.yaml").write_text(_targets(_unreachable_url(), rejecting_node_red))
    proc = project.run("deploy for real", "deploy", "flows_inline.json", "--target", "nr-token-echo", "--fail-on", "never")
    assert proc.returncode == 1 and "POST /flows rejected" in proc.out, proc.out + proc.err
    assert_no_leak(project)


# --- message templates ----------------------------------------------------------------------------


def test_a_rule_pack_template_cannot_print_credentials_or_cred_env(project):
    """`{f[field]}` gives a rule's message any node field: never `credentials`, and an env
    entry of type cred keeps its name but not its value."""
    pack = project.root / "pack"
    pack.mkdir()
    (pack / "ACME900-field-probe.yaml").write_text("""\
id: ACME900
name: field-probe
severity: warning
category: custom
status: stable
message: "env={f[env]} creds={f[credentials]} first={f[env][0]}"
match:
  type: [tab, mqtt-broker, http request, subflow, "subflow:*"]
  running: false
fix: {available: false}
docs:
  what: Prints fields.
  why: To probe the message templates.
  example: '[{"id": "t", "type": "tab"}]'
  example_ok: '[{"id": "t", "type": "comment"}]'
  use_instead: Nothing.
""")
    proc = project.run("rule pack", "check", ".", "--rules", "../pack", "-f", "json")
    probes = [f["message"] for f in json.loads(proc.out)["findings"] if f["rule"] == "ACME900"]
    assert any("'name': 'API_KEY', 'type': 'cred', 'value': '***'" in m for m in probes), probes
    assert any("'name': 'REGION', 'type': 'str', 'value': 'eu'" in m for m in probes), probes
    assert_no_leak(project)


# --- the configuration ----------------------------------------------------------------------------


def test_the_configuration_has_no_key_for_a_secret():
    schema = json.loads((REPO / "hacheck" / "schemas" / "config.schema.json").read_text())
    keys = set()

    def walk(s):
        if isinstance(s, dict):
            keys.update((s.get("properties") or {}).keys())
            for v in s.values():
                walk(v)
        elif isinstance(s, list):
            for v in s:
                walk(v)

    walk(schema)
    assert keys, "the schema has properties"
    suspicious = sorted(k for k in keys if re.search(r"pass|token|secret|credential|api_?key|auth", k, re.IGNORECASE))
    assert suspicious == [], f"plant a secret for {suspicious} in tests/test_secrets.py"


# --- never executes flow content ------------------------------------------------------------------

# Code in every language hacheck touches: JavaScript (function nodes, templates), Python (in case
# anything were eval'd), shell (in case anything reached a shell), YAML tags (the YAML loaders).
# Each would create a file under MARK_DIR and print a marker that is not written anywhere in it.


def _payload_flow(mark: Path) -> list:
    js = (f"require('fs').writeFileSync({json.dumps(str(mark / 'js'))}, 'x'); "
          "console.log(['EXEC', 'UTED', 'JS'].join('-')); flow.set('k', (flow.get('k') || 0) + 1); return msg;")
    py = f"__import__('os').system('touch {mark / 'py'}') or print('-'.join(['EXEC', 'UTED', 'PY']))"
    sh = f"$(touch {mark / 'sh'}); `touch {mark / 'sh2'}`; echo EXEC''UTED-SH"
    return [
        _tab("t1"),
        {"id": "h", "type": "http in", "z": "t1", "url": "/x", "method": "post", "x": 1, "y": 1, "wires": [["f"]]},
        {"id": "f", "type": "function", "z": "t1", "name": py, "func": js, "initialize": js, "finalize": js, "outputs": 1,
         "libs": [{"var": "cp", "module": "child_process"}], "x": 1, "y": 1, "wires": [["tpl"]]},
        {"id": "tpl", "type": "template", "z": "t1", "template": "{{#eval}}" + js + "{{/eval}}", "syntax": "mustache", "x": 1, "y": 1,
         "wires": [["ch"]]},
        {"id": "ch", "type": "change", "z": "t1", "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": "$eval('1+1')", "tot": "jsonata"}],
         "x": 1, "y": 1, "wires": [["ex"]]},
        {"id": "ex", "type": "exec", "z": "t1", "command": sh, "addpay": "", "x": 1, "y": 1, "wires": [["r"], [], []]},
        {"id": "r", "type": "http response", "z": "t1", "name": "!!python/object/apply:os.system ['touch " + str(mark / "yaml") + "']",
         "x": 1, "y": 1, "wires": []},
        {"id": "c", "type": "comment", "z": "t1", "info": f"hacheck-disable HA202 -- {py}", "x": 1, "y": 1, "wires": []},
    ]


def test_flow_content_is_never_executed(tmp_path):
    mark = tmp_path / "marks"
    mark.mkdir()
    proj = tmp_path / "project"
    proj.mkdir()
    (proj / "flows.json").write_text(json.dumps(_payload_flow(mark), indent=1))
    (proj / "evil.hacheck.yaml").write_text(f"options:\n  HA202: {{note: !!python/object/apply:os.system ['touch {mark / 'config'}']}}\n")
    target = f"targets:\n  t:\n    kind: node-red\n    replicas: [{_unreachable_url()}]\n    retries: 0\n    timeout: 2\n"
    (proj / "hacheck-targets.yaml").write_text(target)
    (proj / "evil-targets.yaml").write_text(target + f"    description: !!python/object/apply:os.system ['touch {mark / 'targets'}']\n")
    commands = {
        ("check", "."): 1, ("report", ".", "-o", "-"): 1, ("fix", "--diff", "."): 0, ("baseline", ".", "-o", str(tmp_path / "b.json")): 0,
        ("deploy", "flows.json", "--target", "t", "--dry-run"): 1, ("deploy", "flows.json", "--target", "t", "--dry-run", "--fail-on", "never"): 1,
        # YAML tags that would construct Python objects: refused as invalid, never constructed
        ("check", ".", "--config", "evil.hacheck.yaml"): 2, ("deploy", "flows.json", "--target", "t", "--targets", "evil-targets.yaml"): 2,
    }
    for fmt in sorted(reporters.REPORTERS):
        commands[("check", ".", "-f", fmt)] = 1
    outputs = []
    for args, code in commands.items():
        proc = run_cli(*args, cwd=proj)
        assert proc.returncode == code, (args, proc.out, proc.err)
        assert "Traceback" not in proc.err, (args, proc.err)
        outputs.append(proc.out + proc.err)
    assert sorted(os.listdir(mark)) == [], "flow or configuration content was executed"
    executed = [m for m in ("EXEC-UTED-JS", "EXEC-UTED-PY", "EXECUTED-SH") if any(m in o for o in outputs)]
    assert executed == []


def test_checking_calls_no_interpreter_and_starts_no_process(monkeypatch):
    """A tripwire: while a payload flow is checked, fixed and rendered in every format, no
    eval/exec/compile and no process start may happen (a first run imports everything, so
    the tripped run is the check itself)."""
    from hacheck.model.config import Config
    from hacheck.commands.fix import fix_text
    from hacheck.load.loader import parse_bytes
    from hacheck.run.runner import RunResult, check_one

    data = json.dumps(_payload_flow(Path("/nonexistent"))).encode()
    rules = load_catalog()

    def everything():
        flow = parse_bytes("flows.json", data)
        res = check_one(flow, rules, Config(preview=True))
        run = RunResult([res], rules, Config(preview=True), {flow.path: flow})
        for fmt in sorted(reporters.REPORTERS):
            reporters.get(fmt).render(run, io.StringIO(), color=False)
        fix_text(flow, res.findings, rules, Config(), unsafe=True)
        return res

    first = everything()
    calls: list[str] = []

    def trip(name):
        def tripped(*a, **kw):
            calls.append(name)
            raise AssertionError(f"{name} called while checking a flow")
        return tripped

    for name in ("eval", "exec", "compile"):  # not __import__: hacheck imports lazily, by design
        monkeypatch.setattr(builtins, name, trip(name))
    monkeypatch.setattr(subprocess.Popen, "__init__", trip("subprocess.Popen"))
    for name in ("system", "popen", "execv", "execve", "execvp", "fork", "posix_spawn", "spawnv"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, trip(f"os.{name}"))
    second = everything()
    monkeypatch.undo()
    assert calls == []
    assert [f.rule_id for f in second.findings] == [f.rule_id for f in first.findings]
    assert "HA202" in {f.rule_id for f in first.findings}  # the function code was analysed, not skipped


@lru_cache(maxsize=1)
def _modules() -> list[tuple[str, ast.Module]]:
    return [(str(p.relative_to(REPO)), ast.parse(p.read_text("utf-8"))) for p in sorted((REPO / "hacheck").rglob("*.py"))]


# modules allowed to start a process, and why
PROCESS_STARTERS = {"hacheck/load/changed.py": "runs `git diff` for --changed-since (an argv list, never a shell)"}
DYNAMIC_IMPORTERS = {"hacheck/reporters/__init__.py": "imports a reporter module named in its own REPORTERS table"}


def test_no_module_can_run_code_it_reads():
    """What would let flow content run: eval/exec/compile, pickle-like loaders, unsafe YAML,
    a shell. Processes and dynamic imports only where listed above, for the reason given."""
    problems = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
                if isinstance(fn, ast.Name) and name in ("eval", "exec", "compile", "__import__"):
                    problems.append(f"{path}:{node.lineno}: {name}()")
                if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and fn.value.id == "os" and (
                        name in ("system", "popen") or name.startswith(("exec", "spawn", "posix_spawn"))):
                    problems.append(f"{path}:{node.lineno}: os.{name}()")
                for kw in node.keywords:
                    if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                        problems.append(f"{path}:{node.lineno}: shell=")
                    if kw.arg == "typ" and isinstance(kw.value, ast.Constant) and kw.value.value not in ("safe", "rt"):
                        problems.append(f"{path}:{node.lineno}: YAML(typ={kw.value.value!r})")
                if name == "import_module" and path not in DYNAMIC_IMPORTERS:
                    problems.append(f"{path}:{node.lineno}: import_module")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for m in mods:
                    top = m.split(".")[0]
                    if top in ("pickle", "marshal", "shelve", "runpy", "code", "codeop", "dill", "yaml"):
                        problems.append(f"{path}:{node.lineno}: import {m}")
                    if top == "subprocess" and path not in PROCESS_STARTERS:
                        problems.append(f"{path}:{node.lineno}: import subprocess")
            if isinstance(node, ast.FunctionDef):  # a default of YAML(typ=...) passed through a helper
                for arg, default in zip(node.args.args[::-1], node.args.defaults[::-1]):
                    if arg.arg == "typ" and isinstance(default, ast.Constant) and default.value not in ("safe", "rt"):
                        problems.append(f"{path}:{node.lineno}: typ default {default.value!r}")
    assert problems == []
    # the allow-lists name modules that exist and still need the exception
    for path in PROCESS_STARTERS:
        assert "subprocess" in (REPO / path).read_text()
    for path in DYNAMIC_IMPORTERS:
        assert "import_module" in (REPO / path).read_text()
