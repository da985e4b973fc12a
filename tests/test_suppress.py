"""Suppressions: Description directives on node/group/tab/subflow, config entries, HC005, HC006."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hacheck.engine.catalog import load_catalog
from hacheck.commands.cli import cli
from hacheck.model.config import Config
from hacheck.load.loader import parse_bytes
from hacheck.run.runner import check_one

BROKER = {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": ""}


def mqtt(id: str, z: str | None = "t1", info: str | None = None, dynamic: bool = False, **extra) -> dict:
    """HA101 (error) fires on a plain topic; HA102 (warning) on a dynamic subscription. Both fire
    only when the messages reach an action, so the node is wired to its tab's `act(z)`, which
    the flow must hold."""
    wires = [[act_id(z)]] if z else [[]]
    n = {"id": id, "type": "mqtt in", "name": id, "topic": "" if dynamic else f"{id}/#", "broker": "b", "inputs": 1 if dynamic else 0, "x": 100, "y": 40, "wires": wires}
    if z:
        n["z"] = z
    if info is not None:
        n["info"] = info
    n.update(extra)
    return n


def act_id(z: str) -> str:
    return f"act_{z}"


def act(z: str = "t1") -> dict:
    """An MQTT publish (an outbound effect) on tab or subflow z: what `mqtt(z=z)` is wired to."""
    return {"id": act_id(z), "type": "mqtt out", "z": z, "name": "command", "topic": "plant/cmd", "broker": "b", "x": 500, "y": 40, "wires": []}


def tab(id: str, label: str, info: str | None = None, **extra) -> dict:
    t = {"id": id, "type": "tab", "label": label, **extra}
    if info is not None:
        t["info"] = info
    return t


def group(id: str, nodes: list[str], z: str = "t1", info: str | None = None, g: str | None = None) -> dict:
    grp = {"id": id, "type": "group", "z": z, "name": id, "nodes": nodes, "x": 10, "y": 10, "w": 200, "h": 100}
    if info is not None:
        grp["info"] = info
    if g:
        grp["g"] = g
    return grp


pytestmark = pytest.mark.usefixtures("own_cache")


class Run:
    def __init__(self, result):
        self.result = result
        self.code = result.exit_code
        self.doc = json.loads(result.stdout) if result.stdout.startswith("{") else None

    def findings(self, *rules: str) -> list[dict]:
        return [f for f in self.doc["findings"] if not rules or f["rule"] in rules]

    def table(self, *rules: str) -> set[tuple]:
        """(rule, node, suppression kind or None) per finding."""
        return {(f["rule"], f["node"], f["suppressed"] and f["suppressed"]["kind"]) for f in self.findings(*rules)}


def check(repo: Path, nodes: list, config: str | None = None, select: str = "HA101,HA102") -> Run:
    """Only the two MQTT rules run (besides the structural HC rules), so other rules' changes
    cannot move these results."""
    (repo / "flows.json").write_text(json.dumps(nodes, indent=1), "utf-8")
    if config is not None:
        (repo / ".hacheck.yaml").write_text(config)
    r = CliRunner().invoke(cli, ["check", "-f", "json", "--select", select, "."], catch_exceptions=False)
    assert "Traceback" not in r.output
    return Run(r)


# --- directives in Descriptions ----------------------------------------------------------------


def test_node_directive_covers_that_node_only(repo):
    r = check(repo, [tab("t1", "Ingest"), BROKER, mqtt("m1", info="Cache invalidation.\nhacheck-disable HA101 -- every copy must drop its cache"), mqtt("m2"), act()])
    assert r.table("HA101") == {("HA101", "m1", "inline"), ("HA101", "m2", None)}
    by_node = {f["node"]: f["suppressed"] for f in r.findings("HA101")}
    assert by_node["m1"] == {"kind": "inline", "reason": "every copy must drop its cache", "source": "node m1"}
    assert r.code == 1  # m2 is still an error
    assert not r.findings("HC005", "HC006")


def test_group_directive_covers_nodes_inside_nested_groups_too(repo):
    nodes = [
        tab("t1", "Ingest"), BROKER,
        group("g1", ["m_in", "g2"], info="hacheck-disable HA101 -- legacy ingest, migrated in Q3"),
        group("g2", ["m_deep"], g="g1"),
        mqtt("m_in", g="g1"), mqtt("m_deep", g="g2"), mqtt("m_out"), act(),
    ]  # fmt: skip
    r = check(repo, nodes)
    assert r.table("HA101") == {("HA101", "m_in", "inline"), ("HA101", "m_deep", "inline"), ("HA101", "m_out", None)}
    assert {f["suppressed"]["source"] for f in r.findings("HA101") if f["suppressed"]} == {"group g1"}


def test_tab_directive_covers_its_nodes_and_not_other_tabs(repo):
    nodes = [
        tab("t1", "Ingest", info="Broadcast tab.\n\nhacheck-disable HA101 -- every copy must see every message"),
        tab("t2", "Orders"), BROKER, mqtt("a"), mqtt("b2"), mqtt("c", z="t2"), act("t1"), act("t2"),
    ]  # fmt: skip
    r = check(repo, nodes)
    assert r.table("HA101") == {("HA101", "a", "inline"), ("HA101", "b2", "inline"), ("HA101", "c", None)}
    assert {f["suppressed"]["source"] for f in r.findings("HA101") if f["suppressed"]} == {"tab t1"}


def test_subflow_definition_directive_covers_its_nodes(repo):
    sf = {"id": "sf", "type": "subflow", "name": "listener", "info": "hacheck-disable HA101 -- each instance is its own tenant", "in": [], "out": []}
    nodes = [tab("t1", "Ingest"), BROKER, sf, mqtt("inner", z="sf"), act("sf"), {"id": "i1", "type": "subflow:sf", "z": "t1", "x": 1, "y": 1, "wires": []}, mqtt("outer"), act()]
    r = check(repo, nodes)
    assert r.table("HA101") == {("HA101", "inner", "inline"), ("HA101", "outer", None)}


def test_several_rules_by_id_and_name_in_one_directive(repo):
    info = "hacheck-disable HA101, mqtt-dynamic-subscription -- the topics are checked in review"
    r = check(repo, [tab("t1", "Ingest", info=info), BROKER, mqtt("a"), mqtt("d", dynamic=True), act()])
    assert r.table() == {("HA101", "a", "inline"), ("HA102", "d", "inline")}
    assert r.code == 0


@pytest.mark.parametrize(
    "info",
    [
        "Notes:\n- hacheck-disable HA101 -- broadcast on purpose",
        "> hacheck-disable HA101 -- broadcast on purpose",
        "`hacheck-disable HA101 -- broadcast on purpose`",
        "  hacheck-disable   HA101   --   broadcast on purpose  ",
    ],
)
def test_directive_forms_people_write_in_markdown(repo, info):
    r = check(repo, [tab("t1", "Ingest"), BROKER, mqtt("a", info=info), act()])
    assert r.table() == {("HA101", "a", "inline")}
    assert r.findings()[0]["suppressed"]["reason"] == "broadcast on purpose"


def test_directive_words_inside_a_sentence_are_not_a_directive(repo):
    r = check(repo, [tab("t1", "Ingest"), BROKER, mqtt("a", info="To accept this, write hacheck-disable HA101 -- reason on a line."), act()])
    assert r.table() == {("HA101", "a", None)}


@pytest.mark.parametrize(
    "info, problem",
    [
        ("hacheck-disable HA101", "gives no reason"),
        ("hacheck-disable HA101 --", "gives no reason"),
        ("hacheck-disable HA101 --    ", "gives no reason"),
        ("hacheck-disable -- it is fine", "names no rule"),
        ("hacheck-disable", "names no rule"),
    ],
)
def test_directive_without_rule_or_reason_is_hc006_and_suppresses_nothing(repo, info, problem):
    r = check(repo, [tab("t1", "Ingest"), BROKER, mqtt("a", info=info), act()])
    assert r.table() == {("HA101", "a", None), ("HC006", "a", None)}
    hc006 = r.findings("HC006")[0]
    assert problem in hc006["message"] and hc006["severity"] == "warning" and hc006["path"] == "/info"
    assert r.code == 1


def test_unknown_rule_in_directive_is_hc006_and_the_known_ones_still_apply(repo):
    r = check(repo, [tab("t1", "Ingest"), BROKER, mqtt("a", info="hacheck-disable HA101, mqtt-subscription-not-shard -- broadcast"), act()])
    assert r.table() == {("HA101", "a", "inline"), ("HC006", "a", None)}
    msg = r.findings("HC006")[0]["message"]
    assert "'mqtt-subscription-not-shard', which is not a rule id or name (did you mean 'mqtt-subscription-not-shared'?)" in msg


@pytest.mark.parametrize("rule", ["HC001", "HC002", "HC005", "HC006"])
def test_directive_cannot_name_structural_or_meta_rules(repo, rule):
    r = check(repo, [tab("t1", "Ingest", info=f"hacheck-disable {rule} -- please"), BROKER])
    assert r.table() == {("HC006", "t1", None)}
    assert f"names {rule}, which a directive cannot suppress" in r.findings("HC006")[0]["message"]


def test_unused_directive_is_hc005_warning(repo):
    nodes = [tab("t1", "Ingest"), BROKER, mqtt("a", topic="$share/g/a/#", info="hacheck-disable HA101 -- broadcast"), act()]
    r = check(repo, nodes)
    assert r.table() == {("HC005", "a", None)}
    f = r.findings("HC005")[0]
    assert f["severity"] == "warning"
    assert "'hacheck-disable HA101' on 'a' matched no HA101 finding" in f["message"]
    assert r.code == 1  # default fail_on: warning
    # one id of two unused: only that one is reported
    nodes[2] = mqtt("a", info="hacheck-disable HA101, HA102 -- broadcast")
    r = check(repo, nodes)
    assert r.table("HC005") == {("HC005", "a", None)} and "HA102" in r.findings("HC005")[0]["message"]


def test_unused_is_not_judged_for_rules_that_did_not_run_or_nodes_that_do_not(repo):
    info = "hacheck-disable HA102 -- checked by hand"
    nodes = [tab("t1", "Ingest"), tab("t2", "Off", disabled=True, info=info), BROKER, mqtt("a", info=info + "\nhacheck-disable HA101 -- broadcast"), mqtt("off", d=True, info=info), mqtt("c", z="t2"), act("t1"), act("t2")]
    r = check(repo, nodes, select="HA101")  # HA102 not run: its directives are not judged
    assert r.table() == {("HA101", "a", "inline")}
    r = check(repo, nodes)  # HA102 runs: only the directive on the running node is unused
    assert r.table("HC005") == {("HC005", "a", None)}


def test_hc005_can_be_turned_off_in_the_config(repo):
    nodes = [tab("t1", "Ingest"), BROKER, mqtt("a", topic="$share/g/a/#", info="hacheck-disable HA101 -- broadcast"), act()]
    assert check(repo, nodes, config="ignore: [HC005]\n").table() == set()


# --- ignore_findings in the config ------------------------------------------------------------


CFG_FLOW = [tab("t1", "Ingest"), tab("t2", "Orders"), BROKER, mqtt("a"), mqtt("b2"), mqtt("c", z="t2"), act("t1"), act("t2")]


@pytest.mark.parametrize(
    "entry, suppressed",
    [
        ("{rule: HA101, node: a, reason: r}", {"a"}),
        ("{rule: mqtt-subscription-not-shared, node: a, reason: r}", {"a"}),
        ("{rule: HA101, tab: t1, reason: r}", {"a", "b2"}),
        ("{rule: HA101, tab: Orders, reason: r}", {"c"}),  # a tab's label
        ("{rule: HA101, file: '*.json', reason: r}", {"a", "b2", "c"}),
        ("{rule: HA101, file: flows.json, node: c, reason: r}", {"c"}),
        ("{rule: HA101, tab: t2, node: a, reason: r}", set()),  # every given key must match
    ],
)
def test_config_entries_by_node_tab_and_file(repo, entry, suppressed):
    r = check(repo, CFG_FLOW, config=f"ignore_findings:\n  - {entry}\n")
    assert {f["node"] for f in r.findings("HA101") if f["suppressed"]} == suppressed
    for f in r.findings("HA101"):
        if f["suppressed"]:
            assert f["suppressed"] == {"kind": "config", "reason": "r", "source": ".hacheck.yaml ignore_findings[0]"}


def test_config_file_glob_is_relative_to_the_config_file(repo, monkeypatch):
    (repo / "flows").mkdir()
    (repo / "flows" / "flows.json").write_text(json.dumps(CFG_FLOW))
    (repo / ".hacheck.yaml").write_text("ignore_findings:\n  - {rule: HA101, file: flows/flows.json, reason: legacy}\n")
    monkeypatch.chdir(repo / "flows")
    r = Run(CliRunner().invoke(cli, ["check", "-f", "json", "--select", "HA101", "."]))
    assert r.code == 0 and {f["suppressed"]["kind"] for f in r.findings("HA101")} == {"config"}


def test_unused_config_entry_is_hc005_in_the_file_that_holds_its_node(repo):
    nodes = [tab("t1", "Ingest"), BROKER, mqtt("a", topic="$share/g/a/#"), act()]
    r = check(repo, nodes, config="ignore_findings:\n  - {rule: HA101, node: a, reason: broadcast}\n")
    assert r.table() == {("HC005", "a", None)}
    assert "The entry ignore_findings[0] in .hacheck.yaml (rule HA101, node 'a') matched no HA101 finding" in r.findings()[0]["message"]


def test_config_entry_for_a_node_in_no_checked_file_is_a_note(repo):
    r = check(repo, CFG_FLOW, config="ignore_findings:\n  - {rule: HA101, node: gone, reason: old}\n  - {rule: HA101, file: other/*.json, reason: not checked now}\n")
    assert not r.findings("HC005")
    assert r.doc["notes"] == ["The entry ignore_findings[0] in .hacheck.yaml (rule HA101, node 'gone') matched none of the checked files: remove it if that node or tab is gone."]


def test_config_entry_used_in_one_of_two_files_is_not_unused(repo):
    (repo / "flows_b.json").write_text(json.dumps([tab("t1", "Ingest"), BROKER, mqtt("a", topic="$share/g/a/#"), act()]))
    r = check(repo, CFG_FLOW, config="ignore_findings:\n  - {rule: HA101, node: a, reason: broadcast}\n")
    assert not r.findings("HC005")
    assert ("HA101", "a", "config") in r.table()


def test_an_unreadable_file_is_never_suppressed(repo):
    (repo / "flows_broken.json").write_text('[{"id": "t1", "type": "tab"},')
    r = check(repo, [tab("t1", "Ingest", info="hacheck-disable HA101 -- all of it"), BROKER, mqtt("a"), act()], config="ignore_findings:\n  - {rule: HA101, file: '*', reason: legacy}\n")
    assert ("HC001", None, None) in r.table()
    assert r.code == 1
    # and the config cannot even say so
    (repo / ".hacheck.yaml").write_text("ignore_findings:\n  - {rule: HC001, file: '*', reason: legacy}\n")
    r = CliRunner().invoke(cli, ["check", "."])
    assert r.exit_code == 2 and "ignore_findings[0].rule: HC001 cannot be suppressed" in r.stderr


def test_text_output_counts_suppressed_findings(repo):
    nodes = [tab("t1", "Ingest", info="hacheck-disable HA101 -- broadcast"), BROKER, mqtt("a"), mqtt("b2"), mqtt("d", dynamic=True), act()]
    (repo / "flows.json").write_text(json.dumps(nodes))
    r = CliRunner().invoke(cli, ["check", "--select", "HA101,HA102", "."])
    assert r.exit_code == 1
    assert "HA101" not in r.stdout.split("checked:")[0]  # suppressed findings are not listed ...
    assert "0 errors, 1 warning, 0 info (2 suppressed)" in r.stdout  # ... but counted


# --- library use --------------------------------------------------------------------------------


def test_check_one_applies_suppressions_on_its_own():
    flow = parse_bytes("flows.json", json.dumps([tab("t1", "Ingest"), BROKER, mqtt("a", info="hacheck-disable HA101 -- ok"), mqtt("b2"), act()]).encode())
    cfg = Config(select=("HA101",), ignore_findings=({"rule": "HA101", "node": "b2", "reason": "legacy"},))
    found = {(f.rule_id, f.node_id, f.suppressed.kind if f.suppressed else None) for f in check_one(flow, load_catalog(), cfg).findings}
    assert found == {("HA101", "a", "inline"), ("HA101", "b2", "config")}


@pytest.mark.parametrize("rule_id", ["HC005", "HC006"])
def test_rule_examples_behave_through_the_whole_pipeline(repo, rule_id):
    rule = next(r for r in load_catalog() if r.id == rule_id)
    for key, fires in (("example", True), ("example_ok", False)):
        (repo / "flows.json").write_text(rule.docs[key])
        r = Run(CliRunner().invoke(cli, ["check", "-f", "json", "."]))
        assert bool(r.findings(rule_id)) is fires, (key, r.doc["findings"])
