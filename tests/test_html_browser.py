"""The HTML report in a real headless Chromium: it loads with no console error and no network
request, every tab and subflow is drawn with the right number of highlighted nodes, hovering
and clicking a node shows its findings, and a hostile node name stays text.

Chromium is driven through chromedriver's W3C WebDriver HTTP API with httpx (already a test
dependency), so no browser-automation package is needed. A missing browser FAILS the test
with the install command: a skipped browser test would let CI go green without a browser.
The screenshot is saved as test-artifacts/report.png.
"""

from __future__ import annotations

import base64
import io
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from hacheck.reporters import html as html_report
from tests.report_scenarios import REPO, run

pytestmark = pytest.mark.integration

INSTALL = "bash scripts/install-deps"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element key
ARTIFACTS = REPO / "test-artifacts"
FILES = ["flows_broken.json", "flows_ha-ready.json", "flows_hostile-labels.json", "flows_not-ha-ready.json"]
CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]


class WebDriverError(Exception):
    pass


class Browser:
    """The few WebDriver commands the test needs."""

    def __init__(self, base: str, session: str):
        self.base, self.session = base, session
        self.http = httpx.Client(timeout=60)

    def _call(self, method: str, path: str, body: dict | None = None):
        r = self.http.request(method, f"{self.base}/session/{self.session}{path}", json=body)
        value = r.json().get("value")
        if r.status_code >= 400:
            raise WebDriverError(f"{method} {path}: {value.get('error')}: {value.get('message', '')[:300]}")
        return value

    def get(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def js(self, script: str, *args):
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css: str) -> dict:
        return self._call("POST", "/element", {"using": "css selector", "value": css})

    def hover(self, element: dict) -> None:
        self.js("arguments[0].scrollIntoView({block: 'center', inline: 'center'});", element)
        move = {"type": "pointerMove", "duration": 0, "origin": element, "x": 0, "y": 0}
        self._call("POST", "/actions", {"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [move]}]})

    def click(self, element: dict) -> None:
        self._call("POST", f"/element/{element[ELEMENT]}/click", {})

    def key(self, key: str) -> None:
        acts = [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]
        self._call("POST", "/actions", {"actions": [{"type": "key", "id": "kbd", "actions": acts}]})

    def console(self) -> list[dict]:
        return self._call("POST", "/se/log", {"type": "browser"})

    def window(self, width: int, height: int) -> None:
        self._call("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self) -> bytes:
        return base64.b64decode(self._call("GET", "/screenshot"))

    def close(self) -> None:
        try:
            self.http.delete(f"{self.base}/session/{self.session}")
        finally:
            self.http.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BrowserFailed(RuntimeError):
    """chromedriver or Chromium did not start; the message says which, with its log."""


@contextmanager
def open_browser(workdir: Path, chromium: str, driver: str) -> Iterator[Browser]:
    """chromedriver on a free port with one headless Chromium session, both stopped on exit.
    The HTML report's tests and the editor plugin's latency benchmark drive the same browser."""
    port = _free_port()
    log = workdir / "chromedriver.log"
    proc = subprocess.Popen([driver, f"--port={port}", f"--log-path={log}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    b = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/status", timeout=5).json()["value"]["ready"]:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BrowserFailed(f"chromedriver did not start (exit {proc.poll()}); log: {log}")
            time.sleep(0.2)
        profile = workdir / "chromium-profile"
        profile.mkdir(exist_ok=True)
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": chromium, "args": CHROME_ARGS + [f"--user-data-dir={profile}"]},
                    "goog:loggingPrefs": {"browser": "ALL"},
                }
            }
        }
        r = httpx.post(f"{base}/session", json=caps, timeout=120)
        value = r.json().get("value", {})
        if r.status_code >= 400 or "sessionId" not in value:
            raise BrowserFailed(f"Chromium did not start under chromedriver: {value.get('message', r.text)[:500]}")
        b = Browser(base, value["sessionId"])
        yield b
    finally:
        if b is not None:
            b.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def browser_programs() -> tuple[str | None, str | None]:
    return shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver = browser_programs()
    if not chromium or not driver:
        missing = " and ".join(n for n, p in (("chromium", chromium), ("chromedriver", driver)) if not p)
        pytest.fail(f"{missing} not found: the HTML report is tested in a real browser; install it with `{INSTALL}` (Debian packages chromium, chromium-driver)", pytrace=False)
    try:
        with open_browser(tmp_path_factory.mktemp("chromedriver"), chromium, driver) as b:
            yield b
    except BrowserFailed as e:  # raised only while starting: a test's own failure is not thrown in here
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    """The report for every fixture flow, loaded; returns (browser, result)."""
    result = run(FILES)
    buf = io.StringIO()
    html_report.render(result, buf)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(buf.getvalue(), encoding="utf-8")
    browser.get(path.as_uri())
    assert browser.js("return document.readyState") == "complete"
    return browser, result


def _dom(result, path: str, node_id: str) -> str:
    i = [fr.path for fr in result.files].index(path)
    return f"f{i}-n{result.flows[path].by_id[node_id].index}"


NOT_READY = "fixtures/flows/flows_not-ha-ready.json"
HOSTILE = "fixtures/flows/flows_hostile-labels.json"


def test_page_loads_without_errors_or_requests(page):
    browser, _ = page
    errors = [e for e in browser.console() if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    assert browser.js("return performance.getEntriesByType('resource').length") == 0, "the page fetched something"
    assert browser.js("return typeof window.__pwned") == "undefined", "a node name ran as script"
    assert browser.js("return document.querySelectorAll('script').length") == 1
    assert browser.js("return document.querySelectorAll('img, iframe').length") == 0


def test_every_tab_is_drawn_with_its_flagged_nodes_highlighted(page):
    browser, result = page
    drawn = browser.js(
        """
        return Array.from(document.querySelectorAll('details.flow')).map(function (d) {
          var svg = d.querySelector('svg.drawing');
          var flagged = Array.from(d.querySelectorAll('g.node.flagged'));
          return {
            id: d.id, container: d.getAttribute('data-container'),
            width: svg ? svg.getBoundingClientRect().width : 0,
            nodes: d.querySelectorAll('g.node').length,
            flagged: flagged.map(function (g) { return g.getAttribute('data-node-id'); }),
            strokes: flagged.map(function (g) { return getComputedStyle(g.querySelector('.body')).strokeWidth; }),
            badges: flagged.map(function (g) { var b = g.querySelector('.badge text'); return b ? b.textContent : ''; })
          };
        });"""
    )
    want = {}
    for i, fr in enumerate(result.files):
        flow = result.flows[fr.path]
        for cid in list(flow.tabs) + list(flow.subflows):
            flagged = {f.node_id for f in fr.findings if f.suppressed is None and f.node_id and flow.by_id[f.node_id].z == cid}
            n = sum(1 for x in flow.children.get(cid, []) if x.type != "group" and not x.is_config)
            want[(i, cid)] = (flagged, n, {nid: {f.rule_id for f in fr.findings if f.node_id == nid and f.suppressed is None} for nid in flagged})
    got = {(int(d["id"].split("-")[0][1:]), d["container"]): d for d in drawn}
    assert set(got) == set(want), "one drawing per tab and subflow"
    for key, (flagged, n, rules) in want.items():
        d = got[key]
        assert d["width"] > 0 and d["nodes"] == n, key
        assert sorted(d["flagged"]) == sorted(flagged), key
        assert all(s == "3px" for s in d["strokes"]), "the stylesheet applied (CSP hash right) and marks them"
        for nid, badge in zip(d["flagged"], d["badges"], strict=True):
            assert set(badge.split(" · ")) == rules[nid]
    assert sum(len(v[0]) for v in want.values()) >= 9  # 4 in the realistic flow, 5 hostile


def _tip(browser) -> str | None:
    return browser.js("var t = document.getElementById('tip'); return t.hidden ? null : t.textContent;")


def test_hover_shows_the_findings_and_the_fix(page):
    browser, result = page
    browser.hover(browser.find("#" + _dom(result, NOT_READY, "mqtt_temps")))
    tip = _tip(browser)
    assert tip is not None, "hovering a flagged node shows a tooltip"
    assert "HA101 mqtt-subscription-not-shared" in tip and "'temperatures' subscribes to 'sensors/+/temperature'" in tip
    assert "Fix: Subscribe with $share/<group>/<topic>" in tip
    browser.hover(browser.find("#" + _dom(result, NOT_READY, "dbg_temps")))
    assert "No findings on this node." in _tip(browser)
    browser.hover(browser.find("h1"))
    assert _tip(browser) is None


def test_click_pins_the_findings_and_shows_the_input_path(page):
    browser, result = page
    smooth = _dom(result, NOT_READY, "smooth_avg")
    browser.click(browser.find("#" + smooth))
    panel = browser.js("var p = document.getElementById('panel'); return p.hidden ? null : p.textContent;")
    assert panel is not None and "HA201 stateful-node" in panel
    assert "Fed by: [post] /readings → parse reading → rolling average → mean of 10" in panel
    on_path = browser.js("return Array.from(document.querySelectorAll('g.node.on-path')).map(function (g) { return g.id; });")
    assert sorted(on_path) == sorted(_dom(result, NOT_READY, n) for n in ("http_readings", "fn_parse", "sf_avg_inst"))
    assert browser.js("return document.querySelectorAll('.wire.on-path').length") == 2  # http in -> parse -> instance
    _screenshot(browser)
    browser.key("\ue00c")  # Escape
    assert browser.js("return document.getElementById('panel').hidden") is True
    assert browser.js("return document.querySelectorAll('.on-path, .selected').length") == 0


def test_table_link_jumps_to_the_node(page):
    browser, result = page
    target = _dom(result, NOT_READY, "fn_count")
    browser.click(browser.find(f'a.goto[href="#{target}"]'))
    assert browser.js(f"return document.getElementById('{target}').classList.contains('selected')") is True
    assert "count requests" in browser.js("return document.getElementById('panel-body').textContent")
    browser.key("\ue00c")


def test_hostile_names_stay_text(page):
    browser, result = page
    browser.hover(browser.find("#" + _dom(result, HOSTILE, "m1")))
    assert "<script>window.__pwned='name'</script>" in _tip(browser)
    browser.hover(browser.find("#" + _dom(result, HOSTILE, "m2")))
    assert "<img src=x onerror=" in _tip(browser)
    browser.hover(browser.find("#" + _dom(result, HOSTILE, "d1")))  # no findings: its tooltip is built by the script
    assert "<img src=x onerror=\"window.__pwned='hover'\"><b>bold</b>" in _tip(browser)
    assert browser.js("return document.querySelectorAll('#tip b, img').length") == 0
    assert browser.js("return typeof window.__pwned") == "undefined"
    assert not [e for e in browser.console() if e["level"] == "SEVERE"], "no blocked script either"
    text = browser.js("return document.body.innerText")
    for secret in ("PLANTED-inline-9c1e5b", "PLANTED-fn-token-44aa", "PLANTED-toplevel-7f3a", "GOLDEN-plant-Pa55"):
        assert secret not in text


def test_fit_button_scales_the_drawing(page):
    browser, result = page
    canvas = f"f{[fr.path for fr in result.files].index(NOT_READY)}-t0-c"
    before = browser.js(f"return document.querySelector('#{canvas} svg').getBoundingClientRect().width")
    browser.click(browser.find(f'button.fit[data-canvas="{canvas}"]'))
    after = browser.js(f"return document.querySelector('#{canvas} svg').getBoundingClientRect().width")
    canvas_w = browser.js(f"return document.getElementById('{canvas}').clientWidth")
    assert abs(after - canvas_w) < 2 and after != before


def _screenshot(browser) -> None:
    """A full-page picture with the panel open, kept as a CI artifact."""
    height = min(browser.js("return document.documentElement.scrollHeight"), 8000)
    browser.window(1400, height)
    browser.js("window.scrollTo(0, 0)")
    png = browser.screenshot()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report.png").write_bytes(png)
    browser.window(1400, 1000)
