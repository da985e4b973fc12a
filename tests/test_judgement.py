"""How paths and nodes are judged (issue 30): what can never pass a switch, what never runs,
what a node of an unknown type is taken to be, and the smaller forms of per-copy state."""

from __future__ import annotations

import json

from tests.conftest import check_flow_data, run_cli

B = {"id": "b", "type": "mqtt-broker", "broker": "broker.example", "clientid": ""}


def found(nodes, *rules, config=None):
    return sorted((f.rule_id, f.node_id) for f in check_flow_data(nodes, select=rules, config=config))


def n(id, type, to=(), **kw):
    return {"id": id, "type": type, "z": "t", "x": 1, "y": 1, "wires": [list(p) for p in to] if to else [[]], **kw}


# --- switches no message can pass ---------------------------------------------------------------


def _status_flow(topic):
    return [
        {"id": "t", "type": "tab"}, B,
        n("s", "mqtt in", [["ui"]], topic=topic, broker="b"),
        n("ui", "ui-template", [["sw"]], passthru=True),
        n("sw", "switch", [["o"], ["o"]], property="topic", propertyType="msg",
          rules=[{"t": "eq", "v": "calibration/save", "vt": "str"}, {"t": "regex", "v": "^actuator/", "vt": "str"}]),
        {**n("o", "mqtt out", topic="", broker="b"), "wires": []},
    ]


def test_a_subscription_whose_topics_no_switch_rule_matches_reaches_nothing():
    assert found(_status_flow("status/#"), "HA101") == []
    assert found(_status_flow("actuator/#"), "HA101") == [("HA101", "s")]  # the regex rule matches
    assert found(_status_flow("+/x"), "HA101") == [("HA101", "s")]  # '+' may be 'actuator'
    assert found(_status_flow("$share/g/status/#"), "HA101") == []


def test_a_timestamp_never_equals_a_word_but_another_source_through_the_same_switch_may():
    nodes = [
        {"id": "t", "type": "tab"}, B,
        n("cron", "inject", [["sw"]], crontab="00 18 * * *", repeat="", props=[{"p": "payload"}], payload="", payloadType="date"),
        n("on", "inject", [["sw"]], repeat="60", props=[{"p": "payload"}], payload="on", payloadType="str"),
        n("sw", "switch", [["o"], ["o"]], property="payload", propertyType="msg",
          rules=[{"t": "eq", "v": "on", "vt": "str"}, {"t": "eq", "v": "off", "vt": "str"}]),
        {**n("o", "mqtt out", topic="lamp/set", broker="b"), "wires": []},
    ]
    assert found(nodes, "HA110") == [("HA110", "on")]  # per source: the 6 pm timestamp never passes


def test_a_value_set_in_flow_context_just_before_decides_the_switch_that_reads_it():
    nodes = [
        {"id": "t", "type": "tab"}, B,
        n("boot", "inject", [["set"]], once=True, repeat="", props=[{"p": "payload"}], payload="true", payloadType="bool"),
        n("set", "change", [["sw"]], rules=[{"t": "set", "p": "tv", "pt": "flow", "to": "off", "tot": "str"}]),
        n("sw", "switch", [["o"]], property="tv", propertyType="flow", rules=[{"t": "eq", "v": "shutting down", "vt": "str"}]),
        {**n("o", "mqtt out", topic="lamp/set", broker="b"), "wires": []},
    ]
    assert found(nodes, "HA111") == []
    nodes[3]["rules"][0]["to"] = "shutting down"
    assert found(nodes, "HA111") == [("HA111", "boot")]


# --- what never runs, what passes nothing, what only reads -------------------------------------


def test_a_function_whose_returns_all_give_null_passes_nothing():
    code = "function load() { return JSON.parse('{}'); }\nflow.set('cfg', load());\nnode.warn('boot');\nreturn null;"
    nodes = [{"id": "t", "type": "tab"}, B, n("boot", "inject", [["f"]], once=True, repeat=""),
             n("f", "function", [["o"]], func=code, outputs=1), {**n("o", "mqtt out", topic="x", broker="b"), "wires": []}]
    assert found(nodes, "HA111") == []
    nodes[3]["func"] = code.replace("return null;", "return msg;")
    assert found(nodes, "HA111") == [("HA111", "boot")]


def test_a_select_sent_to_mysql_reads_and_an_insert_writes():
    nodes = [
        {"id": "t", "type": "tab"}, {"id": "db", "type": "MySQLdatabase", "host": "db.internal"},
        n("tick", "inject", [["q"]], repeat="30"),
        n("q", "function", [["m"]], func='msg.topic = "SELECT v " +\n"FROM t WHERE a=\'" + msg.a + "\'";\nreturn msg;', outputs=1),
        n("m", "mysql", mydb="db"),
    ]
    assert found(nodes, "HA110") == []
    nodes[3]["func"] = "msg.topic = 'INSERT INTO t VALUES (1)';\nreturn msg;"
    assert found(nodes, "HA110") == [("HA110", "tick")]


