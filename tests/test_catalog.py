"""The rule catalogue: schema, documentation, examples that behave as stated, user packs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from hacheck.analysis import match
from hacheck.engine.catalog import CatalogError, bundled_rules_dir, load_catalog, load_dir, rule_schema
from hacheck.engine.checks import CHECKS
from hacheck.model.config import Config
from hacheck.load.loader import parse_bytes
from hacheck.run.runner import check_one
from tests.conftest import REPO, assert_clean_error, run_cli

RULES = load_catalog()
DOC_KEYS = ("what", "why", "example", "example_ok", "use_instead")


def test_bundled_rules_dir_is_the_checkout_rules_folder():
    assert bundled_rules_dir().resolve() == (REPO / "rules").resolve()


def test_schema_ops_equal_evaluator_ops():
    assert set(rule_schema()["$defs"]["op"]["enum"]) == set(match.OPS)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_file_is_named_by_id_and_name(rule):
    assert Path(rule.source).name == f"{rule.id}-{rule.name}.yaml"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_documentation(rule):
    for key in DOC_KEYS:
        assert isinstance(rule.docs.get(key), str) and len(rule.docs[key].strip()) > 10, (rule.id, key)
    assert "available" in rule.fix
    if rule.fixable:
        assert rule.fix["safety"] in ("safe", "unsafe") and rule.fix["title"]


def _run_only(rule, text: str):
    cfg = Config(select=(rule.id,), preview=True)
    return [f for f in check_one(parse_bytes("example.json", text.encode()), RULES, cfg).findings if f.rule_id == rule.id]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_example_fires(rule):
    found = _run_only(rule, rule.docs["example"])
    assert found, f"{rule.id}: docs.example does not fire"
    assert all(f.message and "{" not in f.message for f in found), [f.message for f in found]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_example_has_a_one_line_headline_without_the_node_name(rule):
    """The headline stands beside the node's name in short entries (the editor's list, the
    concise format, SARIF's first sentence): it must say what breaks, not repeat the name."""
    assert rule.headline, f"{rule.id}: a bundled rule needs a headline"
    assert "{node}" not in rule.headline
    for f in _run_only(rule, rule.docs["example"]):
        assert f.headline and "\n" not in f.headline and "{" not in f.headline, f.headline
        assert len(f.headline) <= 120 and len(f.headline) < len(f.message), f.headline


def test_a_long_headline_is_cut_to_one_line_of_120_characters():
    rule = next(r for r in RULES if r.id == "HA101")
    topic = "plant/" + "very-long-segment/" * 20 + "#"
    flow = json.dumps([
        {"id": "t", "type": "tab"}, {"id": "b", "type": "mqtt-broker", "broker": "b.example"},
        {"id": "m", "type": "mqtt in", "z": "t", "topic": topic, "broker": "b", "wires": [["o"]]},
        {"id": "o", "type": "mqtt out", "z": "t", "topic": "x/y", "broker": "b", "wires": []},
    ])
    (f,) = _run_only(rule, flow)
    assert len(f.headline) == 120 and f.headline.endswith("\u2026")
    assert f.headline.startswith("every copy publishes to 'x/y' for each message on 'plant/very-long-segment/")


