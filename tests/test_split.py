"""`hacheck split` (issue 32): the partition, the bridges, the report, the singleton marker and
the command's errors; proof 1's properties on every flow of both corpora."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from hacheck.commands.split import (
    MOVING_RULES,
    SplitError,
    dumps_flow,
    parse_broker,
    split_checked,
)
from hacheck.engine.catalog import load_catalog
from hacheck.engine.check import check_flow
from hacheck.engine.directives import SINGLE_COPY_RULES
from hacheck.load.loader import Source, parse_bytes, read_source
from hacheck.model.config import Config
from tests.conftest import assert_clean_error, corpus_manifest, run_cli

RULES = load_catalog()
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "hacheck" / "schemas" / "split-report.schema.json").read_text())
BROKER = "mqtt://broker.example:1883"


def _post(i: str, path: str) -> dict:
    return {"id": i, "type": "http request", "z": "t1", "name": f"post {path}", "method": "POST", "ret": "txt",
            "url": f"http://recorder.example/{path}", "x": 400, "y": 100, "wires": [[]]}


# the issue's flow: a repeating inject and a plain subscription that POST, a tcp listener, a join
# on a load-balanced path, an http in API whose response stays with it
ISSUE = [
    {"id": "t1", "type": "tab", "label": "Main", "disabled": False, "info": "the plant's flow"},
    {"id": "inj", "type": "inject", "z": "t1", "name": "every 5s", "props": [{"p": "payload"}], "repeat": "5",
     "crontab": "", "once": False, "topic": "", "payload": "", "payloadType": "date", "x": 100, "y": 100, "wires": [["tick"]]},
    _post("tick", "tick"),
    {"id": "sub", "type": "mqtt in", "z": "t1", "name": "events", "topic": "events/#", "qos": "1", "datatype": "utf8",
     "broker": "b1", "nl": False, "rap": True, "rh": 0, "inputs": 0, "x": 100, "y": 200, "wires": [["fmt"]]},
    {"id": "fmt", "type": "change", "z": "t1", "name": "mark", "rules": [{"t": "set", "p": "marked", "pt": "msg", "to": "y", "tot": "str"}],
     "x": 300, "y": 200, "wires": [["event"]]},
    _post("event", "event"),
    {"id": "api", "type": "http in", "z": "t1", "name": "api", "url": "/api", "method": "post", "x": 100, "y": 300,
     "wires": [["fmt", "resp", "j"]]},
    {"id": "resp", "type": "http response", "z": "t1", "name": "", "statusCode": "", "headers": {}, "x": 300, "y": 300, "wires": []},
    {"id": "j", "type": "join", "z": "t1", "name": "three", "mode": "custom", "build": "array", "property": "payload",
     "propertyType": "msg", "key": "topic", "joiner": "\\n", "joinerType": "str", "accumulate": False, "timeout": "",
     "count": "3", "x": 300, "y": 400, "wires": [["joined"]]},
    _post("joined", "join"),
    {"id": "tcp", "type": "tcp in", "z": "t1", "name": "listener", "server": "server", "host": "", "port": "7000",
     "datamode": "stream", "datatype": "utf8", "newline": "", "topic": "", "x": 100, "y": 500, "wires": [["tcppost"]]},
    _post("tcppost", "tcp"),
    {"id": "b1", "type": "mqtt-broker", "name": "plant", "broker": "mqtt.example", "port": "1883", "clientid": "",
     "protocolVersion": "4", "credentials": {"user": "plant", "password": "s3cret-pass"}},
]


def _flow(nodes, path="flows.json"):
    return parse_bytes(path, json.dumps(nodes).encode())


def _check(flow):
    return check_flow(flow, RULES, Config())


def _split(nodes, bridge="mqtt"):
    return split_checked(_flow(nodes), _check, bridge, parse_broker(BROKER) if bridge == "mqtt" else None)


def _ids(nodes):
    return [n["id"] for n in nodes]


def _marked(nodes):
    return check_flow(parse_bytes("singleton.json", dumps_flow(nodes).encode()), RULES, Config())


# --- the partition -------------------------------------------------------------------------------


@pytest.mark.parametrize("bridge", ["mqtt", "project-link"])
def test_the_issue_flow_moves_what_must_run_once_and_keeps_the_api(bridge):
    s = _split(ISSUE, bridge)
    ha, single = _ids(s.parts["ha"]), _ids(s.parts["singleton"])
    for nid in ("inj", "tick", "sub", "j", "joined", "tcp", "tcppost"):
        assert nid in single and nid not in ha, nid
    # the API, its response, and the change both the API and the subscription feed
    for nid in ("api", "resp", "fmt", "event"):
        assert nid in ha and nid not in single, nid
    # the original order is kept in each part, bridges come after the original nodes
    order = [n["id"] for n in ISSUE]
    assert [i for i in ha if i in order] == [i for i in order if i in ha]
    assert [i for i in single if i in order] == [i for i in order if i in single]
    directions = sorted((b.direction, b.source) for b in s.bridges)
    assert directions == [("ha-to-singleton", "api"), ("singleton-to-ha", "sub")]


def test_mqtt_bridges_share_on_the_ha_side_and_carry_the_whole_message():
    s = _split(ISSUE, "mqtt")
    ha = {n["id"]: n for n in s.parts["ha"]}
    single = {n["id"]: n for n in s.parts["singleton"]}
    to_ha = next(b for b in s.bridges if b.direction == "singleton-to-ha")
    rx, unwrap = (ha[i] for i in to_ha.nodes["ha"])
    assert rx["type"] == "mqtt in" and rx["topic"] == f"$share/hacheck/hacheck/split/{to_ha.id}"
    assert rx["qos"] in ("1", "2") and rx["datatype"] == "json" and rx["wires"] == [[unwrap["id"]]]
    assert unwrap["type"] == "function" and unwrap["wires"] == [["fmt"]]
    wrap, tx = (single[i] for i in to_ha.nodes["singleton"])
    assert wrap["type"] == "change" and wrap["rules"][0]["tot"] == "jsonata" and wrap["wires"] == [[tx["id"]]]
    assert tx["type"] == "mqtt out" and tx["topic"] == f"hacheck/split/{to_ha.id}" and tx["qos"] in ("1", "2")
    assert single["sub"]["wires"] == [[wrap["id"]]]
    # to the singleton: a plain subscription (one copy)
    to_single = next(b for b in s.bridges if b.direction == "ha-to-singleton")
    assert single[to_single.nodes["singleton"][0]]["topic"] == f"hacheck/split/{to_single.id}"
    assert ha["api"]["wires"] == [["fmt", "resp", to_single.nodes["ha"][0]]]
    # one broker per part, no client id, no credentials
    for part in (ha, single):
        brokers = [n for n in part.values() if n["type"] == "mqtt-broker" and n["name"] == "hacheck split bridge"]
        assert len(brokers) == 1 and brokers[0]["clientid"] == "" and brokers[0]["broker"] == "broker.example"
        assert brokers[0]["port"] == "1883"


def test_project_link_bridges_use_broadcast_project_links():
    s = _split(ISSUE, "project-link")
    nodes = {n["id"]: n for part in s.parts.values() for n in part}
    for b in s.bridges:
        (tx,), (rx,) = (b.nodes[b.sender], b.nodes["ha" if b.sender == "singleton" else "singleton"])
        assert nodes[tx]["type"] == "project link out" and nodes[tx]["mode"] == "link" and nodes[tx]["topic"] == b.topic
        assert nodes[rx]["type"] == "project link in" and nodes[rx]["topic"] == b.topic and nodes[rx]["wires"] == [b.targets]


def test_a_stateful_node_between_http_in_and_its_response_stays_and_says_why():
    flow = [
        {"id": "t1", "type": "tab", "label": "api"},
        {"id": "api", "type": "http in", "z": "t1", "url": "/avg", "method": "post", "x": 1, "y": 1, "wires": [["avg"]]},
        {"id": "avg", "type": "smooth", "z": "t1", "action": "mean", "count": "5", "property": "payload", "x": 1, "y": 1, "wires": [["resp"]]},
        {"id": "resp", "type": "http response", "z": "t1", "x": 1, "y": 1, "wires": []},
    ]
    s = _split(flow)
    assert not s.parts["singleton"] and not s.bridges
    (kept,) = s.kept
    assert kept.node == "avg" and "HA201" in kept.rules and "http response" in kept.why


LINK_CALL = [
    {"id": "t1", "type": "tab", "label": "sub"},
    {"id": "api", "type": "http in", "z": "t1", "url": "/x", "method": "post", "x": 1, "y": 1, "wires": [["resp", "call"]]},
    {"id": "resp", "type": "http response", "z": "t1", "x": 1, "y": 1, "wires": []},
    {"id": "call", "type": "link call", "z": "t1", "links": ["li"], "linkType": "static", "timeout": "20", "x": 1, "y": 1, "wires": [["done"]]},
    _post("done", "done"),
    {"id": "li", "type": "link in", "z": "t1", "links": [], "x": 1, "y": 1, "wires": [["j"]]},
    {"id": "j", "type": "join", "z": "t1", "mode": "custom", "build": "array", "count": "3", "x": 1, "y": 1, "wires": [["lo"]]},
    {"id": "lo", "type": "link out", "z": "t1", "mode": "return", "links": [], "x": 1, "y": 1, "wires": []},
]


def test_with_mqtt_a_link_call_never_crosses_a_bridge():
    s = _split(LINK_CALL, "mqtt")
    assert "j" in _ids(s.parts["ha"]) and not s.parts["singleton"]
    (kept,) = s.kept
    assert kept.node == "j" and "link call" in kept.why and "mqtt" in kept.why


def test_with_project_links_a_link_call_becomes_a_project_link_call_that_returns():
    s = _split(LINK_CALL, "project-link")
    ha = {n["id"]: n for n in s.parts["ha"]}
    single = {n["id"]: n for n in s.parts["singleton"]}
    assert set(single) >= {"li", "j", "lo"} and not {"li", "j", "lo"} & set(ha)
    (b,) = s.bridges
    assert b.call and b.direction == "ha-to-singleton" and b.targets == ["j"]
    call = ha["call"]
    assert call["type"] == "project link call" and call["topic"] == b.topic and call["timeout"] == "20"
    assert call["project"] == "${HACHECK_SPLIT_SINGLETON_ID}" and call["wires"] == [["done"]] and "links" not in call
    (rx,) = [n for n in single.values() if n["type"] == "project link in"]
    assert rx["topic"] == b.topic and rx["broadcast"] is False and rx["wires"] == [["j"]]
    assert single["lo"]["type"] == "project link out" and single["lo"]["mode"] == "return"
    assert not s.kept
    again = split_checked(parse_bytes("ha.json", dumps_flow(s.parts["ha"]).encode()), _check, "project-link", None)
    assert dumps_flow(again.parts["ha"]) == dumps_flow(s.parts["ha"]) and not again.parts["singleton"]


def test_a_subroutine_that_also_answers_a_call_of_the_ha_part_stays():
    """`lo` returns to both calls; the second stays in HA, so the subroutine cannot move and
    no link out is made a project link out that would leave that call unanswered."""
    local = [
        {"id": "tick", "type": "inject", "z": "t1", "repeat": "", "x": 1, "y": 1, "wires": [["call2"]]},
        {"id": "call2", "type": "link call", "z": "t1", "links": ["li"], "linkType": "static", "x": 1, "y": 1, "wires": [[]]},
    ]
    s = _split(LINK_CALL + local, "project-link")
    assert not s.parts["singleton"] and not s.bridges
    (kept,) = s.kept
    assert kept.node == "j" and "link call" in kept.why


def test_a_path_stays_whole_until_it_meets_a_node_the_ha_part_uses():
    flow = [
        {"id": "t1", "type": "tab", "label": "m"},
        {"id": "inj", "type": "inject", "z": "t1", "repeat": "60", "x": 1, "y": 1, "wires": [["a"]]},
        {"id": "a", "type": "change", "z": "t1", "rules": [], "x": 1, "y": 1, "wires": [["b"]]},
        {"id": "b", "type": "change", "z": "t1", "rules": [], "x": 1, "y": 1, "wires": [["shared"]]},
        {"id": "api", "type": "http in", "z": "t1", "url": "/x", "method": "post", "x": 1, "y": 1, "wires": [["shared", "resp"]]},
        {"id": "resp", "type": "http response", "z": "t1", "x": 1, "y": 1, "wires": []},
        {"id": "shared", "type": "change", "z": "t1", "rules": [], "x": 1, "y": 1, "wires": [["out"]]},
        _post("out", "out"),
    ]
    s = _split(flow)
    assert set(_ids(s.parts["singleton"])) >= {"inj", "a", "b"}
    assert {"shared", "out"} <= set(_ids(s.parts["ha"])) and not {"shared", "out"} & set(_ids(s.parts["singleton"]))
    (b,) = s.bridges
    assert (b.source, b.targets, b.direction) == ("b", ["shared"], "singleton-to-ha")


def test_a_dashboard_moves_whole_with_its_config_nodes_and_what_feeds_only_it():
    flow = [
        {"id": "t1", "type": "tab", "label": "ui"},
        {"id": "base", "type": "ui-base", "name": "dash"},
        {"id": "page", "type": "ui-page", "ui": "base", "name": "p"},
        {"id": "grp", "type": "ui-group", "page": "page", "name": "g"},
        {"id": "inj", "type": "inject", "z": "t1", "repeat": "10", "x": 1, "y": 1, "wires": [["g1"]]},
        {"id": "g1", "type": "ui-gauge", "z": "t1", "group": "grp", "x": 1, "y": 1, "wires": []},
        {"id": "btn", "type": "ui-button", "z": "t1", "group": "grp", "x": 1, "y": 1, "wires": [["post"]]},
        _post("post", "pressed"),
    ]
    s = _split(flow)
    single = set(_ids(s.parts["singleton"]))
    assert {"base", "page", "grp", "inj", "g1", "btn", "post"} <= single
    assert not single & ({"base", "page", "grp", "g1", "btn"} & set(_ids(s.parts["ha"])))
    assert not [f for f in _check(parse_bytes("ha.json", dumps_flow(s.parts["ha"]).encode())) if f.rule_id == "HA140"]


def test_a_timer_that_fed_a_moved_dashboard_moves_with_it():
    """In the input each copy's timer updates its own dashboard (no finding); once the
    dashboard moves, a timer left in HA would send it once per copy over the bridge."""
    flow = [
        {"id": "t1", "type": "tab", "label": "ui"},
        {"id": "inj", "type": "inject", "z": "t1", "repeat": "10", "x": 1, "y": 1, "wires": [["calc"]]},
        {"id": "calc", "type": "change", "z": "t1", "rules": [], "x": 1, "y": 1, "wires": [["gauge"]]},
        {"id": "gauge", "type": "ui_gauge", "z": "t1", "x": 1, "y": 1, "wires": []},
    ]
    assert not [f for f in _check(_flow(flow)) if f.rule_id == "HA110"]
    s = _split(flow)
    assert {"inj", "calc", "gauge"} <= set(_ids(s.parts["singleton"])) and not s.bridges
    assert s.rounds == 2
    (g,) = s.groups
    assert g.after == {"inj": ["HA110"]}


def test_context_both_parts_use_is_reported_with_its_owner():
    flow = [
        {"id": "t1", "type": "tab", "label": "m"},
        {"id": "inj", "type": "inject", "z": "t1", "repeat": "60", "x": 1, "y": 1, "wires": [["fn"]]},
        {"id": "fn", "type": "function", "z": "t1", "func": "flow.set('last', msg.payload);\nreturn msg;", "outputs": 1, "x": 1, "y": 1, "wires": [["post"]]},
        _post("post", "p"),
        {"id": "api", "type": "http in", "z": "t1", "url": "/last", "method": "get", "x": 1, "y": 1, "wires": [["rd"]]},
        {"id": "rd", "type": "change", "z": "t1", "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": "last", "tot": "flow"}], "x": 1, "y": 1, "wires": [["resp"]]},
        {"id": "resp", "type": "http response", "z": "t1", "x": 1, "y": 1, "wires": []},
    ]
    s = _split(flow)
    (c,) = s.context
    assert (c["scope"], c["key"], c["owner"]) == ("flow", "last", "singleton")
    assert c["written_by"] == {"singleton": ["fn"]} and c["read_by"] == {"ha": ["rd"]}


def test_a_broker_in_both_parts_with_a_fixed_client_id_gets_its_own_in_the_singleton():
    flow = [
        {"id": "t1", "type": "tab", "label": "m"},
        {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": "plant-7"},
        {"id": "sub", "type": "mqtt in", "z": "t1", "topic": "a/#", "broker": "b", "x": 1, "y": 1, "wires": [["post"]]},
        _post("post", "p"),
        {"id": "api", "type": "http in", "z": "t1", "url": "/x", "method": "post", "x": 1, "y": 1, "wires": [["pub", "resp"]]},
        {"id": "resp", "type": "http response", "z": "t1", "x": 1, "y": 1, "wires": []},
        {"id": "pub", "type": "mqtt out", "z": "t1", "topic": "b/x", "broker": "b", "x": 1, "y": 1, "wires": []},
    ]
    s = _split(flow)
    ha = {n["id"]: n for n in s.parts["ha"]}
    single = {n["id"]: n for n in s.parts["singleton"]}
    assert ha["b"]["clientid"] == "plant-7" and single["b"]["clientid"] == "plant-7-singleton"
    assert any("plant-7-singleton" in n for n in s.notes)


def test_catch_scopes_and_groups_list_only_their_part():
    flow = [
        {"id": "t1", "type": "tab", "label": "m"},
        {"id": "grp", "type": "group", "z": "t1", "nodes": ["inj", "post", "api"], "x": 1, "y": 1, "w": 10, "h": 10},
        {"id": "inj", "type": "inject", "z": "t1", "g": "grp", "repeat": "60", "x": 1, "y": 1, "wires": [["post"]]},
        _post("post", "p") | {"g": "grp"},
        {"id": "api", "type": "http in", "z": "t1", "g": "grp", "url": "/x", "method": "get", "x": 1, "y": 1, "wires": [["resp"]]},
        {"id": "resp", "type": "http response", "z": "t1", "x": 1, "y": 1, "wires": []},
        {"id": "c", "type": "catch", "z": "t1", "scope": ["post", "resp"], "x": 1, "y": 1, "wires": [[]]},
    ]
    s = _split(flow)
    ha = {n["id"]: n for n in s.parts["ha"]}
    single = {n["id"]: n for n in s.parts["singleton"]}
    assert ha["grp"]["nodes"] == ["api"] and single["grp"]["nodes"] == ["inj", "post"]
    assert ha["c"]["scope"] == ["resp"]
    assert not [f for f in _check(parse_bytes("ha.json", dumps_flow(s.parts["ha"]).encode())) if f.rule_id == "HC004"]


def test_splitting_the_ha_part_again_moves_nothing():
    s = _split(ISSUE)
    again = split_checked(parse_bytes("ha.json", dumps_flow(s.parts["ha"]).encode()), _check, "mqtt", parse_broker(BROKER))
    assert dumps_flow(again.parts["ha"]) == dumps_flow(s.parts["ha"])
    assert again.parts["singleton"] == [] and again.bridges == [] and again.groups == []


# --- the singleton marker ------------------------------------------------------------------------


def test_the_split_marks_the_singleton_so_its_findings_are_judged_for_one_copy():
    s = _split(ISSUE)
    tabs = [n for n in s.parts["singleton"] if n["type"] == "tab"]
    assert tabs and all(t["info"].endswith("hacheck-instance: singleton") for t in tabs)
    assert tabs[0]["info"].startswith("the plant's flow")  # the Description is kept
    found = {f.rule_id for f in _marked(s.parts["singleton"])}
    assert not found & SINGLE_COPY_RULES
    # the same nodes without the marker: the single-copy rules fire
    unmarked = [({**n, "info": ""} if n["type"] == "tab" else n) for n in s.parts["singleton"]]
    assert {f.rule_id for f in _marked(unmarked)} & SINGLE_COPY_RULES


def test_under_the_marker_the_other_rules_still_fire(tmp_path):
    flow = [
        {"id": "t1", "type": "tab", "label": "one", "info": "hacheck-instance: singleton"},
        {"id": "api", "type": "http in", "z": "t1", "url": "/x", "method": "get", "x": 1, "y": 1, "wires": [["s"]]},
        {"id": "s", "type": "smooth", "z": "t1", "action": "mean", "count": "5", "x": 1, "y": 1, "wires": [[]]},
    ]
    rules = {f.rule_id for f in _check(_flow(flow))}
    assert "HA150" in rules and "HA201" not in rules
    flow[0]["info"] = ""
    assert {"HA150", "HA201"} <= {f.rule_id for f in _check(_flow(flow))}


def test_a_file_that_says_it_is_the_ha_instance_wins_over_the_configuration():
    flow = [{"id": "t1", "type": "tab", "label": "one", "info": "- hacheck-instance: ha"},
            {"id": "inj", "type": "inject", "z": "t1", "repeat": "5", "x": 1, "y": 1, "wires": [["p"]]}, _post("p", "p")]
    one_copy = Config(instance="singleton")
    assert "HA110" in {f.rule_id for f in check_flow(_flow(flow), RULES, one_copy)}
    flow[0]["info"] = ""
    assert "HA110" not in {f.rule_id for f in check_flow(_flow(flow), RULES, one_copy)}


def test_config_instance_singleton_and_config_show(tmp_path, own_cache):
    flow = [{"id": "t1", "type": "tab", "label": "one"},
            {"id": "inj", "type": "inject", "z": "t1", "repeat": "5", "x": 1, "y": 1, "wires": [["p"]]}, _post("p", "p")]
    (tmp_path / "flows.json").write_text(json.dumps(flow))
    assert "HA110" in run_cli("check", str(tmp_path / "flows.json"), cwd=tmp_path).out
    (tmp_path / ".hacheck.yaml").write_text("instance: singleton\n")
    proc = run_cli("check", str(tmp_path / "flows.json"), cwd=tmp_path)
    assert proc.returncode == 0 and "HA110" not in proc.out, proc.out
    shown = run_cli("config", "show", cwd=tmp_path).out
    assert 'instance: "singleton"' in shown and ".hacheck.yaml" in shown.split('instance: "singleton"')[1].splitlines()[0]
    (tmp_path / ".hacheck.yaml").write_text("instance: one\n")
    bad = run_cli("check", str(tmp_path / "flows.json"), cwd=tmp_path)
    assert bad.returncode == 2
    assert_clean_error(bad, "instance")


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def issue_file(tmp_path):
    p = tmp_path / "flows.json"
    p.write_text(json.dumps({"flows": ISSUE, "credentials": {"b1": {"user": "plant", "password": "s3cret-pass"}}}))
    return p


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_command_writes_both_parts_and_the_reports(issue_file, tmp_path, fmt):
    out = tmp_path / "out"
    proc = run_cli("split", str(issue_file), "-o", str(out), "--bridge", "mqtt", "--broker", BROKER, "-f", fmt)
    assert proc.returncode == 0, proc.err
    assert sorted(os.listdir(out)) == ["ha", "report.json", "report.txt", "singleton"]
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert (out / "report.txt").read_text() == (proc.out if fmt == "text" else (out / "report.txt").read_text())
    if fmt == "json":
        assert json.loads(proc.out) == report
    text = (out / "report.txt").read_text()
    # one line per moved group: why, what it resolves, its bridges
    assert len([line for line in text.splitlines() if line.startswith("moved g")]) == len(report["groups"]) == 4
    assert "inject 'every 5s' (HA110)" in text and "resolves 1 finding (HA110)" in text
    for part in ("ha", "singleton"):
        raw = (out / part / "flows.json").read_text()
        assert raw.startswith("[\n    {\n") and raw.endswith("]\n")  # as Node-RED exports
        assert "credentials" not in raw and "s3cret-pass" not in raw
    assert "s3cret-pass" not in proc.out + proc.err and "s3cret-pass" not in (out / "report.json").read_text()
    assert any("credentials" in n for n in report["notes"])
    # every node of the input is in a part; only copies (tab, broker config) in both
    ha = _ids(json.loads((out / "ha" / "flows.json").read_text()))
    single = _ids(json.loads((out / "singleton" / "flows.json").read_text()))
    for n in ISSUE:
        assert (n["id"] in ha) + (n["id"] in single) == (2 if n["id"] in report["copied"] else 1), n["id"]


def test_a_folder_that_is_not_empty_is_replaced_only_with_force(issue_file, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = run_cli("split", str(issue_file), "-o", str(out))
    assert proc.returncode == 2
    assert_clean_error(proc, str(out), "--force")
    assert os.listdir(out) == ["keep.txt"]
    proc = run_cli("split", str(issue_file), "-o", str(out), "--force")
    assert proc.returncode == 0, proc.err
    assert sorted(os.listdir(out)) == ["ha", "report.json", "report.txt", "singleton"]
    assert sorted(os.listdir(tmp_path)) == ["flows.json", "out"]  # no temporary folder left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("split", str(issue_file), "-o", str(empty)).returncode == 0


@pytest.mark.parametrize("content,args,fragments", [
    (None, [], ["missing.json", "no such file"]),
    (b"[{\"id\": ", [], ["flows.json", "not valid JSON"]),
    (b"{\"a\": 1}", [], ["flows.json", "not a Node-RED flow"]),
    (json.dumps(ISSUE + [ISSUE[1]]).encode(), [], ["flows.json", "not unique"]),
    (json.dumps(ISSUE).encode(), ["--bridge", "mqtt"], ["--broker"]),
    (json.dumps(ISSUE).encode(), ["--bridge", "mqtt", "--broker", "http://x"], ["mqtt://host:port"]),
    (json.dumps(ISSUE).encode(), ["--bridge", "mqtt", "--broker", "mqtt://u:pw@host:1883"], ["credentials"]),
    (json.dumps(ISSUE).encode(), ["--broker", "mqtt://host:1883"], ["--bridge mqtt"]),
    (json.dumps(ISSUE).encode(), ["--bridge", "kafka"], ["kafka"]),
], ids=["missing", "bad-json", "not-a-flow", "duplicate-ids", "mqtt-no-broker", "broker-not-mqtt", "broker-password",
        "broker-without-mqtt", "unknown-bridge"])
def test_errors_are_one_line_exit_2_and_write_nothing(tmp_path, content, args, fragments):
    src = tmp_path / ("missing.json" if content is None else "flows.json")
    if content is not None:
        src.write_bytes(content)
    out = tmp_path / "out"
    proc = run_cli("split", str(src), "-o", str(out), *args)
    assert proc.returncode == 2, proc.out
    assert_clean_error(proc, *fragments)
    assert len([x for x in proc.err.splitlines() if x.strip()]) <= 3  # click's usage errors add 'Usage' and 'Try' lines
    assert "u:pw" not in proc.err
    assert not out.exists()


def test_force_never_replaces_the_folder_that_holds_the_input(issue_file, tmp_path):
    before = sorted(os.listdir(tmp_path))
    for out in (tmp_path, tmp_path.parent):
        proc = run_cli("split", str(issue_file), "-o", str(out), "--force")
        assert proc.returncode == 2
        assert_clean_error(proc, "holds")
    assert sorted(os.listdir(tmp_path)) == before and issue_file.is_file()


def test_output_onto_a_file_is_an_error(issue_file, tmp_path):
    (tmp_path / "out").write_text("x")
    proc = run_cli("split", str(issue_file), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert_clean_error(proc, "out")
    assert (tmp_path / "out").read_text() == "x"


def test_a_broker_url_with_a_password_is_never_echoed():
    with pytest.raises(SplitError) as e:
        parse_broker("mqtt://user:hunter22@host:1883")
    assert "hunter22" not in str(e.value)


# --- proof 1: every corpus flow -----------------------------------------------------------------

_BOTH = [("corpus", r["local_name"]) for r in corpus_manifest() if not r["notes"].startswith("MALFORMED")] + [
    ("corpus2", r["local_name"]) for r in corpus_manifest("corpus2") if not r["notes"].startswith("MALFORMED")
]


@pytest.mark.parametrize("bridge", ["mqtt", "project-link"])
@pytest.mark.parametrize("which,name", _BOTH, ids=[n.split("__")[0] for _, n in _BOTH])
def test_split_properties_on_corpus(which, name, bridge, request):
    path = request.getfixturevalue(which) / "files" / name
    flow = read_source(Source(name, str(path)))
    broker = parse_broker(BROKER) if bridge == "mqtt" else None
    if flow.shape == "unreadable" or flow.problems or flow.duplicates:
        with pytest.raises(SplitError):
            split_checked(flow, _check, bridge, broker)
        return
    s = split_checked(flow, _check, bridge, broker)
    ha = parse_bytes("ha.json", dumps_flow(s.parts["ha"]).encode())
    single = parse_bytes("singleton.json", dumps_flow(s.parts["singleton"]).encode())
    ha_found = _check(ha)
    # the HA part has none of the findings the split meant to resolve
    resolved = {(r["rule"], r["node"]) for g in s.groups for r in g.resolves}
    assert not [(f.rule_id, f.node_id) for f in ha_found if (f.rule_id, f.node_id) in resolved]
    # nor any finding a split could move (the ones that stay are reported, with why)
    kept = {k.node for k in s.kept}
    # a subflow's node runs in its instances: one that stays keeps the finding on the node
    kept |= {n.id for n in flow.nodes if any(flow.by_id[k].type == f"subflow:{n.z}" for k in kept)}
    movable = [(f.rule_id, f.node_id) for f in ha_found if f.rule_id in MOVING_RULES and f.rule_id != "HA140"
               and f.node_id in flow.by_id and f.node_id not in kept and not flow.by_id[f.node_id].is_config]
    movable += [("HA140", r.node_id) for f in ha_found if f.rule_id == "HA140" for r in f.related if r.node_id not in kept]
    assert not movable
    # the singleton, checked as one copy (its marker), has none of the single-copy rules'
    if single.nodes:
        assert not [f.rule_id for f in _check(single) if f.rule_id in SINGLE_COPY_RULES]
    # idempotent: the HA part splits to itself and moves nothing
    again = split_checked(ha, _check, bridge, broker)
    assert dumps_flow(again.parts["ha"]) == dumps_flow(s.parts["ha"]) and again.parts["singleton"] == []
    # every node of the input in exactly one part, or in both when copied (tabs, configs, subflows)
    ha_ids, single_ids = _ids(s.parts["ha"]), _ids(s.parts["singleton"])
    assert len(ha_ids) == len(set(ha_ids)) and len(single_ids) == len(set(single_ids))
    for n in flow.nodes:
        where = (n.id in ha_ids) + (n.id in single_ids)
        copyable = n.is_config or n.type in ("tab", "subflow", "group") or (n.z in flow.subflows)
        assert where == 1 or (where == 2 and copyable), (n.id, n.type, where)
    assert not any("credentials" in n for n in s.parts["ha"] + s.parts["singleton"])


def test_the_report_example_in_the_docs_is_what_the_command_prints(tmp_path):
    from tests.conftest import REPO, code_blocks

    (shown,) = code_blocks(REPO / "docs" / "split.md", "text", "The report")
    (tmp_path / "flows.json").write_text(json.dumps(ISSUE))
    proc = run_cli("split", "flows.json", "-o", "out", "--bridge", "mqtt", "--broker", "mqtt://broker:1883", cwd=tmp_path)
    assert proc.returncode == 0, proc.err
    assert proc.out == shown


def test_a_lone_surrogate_in_the_flow_is_written_back_as_the_same_value(tmp_path):
    src = tmp_path / "flows.json"
    src.write_text('[{"id": "t1", "type": "tab", "label": "\\ud800 ü"},'
                   '{"id": "i", "type": "inject", "z": "t1", "repeat": "5", "wires": [["p"]]},'
                   '{"id": "p", "type": "http request", "z": "t1", "method": "POST", "url": "http://x.example/y", "wires": [[]]}]')
    proc = run_cli("split", str(src), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.err
    single = json.loads((tmp_path / "out" / "singleton" / "flows.json").read_text("utf-8"))
    assert single[0]["label"] == "\ud800 ü" and "ü" in (tmp_path / "out" / "singleton" / "flows.json").read_text("utf-8")


def test_under_the_marker_a_client_id_two_brokers_share_is_still_reported():
    flow = [{"id": "t1", "type": "tab", "label": "a", "info": "hacheck-instance: singleton"},
            {"id": "b1", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": "plant"},
            {"id": "b2", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": "plant"},
            {"id": "m1", "type": "mqtt in", "z": "t1", "topic": "a", "broker": "b1", "x": 1, "y": 1, "wires": [[]]},
            {"id": "m2", "type": "mqtt in", "z": "t1", "topic": "b", "broker": "b2", "x": 1, "y": 1, "wires": [[]]}]
    assert sorted(f.node_id for f in _check(_flow(flow)) if f.rule_id == "HA103") == ["b1", "b2"]
    flow[2]["clientid"] = "plant-2"
    assert not [f for f in _check(_flow(flow)) if f.rule_id == "HA103"]


def test_a_broadcast_to_the_ha_copies_websocket_clients_stays_and_every_copy_receives_it():
    """The websocket clients connect to the HA copies: the broadcast stays there, and the
    bridge to it is a plain subscription so that every copy sends to its own clients."""
    flow = [
        {"id": "t1", "type": "tab", "label": "live"},
        {"id": "ws", "type": "websocket-listener", "path": "/ws/live", "wholemsg": "false"},
        {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": ""},
        {"id": "sub", "type": "mqtt in", "z": "t1", "topic": "plant/#", "broker": "b", "x": 1, "y": 1, "wires": [["post", "push"]]},
        _post("post", "event"),
        {"id": "push", "type": "websocket out", "z": "t1", "server": "ws", "client": "", "x": 1, "y": 1, "wires": []},
        {"id": "wsin", "type": "websocket in", "z": "t1", "server": "ws", "client": "", "x": 1, "y": 1, "wires": [["push"]]},
    ]
    s = _split(flow, "mqtt")
    assert {"sub", "post"} <= set(_ids(s.parts["singleton"])) and "push" in _ids(s.parts["ha"])
    assert "push" not in _ids(s.parts["singleton"])
    (b,) = s.bridges
    assert b.direction == "singleton-to-ha" and b.targets == ["push"] and b.every_copy
    rx = next(n for n in s.parts["ha"] if n["id"] == b.nodes["ha"][0])
    assert rx["topic"] == b.topic  # not $share/: every copy gets it


def test_a_configuration_error_is_exit_2_and_writes_nothing(issue_file, tmp_path, own_cache):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("instance: twice\n")
    proc = run_cli("split", str(issue_file), "-o", str(tmp_path / "out"), "--config", str(cfg))
    assert proc.returncode == 2
    assert_clean_error(proc, "bad.yaml", "instance")
    assert not (tmp_path / "out").exists()
