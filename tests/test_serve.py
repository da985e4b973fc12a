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
    def __init__(self, tmp: Path, *args: str, env: dict | None = None, session: bool = False):
        self.dir = tmp
        self.log = tmp / "serve.log"
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("HACHECK_")}
        run_env.update({"PYTHONPATH": str(REPO), "NO_COLOR": "1", **(env or {})})
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "hacheck", "serve", "--port", "0", *args],
                                         cwd=tmp, env=run_env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=session)
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

    def workers(self) -> list[int]:
        return [p for p in descendants(self.proc.pid) if "spawn_main" in _cmdline(p)]

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


# --- under load: more clients than workers, worker replacement, stopping (issue 31, part 5) ---

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker processes in /proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process; None when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else (fields[0], int(fields[1]))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (st := _stat(int(d.name))):
            children.setdefault(st[1], []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def wait_until(what, deadline_s: float = 60):
    """Poll for a state the service reaches on its own (a generous deadline, not a timing claim)."""
    deadline = time.monotonic() + deadline_s
    while not (ok := what()):
        assert time.monotonic() < deadline, "the state was not reached"
        time.sleep(0.05)
    return ok


def raw_post(url: str, body: bytes, headers: dict | None = None, timeout: float = 60) -> tuple[str, int, dict, bytes]:
    """One POST /check on its own connection, classified as a client sees it: ("answer", status,
    headers, body), or ("reset" | "broken", ...) when the connection failed under it."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", "/check?name=flows.json", body=body, headers=headers or {})
        r = conn.getresponse()
        return "answer", r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, ConnectionRefusedError) as e:
        return "reset", 0, {}, repr(e).encode()
    except (http.client.HTTPException, OSError) as e:
        return "broken", 0, {}, repr(e).encode()
    finally:
        conn.close()


def busy_or_answered(outcome, expected: bytes) -> bool:
    kind, status, headers, body = outcome
    if kind != "answer":
        return False
    if status == 503:
        return int(headers.get("retry-after", "0")) >= 1 and headers.get("connection") == "close" and json.loads(body)["status"] == 503
    return status == 200 and body == expected


@pytest.fixture(scope="module")
def big_flow() -> bytes:
    from benchmarks import flowgen

    return flowgen.dumps(flowgen.generate(400, seed=31)).encode()


def test_more_clients_than_workers_get_a_200_or_a_503_never_a_reset(tmp_path, big_flow):
    s = Served(tmp_path, "--workers", "2", "--queue", "2")
    try:
        expected = cli_json(tmp_path, "flows.json", big_flow)
        with ThreadPoolExecutor(max_workers=32) as pool:
            outcomes = list(pool.map(lambda _: raw_post(s.url, big_flow), range(96)))
        assert all(busy_or_answered(o, expected) for o in outcomes), [o[:2] for o in outcomes if not busy_or_answered(o, expected)]
        assert any(o[1] == 200 for o in outcomes)
        assert s.http.get("/health").json()["status"] == "ok"
    finally:
        assert s.stop() == 0


def _hold_a_slot(url: str, body: bytes):
    """A connection whose check is admitted but whose body has not all arrived: it holds one of
    the service's places until the rest is sent."""
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=60)
    sock.sendall(f"POST /check?name=flows.json HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:10])
    return sock


def test_when_every_place_is_taken_a_check_gets_503_with_retry_after_even_with_a_big_body(tmp_path, big_flow):
    import select

    s = Served(tmp_path, "--workers", "1", "--queue", "0")  # one place in all
    holder = None
    try:
        expected = cli_json(tmp_path, "flows.json", big_flow)
        # the service admits the holder when it has read its headers: probe until it says busy
        for _ in range(200):
            if holder is None or select.select([holder], [], [], 0)[0]:  # none yet, or it was answered 503
                if holder is not None:
                    holder.close()
                holder = _hold_a_slot(s.url, big_flow)
            if raw_post(s.url, b"[]")[1] == 503:
                break
        else:
            pytest.fail("the holder was never admitted")
        # 4 MiB: more than the socket buffers hold, so a service that closed without reading it
        # would reset the connection before the client read its 503
        large = b"[" + b" " * (4 << 20) + b"]"
        with ThreadPoolExecutor(max_workers=12) as pool:
            outcomes = list(pool.map(lambda i: raw_post(s.url, large if i % 2 else big_flow), range(24)))
        assert all(o[0] == "answer" and o[1] == 503 and busy_or_answered(o, expected) for o in outcomes), [o[:2] for o in outcomes]
        holder.sendall(big_flow[10:])  # the held check completes: its place is free again
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < len(expected):
            chunk = holder.recv(65536)
            assert chunk, answer[:200]
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and answer.split(b"\r\n\r\n", 1)[1] == expected
        assert raw_post(s.url, big_flow)[1:4:2] == (200, expected)
    finally:
        if holder is not None:
            holder.close()
        assert s.stop() == 0
    assert "POST /check 503" in s.log.read_text()


@linux_only
def test_a_worker_that_dies_is_replaced_and_the_checks_go_on(tmp_path, big_flow):
    s = Served(tmp_path, "--workers", "2")
    try:
        expected = cli_json(tmp_path, "flows.json", big_flow)
        before = wait_until(lambda: len(w := s.workers()) == 2 and w)
        os.kill(before[0], signal.SIGKILL)
        for _ in range(6):  # the dead one is skipped, never handed a check
            r = s.check(big_flow)
            assert r.status_code == 200 and r.content == expected
        after = wait_until(lambda: len(w := s.workers()) == 2 and before[0] not in w and w)
        assert before[1] in after
        wait_until(lambda: "replaces it" in s.log.read_text())
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert all(r.status_code == 200 and r.content == expected for r in pool.map(lambda _: s.check(big_flow), range(8)))
    finally:
        assert s.stop() == 0


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@linux_only
def test_a_check_whose_worker_dies_gets_a_500_not_a_reset_and_the_service_goes_on(tmp_path):
    from benchmarks import flowgen

    flow = flowgen.dumps(flowgen.generate(20_000, seed=31)).encode()  # a check long enough to be caught in
    s = Served(tmp_path, "--workers", "1")
    try:
        for _ in range(10):
            [worker] = wait_until(lambda: len(w := s.workers()) == 1 and w)
            idle = _cpu_ticks(worker)
            with ThreadPoolExecutor(max_workers=1) as pool:
                asked = pool.submit(raw_post, s.url, flow)
                # an idle worker uses no CPU: once it has used some, it is reading or checking the flow
                while not asked.done() and _cpu_ticks(worker) - idle < 5:
                    time.sleep(0.005)
                if not asked.done():
                    os.kill(worker, signal.SIGKILL)
                kind, status, _, body = asked.result()
            assert kind == "answer", body
            if status == 500:
                assert "stopped before answering" in json.loads(body)["error"]
                break
            assert status == 200  # it answered before the kill: try again on its replacement
        else:
            pytest.fail("the worker was never caught checking")
        wait_until(lambda: len(w := s.workers()) == 1 and worker not in w)
        assert s.check(b"[]").status_code == 200
    finally:
        assert s.stop() == 0


@linux_only
@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C", "SIGKILL"])
def test_stopping_the_service_leaves_no_worker_behind(tmp_path, how):
    s = Served(tmp_path, "--workers", "2", session=True)  # its own process group, as in a terminal
    assert s.check(b"[]").status_code == 200
    family = wait_until(lambda: len(s.workers()) == 2 and descendants(s.proc.pid))
    assert len(family) >= 2
    s.http.close()
    if how == "SIGTERM":
        s.proc.send_signal(signal.SIGTERM)
    elif how == "Ctrl-C":  # the terminal sends SIGINT to the whole foreground group
        os.killpg(s.proc.pid, signal.SIGINT)
    else:  # no chance to clean up: the workers must notice on their own
        s.proc.kill()
    code = s.proc.wait(timeout=60)
    assert code == (-signal.SIGKILL if how == "SIGKILL" else 0), s.log.read_text()
    wait_until(lambda: all(_stat(p) is None for p in family))
    assert "Traceback" not in s.log.read_text()


def test_fix_answers_the_edits_for_one_finding_and_writes_nothing(served):
    flow = [{"id": "t", "type": "tab", "label": "Ingest"},
            {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": "plant-1"},
            {"id": "m", "type": "mqtt in", "z": "t", "name": "jobs", "topic": "jobs/#", "broker": "b", "wires": [["w"]]},
            {"id": "w", "type": "http request", "z": "t", "method": "POST", "url": "https://api.example/jobs", "wires": [[]]}]
    before = sorted(p.name for p in served.dir.iterdir())
    data = json.dumps(flow).encode()
    r = served.http.post("/fix", params={"rule": "HA101", "node": "m"}, content=data)
    assert r.status_code == 200, r.text
    assert r.json() == {"edits": [{"node": "m", "field": "topic", "value": "$share/ingest/jobs/#", "rule": "HA101"}], "notes": []}
    # one finding at a time: the broker's client id (HA103) is not touched by HA101's fix
    r = served.http.post("/fix", params={"rule": "HA103", "node": "b"}, content=data)
    assert r.json()["edits"] == [{"node": "b", "field": "clientid", "value": "", "rule": "HA103"}]
    # a finding that is not there: nothing to do
    assert served.http.post("/fix", params={"rule": "HA101", "node": "w"}, content=data).json() == {"edits": [], "notes": []}
    assert served.http.post("/fix", params={"rule": "HA101"}, content=data).status_code == 400
    assert sorted(p.name for p in served.dir.iterdir()) == before


def test_a_rules_doc_fields_for_the_editor(served):
    doc = served.http.get("/rules/HA101").json()
    assert doc["fixable"] and doc["fix_safety"] == "safe" and doc["fix_title"].startswith("Prefix the topic")
    assert set(doc["docs"]) >= {"what", "why", "use_instead"} and "$share/" in doc["docs"]["use_instead"]


def test_with_stop_on_eof_the_service_ends_when_its_parent_closes_stdin(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HACHECK_")} | {"PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "hacheck", "serve", "--port", "0", "--workers", "1", "--stop-on-eof"],
                            cwd=tmp_path, env=env, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert b"listening on" in proc.stderr.readline()
    workers = [p for p in descendants(proc.pid) if "spawn_main" in _cmdline(p)]
    assert workers
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    wait_until(lambda: not any(_stat(p) for p in workers))
