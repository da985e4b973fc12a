"""`hacheck serve` under live load: many clients posting a real flow at once.

    python -m benchmarks.serve_load                      # 1, 8, 32 and 128 concurrent clients
    python -m benchmarks.serve_load --clients 1,64 --requests 256
    python -m benchmarks.serve_load --json out.json -- --workers 2 --queue 16   # args after -- go to serve
    python -m benchmarks.serve_load --source ../main  # serve another checkout's hacheck (before/after)

Starts `hacheck serve --port 0` on loopback (from a temporary folder, so no project
configuration applies), posts one real corpus flow (005, 401 nodes, by default) from N client
threads at once, each on its own connection per request as an editor would, a bounded number of
requests in all per level (--requests), and stops starting new ones after --time-limit seconds.
Per level it prints throughput (200 answers a second of wall time), p50/p95 latency of the 200
answers, and how every request ended: 200 (and whether its bytes are the first answer's), 503
(and whether it had Retry-After), another status, a reset or refused connection, a broken
answer (closed early, a bad status line, a short body), or a client time-out; a refused
connection (the listen backlog was full) is counted apart from a reset one. With --retry a
client that gets 503 waits Retry-After seconds and asks again, as a live-check client should
(latency is then until the 200).

Only loopback traffic. The client threads share the machine with the server, as an editor's
browser would on a developer's laptop.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import corpus_dir  # noqa: E402 - the one place that knows where the corpus is

DEFAULT_FLOW = "005__DaveThw__EosRemote__node-red_flows.json"
LEVELS = (1, 8, 32, 128)
OUTCOMES = ("200", "200 wrong bytes", "503", "503 no Retry-After", "other status", "refused", "reset", "broken", "timeout")


def start_serve(args: list[str], cwd: str, source: Path) -> tuple[subprocess.Popen, str, int, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HACHECK_")}
    env.update({"PYTHONPATH": str(source), "NO_COLOR": "1"})
    log = Path(cwd) / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hacheck", "serve", "--host", "127.0.0.1", "--port", "0", *args],
                                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        m = re.search(r"listening on http://([\d.]+):(\d+)", log.read_text())
        if m:
            return proc, m.group(1), int(m.group(2)), log
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"serve_load: hacheck serve did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)


def post(host: str, port: int, body: bytes, timeout: float) -> tuple[str, float, bytes | None, dict]:
    """One request on a fresh connection: (outcome, seconds, body of a 200, headers)."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", "/check?name=flows.json", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
        took = time.perf_counter() - t0
        if r.status == 200:
            return "200", took, data, headers
        if r.status == 503:
            return ("503" if headers.get("retry-after") else "503 no Retry-After"), took, None, headers
        return "other status", took, None, headers
    except (socket.timeout, TimeoutError):
        return "timeout", time.perf_counter() - t0, None, {}
    except ConnectionRefusedError:
        return "refused", time.perf_counter() - t0, None, {}
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
        return "reset", time.perf_counter() - t0, None, {}
    except (http.client.HTTPException, OSError):  # RemoteDisconnected, BadStatusLine, IncompleteRead
        return "broken", time.perf_counter() - t0, None, {}
    finally:
        conn.close()


def run_level(host: str, port: int, body: bytes, expected: bytes, clients: int, requests: int,
              time_limit: float, timeout: float, retry: bool = False) -> dict:
    lock = threading.Lock()
    left = [requests]
    retries = [0]
    results: list[tuple[str, float]] = []
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client():
        start.wait()
        while True:
            with lock:
                if left[0] <= 0 or time.monotonic() > stop_at[0]:
                    return
                left[0] -= 1
            t0 = time.perf_counter()
            outcome, _, data, headers = post(host, port, body, timeout)
            while retry and outcome == "503" and time.monotonic() < stop_at[0]:
                # as a live-check client should: wait as told, then ask again
                time.sleep(float(headers.get("retry-after", "1")))
                with lock:
                    retries[0] += 1
                outcome, _, data, headers = post(host, port, body, timeout)
            took = time.perf_counter() - t0
            if outcome == "200" and data != expected:
                outcome = "200 wrong bytes"
            with lock:
                results.append((outcome, took))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.monotonic() + time_limit
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    counts = {k: sum(1 for o, _ in results if o == k) for k in OUTCOMES}
    ok = sorted(took for o, took in results if o == "200")
    return {
        "clients": clients, "sent": len(results), "wall_s": round(wall, 2),
        "checks_per_s": round(len(ok) / wall, 1) if wall else 0.0,
        "p50_ms": round(statistics.median(ok) * 1000) if ok else None,
        "p95_ms": round(_quantile(ok, 0.95) * 1000) if ok else None,
        "max_ms": round(ok[-1] * 1000) if ok else None,
        "retries": retries[0],
        **counts,
    }


