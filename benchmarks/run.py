"""hacheck's benchmark suite: one command, a few minutes, every figure the issues ask for.

    python -m benchmarks.run                 # the full suite (see benchmarks/README.md)
    python -m benchmarks.run --quick         # 1k and 10k nodes, 100 files: a smoke run
    python -m benchmarks.run --json out.json # also save every figure

Each measurement runs in a fresh process, so peak memory and CPU time are that run's own
(os.wait4 gives the child's rusage, workers of --jobs included). Per flow size it prints wall
time, CPU time, peak RSS and findings of `hacheck check --preview -f json` (all rules, JSON
output), and the time of each phase (load, graph, rules, report) from a second run of the same
check in-process with timing hooks. It also times `hacheck --version` and `hacheck check` on a
20-node flow (median of several runs of the installed console script), a fleet of 1,000 flow
files with --jobs 1 and --jobs 2 (and whether their outputs are identical), and nrlint on the
same flows when it is installed (see README), with a time limit.

Generated flows are cached (outside the repository, so no project config applies to them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = (1_000, 10_000, 100_000, 300_000)
FLEET_FILES = 1_000
SEED = 1
TARGET_100K_WALL, TARGET_100K_RSS_MIB, TARGET_SCALING, TARGET_SMALL = 2.0, 1024, 12.0, 0.3
TARGET_SERVE, TARGET_SPAWNED = 0.1, 0.4  # issue 22: a 1,000-node check for the editor plugin
TARGET_JSON_LOAD_X = 8.0  # issue 19: the 100k check within 8x a bare json.load of the same file


# --- measuring a child process ------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mib: float
    code: int | None
    timed_out: bool
    stdout: bytes = b""
    stderr: bytes = b""


# Children are started by a small launcher process, not by this one: on Linux a child's peak
# RSS (ru_maxrss) includes the RSS of the process it was forked from, and this process grows
# (it generates the flows and reads the reports). The launcher runs without `site` (~10 MiB).
_LAUNCHER = r"""
import json, os, signal, sys, time
for line in sys.stdin:
    req = json.loads(line)
    out = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if req["cwd"]:
                os.chdir(req["cwd"])
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.execvpe(req["cmd"][0], req["cmd"], req["env"])
        except BaseException as e:
            os.write(2, repr(e).encode())
        os._exit(127)
    os.close(out)
    os.close(err)
    killed = []
    def kill(*_):
        killed.append(1)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    signal.signal(signal.SIGALRM, kill)
    if req["timeout"]:
        signal.setitimer(signal.ITIMER_REAL, req["timeout"])
    _, status, ru = os.wait4(pid, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss_kib": ru.ru_maxrss,
                      "code": os.waitstatus_to_exitcode(status), "killed": bool(killed)}), flush=True)
