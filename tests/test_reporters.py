"""Reporters: golden files for every format, and the properties each format promises
(parseable, escaped, no secrets, stable bytes). SARIF's schema checks are in test_sarif.py,
the HTML page in a real browser in test_html_browser.py.

Refresh the goldens after an intended change: HACHECK_UPDATE_GOLDEN=1 python -m pytest tests/test_reporters.py
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import junitparser
import pytest

import hacheck
from hacheck import reporters
from hacheck.engine.catalog import load_catalog
from hacheck.model.config import Config
from hacheck.model.findings import Finding, Severity, Suppression
from hacheck.reporters import github, markdown
from hacheck.reporters.common import doc_url
from hacheck.reporters.html import _assets, _sha256
from tests.conftest import run_cli
from tests.report_scenarios import GOLDEN, PLANTED_SECRETS, SCENARIOS, run, scenario

MINE = ("concise", "sarif", "junit", "gitlab", "github", "markdown", "html")
EXT = {"concise": "concise.txt", "sarif": "sarif.json", "junit": "junit.xml", "gitlab": "gitlab.json", "github": "github.txt", "markdown": "md", "html": "html"}
UPDATE = os.environ.get("HACHECK_UPDATE_GOLDEN") == "1"
HOSTILE = ["flows_hostile-labels.json"]


def render(result, fmt: str) -> str:
    buf = io.StringIO()
    reporters.get(fmt).render(result, buf, color=False)
    return buf.getvalue()


@pytest.fixture
def pinned_version(monkeypatch):
    """Goldens must not change with each release: the version printed is fixed here."""
    monkeypatch.setattr(hacheck, "__version__", "0.0.0-golden")


# --- goldens ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", MINE)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden(name, fmt, pinned_version):
    out = render(scenario(name), fmt)
    path = GOLDEN / f"{name}.{EXT[fmt]}"
    if UPDATE:
        path.write_text(out, encoding="utf-8", newline="\n")
    assert path.is_file(), f"{path} is missing: create it with HACHECK_UPDATE_GOLDEN=1 python -m pytest {__file__}"
    expected = path.read_text(encoding="utf-8")
    assert out == expected, f"{fmt} output for '{name}' differs from {path.name}; if the change is intended, refresh with HACHECK_UPDATE_GOLDEN=1"


@pytest.mark.parametrize("fmt", MINE)
def test_output_is_byte_stable(fmt, pinned_version):
    """Same flows, same bytes: whatever order the files are given in, however often."""
    files = SCENARIOS["mixed"]
    a = render(run(files), fmt)
    b = render(run(list(reversed(files))), fmt)
    assert a == b
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", a), "a timestamp would make the output differ on every run"


def test_goldens_cover_every_registered_format():
    assert set(MINE) | {"text", "json"} == set(reporters.REPORTERS)
    for name in SCENARIOS:
        for fmt in MINE:
            assert (GOLDEN / f"{name}.{EXT[fmt]}").is_file()


def test_the_mixed_scenario_has_what_the_formats_must_show():
    """The goldens are only worth something if the scenario exercises every feature."""
    r = scenario("mixed")
    kinds = {f.rule_id for f in r.findings}
    assert {"HA101", "HA201", "HA202", "HC001", "SEC301"} <= kinds
    assert any(f.suppressed is not None for f in r.findings)
    assert any(f.paths and f.tab_label.startswith("subflow") for f in r.findings), "a path into a subflow"
    assert any(f.node_id is None for f in r.findings), "a file-level finding"
    assert {f.tab_label for f in r.findings if f.tab_label} >= {"Ingest", "Reports"}


# --- secrets and hostile text, every format -------------------------------------------------------


def _everything():
    """The hostile and the credential-carrying flows, with the pinned and the real rules."""
    files = HOSTILE + ["flows_not-ha-ready.json"]
    return [run(files), run(files, rules=load_catalog())]


@pytest.mark.parametrize("fmt", sorted(reporters.REPORTERS))
def test_no_format_prints_a_credential(fmt):
    for result in _everything():
        assert any(f.rule_id == "HA101" for f in result.findings)  # the flows were really checked
        out = render(result, fmt)
        for secret in PLANTED_SECRETS:
            assert secret not in out, f"{fmt} printed the planted secret {secret}"


@pytest.mark.parametrize("fmt", MINE)
def test_hostile_text_gives_encodable_output(fmt):
    """A lone surrogate or a NUL in a node name must not crash the writer or corrupt the file."""
    out = render(run(HOSTILE), fmt)
    out.encode("utf-8")  # raises on a lone surrogate
    if fmt in ("sarif", "gitlab"):
        json.loads(out)
    if fmt == "junit":
        ET.fromstring(out.encode("utf-8"))


# --- JUnit ----------------------------------------------------------------------------------


def _junit_both(text: str):
    """Parse with a real JUnit reader (junitparser, as CI plugins do) and with ElementTree."""
    path = io.BytesIO(text.encode("utf-8"))
    xml = junitparser.JUnitXml.fromfile(path)
    root = ET.fromstring(text.encode("utf-8"))
    return xml, root


def test_junit_parses_and_counts_match():
    result = scenario("mixed")
    xml, root = _junit_both(render(result, "junit"))
    suites = {s.name: s for s in xml}
    assert set(suites) == {fr.path for fr in result.files}
    ran = {"HA101", "HA201", "HA202", "HC001", "SEC301"}
    for fr in result.files:
        suite = suites[fr.path]
        cases = {c.name.split()[0]: c for c in suite}
        assert set(cases) == ran, "one case per rule that ran, per file"
        failing = {f.rule_id for f in fr.findings if f.suppressed is None}
        got = {rid for rid, c in cases.items() if any(isinstance(r, junitparser.Failure) for r in c.result)}
        assert got == failing
        assert suite.tests == len(ran) and suite.failures == len(failing)
    total = sum(len(list(s)) for s in xml)
    assert int(root.get("tests")) == total
    assert int(root.get("failures")) == sum(s.failures for s in xml)


def test_junit_failure_names_every_finding_and_the_fix():
    result = scenario("mixed")
    _, root = _junit_both(render(result, "junit"))
    case = root.find(".//testsuite[@name='fixtures/flows/flows_not-ha-ready.json']/testcase[@name='HA202 context-state']")
    failure = case.find("failure")
    assert failure.get("type") == "warning"
    assert failure.get("message").startswith("2 findings: ")
    assert ":12: warning:" in failure.text and ":18: warning:" in failure.text
    assert "How to fix: Declare a shared context store" in failure.text
    assert doc_url("HA202", "context-state") in failure.text


def test_junit_only_suppressed_findings_are_skipped_with_the_reason():
    result = scenario("mixed")
    for fr in result.files:
        fr.findings = [
            f.with_suppression(Suppression("config", "accepted for the pilot")) if f.rule_id == "HA101" and f.suppressed is None else f
            for f in fr.findings
        ]
    xml, _ = _junit_both(render(result, "junit"))
    suite = next(s for s in xml if s.name.endswith("not-ha-ready.json"))
    case = next(c for c in suite if c.name.startswith("HA101"))
    assert case.is_skipped
    assert "accepted for the pilot" in case.result[0].message
    assert "every copy must drop its own cache" in case.result[0].message  # the inline one too
    assert suite.skipped == 1


def test_junit_findings_below_fail_on_pass_and_are_listed():
    result = run(SCENARIOS["mixed"], config=Config(fail_on="error"))
    _, root = _junit_both(render(result, "junit"))
    case = root.find(".//testcase[@name='HA202 context-state'][@file='fixtures/flows/flows_not-ha-ready.json']")
    assert case.find("failure") is None
    assert "count requests" in case.find("system-out").text
    sev_case = root.find(".//testcase[@name='SEC301 credentials-in-flow'][@file='fixtures/flows/flows_not-ha-ready.json']")
    assert sev_case.find("failure") is not None


def test_junit_crashed_rule_is_an_error():
    result = scenario("ha-ready")
    crash = Finding("HC000", "internal-rule-error", Severity.ERROR, "rule HA201 (stateful-node) failed", result.files[0].path, detail="HA201")
    result.files[0].findings.append(crash)
    xml, root = _junit_both(render(result, "junit"))
    case = root.find(".//testcase[@name='HC000 internal-rule-error']")
    assert case.find("error") is not None and case.find("failure") is None
    assert int(root.get("errors")) == 1


def test_junit_hostile_names_survive_a_round_trip():
    result = run(HOSTILE)
    xml, root = _junit_both(render(result, "junit"))
    text = "".join(el.text or "" for el in root.iter())
    assert "<script>window.__pwned='name'</script>" in text  # escaped in the file, intact when read back
    assert "\x00" not in text and "\x1b" not in text


# --- GitLab Code Quality -------------------------------------------------------------------------


def test_gitlab_has_the_fields_gitlab_reads():
    result = scenario("mixed")
    issues = json.loads(render(result, "gitlab"))
    active = [f for f in result.findings if f.suppressed is None]
    assert len(issues) == len(active), "suppressed findings are left out"
    for issue, f in zip(issues, active, strict=True):
        assert issue["description"] == f.message
        assert issue["check_name"] == f"{f.rule_id} {f.rule_name}"
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert issue["location"]["path"] == f.file
        assert isinstance(issue["location"]["lines"]["begin"], int) and issue["location"]["lines"]["begin"] >= 1
        assert issue["location"]["lines"]["begin"] == (f.line or 1)
    assert {i["severity"] for i in issues} == {"critical", "major"}
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_gitlab_repeated_fingerprints_are_told_apart():
    result = scenario("mixed")
    fr = next(fr for fr in result.files if fr.findings and fr.findings[-1].node_id)
    twin = dataclasses.replace(fr.findings[-1], message="the same place, said again")
    fr.findings.append(twin)
    issues = json.loads(render(result, "gitlab"))
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    first = json.loads(render(result, "gitlab"))
    assert [i["fingerprint"] for i in first] == [i["fingerprint"] for i in issues], "still stable"


def test_gitlab_clean_run_is_an_empty_list():
    assert json.loads(render(scenario("ha-ready"), "gitlab")) == []


# --- GitHub annotations ----------------------------------------------------------------------------


def test_github_escaping_follows_the_actions_toolkit():
    assert github.escape_data("100%\r\nnext") == "100%25%0D%0Anext"
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert github.command("error", "m:1, 2", file="x,y.json", line=3, title="T: t") == "::error file=x%2Cy.json,line=3,title=T%3A t::m:1, 2"


def _unescape(s: str) -> str:
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def test_github_annotations_round_trip_and_cannot_inject_commands():
    result = run(HOSTILE)
    out = render(result, "github")
    lines = out.splitlines()
    active = [f for f in result.findings if f.suppressed is None]
    commands = [ln for ln in lines if ln.startswith("::")]
    assert len(commands) == len(active)
    assert all(ln.startswith("::") or ln.startswith("hacheck: ") for ln in lines), "every line is ours"
    assert "::error file=evil.js" not in "\n".join(ln.split("::", 2)[0] for ln in lines)
    for ln, f in zip(commands, active, strict=True):
        m = re.fullmatch(r"::(error|warning|notice) ([^:]*)::(.*)", ln)
        assert m, ln
        props = dict(p.split("=", 1) for p in m.group(2).split(","))
        assert _unescape(props["file"]) == f.file and props["line"] == str(f.line)
        assert _unescape(props["title"]) == f"{f.rule_id} {f.headline or f.rule_name}"
        assert " ".join(f.message.split()).replace("\ud800", "\ufffd") in _unescape(m.group(3))
    assert "%0A" in out  # the multi-line name was escaped, not printed raw


def test_github_levels_and_suppressed():
    result = scenario("mixed")
    out = render(result, "github")
    assert out.count("::error ") == 3 and out.count("::warning ") == 3
    assert "[mqtt_cache]" not in out, "suppressed findings are not annotated"
    assert "[mqtt_temps]" in out
    info = dataclasses.replace(result.files[2].findings[0], severity=Severity.INFO)
    result.files[2].findings[0] = info
    assert "::notice file=" in render(result, "github")


def test_auto_format_is_github_inside_github_actions(tmp_path):
    flow = str(tmp_path / "flows.json")
    with open(flow, "w") as fh:
        fh.write((GOLDEN.parent / "flows" / "flows_not-ha-ready.json").read_text())
    inside = run_cli("check", flow, env={"GITHUB_ACTIONS": "true"})
    outside = run_cli("check", flow, env={"GITHUB_ACTIONS": ""})
    assert inside.returncode == outside.returncode == 1
    assert re.search(r"^::error file=.*flows\.json,line=\d+,title=HA101 every copy [^:]*::", inside.out, re.M)
    assert "::error" not in outside.out


# --- Markdown -----------------------------------------------------------------------------------


def _table_rows(text: str) -> list[list[str]]:
    """Table rows split on unescaped pipes, as GitHub splits them."""
    rows = []
    for ln in text.splitlines():
        if ln.startswith("|"):
            rows.append(re.split(r"(?<!\\)\|", ln)[1:-1])
    return rows


def test_markdown_summary_has_verdict_counts_and_top_findings():
    result = scenario("mixed")
    out = render(result, "markdown")
    assert out.startswith("### ❌ hacheck: not HA-ready")
    assert "3 errors, 3 warnings, 0 info (1 suppressed)" in out
    assert "| [HA202](" + doc_url("HA202", "context-state") + ") context-state | warning | 2 |" in out
    assert "| [HA101](" in out and "| 1 (+1 suppressed) |" in out
    assert "`fixtures/flows/flows_not-ha-ready.json:11`" in out
    assert "<details>" in out and "<summary>All 6 findings, and 1 suppressed</summary>" in out
    assert "suppressed (inline): every copy must drop its own cache" in out
    ok = render(scenario("ha-ready"), "markdown")
    assert ok.startswith("### ✅ hacheck: HA-ready") and "<details>" not in ok


def test_markdown_escapes_flow_text():
    out = render(run(HOSTILE), "markdown")
    assert "<script" not in out and "<img" not in out and "<!--" not in out
    assert "@everyone" not in out, "a node name must not notify a GitHub team"
    assert "](javascript:" not in out.replace("\\]", "")
    widths = {len(r) for r in _table_rows(out.split("| | Location")[1].split("\n\n")[0])}
    assert widths == {5}, "a pipe in a name must not add a table column"


def test_markdown_stays_under_the_comment_limit():
    result = scenario("mixed")
    base = result.files[2].findings[1]
    result.files[2].findings = [dataclasses.replace(base, node_id=f"n{i}", message="x" * 2000) for i in range(1000)]
    out = render(result, "markdown")
    assert len(out) < 65536
    assert f"… and {len(result.findings) - markdown.MAX_LISTED} more" in out


# --- HTML ---------------------------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in = tag
            (self.scripts if tag == "script" else self.styles).append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "style":
            self.styles[-1] += data


def _page(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    return p


def test_html_loads_nothing_from_outside():
    out = render(scenario("mixed"), "html")
    page = _page(out)
    for tag, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action", "data", "poster", "srcset"):
            value = (attrs.get(name) or "").strip().lower()
            assert not re.match(r"^(https?:|//|ftp:|file:)", value), f"<{tag} {name}={value}>"
    assert not re.search(r"@import|url\(", page.styles[0]), "CSS must not fetch"
    csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    css, js = _assets()
    assert "default-src 'none'" in csp
    assert f"script-src {_sha256(js)}" in csp and f"style-src {_sha256(css)}" in csp
    assert page.scripts == [js] and page.styles == [css], "the hashes allow exactly the inline assets"


def test_html_escapes_everything_from_the_flow():
    out = render(run(HOSTILE), "html")
    page = _page(out)
    css, js = _assets()
    assert page.scripts == [js], "no script but ours"
    assert not [t for t, _ in page.tags if t in ("img", "iframe", "object", "embed")]
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")], f"event handler attribute on <{tag}>"
    assert "&lt;script&gt;window.__pwned=&#x27;name&#x27;&lt;/script&gt;" in out
    assert "<script>window.__pwned" not in out
    assert "\x00" not in out and "\x1b" not in out


def _containers(result):
    """(file index, container id) -> number of distinct flagged nodes drawn there."""
    want = {}
    for i, fr in enumerate(result.files):
        flow = result.flows.get(fr.path)
        if flow is None:
            continue
        for cid in list(flow.tabs) + list(flow.subflows):
            nodes = {f.node_id for f in fr.findings if f.suppressed is None and f.node_id and flow.by_id[f.node_id].z == cid}
            want[(i, cid)] = len(nodes)
    return want


def test_html_draws_every_tab_and_subflow_with_the_flagged_nodes():
    result = scenario("mixed")
    out = render(result, "html")
    page = _page(out)
    drawn = {}
    current = None
    for tag, attrs in page.tags:
        if tag == "details" and "flow" in attrs.get("class", ""):
            current = (int(attrs["id"].split("-")[0][1:]), attrs["data-container"])
            drawn[current] = {"flagged": 0, "nodes": 0, "declared": int(attrs["data-flagged"])}
        elif tag == "g" and "node" in attrs.get("class", "").split() and current:
            drawn[current]["nodes"] += 1
            drawn[current]["flagged"] += "flagged" in attrs["class"].split()
    want = _containers(result)
    assert set(drawn) == set(want)
    for key, n in want.items():
        assert drawn[key]["flagged"] == drawn[key]["declared"] == n, key
    flow = result.flows["fixtures/flows/flows_not-ha-ready.json"]
    assert drawn[(2, "tab_ingest")]["nodes"] == len([n for n in flow.children["tab_ingest"] if n.type != "group"])
    assert sum(v["flagged"] for v in drawn.values()) == 4  # temperatures, remember, count, mean (not the suppressed one)


def test_html_wires_and_detail_for_each_flagged_node():
    result = scenario("mixed")
    out = render(result, "html")
    page = _page(out)
    wires = [a for t, a in page.tags if t == "path" and a.get("class", "").startswith("wire")]
    flow = result.flows["fixtures/flows/flows_not-ha-ready.json"]
    expected = sum(1 for n in flow.by_id.values() for port in n.wires for t in port if t in flow.by_id)
    expected += 1  # the link out -> link in pair is on two tabs: no wire; the subflow has in + out
    expected += 1
    ha_ready = result.flows["fixtures/flows/flows_ha-ready.json"]
    expected += sum(1 for n in ha_ready.by_id.values() for port in n.wires for t in port if t in ha_ready.by_id)
    assert len(wires) == expected
    assert all(re.fullmatch(r"M [-\d. ]+(?: [CS] [-\d. ]+)+", w["d"]) for w in wires)
    ids = {a["id"] for t, a in page.tags if "id" in a}
    flagged = [a for t, a in page.tags if t == "g" and "flagged" in a.get("class", "")]
    for g in flagged:
        assert g["data-detail"] in ids, "hover/click finds the node's findings"
    smooth = next(g for g in flagged if g["data-node-id"] == "smooth_avg")
    path_ids = smooth["data-paths"].split()
    assert len(path_ids) == 4 and all(p in ids for p in path_ids)
    detail = out.split(f'id="{smooth["data-detail"]}"')[1].split("</div>")[0]
    assert "Fed by: [post] /readings → parse reading → rolling average → mean of 10" in detail
    assert "<b>Fix:</b> Keep the state in a shared store" in detail


def test_html_without_kept_flows_still_lists_the_findings():
    result = run(SCENARIOS["mixed"], keep_flows=False)
    out = render(result, "html")
    assert 'class="flow"' not in out
    assert "the flows were not kept" in out
    assert out.count("<tr") >= len(result.findings)


def test_html_verdicts():
    assert 'data-state="ha-ready"' in render(scenario("ha-ready"), "html")
    assert 'data-state="failed"' in render(scenario("mixed"), "html")
    passed = run(SCENARIOS["mixed"], config=Config(fail_on="never"))
    assert 'data-state="passed"' in render(passed, "html")


def test_html_survives_hostile_geometry():
    """Positions are flow data too: strings, huge numbers, NaN-like values, missing wires."""
    from hacheck.load.loader import parse_bytes
    from hacheck.run.runner import FileResult, RunResult

    nodes = [
        {"id": "t", "type": "tab", "label": "T"},
        {"id": "a", "type": "inject", "z": "t", "x": "100", "y": 40, "wires": [["b", "missing"]]},
        {"id": "b", "type": "function", "z": "t", "x": 1e308, "y": -1e308, "wires": "nope"},
        {"id": "c", "type": "debug", "z": "t", "x": True, "y": None, "wires": [[1, None, "a"]]},
        {"id": "g", "type": "group", "z": "t", "x": 0, "y": 0, "w": -5, "h": "x", "style": {"fill": "red;}</style><script>", "stroke": "#abc"}},
        {"id": "j", "type": "junction", "z": "t", "x": 300, "y": 300, "wires": [["a"]]},
    ]
    flow = parse_bytes("f.json", json.dumps(nodes).encode())
    result = RunResult([FileResult("f.json", flow.shape, len(flow.by_id), [])], [], Config(), {"f.json": flow})
    out = render(result, "html")
    m = re.search(r'<svg class="drawing"[^>]* width="([\d.]+)" height="([\d.]+)"', out)
    assert float(m.group(1)) <= 200_100 and float(m.group(2)) <= 200_100
    assert "</style><script>" not in out


# --- CLI ------------------------------------------------------------------------------------------


def test_report_command_writes_the_page_and_exits_like_check(tmp_path):
    out = tmp_path / "report.html"
    proc = run_cli("report", "fixtures/flows/flows_not-ha-ready.json", "-o", str(out))
    assert proc.returncode == 1, proc.err
    assert f"wrote {out}" in proc.err
    page = out.read_text("utf-8")
    assert 'data-container="tab_ingest"' in page and 'data-container="sf_avg"' in page
    assert oct(out.stat().st_mode & 0o777) != oct(0o600), "a report is for others to read"
    clean = run_cli("report", "fixtures/flows/flows_ha-ready.json", "-o", "-")
    assert clean.returncode == 0 and clean.out.startswith("<!DOCTYPE html>")


def test_check_keeps_the_flows_for_html_and_sarif(tmp_path):
    proc = run_cli(
        "check", "fixtures/flows/flows_not-ha-ready.json", "-f", "html", "-o", str(tmp_path / "r.html"),
        "-f", "sarif", "-o", str(tmp_path / "r.sarif"),
    )
    assert proc.returncode == 1, proc.err
    assert '<g class="node flagged' in (tmp_path / "r.html").read_text("utf-8")
    sarif = json.loads((tmp_path / "r.sarif").read_text("utf-8"))
    assert sarif["runs"][0]["results"], "the real catalogue fires on this flow"


def test_every_format_from_the_cli(tmp_path):
    args = [a for fmt in MINE for a in ("-f", fmt, "-o", str(tmp_path / f"out.{EXT[fmt]}"))]
    proc = run_cli("check", "fixtures/flows", *args, "-f", "markdown")
    assert proc.returncode == 1 and "Traceback" not in proc.err, proc.err
    assert proc.out.startswith("### ❌ hacheck: not HA-ready"), "the unpaired --format goes to stdout"
    for fmt in MINE:
        assert "flows_not-ha-ready" in (tmp_path / f"out.{EXT[fmt]}").read_text("utf-8"), fmt
