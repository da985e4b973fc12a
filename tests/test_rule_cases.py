"""Table-driven rule cases: every `fixtures/rules/<case>/` holds `fail.json`, `pass.json` and
`expected.yaml`, and is checked with only its rule selected.

expected.yaml:
    rule: HA140            # optional; the folder name (up to the first '-') otherwise
    options: {...}         # optional rule options for this case
    fail: [ids]            # exactly the nodes flagged in fail.json
    pass: [ids]            # nodes of either file that must not be flagged
    messages: {id: [substrings the finding's message must contain]}     # optional
    absent: {id: [substrings the finding's message must not contain]}   # optional
    related: {id: [node ids the finding must list as related]}          # optional

pass.json must give no finding of the rule at all. Every id named in expected.yaml must exist
in one of the two files, so that a typo cannot make a case pass by naming nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from hacheck.engine.catalog import load_catalog
from hacheck.model.config import Config
from hacheck.load.loader import parse_bytes
from hacheck.run.runner import check_one

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
CASES = sorted(p.parent for p in FIXTURES.glob("*/expected.yaml"))
KEYS = {"rule", "options", "fail", "pass", "messages", "absent", "related"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _load(case: Path) -> dict:
    data = YAML(typ="safe", pure=True).load((case / "expected.yaml").read_text("utf-8"))
    return data if isinstance(data, dict) else {}


def _expected(case: Path) -> dict:
    data = _load(case)
    unknown = set(data) - KEYS
    assert not unknown, f"{case.name}/expected.yaml: unknown keys {sorted(unknown)}"
    return data


def _rule_id(case: Path, exp: dict) -> str:
    return exp.get("rule") or case.name.split("-")[0]


def _run(case: Path, name: str, catalog, exp: dict):
    rule_id = _rule_id(case, exp)
    assert any(r.id == rule_id for r in catalog), f"{case.name}: rule {rule_id} is not in the catalogue"
    options = {rule_id: exp["options"]} if exp.get("options") else {}
    config = Config(select=(rule_id,), options=options, preview=True)
    path = case / name
    flow = parse_bytes(f"{case.name}/{name}", path.read_bytes())
    assert not flow.problems, f"{path}: not a clean flow: {flow.problems}"
    result = check_one(flow, catalog, config)
    crashes = [f for f in result.findings if f.rule_id == "HC000"]
    assert not crashes, crashes[0].message
    return [f for f in result.findings if f.rule_id == rule_id]


def _ids(case: Path, name: str) -> set[str]:
    return {n["id"] for n in json.loads((case / name).read_text("utf-8"))}


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_fail_flow_flags_exactly_the_expected_nodes(case, catalog):
    exp = _expected(case)
    want = set(exp.get("fail") or ())
    assert want, f"{case.name}: a case must name at least one node that fails"
    missing = want - _ids(case, "fail.json")
    assert not missing, f"{case.name}: fail ids not in fail.json: {sorted(missing)}"
    got = [f.node_id for f in _run(case, "fail.json", catalog, exp)]
    assert sorted(got) == sorted(want), f"{case.name}: flagged {sorted(got)}, expected {sorted(want)}"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_pass_flow_has_no_finding(case, catalog):
    exp = _expected(case)
    found = _run(case, "pass.json", catalog, exp)
    assert not found, f"{case.name}: pass.json flagged {[(f.node_id, f.message) for f in found]}"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_pass_nodes_exist_and_are_not_flagged(case, catalog):
    exp = _expected(case)
    names = set(exp.get("pass") or ())
    assert names, f"{case.name}: a case must name the nodes that must not be flagged"
    everywhere = _ids(case, "fail.json") | _ids(case, "pass.json")
    assert not names - everywhere, f"{case.name}: pass ids in neither file: {sorted(names - everywhere)}"
    flagged = {f.node_id for name in ("fail.json", "pass.json") for f in _run(case, name, catalog, exp)}
    assert not names & flagged, f"{case.name}: flagged although listed under pass: {sorted(names & flagged)}"


@pytest.mark.parametrize("case", [c for c in CASES if {"messages", "absent", "related"} & set(_load(c))], ids=lambda p: p.name)
def test_messages_and_related(case, catalog):
    exp = _expected(case)
    by_node = {f.node_id: f for f in _run(case, "fail.json", catalog, exp)}
    for node_id, parts in (exp.get("messages") or {}).items():
        assert node_id in by_node, f"{case.name}: no finding on {node_id}"
        for part in parts:
            assert part in by_node[node_id].message, f"{case.name}: {part!r} not in {by_node[node_id].message!r}"
    for node_id, parts in (exp.get("absent") or {}).items():
        assert node_id in by_node, f"{case.name}: no finding on {node_id}"
        for part in parts:
            assert part not in by_node[node_id].message, f"{case.name}: {part!r} shown in {by_node[node_id].message!r}"
    for node_id, ids in (exp.get("related") or {}).items():
        assert node_id in by_node, f"{case.name}: no finding on {node_id}"
        listed = {r.node_id for r in by_node[node_id].related}
        assert set(ids) <= listed, f"{case.name}: {node_id} does not list {sorted(set(ids) - listed)} as related"


ODD_VALUES = (None, 7, -1.5, True, [], ["x", 3], {"a": {}}, "", "${X}", "\u0000")
STRUCTURE = {"id", "type", "z", "g", "x", "y", "wires", "d"}


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_rule_survives_odd_field_values(case, catalog):
    """Flows written by hand or by other tools put anything in a field: the rule must give an
    answer (finding or not), never crash (HC000)."""
    exp = _expected(case)
    rule_id = _rule_id(case, exp)
    config = Config(select=(rule_id,), options={rule_id: exp["options"]} if exp.get("options") else {}, preview=True)
    nodes = json.loads((case / "fail.json").read_text("utf-8"))
    for value in ODD_VALUES:
        odd = [{k: (v if k in STRUCTURE else value) for k, v in n.items()} for n in nodes]
        flow = parse_bytes(f"{case.name}/odd.json", json.dumps(odd).encode())
        found = check_one(flow, catalog, config).findings
        crashes = [f.message for f in found if f.rule_id == "HC000"]
        assert not crashes, f"{case.name} with every field = {value!r}: {crashes[0]}"