"""
_launcher: subprocess.Popen | None = None


def measure(cmd: list[str], cwd: Path | str | None = None, timeout: float | None = None, env: dict | None = None) -> Run:
    """Run `cmd` to the end; its own wall time, CPU time (user + system, children included,
    so --jobs workers count) and peak RSS. Output goes to files: a chatty child never blocks."""
    global _launcher
    if _launcher is None or _launcher.poll() is not None:
        _launcher = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    with tempfile.TemporaryDirectory(prefix="hacheck-run-") as tmp:
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        req = {"cmd": cmd, "cwd": str(cwd) if cwd else None, "timeout": timeout, "env": dict(env or os.environ), "out": str(out), "err": str(err)}
        _launcher.stdin.write(json.dumps(req) + "\n")
        _launcher.stdin.flush()
        res = json.loads(_launcher.stdout.readline())
        return Run(
            wall=res["wall"],
            cpu=res["cpu"],
            rss_mib=res["maxrss_kib"] / 1024,  # KiB on Linux
            code=None if res["killed"] else res["code"],
            timed_out=res["killed"],
            stdout=out.read_bytes(),
            stderr=err.read_bytes(),
        )


def hacheck_cmd() -> tuple[list[str], str]:
    """The installed console script (what users and pre-commit run), else python -m hacheck."""
    beside = Path(sys.executable).parent / "hacheck"
    script = str(beside) if beside.exists() else shutil.which("hacheck")
    if script:
        return [script], script
    # the checkout's package, from any working folder (the fleet case runs in its own)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return [sys.executable, "-m", "hacheck"], f"{sys.executable} -m hacheck (no hacheck console script installed)"


# --- data ------------------------------------------------------------------------------------------


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    from hacheck.util.cache import cache_dir

    base = cache_dir() or Path(tempfile.gettempdir())
    return base / "bench"


def flow_file(root: Path, n: int) -> Path:
    from benchmarks import flowgen

    p = root / f"flows-{n}-s{SEED}-g{flowgen.GENERATOR_VERSION}.json"
    if not p.exists():
        t0 = time.perf_counter()
        nodes = flowgen.small_flow(SEED) if n == 20 else flowgen.generate(n, SEED)
        _write(p, flowgen.dumps(nodes))
        if n > 20:
            print(f"  generated {n:,} nodes in {time.perf_counter() - t0:.1f} s -> {p}", flush=True)
    return p


def fleet_dir(root: Path, count: int) -> Path:
    from benchmarks import flowgen

    d = root / f"fleet-{count}-s{SEED}-g{flowgen.GENERATOR_VERSION}"
    done = d / ".complete"
    if not done.exists():
        t0 = time.perf_counter()
        shutil.rmtree(d, ignore_errors=True)
        flowgen.write_fleet(d, count, seed=SEED)
        done.write_text("ok\n")
        print(f"  generated a fleet of {count:,} flow files in {time.perf_counter() - t0:.1f} s -> {d}", flush=True)
    return d


def _write(p: Path, text: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, p)


# --- the phases, in a child process --------------------------------------------------------------


def phases(path: str) -> dict:
    """Check one file in this process with the timing hooks; seconds per phase as a dict."""
    import gc

    gc.disable()  # as `hacheck check` runs, so the phases add up to what the CLI does
    t0 = time.perf_counter()
    from hacheck.engine.catalog import load_catalog
    from hacheck.model.config import Config
    from hacheck.load.loader import Source
    from hacheck.reporters import json_report
    from hacheck.run.runner import check_sources

    t1 = time.perf_counter()
    rules = load_catalog()
    config = Config()
    config.preview = True  # all rules
    t2 = time.perf_counter()
    timings: dict[str, float] = {}
    result = check_sources([Source(path, path)], config, rules, jobs=1, timings=timings)
    t3 = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        json_report.render(result, sink)
    t4 = time.perf_counter()
    per_rule = sorted(((k[5:], v) for k, v in timings.items() if k.startswith("rule:")), key=lambda kv: -kv[1])
    return {
        "import": t1 - t0,
        "catalog": t2 - t1,
        "load": timings.get("load", 0.0),
        "graph": timings.get("graph", 0.0),
        "rules": timings.get("rules", 0.0),
        "other": (t3 - t2) - sum(timings.get(k, 0.0) for k in ("load", "graph", "rules")),  # suppressions, sorting
        "report": t4 - t3,
        "findings": len(result.findings),
        "slowest_rules": per_rule[:6],
    }


def run_phases(path: Path) -> dict | None:
    r = measure([sys.executable, "-m", "benchmarks.run", "--phases", str(path)], cwd=REPO)
    if r.code != 0:
        print(f"  phase run failed ({r.code}): {r.stderr.decode('utf-8', 'replace')[-500:]}", flush=True)
        return None
    return json.loads(r.stdout)


# --- the suite -------------------------------------------------------------------------------------


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from hacheck import __version__
    from hacheck.run.parallel import default_jobs

    return {
        "cpus": default_jobs(),
        "cpu_model": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hacheck": __version__,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def small_cases(cmd: list[str], root: Path, repeat: int) -> dict:
    small = flow_file(root, 20)
    measure([*cmd, "--version"])  # warm the file cache and the catalogue cache
    measure([*cmd, "check", str(small)])
    version = [measure([*cmd, "--version"]) for _ in range(repeat)]
    check = [measure([*cmd, "check", str(small)]) for _ in range(repeat)]
    bad = [r for r in version + check if r.code not in (0, 1)]
    if bad:
        print(f"  small case failed: {bad[0].stderr.decode('utf-8', 'replace')[-400:]}")
    return {
        "version_median": statistics.median(r.wall for r in version),
        "version_min": min(r.wall for r in version),
        "check20_median": statistics.median(r.wall for r in check),
        "check20_min": min(r.wall for r in check),
        "check20_cpu_median": statistics.median(r.cpu for r in check),
        "runs": repeat,
    }


def editor_case(cmd: list[str], root: Path, repeat: int) -> dict:
    """What the editor plugin waits for on a 1,000-node flow: a POST to a running `hacheck
    serve` (client-side wall time per request, the service warmed by one request), and the
    spawned CLI with the flow on standard input (`sh -c`: the plugin's spawn, stdin redirect)."""
    import re as _re

    import httpx

    path = flow_file(root, 1_000)
    data = path.read_bytes()
    with tempfile.TemporaryDirectory(prefix="hacheck-serve-") as tmp:
        log = Path(tmp) / "serve.log"
        with open(log, "w") as fh:
            proc = subprocess.Popen([*cmd, "serve", "--port", "0"], cwd=tmp, stdout=fh, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not (m := _re.search(r"listening on (http://[\d.]+:\d+)", log.read_text())):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"hacheck serve did not start: {log.read_text()[-800:]}")
                time.sleep(0.05)
            served = []
            with httpx.Client(base_url=m.group(1), timeout=120, trust_env=False) as http:
                http.post("/check", content=data).raise_for_status()
                for _ in range(max(repeat, 20)):
                    t0 = time.perf_counter()
                    http.post("/check", content=data).raise_for_status()
                    served.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    shell = " ".join(shlex.quote(c) for c in cmd) + f" check - -f json < {shlex.quote(str(path))} > /dev/null"
    spawned = [measure(["sh", "-c", shell]) for _ in range(repeat)]
    return {
        "serve_median": statistics.median(served),
        "serve_min": min(served),
        "cli_median": statistics.median(r.wall for r in spawned),
        "cli_min": min(r.wall for r in spawned),
        "requests": len(served),
        "runs": repeat,
    }


def size_case(cmd: list[str], path: Path, n: int, repeat: int, out_dir: Path) -> dict:
    out = out_dir / f"out-{n}.json"
    runs = []
    for _ in range(repeat):
        r = measure([*cmd, "check", "--preview", "--jobs", "1", "-f", "json", "-o", str(out), str(path)])
        if r.code not in (0, 1):
            raise SystemExit(f"hacheck failed on {path} ({r.code}): {r.stderr.decode('utf-8', 'replace')[-800:]}")
        runs.append(r)
    best = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]  # the median run
    doc = json.loads(out.read_text("utf-8"))
    return {
        "nodes": n,
        "mib": path.stat().st_size / 2**20,
        "wall": best.wall,
        "cpu": best.cpu,
        "rss_mib": max(r.rss_mib for r in runs),
        "findings": len(doc["findings"]),
        "runs": repeat,
        "phases": run_phases(path),
    }