def test_a_pack_rule_without_a_headline_still_loads_and_reports_none(tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    src = (bundled_rules_dir() / "HA106-embedded-broker.yaml").read_text()
    src = src.replace("id: HA106", "id: ACM001").replace("name: embedded-broker", "name: no-headline")
    src = "\n".join(line for line in src.splitlines() if not line.startswith("headline:")) + "\n"
    (pack / "ACM001-no-headline.yaml").write_text(src)
    (rule,) = load_dir(pack)
    assert rule.headline == ""
    cfg = Config(select=(rule.id,), preview=True)
    (f,) = check_one(parse_bytes("example.json", rule.docs["example"].encode()), [rule], cfg).findings
    assert f.headline == "" and f.message


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_example_ok_does_not_fire(rule):
    assert _run_only(rule, rule.docs["example_ok"]) == [], f"{rule.id}: docs.example_ok fires"


def test_every_registered_check_is_used_by_a_rule():
    used = {r.impl for r in RULES if r.impl}
    assert used == set(CHECKS)


def test_rules_command_lists_the_catalogue_as_json():
    proc = run_cli("rules", "--format", "json")
    assert proc.returncode == 0
    listed = json.loads(proc.out)
    assert [r["id"] for r in listed] == [r.id for r in RULES]
    assert {r["id"]: r["fixable"] for r in listed}["HA101"] is True


def test_explain_prints_docs_and_examples():
    proc = run_cli("explain", "HA101")
    assert proc.returncode == 0
    for section in ("What it flags", "Why it breaks under HA", "Example that fires", "Use instead", "Autofix"):
        assert section in proc.out
    assert '"topic": "jobs/#"' in proc.out
    by_name = run_cli("explain", "mqtt-subscription-not-shared")
    assert by_name.out == proc.out
    missing = run_cli("explain", "HA999")
    assert missing.returncode == 2
    assert_clean_error(missing, "no rule or node type 'HA999'")


# --- user rule packs ---------------------------------------------------------------------

NO_EXEC = textwrap.dedent(
    """\
    id: ACME001
    name: no-exec-node
    severity: error
    category: custom
    status: stable
    message: "{node} runs shell commands: our HA platform has no shell tools."
    match:
      type: exec
    fix: {available: false}
    docs:
      what: Any exec node.
      why: The HA containers have no shell tools, and each copy would run the command.
      example: '[{"id": "t", "type": "tab"}, {"id": "e", "type": "exec", "z": "t", "command": "ls", "x": 1, "y": 1, "wires": [[], [], []]}]'
      example_ok: '[{"id": "t", "type": "tab"}]'
      use_instead: Call a service over HTTP.
    """
)


def _pack(tmp_path, name="ACME001-no-exec-node.yaml", text=NO_EXEC):
    d = tmp_path / "pack"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text)
    return d


def test_user_pack_rule_fires_through_the_cli(tmp_path):
    pack = _pack(tmp_path)
    flow = tmp_path / "flows.json"
    flow.write_text(json.dumps([
        {"id": "t", "type": "tab", "label": "Ops"},
        {"id": "e1", "type": "exec", "z": "t", "name": "cleanup", "command": "rm -rf /tmp/x", "x": 1, "y": 1, "wires": [[], [], []]},
    ]))
    proc = run_cli("check", str(flow), "--rules", str(pack), "--format", "json")
    assert proc.returncode == 1, proc.err
    found = json.loads(proc.out)["findings"]
    assert [(f["rule"], f["name"], f["node"], f["severity"]) for f in found] == [("ACME001", "no-exec-node", "e1", "error")]
    assert "'cleanup' runs shell commands" in found[0]["message"]
    listed = run_cli("rules", "--rules", str(pack))
    assert "ACME001" in listed.out


def test_user_pack_with_a_duplicate_id_is_rejected(tmp_path):
    pack = _pack(tmp_path, "HA101-mine.yaml", NO_EXEC.replace("ACME001", "HA101").replace("no-exec-node", "mine"))
    proc = run_cli("check", str(REPO / "rules"), "--rules", str(pack))
    assert proc.returncode == 2
    assert_clean_error(proc, "HA101-mine.yaml", "already used")