def family_rss_mib(pid: int) -> float | None:
    """Resident memory of a process and all its descendants (Linux /proc), MiB."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    parent, rss = {}, {}
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parent[int(d.name)] = int(fields.get("PPid", "0"))
        rss[int(d.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    family, todo = {pid}, [pid]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p and c not in family:
                family.add(c)
                todo.append(c)
    return round(sum(rss.get(p, 0) for p in family) / 1024, 1)


def _quantile(sorted_values: list[float], q: float) -> float:
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flow", help=f"flow file to post (default: the corpus's {DEFAULT_FLOW})")
    ap.add_argument("--clients", default=",".join(map(str, LEVELS)), help="concurrency levels, comma-separated")
    ap.add_argument("--requests", type=int, default=128, help="requests in all per level")
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per level after which no request starts")
    ap.add_argument("--timeout", type=float, default=60.0, help="a client's time-out per request, seconds")
    ap.add_argument("--source", default=str(REPO), help="the hacheck checkout to serve from (another worktree: before/after)")
    ap.add_argument("--retry", action="store_true", help="on 503, wait Retry-After and ask again (latency: until the 200)")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("serve_args", nargs="*", help="arguments for `hacheck serve` (after --)")
    opts = ap.parse_args(argv)

    flow = Path(opts.flow) if opts.flow else corpus_dir() / "files" / DEFAULT_FLOW
    if not flow.is_file():
        sys.exit(f"serve_load: {flow}: no such flow (set HACHECK_CORPUS or --flow)")
    body = flow.read_bytes()
    nodes = len(json.loads(body)) if body.lstrip().startswith(b"[") else "?"
    levels = [int(x) for x in opts.clients.split(",") if x.strip()]

    with tempfile.TemporaryDirectory(prefix="hacheck-serve-load-") as tmp:
        proc, host, port, log = start_serve(opts.serve_args, tmp, Path(opts.source).resolve())
        try:
            outcome, took, expected, _ = post(host, port, body, opts.timeout)  # warm-up and the reference answer
            if outcome != "200" or expected is None:
                sys.exit(f"serve_load: the first request got {outcome}")
            print(f"hacheck serve {' '.join(opts.serve_args) or '(defaults)'} from {opts.source} on {host}:{port}; {flow.name} "
                  f"({nodes} nodes, {len(body) // 1024} KiB); {os.cpu_count()} CPUs, Python {platform.python_version()}; "
                  f"first check {took * 1000:.0f} ms")
            head = f"{'clients':>7} {'sent':>5} {'wall s':>7} {'checks/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}  outcomes"
            print(head)
            rows = []
            for n in levels:
                row = run_level(host, port, body, expected, n, opts.requests, opts.time_limit, opts.timeout, opts.retry)
                rows.append(row)
                ends = ", ".join(f"{k} {row[k]}" for k in OUTCOMES if row[k]) + (f" ({row['retries']} retries)" if row["retries"] else "")
                print(f"{n:>7} {row['sent']:>5} {row['wall_s']:>7} {row['checks_per_s']:>8} {row['p50_ms'] or '-':>7} "
                      f"{row['p95_ms'] or '-':>7} {row['max_ms'] or '-':>7}  {ends}", flush=True)
                time.sleep(1.0)  # let the server drain what the last level left in flight
            alive = proc.poll() is None
            rss = family_rss_mib(proc.pid) if alive else None
            print(f"serve still running after the load: {'yes' if alive else f'no (exit {proc.returncode})'}"
                  + (f"; resident memory of it and its workers {rss} MiB" if rss is not None else ""))
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if opts.json:
            Path(opts.json).write_text(json.dumps({"flow": flow.name, "nodes": nodes, "serve_args": opts.serve_args,
                                                   "source": opts.source, "rss_mib": rss, "levels": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