def fleet_case(cmd: list[str], fleet: Path, out_dir: Path) -> dict:
    res = {}
    outputs = {}
    for jobs in (1, 2):
        out = out_dir / f"fleet-jobs{jobs}.json"
        r = measure([*cmd, "check", "--jobs", str(jobs), "-f", "json", "-o", str(out), "."], cwd=fleet)
        if r.code not in (0, 1):
            raise SystemExit(f"hacheck failed on the fleet ({r.code}): {r.stderr.decode('utf-8', 'replace')[-800:]}")
        outputs[jobs] = out.read_bytes()
        doc = json.loads(outputs[jobs])
        res[f"jobs{jobs}"] = {"wall": r.wall, "cpu": r.cpu, "rss_mib": r.rss_mib, "files": doc["summary"]["files"], "findings": len(doc["findings"])}
    res["same_output"] = outputs[1] == outputs[2]
    res["nodes"] = sum(json.loads(p.read_bytes()).__len__() for p in sorted(fleet.glob("*/flows.json")))
    return res


def nrlint_cmd() -> list[str] | None:
    local = REPO / ".cache" / "nrlint" / "node_modules" / ".bin" / "nrlint"
    if local.exists() and shutil.which("node"):
        return ["node", str(local)]
    found = shutil.which("nrlint")
    return [found] if found else None


