"""`hacheck serve` over real HTTP on loopback: a subprocess, as the editor plugin would run it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES, REPO

FLOWS = sorted((FIXTURES / "flows").glob("*.json")) + [FIXTURES / "example" / "flows.json"]
SECRET = "pw-serve-7d41c9e2aa"


class Served:
    def __init__(self, tmp: Path, *args: str, env: dict | None = None):
        self.dir = tmp
        self.log = tmp / "serve.log"
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("HACHECK_")}
        run_env.update({"PYTHONPATH": str(REPO), "NO_COLOR": "1", **(env or {})})
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "hacheck", "serve", "--port", "0", *args],
                                         cwd=tmp, env=run_env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            m = re.search(r"listening on (http://[\d.]+:\d+)", self.log.read_text())
            if m:
                self.url = m.group(1)
                break
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}: {self.log.read_text()}"
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)
        self.http = httpx.Client(base_url=self.url, timeout=60, trust_env=False)

    def check(self, data: bytes, name: str = "flows.json", **kw) -> httpx.Response:
        return self.http.post("/check", params={"name": name}, content=data, **kw)

    def stop(self) -> int:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("serve"))
    yield s
    assert s.stop() == 0, s.log.read_text()  # SIGTERM stops it cleanly


def cli_json(tmp: Path, name: str, data: bytes) -> bytes:
    (tmp / name).write_bytes(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HACHECK_")}
    env.update({"PYTHONPATH": str(REPO), "NO_COLOR": "1"})
    p = subprocess.run([sys.executable, "-m", "hacheck", "check", name, "-f", "json"], cwd=tmp, env=env,
                       capture_output=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr
    return p.stdout


@pytest.mark.parametrize("flow", FLOWS, ids=lambda p: p.name)
def test_the_report_is_the_clis_byte_for_byte(served, tmp_path, flow):
    r = served.check(flow.read_bytes(), name=flow.name)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.content == cli_json(tmp_path, flow.name, flow.read_bytes())


@pytest.mark.parametrize("data,rule", [(b'[{"id": "t", "type": "tab"', "HC001"), (b'{"a": 1}', "HC002")])
def test_a_malformed_flow_gets_the_clis_findings_and_the_service_goes_on(served, tmp_path, data, rule):
    r = served.check(data)
    assert r.status_code == 200
    assert r.content == cli_json(tmp_path, "flows.json", data)
    assert rule in {f["rule"] for f in r.json()["findings"]}
    assert served.http.get("/health").json()["status"] == "ok"


def test_concurrent_requests_get_their_own_answers(served, tmp_path):
    bodies = {f.name: f.read_bytes() for f in FLOWS}
    expected = {name: cli_json(tmp_path, name, data) for name, data in bodies.items()}
    jobs = [name for name in bodies for _ in range(4)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: (n, served.check(bodies[n], name=n)), jobs))
    assert all(r.status_code == 200 and r.content == expected[n] for n, r in answers)


def test_the_catalogue_and_a_rules_docs(served, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cli_rules = json.loads(subprocess.run([sys.executable, "-m", "hacheck", "rules", "-f", "json"], cwd=tmp_path, env=env,
                                          capture_output=True, text=True, timeout=120).stdout)
    assert served.http.get("/rules").json() == cli_rules
    doc = served.http.get("/rules/ha101").json()
    explain = subprocess.run([sys.executable, "-m", "hacheck", "explain", "HA101"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120).stdout
    assert doc["id"] == "HA101" and doc["markdown"] + "\n" == explain  # echo adds the last newline
    assert served.http.get("/rules/mqtt-subscription-not-shared").json()["id"] == "HA101"
    assert served.http.get("/rules/HA999").status_code == 404
    assert served.http.get("/nope").status_code == 404


def test_no_credential_in_an_answer_or_the_log(served):
    flow = [{"id": "t", "type": "tab"},
            {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": "", "credentials": {"user": "u", "password": SECRET}},
            {"id": "m", "type": "mqtt in", "z": "t", "topic": "a/#", "broker": "b", "wires": [[]]},
            {"id": "h", "type": "http request", "z": "t", "url": f"https://u:{SECRET}@api.example/x", "wires": [[]]}]
    r = served.check(json.dumps(flow).encode())
    assert r.status_code == 200 and "SEC301" in r.text
    assert SECRET not in r.text
    assert SECRET not in served.log.read_text() and "POST /check 200" in served.log.read_text()


def test_a_body_over_the_limit_is_413_unread(tmp_path):
    s = Served(tmp_path, "--max-body", "0.01")  # 10 KiB
    try:
        big = json.dumps([{"id": f"n{i}", "type": "comment", "name": "x" * 50} for i in range(400)]).encode()
        assert len(big) > 10 * 1024
        r = s.check(big)
        assert r.status_code == 413 and "limit" in r.json()["error"]
        assert s.check(b"[]").status_code == 200  # and it goes on
    finally:
        assert s.stop() == 0


def test_a_token_is_required_when_set(tmp_path):
    s = Served(tmp_path, "--token-env", "HC_SERVE_TOKEN", env={"HC_SERVE_TOKEN": "tok-serve-31337"})
    try:
        assert s.check(b"[]").status_code == 401
        assert s.check(b"[]", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert s.http.get("/health").status_code == 401
        assert s.check(b"[]", headers={"Authorization": "Bearer tok-serve-31337"}).status_code == 200
    finally:
        assert s.stop() == 0
    assert "tok-serve-31337" not in s.log.read_text()


@pytest.mark.parametrize("args,env,says", [
    (["--host", "0.0.0.0"], {}, "not a loopback address: set --token-env"),
    (["--token-env", "HC_UNSET_TOKEN"], {}, "HC_UNSET_TOKEN (--token-env) is not set"),
    (["--config", "nope.yaml"], {}, "nope.yaml"),
])
def test_it_refuses_to_start_unsafely_in_one_line(tmp_path, args, env, says):
    run_env = {k: v for k, v in os.environ.items() if k != "HC_UNSET_TOKEN"}
    run_env.update({"PYTHONPATH": str(REPO), **env})
    p = subprocess.run([sys.executable, "-m", "hacheck", "serve", "--port", "0", *args], cwd=tmp_path, env=run_env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and says in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_the_configuration_is_given_at_start(tmp_path):
    (tmp_path / "team.yaml").write_text("fail_on: error\nignore: [HA101]\n")
    s = Served(tmp_path, "--config", "team.yaml")
    try:
        doc = s.check((FIXTURES / "example" / "flows.json").read_bytes()).json()
        assert doc["summary"]["fail_on"] == "error"
        assert "HA101" not in {f["rule"] for f in doc["findings"]}
    finally:
        assert s.stop() == 0
