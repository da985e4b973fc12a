"""Live checks in the Node-RED editor: how long from an edit to the findings updated.

    python -m benchmarks.live_latency                    # a 1,000-node generated flow, 40 edits, both ways
    python -m benchmarks.live_latency --edits 100 --mode http
    python -m benchmarks.live_latency --flow corpus:001__David-SKB__home-assistant-node-red__flows.json

A real Node-RED 4.1.15 (.cache/node-red) with the plugin installed from `npm pack`, this
checkout's `hacheck` on its PATH (the plugin keeps one `hacheck serve` child). Each edit adds a
plain `mqtt in` wired to an `mqtt out` (HA101 appears), then takes it away (HA101 goes):

- `browser`: in a real headless Chromium, the edit is a paste into the editor
  (RED.view.importNodes) and its undo (core:undo, Ctrl+Z); the time is from the edit until the
  sidebar lists (or no longer lists) the finding, edits --pause seconds apart (an edit within
  300 ms of the last is a burst, checked when the burst pauses). It includes the editor's export
  of its flows, the HTTP round trip and the rendering: what a user waits.
- `http`: POST /hacheck/check of the flows with and without the added nodes, as the editor would
  send them; the time is the round trip until the report is parsed (no debounce).

The first check (the serve child's start and its first check of the flow) is not counted.
Prints p50/p95/max per mode; --json writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import corpus_dir  # noqa: E402 - the one place that knows where the corpus is


def load_flow(spec: str, nodes: int) -> list:
    if spec.startswith("corpus:"):
        return json.loads((corpus_dir() / "files" / spec[len("corpus:"):]).read_text())
    from benchmarks.flowgen import generate

    return generate(nodes)


def edit_nodes(i: int, tab: str) -> list[dict]:
    """A broker, a plain subscription and the publish it feeds: HA101 on the subscription."""
    return [
        {"id": f"lat-brk-{i}", "type": "mqtt-broker", "name": "bench", "broker": "mqtt.bench.invalid", "port": "1883", "clientid": ""},
        {"id": f"lat-in-{i}", "type": "mqtt in", "z": tab, "name": f"orders {i}", "topic": f"bench/{i}/#", "qos": "1",
         "broker": f"lat-brk-{i}", "datatype": "auto-detect", "inputs": 0, "x": 160, "y": 100, "wires": [[f"lat-out-{i}"]]},
        {"id": f"lat-out-{i}", "type": "mqtt out", "z": tab, "name": f"start {i}", "topic": f"bench/{i}/start",
         "broker": f"lat-brk-{i}", "x": 400, "y": 100, "wires": []},
    ]


def stats(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"n": len(xs), "p50_ms": round(statistics.median(xs) * 1000), "p95_ms": round(xs[max(0, int(len(xs) * 0.95) - 1)] * 1000),
            "max_ms": round(xs[-1] * 1000)}


def run_http(editor, flows: list, tab: str, edits: int) -> dict:
    http = httpx.Client(timeout=120, trust_env=False)
    has = lambda r, i: any(f["rule"] == "HA101" and f["node"] == f"lat-in-{i}" for f in r.json()["report"]["findings"])  # noqa: E731
    http.post(f"{editor.url}/hacheck/check", json={"flows": flows}).raise_for_status()  # start + warm
    add, remove = [], []
    for i in range(edits):
        t0 = time.perf_counter()
        r = http.post(f"{editor.url}/hacheck/check", json={"flows": flows + edit_nodes(i, tab)})
        add.append(time.perf_counter() - t0)
        assert r.status_code == 200 and has(r, i), r.text[:300]
        t0 = time.perf_counter()
        r = http.post(f"{editor.url}/hacheck/check", json={"flows": flows})
        remove.append(time.perf_counter() - t0)
        assert r.status_code == 200 and not has(r, i)
    return {"added": stats(add), "removed": stats(remove), "all": stats(add + remove)}


def run_browser(editor, tab: str, edits: int, pause: float = 1.0) -> dict:
    from tests.integration.test_node_red_plugin import ROWS
    from tests.test_html_browser import browser_programs, open_browser

    chromium, driver = browser_programs()
    assert chromium and driver, "chromium and chromedriver are needed: bash scripts/install-deps"
    with tempfile.TemporaryDirectory(prefix="live-latency-chromium-") as work, open_browser(Path(work), chromium, driver) as b:
        b.get(editor.url)
        wait(b, f"return !!(window.RED && RED.nodes && RED.nodes.workspace('{tab}') && RED.sidebar.containsTab('hacheck'))", 120)
        b.js("RED.sidebar.show('hacheck')")
        wait(b, "return /Checked/.test(document.querySelector('.hacheck-status').innerText)", 120)
        b.js(f"RED.workspaces.show('{tab}')")
        rows = ROWS.replace("return ", "", 1)
        add, remove = [], []
        for i in range(edits):
            nodes = [{k: v for k, v in n.items() if k != "z"} for n in edit_nodes(i, tab)]  # pasted into the tab shown
            # a user's pace: edits closer than the plugin's 300 ms are a burst, checked when it pauses
            time.sleep(pause)
            row = json.dumps(f"HA101 lat-in-{i}")
            # the edit and the clock start in the page, then the page is polled every 10 ms:
            # the time is measured in the page (performance.now), not by the WebDriver round trips
            b.js("window.__t0 = performance.now(); RED.view.importNodes(arguments[0], {touchImport: true, generateIds: false, notify: false});"
                 f" (function poll() {{ if ({rows}.indexOf({row}) >= 0) {{ window.__took = performance.now() - window.__t0; }}"
                 " else { setTimeout(poll, 10); } })();", nodes)
            add.append(took(b))
            time.sleep(pause)
            b.js("window.__took = null; window.__t0 = performance.now(); RED.actions.invoke('core:undo');"
                 f" (function poll() {{ if ({rows}.indexOf({row}) < 0) {{ window.__took = performance.now() - window.__t0; }}"
                 " else { setTimeout(poll, 10); } })();")
            remove.append(took(b))
        return {"added": stats(add), "removed": stats(remove), "all": stats(add + remove)}


def wait(b, cond: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not b.js(cond):
        assert time.monotonic() < deadline, cond
        time.sleep(0.05)


def took(b) -> float:
    deadline = time.monotonic() + 60
    while (ms := b.js("return window.__took")) is None:
        assert time.monotonic() < deadline, "the findings were not updated within 60 s"
        time.sleep(0.05)
    b.js("window.__took = null")
    return ms / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flow", default="gen", help="'gen' (benchmarks/flowgen.py) or corpus:<file name>")
    ap.add_argument("--nodes", type=int, default=1000, help="node count of a generated flow")
    ap.add_argument("--edits", type=int, default=40)
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between edits in the browser [default: 1; under 0.3 they are a burst]")
    ap.add_argument("--mode", choices=("both", "browser", "http"), default="both")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()

    from tests.integration.cluster import find_exe
    from tests.integration.test_node_red_plugin import PLUGIN, Editor

    flows = load_flow(args.flow, args.nodes)
    tab = next(n["id"] for n in flows if n.get("type") == "tab" and not n.get("disabled"))
    hacheck = shutil.which("hacheck", path=os.path.dirname(sys.executable)) or shutil.which("hacheck")
    if not hacheck:
        sys.exit("live_latency: the hacheck command is not installed (pip install -e .)")
    tmp = Path(tempfile.mkdtemp(prefix="live-latency-"))
    subprocess.run([find_exe("npm"), "pack", str(PLUGIN), "--pack-destination", str(tmp)], check=True, capture_output=True)
    tarball = next(tmp.glob("node-red-hacheck-*.tgz"))
    env = {**os.environ, "PATH": os.path.dirname(hacheck) + os.pathsep + os.environ["PATH"], "PYTHONPATH": str(REPO)}
    editor = Editor(tmp, tarball, env=env, flows=flows)
    out = {"flow": args.flow, "nodes": len(flows), "edits": args.edits, "python": platform.python_version(),
           "cpus": os.cpu_count(), "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    try:
        if args.mode in ("both", "http"):
            out["http"] = run_http(editor, flows, tab, args.edits)
            print(f"http (POST /hacheck/check, {len(flows)} nodes): {out['http']['all']}", flush=True)
        if args.mode in ("both", "browser"):
            out["browser"] = run_browser(editor, tab, args.edits, args.pause)
            print(f"browser (edit to sidebar updated, edits {args.pause} s apart): added {out['browser']['added']}, "
                  f"removed {out['browser']['removed']}", flush=True)
    finally:
        editor.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