def nrlint_case(nr: list[str], path: Path, limit: float, work: Path) -> dict:
    """nrlint with its default configuration (`nrlint --init`: every rule, ESLint on functions)."""
    rc = work / "nrlintrc.js"
    if not rc.exists():
        init = subprocess.run([*nr, "--init"], capture_output=True, timeout=60)
        rc.write_bytes(init.stdout)
    r = measure([*nr, "-c", str(rc), "-f", "json", str(path)], timeout=limit, cwd=work)
    if r.timed_out:
        return {"wall": None, "timed_out": True, "limit": limit, "rss_mib": r.rss_mib}
    try:
        problems = len(json.loads(r.stdout))
    except ValueError:
        problems = None
    return {"wall": r.wall, "cpu": r.cpu, "rss_mib": r.rss_mib, "timed_out": False, "problems": problems, "code": r.code}


def _compile_bytecode() -> None:
    """pip compiles an installed package; a checkout run with PYTHONDONTWRITEBYTECODE=1 (common
    in containers) would compile every module on every start instead, which is not what users
    see. Compile hacheck's modules once, as an install does."""
    import compileall

    import hacheck

    compileall.compile_dir(str(Path(hacheck.__file__).parent), quiet=1)


def _fmt(v, spec=".2f", none="-") -> str:
    return none if v is None else format(v, spec)