def test_user_pack_with_an_unknown_key_names_the_file_and_key(tmp_path):
    pack = _pack(tmp_path, text=NO_EXEC.replace("status: stable", "status: stable\nseverty: error"))
    proc = run_cli("rules", "--rules", str(pack))
    assert proc.returncode == 2
    assert_clean_error(proc, "ACME001-no-exec-node.yaml", "'severty'")
    assert "Traceback" not in proc.err and len(proc.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "mutate,fragment",
    [
        (lambda t: t.replace("severity: error", "severity: fatal"), "severity"),
        (lambda t: t.replace("  type: exec", "  type: exec\n  where: {field: command, op: contains, value: rm}"), "op"),
        (lambda t: t.replace("match:\n  type: exec\n", "impl: no-such-check\n"), "not a registered check"),
        (lambda t: t + "impl: dangling-reference\n", "exactly one of 'match' or 'impl'"),
        (lambda t: t.replace("id: ACME001", "id: acme-1"), "id"),
        (lambda t: "id: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_rule_files_are_clear_errors(tmp_path, mutate, fragment):
    _pack(tmp_path, text=mutate(NO_EXEC))
    with pytest.raises(CatalogError) as e:
        load_dir(tmp_path / "pack")
    assert "ACME001-no-exec-node.yaml" in str(e.value) and fragment in str(e.value)


# --- a crash in one rule ----------------------------------------------------------------


def test_a_crashing_rule_becomes_hc000_and_the_others_run(monkeypatch):
    """Test double: a registered check that raises, standing in for a rule bug."""

    def crashing_check_double(ctx, rule):
        raise KeyError("s3cr3t-value")

    monkeypatch.setitem(CHECKS, "dangling-reference", crashing_check_double)
    flow = [
        {"id": "t", "type": "tab"},
        {"id": "b", "type": "mqtt-broker", "broker": "x"},
        {"id": "m", "type": "mqtt in", "z": "t", "topic": "a/b", "broker": "b", "x": 1, "y": 1, "wires": [["act"]]},
        {"id": "act", "type": "mqtt out", "z": "t", "topic": "c/d", "broker": "b", "x": 2, "y": 1, "wires": []},  # HA101 needs an action
    ]
    findings = check_one(parse_bytes("f.json", json.dumps(flow).encode()), RULES, Config()).findings
    ids = {f.rule_id for f in findings}
    assert "HC000" in ids and "HA101" in ids
    crash = next(f for f in findings if f.rule_id == "HC000")
    assert "HC004" in crash.message and "KeyError" in crash.message
    assert "s3cr3t-value" not in crash.message  # exception text could quote a flow's secret


# --- the declarative language ---------------------------------------------------------------


@pytest.mark.parametrize(
    "cond,raw,expected",
    [
        ({"field": "a", "op": "eq", "value": 1}, {"a": 1}, True),
        ({"field": "a", "op": "eq", "value": 1}, {}, False),
        ({"field": "a", "op": "ne", "value": 1}, {}, True),
        ({"field": "a", "op": "in", "value": [1, 2]}, {"a": 2}, True),
        ({"field": "a", "op": "not_in", "value": [1, 2]}, {"a": 3}, True),
        ({"field": "a", "op": "empty"}, {"a": "  "}, True),
        ({"field": "a", "op": "empty"}, {"a": [1]}, False),
        ({"field": "a", "op": "not_empty"}, {"a": "x"}, True),
        ({"field": "a", "op": "regex", "value": "^x+$"}, {"a": "xx"}, True),
        ({"field": "a", "op": "regex", "value": "^x+$"}, {"a": 5}, False),
        ({"field": "a", "op": "startswith", "value": "$share/"}, {"a": "$share/g/t"}, True),
        ({"field": "a", "op": "endswith", "value": "/#"}, {"a": "t/#"}, True),
        ({"field": "a", "op": "truthy"}, {"a": "false"}, False),
        ({"field": "a", "op": "truthy"}, {"a": True}, True),
        ({"field": "a", "op": "falsy"}, {}, True),
        ({"field": "a", "op": "exists"}, {"a": None}, True),
        ({"field": "a", "op": "missing"}, {}, True),
        ({"field": "rules[].vt", "op": "eq", "value": "prev"}, {"rules": [{"vt": "str"}, {"vt": "prev"}]}, True),
        ({"field": "rules[].vt", "op": "eq", "value": "prev"}, {"rules": []}, False),
        ({"field": "o.k", "op": "eq", "value": 1}, {"o": {"k": 1}}, True),
        ({"all": [{"field": "a", "op": "truthy"}, {"field": "b", "op": "truthy"}]}, {"a": 1, "b": 0}, False),
        ({"any": [{"field": "a", "op": "truthy"}, {"field": "b", "op": "truthy"}]}, {"a": 1, "b": 0}, True),
        ({"not": {"field": "a", "op": "truthy"}}, {"a": 0}, True),
    ],
)
def test_match_operators(cond, raw, expected):
    from hacheck.model.flow import FlowFile, Node

    node = Node(raw={"id": "n", "type": "x", **raw}, id="n", type="x", index=0)
    assert match.evaluate(cond, node, FlowFile("f", "array", [node])) is expected


def test_ref_follows_a_config_node():
    from hacheck.model.flow import FlowFile, Node

    broker = Node(raw={"id": "b", "type": "mqtt-broker", "clientid": "fixed"}, id="b", type="mqtt-broker", index=0)
    node = Node(raw={"id": "n", "type": "mqtt in", "broker": "b"}, id="n", type="mqtt in", index=1)
    orphan = Node(raw={"id": "o", "type": "mqtt in", "broker": "zz"}, id="o", type="mqtt in", index=2)
    flow = FlowFile("f", "array", [broker, node, orphan])
    cond = {"ref": "broker", "then": {"field": "clientid", "op": "not_empty"}}
    assert match.evaluate(cond, node, flow) is True
    assert match.evaluate(cond, orphan, flow) is False


def test_type_selector_globs():
    sel = match.TypeSelector(["ui_*", "ui-*", "exec"])
    assert sel.matches("ui_button") and sel.matches("ui-chart") and sel.matches("exec")
    assert not sel.matches("uibuilder") and not sel.matches("execute")
