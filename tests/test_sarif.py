"""SARIF: valid against the official 2.1.0 schema for every fixture, and what code-scanning
tools read from it (rules with docs, locations, stable fingerprints, paths, suppressions)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
from functools import lru_cache

import jsonschema
import pytest

from hacheck.engine.catalog import load_catalog
from hacheck.model.config import Config
from hacheck.reporters.docs import catalogue_markdown
from hacheck.model.findings import Finding, Severity, Suppression
from hacheck.load.loader import Source, discover, parse_bytes
from hacheck.reporters import sarif
from hacheck.reporters.common import rule_info
from hacheck.run.runner import RunResult, check_one, check_sources
from tests.report_scenarios import GOLDEN, REPO, SARIF_SCHEMA, SCENARIOS, pinned_rules, run, scenario

FIXTURE_FLOWS = sorted(p for p in (REPO / "fixtures").rglob("*.json") if GOLDEN not in p.parents)


@lru_cache(maxsize=1)
def _validator():
    schema = json.loads(SARIF_SCHEMA.read_text("utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid(doc: dict) -> None:
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])


def rendered(result) -> dict:
    """The document as a consumer sees it: through the writer and back."""
    buf = io.StringIO()
    sarif.render(result, buf)
    return json.loads(buf.getvalue())


# --- validity ----------------------------------------------------------------------------------


def test_the_schema_is_the_official_one_and_can_fail():
    # vendored unchanged (tests/schemas/README.md): an edit to make a test pass shows here
    raw = SARIF_SCHEMA.read_bytes()
    assert (len(raw), hashlib.sha256(raw).hexdigest()) == (112768, "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e")
    schema = json.loads(raw.decode("utf-8"))
    assert schema["id"] == sarif.SCHEMA_URI
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}  # driver.name is required
    assert list(_validator().iter_errors(broken))


@pytest.mark.parametrize("path", FIXTURE_FLOWS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_fixture_gives_valid_sarif_with_the_real_rules(path):
    result = check_sources([Source(str(path.relative_to(REPO)), str(path))], Config(), load_catalog(), keep_flows=True)
    assert_valid(rendered(result))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_and_goldens_are_valid(name):
    assert_valid(rendered(scenario(name)))
    assert_valid(json.loads((GOLDEN / f"{name}.sarif.json").read_text("utf-8")))


def test_hostile_flow_gives_valid_sarif():
    assert_valid(rendered(run(["flows_hostile-labels.json"])))


def test_the_corpus_gives_valid_sarif(corpus):
    """50 real flows with every real rule: the widest variety of findings there is."""
    files = sorted(str(p) for p in (corpus / "files").iterdir() if p.is_file())
    result = check_sources(discover(files), Config(), load_catalog(), keep_flows=True)
    doc = rendered(result)
    assert len(doc["runs"][0]["results"]) == len(result.findings) > 100
    assert_valid(doc)


# --- rules ---------------------------------------------------------------------------------


def _slugs(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for line in markdown.splitlines():
        if line.startswith("## "):
            out.add(re.sub(r"[^\w\- ]", "", line[3:].strip().lower()).replace(" ", "-"))
    return out


def test_rules_carry_their_docs_and_point_at_docs_rules_md():
    result = scenario("mixed")
    doc = rendered(result)
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["name"] == "hacheck" and driver["informationUri"].startswith("https://")
    rules = {r["id"]: r for r in driver["rules"]}
    assert list(rules) == sorted(rules), "sorted: byte-stable output"
    assert set(rules) == {"HA101", "HA201", "HA202", "HC001", "SEC301"}
    by_id = {r.id: r for r in result.rules}
    anchors = _slugs(catalogue_markdown(result.rules))
    for rid, d in rules.items():
        r = by_id[rid]
        assert d["name"] == r.name
        assert d["fullDescription"]["text"] == r.docs["what"].strip()
        short = d["shortDescription"]["text"]
        assert short.endswith(".") and " ".join(r.docs["what"].split()).startswith(short), "the first sentence of docs.what"
        assert r.docs["use_instead"].strip() in d["help"]["text"] and r.docs["why"].strip() in d["help"]["markdown"]
        assert d["defaultConfiguration"]["level"] == {"error": "error", "warning": "warning", "info": "note"}[str(r.severity)]
        assert d["properties"]["category"] == r.category and r.category in d["properties"]["tags"]
        url, _, anchor = d["helpUri"].partition("#")
        assert url.endswith("/docs/rules.md") and anchor == r.doc_anchor
        assert anchor in anchors, f"{anchor} is not a heading of docs/rules.md"
    assert rules["HA201"]["shortDescription"]["text"] == "A node that remembers earlier messages: `smooth`, `batch`, `sort`, `rbe`, `trigger`."


def test_help_uris_match_the_generated_rules_doc_for_the_real_catalogue():
    rules = load_catalog()
    anchors = _slugs(catalogue_markdown(rules))
    for r in rules:
        assert sarif._descriptor(rule_info(r))["helpUri"].split("#")[1] in anchors, r.id


def test_results_point_at_rules_nodes_and_lines():
    result = scenario("mixed")
    doc_run = rendered(result)["runs"][0]
    rules = doc_run["tool"]["driver"]["rules"]
    artifacts = [a["location"]["uri"] for a in doc_run["artifacts"]]
    assert artifacts == [fr.path for fr in result.files]
    for res, f in zip(doc_run["results"], result.findings, strict=True):
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"] == f.rule_id
        # the headline is the first sentence (viewers short of space show only that one)
        text = res["message"]["text"]
        assert text.endswith(f.message)
        if f.headline and not f.message.lower().startswith(f.headline.lower()):
            assert text == f"{f.headline[0].upper()}{f.headline[1:]}. {f.message}"
        else:
            assert text == f.message
        loc = res["locations"][0]
        art = loc["physicalLocation"]["artifactLocation"]
        assert art["uri"] == f.file and art["uriBaseId"] == "SRCROOT" and artifacts[art["index"]] == f.file
        if f.line:
            assert loc["physicalLocation"]["region"] == {"startLine": f.line}
        else:
            assert "region" not in loc["physicalLocation"]
        if f.node_id:
            logical = loc["logicalLocations"][0]
            assert logical["properties"]["nodeId"] == f.node_id
    temps = next(r for r in doc_run["results"] if r["ruleId"] == "HA101")
    assert temps["locations"][0]["logicalLocations"][0] == {
        "name": "temperatures",
        "fullyQualifiedName": "Ingest/temperatures",
        "kind": "object",
        "properties": {"nodeId": "mqtt_temps", "nodeType": "mqtt in"},
    }
    secret = next(r for r in doc_run["results"] if r["ruleId"] == "SEC301")
    assert secret["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "plant broker", "a global config node"


def test_levels_follow_the_effective_severity():
    result = run(SCENARIOS["mixed"], config=Config(severity={"HA202": "info"}))
    levels = {r["ruleId"]: r["level"] for r in rendered(result)["runs"][0]["results"]}
    assert levels == {"HC001": "error", "HA201": "warning", "HA101": "error", "HA202": "note", "SEC301": "error"}


# --- fingerprints ----------------------------------------------------------------------------------


def _fingerprints(files_text: dict[str, str]) -> dict[str, str]:
    flows = [parse_bytes(name, text.encode()) for name, text in files_text.items()]
    rules = pinned_rules()
    frs = [check_one(fl, rules, Config()) for fl in flows]
    doc = sarif.document(RunResult(frs, rules, Config(), {fl.path: fl for fl in flows}))
    return {r["ruleId"] + ":" + r["locations"][0]["logicalLocations"][0]["properties"]["nodeId"]: r["partialFingerprints"]["hacheck/v1"]
            for r in doc["runs"][0]["results"] if "logicalLocations" in r["locations"][0]}


def test_fingerprints_survive_runs_and_moved_nodes():
    text = (REPO / "fixtures" / "flows" / "flows_not-ha-ready.json").read_text("utf-8")
    before = _fingerprints({"flows.json": text})
    assert before == _fingerprints({"flows.json": text})
    # a new node at the top shifts every line and the editor moves nodes around
    moved = text.replace("[\n", '[\n  {"id": "new_dbg", "type": "debug", "z": "tab_ingest", "x": 900, "y": 500, "wires": []},\n', 1)
    moved = moved.replace('"x": 150, "y": 180', '"x": 170, "y": 400')
    after = _fingerprints({"flows.json": moved})
    assert after == before
    assert len(set(before.values())) == len(before), "distinct findings, distinct fingerprints"


# --- paths, related locations, suppressions --------------------------------------------------


def test_input_paths_become_code_flows_and_related_locations():
    result = scenario("mixed")
    res = next(r for r in rendered(result)["runs"][0]["results"] if r["ruleId"] == "HA201")
    flow = result.flows["fixtures/flows/flows_not-ha-ready.json"]
    (cf,) = res["codeFlows"]
    steps = cf["threadFlows"][0]["locations"]
    ids = [s["location"]["logicalLocations"][0]["properties"]["nodeId"] for s in steps]
    assert ids == ["http_readings", "fn_parse", "sf_avg_inst", "smooth_avg"]
    assert [s["location"]["physicalLocation"]["region"]["startLine"] for s in steps] == [flow.by_id[i].line for i in ids]
    assert [s["executionOrder"] for s in steps] == [1, 2, 3, 4]
    assert cf["message"]["text"] == "fed by http in POST /readings"
    assert steps[2]["location"]["message"]["text"] == "subflow 'rolling average'"
    related = res["relatedLocations"]
    assert [r["id"] for r in related] == list(range(1, len(related) + 1))
    assert related[0]["message"]["text"] == "fed by http in POST /readings"
    assert {r["logicalLocations"][0]["properties"]["nodeId"] for r in related} == {"http_readings", "fn_parse", "sf_avg_inst"}
    plain = next(r for r in rendered(result)["runs"][0]["results"] if r["ruleId"] == "HA101")
    assert "codeFlows" not in plain and "relatedLocations" not in plain


def test_two_inputs_give_two_code_flows():
    result = scenario("mixed")
    fr = result.files[2]
    i = next(k for k, f in enumerate(fr.findings) if f.rule_id == "HA202" and f.paths)
    f = fr.findings[i]
    fr.findings[i] = dataclasses.replace(f, paths=f.paths + (("http_readings", "fn_parse", "fn_count"),))
    res = next(r for r in rendered(result)["runs"][0]["results"] if r["ruleId"] == "HA202" and "codeFlows" in r)
    assert len(res["codeFlows"]) == 2
    assert_valid(rendered(result))


def test_suppressions_are_kept_with_kind_and_reason():
    result = scenario("mixed")
    results = rendered(result)["runs"][0]["results"]
    sup = [r for r in results if r["suppressions"]]
    assert len(sup) == 1 and len(results) == len(result.findings)
    assert sup[0]["suppressions"][0]["kind"] == "inSource"
    assert sup[0]["suppressions"][0]["justification"] == "every copy must drop its own cache"
    assert all(r["suppressions"] == [] for r in results if r is not sup[0])
    for kind in ("config", "baseline"):
        fr = result.files[2]
        fr.findings[0] = fr.findings[0].with_suppression(Suppression(kind, "accepted", "x"))
        first = next(r for r in rendered(result)["runs"][0]["results"] if r["partialFingerprints"]["hacheck/v1"] == fr.findings[0].fingerprint())
        assert first["suppressions"][0]["kind"] == "external"
        assert first["suppressions"][0]["properties"]["hacheckKind"] == kind


# --- edges -----------------------------------------------------------------------------------


def test_crash_marks_the_run_unsuccessful_and_documents_hc000():
    result = scenario("ha-ready")
    result.files[0].findings.append(Finding("HC000", "internal-rule-error", Severity.ERROR, "rule X failed", result.files[0].path))
    doc = rendered(result)
    assert_valid(doc)
    inv = doc["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert inv["toolExecutionNotifications"][0]["descriptor"]["id"] == "HC000"
    hc000 = next(r for r in doc["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "HC000")
    assert hc000["name"] == "internal-rule-error" and hc000["help"]["text"]
    assert rendered(scenario("ha-ready"))["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_uris_for_absolute_paths_spaces_and_stdin():
    flow = parse_bytes("x", b'[{"id":"m","type":"mqtt in","z":"t","topic":"a","x":1,"y":1,"wires":[["act"]]},'
                       b'{"id":"act","type":"mqtt out","z":"t","topic":"cmd","x":2,"y":1,"wires":[]},{"id":"t","type":"tab"}]')
    rules = load_catalog()
    paths = ["/abs/dir/flows.json", "my flows/flows #1.json", "<stdin>"]
    frs = []
    for p in paths:
        f = dataclasses.replace(flow)
        f.path = p
        fr = check_one(f, rules, Config())
        fr.path = p
        fr.findings = [dataclasses.replace(x, file=p) for x in fr.findings]
        frs.append(fr)
    doc = rendered(RunResult(frs, rules, Config(), {}))
    assert_valid(doc)
    arts = [a["location"] for a in doc["runs"][0]["artifacts"]]
    assert arts == [{"uri": "file:///abs/dir/flows.json"}, {"uri": "my%20flows/flows%20%231.json", "uriBaseId": "SRCROOT"}]
    stdin = [r for r in doc["runs"][0]["results"] if "physicalLocation" not in r.get("locations", [{}])[0]]
    assert stdin and all(r["locations"][0]["logicalLocations"] for r in stdin)


def test_runs_without_kept_flows_still_validate():
    result = run(SCENARIOS["mixed"], keep_flows=False)
    doc = rendered(result)
    assert_valid(doc)
    res = next(r for r in doc["runs"][0]["results"] if r["ruleId"] == "HA201")
    ids = [s["location"]["logicalLocations"][0]["properties"]["nodeId"] for s in res["codeFlows"][0]["threadFlows"][0]["locations"]]
    assert ids == ["http_readings", "fn_parse", "sf_avg_inst", "smooth_avg"], "ids still name the path"


def test_empty_run():
    doc = rendered(RunResult([], load_catalog(), Config(), {}))
    assert_valid(doc)
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["artifacts"] == []


def test_cli_sarif_for_the_fixtures_directory(tmp_path):
    from tests.conftest import run_cli

    out = tmp_path / "h.sarif"
    proc = run_cli("check", "fixtures/flows", "-f", "sarif", "-o", str(out))
    assert proc.returncode == 1, proc.err
    doc = json.loads(out.read_text("utf-8"))
    assert_valid(doc)
    assert {a["location"]["uri"] for a in doc["runs"][0]["artifacts"]} >= {"fixtures/flows/flows_not-ha-ready.json"}