def json_load_ratio(cmd: list[str], path: Path, out_dir: Path, pairs: int = 5) -> dict:
    """hacheck's 100k check against `python -c 'json.load(...)'` on the same file: the floor
    any Python tool that reads the flow pays, start-up included on both sides. Measured in
    `pairs` interleaved pairs by the same launcher, so a busy minute on this shared machine
    slows both sides of a pair; the figure is the median of the per-pair ratios."""
    code = f"import json; json.load(open({str(path)!r}, 'rb'))"
    out = out_dir / "out-ratio.json"
    checks, loads, ratios = [], [], []
    for _ in range(pairs):
        r = measure([*cmd, "check", "--preview", "--jobs", "1", "-f", "json", "-o", str(out), str(path)])
        if r.code not in (0, 1):
            raise SystemExit(f"hacheck failed on {path} ({r.code}): {r.stderr.decode('utf-8', 'replace')[-800:]}")
        b = measure([sys.executable, "-c", code])
        if b.code != 0:
            raise SystemExit(f"json.load failed on {path}: {b.stderr.decode('utf-8', 'replace')[-800:]}")
        checks.append(r.wall)
        loads.append(b.wall)
        ratios.append(r.wall / b.wall)
    return {
        "check_median": statistics.median(checks),
        "json_load_median": statistics.median(loads),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "pairs": pairs,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description="hacheck benchmark suite")
    ap.add_argument("--sizes", help="comma-separated node counts [default: 1000,10000,100000,300000]")
    ap.add_argument("--quick", action="store_true", help="1k and 10k nodes, 100 fleet files, fewer repeats")
    ap.add_argument("--fleet", type=int, default=None, help=f"flow files in the fleet case [default: {FLEET_FILES}; 0 skips it]")
    ap.add_argument("--repeat", type=int, default=None, help="runs per small case [default: 9]")
    ap.add_argument("--nrlint-limit", type=float, default=60.0, help="seconds nrlint may take per flow [default: 60]")
    ap.add_argument("--no-nrlint", action="store_true")
    ap.add_argument("--data", help="where generated flows are kept [default: <user cache>/hacheck/bench]")
    ap.add_argument("--json", dest="json_out", help="also write every figure to this file")
    ap.add_argument("--phases", help=argparse.SUPPRESS)  # internal: the in-process phase run
    a = ap.parse_args(argv)

    if a.phases:
        print(json.dumps(phases(a.phases)))
        return 0

    sizes = tuple(int(s) for s in a.sizes.split(",")) if a.sizes else ((1_000, 10_000) if a.quick else SIZES)
    fleet_n = a.fleet if a.fleet is not None else (100 if a.quick else FLEET_FILES)
    repeat = a.repeat or (5 if a.quick else 9)
    root = data_dir(a.data)
    cmd, shown = hacheck_cmd()
    info = machine()
    report: dict = {"machine": info, "command": shown}
    print(f"hacheck {info['hacheck']} benchmarks on {info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}")
    la = info["load_average"]
    print(f"command: {shown}\nload average at start: {', '.join(f'{x:.2f}' for x in la) if la else '?'} (other work on the machine inflates wall times)")
    print(f"data: {root}", flush=True)
    _compile_bytecode()
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="hacheck-bench-") as tmp:
        work = Path(tmp)
        print("\n== small flow (pre-commit case), median of", repeat, "runs")
        sc = small_cases(cmd, root, repeat)
        report["small"] = sc
        ok = "OK" if sc["check20_median"] < TARGET_SMALL else "OVER TARGET"
        print(f"  hacheck --version              {sc['version_median']:.3f} s  (min {sc['version_min']:.3f})")
        print(f"  hacheck check, 20-node flow    {sc['check20_median']:.3f} s  (min {sc['check20_min']:.3f}; CPU {sc['check20_cpu_median']:.3f} s)  target < {TARGET_SMALL} s: {ok}")

        print("\n== the editor plugin's wait, 1,000-node flow, median", flush=True)
        ec = editor_case(cmd, root, repeat)
        report["editor"] = ec
        print(f"  POST /check to hacheck serve    {ec['serve_median'] * 1000:.0f} ms  (min {ec['serve_min'] * 1000:.0f}; "
              f"{ec['requests']} requests)  target < {TARGET_SERVE * 1000:.0f} ms: {'OK' if ec['serve_median'] < TARGET_SERVE else 'OVER TARGET'}")
        print(f"  spawned hacheck check - (stdin) {ec['cli_median'] * 1000:.0f} ms  (min {ec['cli_min'] * 1000:.0f})  "
              f"target < {TARGET_SPAWNED * 1000:.0f} ms: {'OK' if ec['cli_median'] < TARGET_SPAWNED else 'OVER TARGET'}")

        print("\n== one flow file, all rules (--preview), JSON output, --jobs 1", flush=True)
        paths = {n: flow_file(root, n) for n in sizes}
        rows = []
        head = f"  {'nodes':>8} {'MiB':>6} {'wall s':>7} {'CPU s':>6} {'RSS MiB':>8} {'findings':>8} | {'import':>6} {'catalog':>7} {'load':>6} {'graph':>6} {'rules':>6} {'other':>6} {'report':>6}"
        print(head)
        for n in sizes:
            row = size_case(cmd, paths[n], n, 3 if n <= 10_000 else 1, work)
            rows.append(row)
            ph = row["phases"] or {}
            print(
                f"  {n:>8,} {row['mib']:>6.1f} {row['wall']:>7.2f} {row['cpu']:>6.2f} {row['rss_mib']:>8.0f} {row['findings']:>8,} | "
                + " ".join(f"{_fmt(ph.get(k)):>{w}}" for k, w in (("import", 6), ("catalog", 7), ("load", 6), ("graph", 6), ("rules", 6), ("other", 6), ("report", 6))),
                flush=True,
            )
        report["sizes"] = rows
        biggest = rows[-1]
        if biggest.get("phases"):
            slow = ", ".join(f"{rid} {sec:.2f}" for rid, sec in biggest["phases"]["slowest_rules"])
            print(f"  slowest rules at {biggest['nodes']:,} nodes (s): {slow}")
        by_n = {r["nodes"]: r for r in rows}
        if 100_000 in by_n:
            r = by_n[100_000]
            verdict = "OK" if r["wall"] < TARGET_100K_WALL and r["rss_mib"] < TARGET_100K_RSS_MIB else "OVER TARGET"
            print(f"  target 100k: < {TARGET_100K_WALL} s wall and < {TARGET_100K_RSS_MIB} MiB RSS: {verdict}")
            jr = json_load_ratio(cmd, paths[100_000], work)
            verdict = "OK" if jr["ratio"] <= TARGET_JSON_LOAD_X else "OVER TARGET"
            print(
                f"  100k against a bare json.load of the file in a fresh process, {jr['pairs']} interleaved pairs "
                f"(check {jr['check_median']:.2f} s, json.load {jr['json_load_median']:.2f} s, medians): "
                f"x{jr['ratio']:.1f} median, x{jr['ratio_min']:.1f}-x{jr['ratio_max']:.1f} (target <= x{TARGET_JSON_LOAD_X:.0f}): {verdict}"
            )
            report["json_load_100k"] = jr
        if 10_000 in by_n and 100_000 in by_n:
            wall_x = by_n[100_000]["wall"] / by_n[10_000]["wall"]
            cpu_x = by_n[100_000]["cpu"] / by_n[10_000]["cpu"]
            print(f"  scaling 10k -> 100k: wall x{wall_x:.1f}, CPU x{cpu_x:.1f} (target <= x{TARGET_SCALING:.0f}): {'OK' if wall_x <= TARGET_SCALING else 'OVER TARGET'}")
            report["scaling_10k_100k"] = {"wall": wall_x, "cpu": cpu_x}

        if fleet_n:
            print(f"\n== a fleet of {fleet_n:,} flow files (one folder per instance)", flush=True)
            fc = fleet_case(cmd, fleet_dir(root, fleet_n), work)
            report["fleet"] = fc
            for j in (1, 2):
                f = fc[f"jobs{j}"]
                print(f"  --jobs {j}: {f['wall']:.2f} s wall, {f['cpu']:.2f} s CPU, {f['rss_mib']:.0f} MiB peak RSS, {f['files']:,} files, {f['findings']:,} findings")
            print(f"  speed-up x{fc['jobs1']['wall'] / fc['jobs2']['wall']:.2f}; identical output: {'yes' if fc['same_output'] else 'NO'} ({fc['nodes']:,} nodes in all)")

        nr = None if a.no_nrlint else nrlint_cmd()
        if nr is None:
            print("\n== nrlint: not installed (see benchmarks/README.md), skipped")
        else:
            print(f"\n== nrlint (default configuration from `nrlint --init`), limit {a.nrlint_limit:.0f} s per flow", flush=True)
            report["nrlint"] = {}
            timed_out = False
            for row in rows:
                n = row["nodes"]
                if timed_out:
                    print(f"  {n:>8,} nodes: not run (a smaller flow already hit the limit)")
                    continue
                res = nrlint_case(nr, paths[n], a.nrlint_limit, work)
                report["nrlint"][n] = res
                if res["timed_out"]:
                    timed_out = True
                    print(f"  {n:>8,} nodes: nrlint > {a.nrlint_limit:.0f} s (stopped)  hacheck {row['wall']:.2f} s  ratio > x{a.nrlint_limit / row['wall']:.0f}")
                else:
                    print(f"  {n:>8,} nodes: nrlint {res['wall']:.2f} s ({res['problems']} problems)  hacheck {row['wall']:.2f} s  ratio x{res['wall'] / row['wall']:.1f}")

    print(f"\nsuite finished in {time.perf_counter() - started:.0f} s")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(report, indent=2, default=str) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):  # `python benchmarks/run.py`: make `benchmarks` importable
        sys.path.insert(0, str(REPO))
    sys.exit(main())