def test_context_used_by_a_node_nothing_feeds_is_not_used_but_its_on_start_code_is():
    nodes = [{"id": "t", "type": "tab"},
             n("lonely", "function", func="flow.set('a', 1, 'persistent');\nreturn msg;", outputs=1)]
    assert found(nodes, "HA203") == []
    nodes[1]["initialize"] = "flow.set('b', 2, 'persistent');"
    assert found(nodes, "HA203") == [("HA203", "lonely")]


def test_replacing_a_whole_file_at_start_is_not_an_action_but_appending_is():
    nodes = [{"id": "t", "type": "tab"}, n("boot", "inject", [["w"]], once=True, repeat=""),
             n("w", "file", filename="/data/boot.txt", overwriteFile="true")]
    assert found(nodes, "HA111") == []
    nodes[2]["overwriteFile"] = "false"
    assert found(nodes, "HA111") == [("HA111", "boot")]


def test_a_dashboard_widget_whose_group_or_tab_is_missing_never_runs():
    ui = [{"id": "ut", "type": "ui_tab", "name": "Home"}, {"id": "ug", "type": "ui_group", "name": "G", "tab": "ut"}]
    nodes = [{"id": "t", "type": "tab"}, *ui, n("w", "ui_text", group="ug")]
    assert found(nodes, "HA140") == [("HA140", "t")]
    nodes[2]["tab"] = "gone"
    assert found(nodes, "HA140") == []
    nodes[3]["group"] = "nowhere"
    assert found(nodes, "HA140") == []
    nodes[3]["tab"] = "ut"  # the old dashboard's widgets named their tab themselves
    assert found(nodes, "HA140") == [("HA140", "t")]


# --- node types the catalogue does not know ---------------------------------------------------


def _feed(to):
    return [{"id": "t", "type": "tab"}, B, n("feed", "acme-live-feed", [[to]]), n("f", "function", [["o"]], func="return msg;", outputs=1),
            {**n("o", "mqtt out", topic="heater/set", broker="b"), "wires": []}, n("d", "debug")]


def test_an_unknown_node_with_no_input_that_reaches_an_action_is_reported_as_a_guess():
    (f,) = check_flow_data(_feed("f"), select=("HA109",))
    assert f.node_id == "feed" and f.severity.name == "WARNING"
    assert "not in the effect catalogue" in f.message and "acme-live-feed" in f.message
    assert found(_feed("d"), "HA109") == []  # only a debug: nothing duplicated
    fed = _feed("f") + [n("tick", "inject", [["feed"]], repeat="5")]
    assert found(fed, "HA109") == []  # something feeds it: not taken to emit on its own


def test_check_lists_the_unknown_types_it_met(tmp_path):
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(_feed("f")))
    out = run_cli("check", str(path), "-f", "json", "--fail-on", "never")
    (note,) = json.loads(out.out)["notes"]
    assert "'acme-live-feed' (1 node)" in note and "effects:" in note
    text = run_cli("check", str(path), "--fail-on", "never").out
    assert "1 node type not in the effect catalogue" in text


# --- smaller forms of per-copy state ---------------------------------------------------------


def test_node_context_and_its_flow_and_global_are_context():
    def flow(code):
        return [{"id": "t", "type": "tab"}, n("in", "http in", [["f"]], url="/hit", method="post"),
                n("f", "function", [["r"]], func=code, outputs=1), n("r", "http response")]

    count = "const c = node.context();\nc.set('hits', (c.get('hits') || 0) + 1);\nmsg.payload = c.get('hits');\nreturn msg;"
    assert found(flow(count), "HA202") == [("HA202", "f")]
    shared = "node.context().flow.set('last', msg.payload);\nreturn msg;"
    other = n("g", "function", func="msg.payload = flow.get('last');\nreturn msg;", outputs=1)
    nodes = flow(shared) + [other, n("in2", "http in", [["g"]], url="/last", method="get")]
    assert found(nodes, "HA202") == [("HA202", "f")]


def test_a_file_written_from_requests_and_read_by_another_request_depends_on_the_copy():
    nodes = [{"id": "t", "type": "tab"},
             n("post", "http in", [["w"]], url="/save", method="post"), n("w", "file", name="save", filename="/data/last.json", overwriteFile="true"),
             n("in", "http in", [["r"]], url="/last", method="get"), n("r", "file in", [["out"]], filename="/data/last.json", format="utf8"),
             n("out", "http response")]
    assert found(nodes, "HA204") == [("HA204", "r"), ("HA204", "w")]
    (f,) = [f for f in check_flow_data(nodes, select=("HA204",)) if f.node_id == "r"]
    assert "file 'save' writes" in f.message and [x.node_id for x in f.related][-1] == "w"
    nodes[1] = n("tick", "inject", [["w"]], repeat="60")  # every copy writes it in full: the same on each disk
    assert found(nodes, "HA204") == []
