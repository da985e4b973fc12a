"""HA200-HA203 and SEC301 beyond the fixture cases: configuration of stores, paths through
subflows and events, long paths, reports, malformed input, secrets in every output format,
and the cost on large flows."""

from __future__ import annotations

import json
import time

import pytest

from hacheck.model.config import Config
from hacheck.analysis.paths import MAX_STEPS
from hacheck.reporters import REPORTERS
from tests.conftest import check_flow_data, run_cli


def node(id, type, z="t", wires=None, **kw):
    d = {"id": id, "type": type, "z": z, "x": 100, "y": 100, "wires": wires if wires is not None else [[]]}
    d.update(kw)
    return d


def tab(id="t", label="API"):
    return {"id": id, "type": "tab", "label": label}


def http(id, to, url="/x", z="t"):
    return node(id, "http in", z, [list(to)], url=url, method="post")


def fn(id, func, to=(), z="t", name="", **kw):
    return node(id, "function", z, [list(to)], name=name, func=func, outputs=1, **kw)


def found(flow, rule, config=None):
    return [f for f in check_flow_data(flow, select=(rule,), config=config) if f.rule_id == rule]


def ids(findings):
    return sorted(f.node_id for f in findings)


# --- stores ------------------------------------------------------------------------------------

STORE_FLOW = [
    tab(),
    http("in", ["f_redis", "f_default", "f_persist", "f_ff", "f_read"]),
    fn("f_redis", "flow.set('k', 1, 'redis');\nreturn msg;"),
    fn("f_default", "flow.set('k', 1);\nreturn msg;"),
    fn("f_persist", "flow.set('k', 1, 'persistent');\nreturn msg;"),
    fn("f_ff", "global.get('k', 'ffstore');\nreturn msg;"),
    # the value is read, so it matters which copy wrote it (an unread value is never reported)
    fn("f_read", "msg.payload = flow.get('k');\nreturn msg;"),
]


def test_a_store_declared_shared_is_quiet_and_others_are_not():
    assert ids(found(STORE_FLOW, "HA202")) == ["f_default", "f_redis"]
    cfg = Config(shared_context_stores=("redis",))
    assert ids(found(STORE_FLOW, "HA202", cfg)) == ["f_default"]


def test_shared_wins_over_persistent_for_the_same_store():
    cfg = Config(shared_context_stores=("persistent",))
    assert found(STORE_FLOW, "HA203", cfg) == []
    assert "f_persist" not in ids(found(STORE_FLOW, "HA202", cfg))


def test_persistent_store_names_are_configurable():
    assert ids(found(STORE_FLOW, "HA203")) == ["f_persist"]
    cfg = Config(persistent_context_stores=("ffstore",))
    assert ids(found(STORE_FLOW, "HA203", cfg)) == ["f_ff"]
    # 'persistent' is no longer special: its write is per copy, so HA202 reports it
    assert "f_persist" in ids(found(STORE_FLOW, "HA202", cfg))


@pytest.mark.parametrize("rule_ref", ["HA202", "context-state", "HA203"])
def test_default_store_option_applies_to_both_rules(rule_ref):
    shared = Config(options={rule_ref: {"default_store": "shared"}})
    assert ids(found(STORE_FLOW, "HA202", shared)) == ["f_redis"]
    persistent = Config(options={rule_ref: {"default_store": "persistent"}})
    assert ids(found(STORE_FLOW, "HA202", persistent)) == ["f_redis"]
    assert ids(found(STORE_FLOW, "HA203", persistent)) == ["f_default", "f_persist", "f_read"]
    msg = next(f.message for f in found(STORE_FLOW, "HA203", persistent) if f.node_id == "f_default")
    assert "'default'" in msg


def test_a_write_in_on_start_code_is_quiet_but_a_persistent_read_there_is_ha203():
    flow = [tab(), http("in", ["f"]), fn("f", "return msg;", initialize="flow.set('a', flow.get('b', 'persistent'));")]
    assert found(flow, "HA202") == []
    (f,) = found(flow, "HA203")
    assert f.path == "/initialize" and f.js_line == 1 and "On Start" in f.message


# --- paths -------------------------------------------------------------------------------------


def test_subflow_instances_are_traced_separately():
    """Two instances of one subflow: only the one an http in feeds makes a path."""
    flow = [
        tab(),
        {"id": "sf", "type": "subflow", "name": "Avg", "in": [{"x": 1, "y": 1, "wires": [{"id": "sm"}]}], "out": []},
        node("sm", "smooth", "sf", action="mean", count="5"),
        http("in", ["i_http"]),
        node("i_http", "subflow:sf", name="from api"),
        node("tick", "inject", wires=[["i_timer"]], repeat="5", once=False),
        node("i_timer", "subflow:sf", name="from timer"),
    ]
    (f,) = found(flow, "HA201")
    assert f.node_id == "sm" and f.paths == (("in", "i_http", "sm"),)
    assert "subflow 'from api'" in f.message and "from timer" not in f.message


def test_nested_subflows_show_each_instance_on_the_path():
    flow = [
        tab(),
        {"id": "outer", "type": "subflow", "name": "Outer", "in": [{"x": 1, "y": 1, "wires": [{"id": "inner_inst"}]}], "out": []},
        node("inner_inst", "subflow:inner", "outer"),
        {"id": "inner", "type": "subflow", "name": "Inner", "in": [{"x": 1, "y": 1, "wires": [{"id": "trig"}]}], "out": []},
        node("trig", "trigger", "inner", op1="1", op2="0", duration="1", units="s"),
        http("in", ["outer_inst"], url="/nested"),
        node("outer_inst", "subflow:outer"),
    ]
    (f,) = found(flow, "HA201")
    assert f.paths == (("in", "outer_inst", "inner_inst", "trig"),)
    assert "http in POST /nested -> subflow 'Outer' -> subflow 'Inner' -> trigger" in f.message


@pytest.mark.parametrize(
    "watcher",
    [
        {"type": "catch", "scope": None},
        {"type": "status", "scope": None},
        {"type": "catch", "scope": "group"},
        {"type": "complete", "scope": ["work"]},
    ],
    ids=["catch-tab", "status-tab", "catch-group", "complete-list"],
)
def test_event_watchers_carry_the_path(watcher):
    flow = [
        tab(),
        {"id": "grp", "type": "group", "z": "t", "nodes": ["work", "w"]},
        http("in", ["work"], url="/job"),
        fn("work", "return msg;", name="work", g="grp"),
        node("w", watcher["type"], wires=[["cnt"]], scope=watcher["scope"], g="grp"),
        fn("cnt", "context.set('n', (context.get('n') || 0) + 1);\nreturn msg;", name="count"),
    ]
    (f,) = found(flow, "HA202")
    assert f.node_id == "cnt" and f.paths == (("in", "work", "w", "cnt"),)
    kind = {"catch": "error", "status": "status", "complete": "done"}[watcher["type"]]
    assert f"function 'work' -({kind})-> {watcher['type']}" in f.message


def test_complete_without_scope_and_catch_of_other_nodes_are_quiet():
    flow = [
        tab(),
        http("in", ["work"]),
        fn("work", "return msg;"),
        node("tick", "inject", wires=[["other"]], repeat="5"),
        fn("other", "return msg;"),
        node("c1", "complete", wires=[["cnt1"]], scope=None),
        node("c2", "catch", wires=[["cnt2"]], scope=["other"]),
        fn("cnt1", "flow.set('a', 1);\nreturn msg;"),
        fn("cnt2", "flow.set('b', 1);\nreturn msg;"),
    ]
    assert found(flow, "HA202") == []


def test_a_long_path_is_shortened_in_the_message_and_the_report():
    n = 150
    chain = [fn(f"f{i}", "return msg;", [f"f{i + 1}"]) for i in range(n)]
    flow = [tab(), http("in", ["f0"], url="/deep"), *chain, node(f"f{n}", "rbe", func="rbe")]
    (f,) = found(flow, "HA201")
    (path,) = f.paths
    assert path[0] == "in" and path[-1] == f"f{n}" and len(path) <= MAX_STEPS + 1
    assert f.message.startswith("'rbe' remembers") and "http in POST /deep -> ... -> " in f.message
    assert "more) ->" in f.message and len(f.message) < 600


def test_link_call_and_return_are_followed():
    flow = [
        tab(),
        http("in", ["call"], url="/api"),
        node("call", "link call", wires=[["after"]], links=["lin"], linkType="static"),
        node("lin", "link in", wires=[["sub"]], links=[]),
        fn("sub", "return msg;", ["ret"], name="lookup"),
        node("ret", "link out", wires=[], mode="return", links=[]),
        node("after", "delay", pauseType="rate", rate="1", nbRateUnits="1", rateUnits="second"),
    ]
    (f,) = found(flow, "HA201")
    assert f.node_id == "after"
    assert f.paths[0] == ("in", "call", "after")


def test_more_than_one_input_lists_each_input_as_related_and_in_paths():
    flow = [
        tab(),
        {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example"},
        http("h1", ["j"], url="/a"),
        http("h2", ["j"], url="/b"),
        node("m", "mqtt in", wires=[["j"]], topic="$queue/jobs", broker="b"),
        node("j", "join", mode="custom", count="2"),
    ]
    (f,) = found(flow, "HA201")
    assert {p[0] for p in f.paths} == {"h1", "h2", "m"}
    assert {r.node_id for r in f.related} >= {"h1", "h2", "m"}
    assert "2 more inputs" in f.message


def test_a_node_reached_by_many_inputs_names_the_nearest_three_and_counts_the_rest():
    # a smooth inside a subflow used by 30 instances, each behind its own http in: 30 inputs
    sub = {"id": "sf", "type": "subflow", "name": "Avg", "in": [{"wires": [{"id": "s"}]}], "out": []}
    flow = [tab(), sub, node("s", "smooth", z="sf", action="mean", count="5")]
    for i in range(30):
        flow += [http(f"h{i:02}", [f"i{i:02}"], url=f"/u{i}"), node(f"i{i:02}", "subflow:sf")]
    (f,) = found(flow, "HA201")
    assert len(f.paths) == 3
    assert "(and 29 more inputs: the nearest: " in f.message
    # all paths have the same length: the nearest are the first in the file
    assert [p[0] for p in f.paths] == ["h00", "h01", "h02"]


def test_input_paths_are_the_shortest_ones_a_full_walk_would_pick():
    """The inputs chosen from the trace's depths are those that walking every path and
    sorting them (the way it was done before) puts first, on a generated flow with subflows,
    links, catch nodes and long chains."""
    from benchmarks.flowgen import generate
    from hacheck.engine.context import RuleContext
    from hacheck.analysis.graph import SEP
    from hacheck.load.loader import build
    from hacheck.analysis.paths import MAX_INPUTS, _index, feeds, input_paths

    flow = build("gen.json", generate(3000, seed=3))
    ctx = RuleContext(flow, Config())
    f = feeds(ctx)
    checked = 0
    for n in flow.by_id.values():
        best = {}
        for v in ctx.graph.vertices_of.get(n.id, ()):
            for _, _, _, build_path in f.candidates(v):
                vpath, events, elided = build_path()
                if len(vpath) < 2:
                    continue
                ids = tuple(x.rpartition(SEP)[2] for x in vpath)
                old = best.get(ids[0])
                if old is None or (len(ids), elided) < (len(old[0]), old[2]):
                    best[ids[0]] = (ids, events, elided)
        want = sorted(best.values(), key=lambda p: (p[2], len(p[0]), _index(flow, p[0][0]), p[0]))
        got = input_paths(ctx, n)
        assert [(p.nodes, p.events, p.elided) for p in got] == want[:MAX_INPUTS], n.id
        assert got.total == len(want)
        checked += bool(want)
    assert checked > 300


# --- reports -----------------------------------------------------------------------------------


def test_json_report_has_input_paths_and_related_readers(tmp_path):
    flow = [
        tab(),
        http("in", ["f"], url="/count"),
        fn("f", "flow.set('count', (flow.get('count') || 0) + 1);\nreturn msg;", name="count"),
        http("rin", ["r"], url="/report"),
        fn("r", "msg.payload = flow.get('count');\nreturn msg;", name="report"),
    ]
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(flow))
    proc = run_cli("check", str(path), "--select", "HA202", "--format", "json")
    assert proc.returncode == 1, proc.err
    (f,) = json.loads(proc.out)["findings"]
    assert f["rule"] == "HA202" and f["node"] == "f" and f["path"] == "/func" and f["js_line"] == 1
    assert f["input_paths"] == [["in", "f"]]
    assert [r["node"] for r in f["related"]] == ["in", "r"]
    assert "reads flow context 'count'" in f["related"][1]["message"]


def test_fingerprint_does_not_change_when_another_key_is_written():
    def flow(code):
        return [tab(), http("in", ["f", "r"]), fn("f", code), fn("r", "msg.payload = [flow.get('a'), flow.get('b')];\nreturn msg;")]

    (a,) = found(flow("flow.set('a', 1);\nreturn msg;"), "HA202")
    (b,) = found(flow("flow.set('b', 2);\nflow.set('a', 1);\nreturn msg;"), "HA202")
    assert a.fingerprint() == b.fingerprint()


# --- bad input -----------------------------------------------------------------------------------

MALFORMED = [
    tab(),
    http("in", ["ch", "ch2", "tpl", "sw", "f", "f2", "sm", "sort", "j"]),
    node("ch", "change", rules="not a list"),
    node("ch2", "change", rules=[None, 3, {"t": "set", "pt": "flow", "p": None}, {"t": "move", "tot": "flow", "to": 5}]),
    node("tpl", "template", field=None, fieldType="flow", template=["{{flow.x}}"]),
    node("sw", "switch", rules=[{"t": "eq", "vt": "prev"}, "x"], repair="yes"),
    node("f", "function", func=12, initialize=None, finalize={"a": 1}),
    node("f2", "function", func="flow.set('a', ", outputs=1),
    node("sm", "smooth", count=None, action=5),
    node("sort", "sort", targetType=None),
    node("j", "join", mode=None),
    node("inj", "inject", props={"p": "x"}, wires="bad"),
    node("jn", "change", rules=[{"t": "set", "p": "a", "pt": "msg", "to": "$flowContext(", "tot": "jsonata"}]),
    node("jn2", "change", rules=[{"t": "set", "p": "a", "pt": "msg", "to": "$globalContext()", "tot": "jsonata"}]),
    {"id": "cred", "type": "x-config", "credentials": ["not", "a", "dict"]},
    {"id": "cred2", "type": "x-config", "credentials": {"nested": {"deep": [{"token": 7}]}}},
    {"id": "envs", "type": "tab", "env": [None, {"type": "cred", "value": {"x": "y"}}, {"name": 3, "type": "cred", "value": 1}]},
]


@pytest.mark.parametrize("rule", ["HA200", "HA201", "HA202", "HA203", "SEC301"])
def test_malformed_nodes_never_crash(rule):
    findings = check_flow_data(MALFORMED, select=(rule,))
    assert not [f for f in findings if f.rule_id == "HC000"], [f.message for f in findings]


def test_malformed_nodes_still_give_what_can_be_known():
    assert "sw" in ids(found(MALFORMED, "HA201"))  # a prev rule among junk rules
    assert ids(found(MALFORMED, "HA200")) == ["f2"]
    sec = found(MALFORMED, "SEC301")
    assert ids(sec) == ["cred2", "envs", "envs"]
    assert all("7" not in f.message.replace("SEC301", "") for f in sec if f.node_id == "cred2")


# --- SEC301 at the top level and in every output format --------------------------------------------

SECRET_A = "pw-Ahmu2eiQu-secret"
SECRET_B = "tok-Jie4ohsh-secret"
SECRET_C = "env-Eiph5ahx-secret"
SECRETS = (SECRET_A, SECRET_B, SECRET_C)


def _secret_flow():
    return [
        {"id": "t", "type": "tab", "label": "Ingest", "env": [{"name": "API_TOKEN", "value": SECRET_C, "type": "cred"}]},
        {"id": "b", "type": "mqtt-broker", "name": "plant", "broker": "mqtt.example", "credentials": {"user": "u-user", "password": SECRET_A}},
        node("r", "http request", url="https://example.com", name="call", credentials={"user": "", "password": SECRET_B}),
        node("m", "mqtt in", topic="jobs/#", broker="b"),
    ]


def test_top_level_plain_credentials_of_an_admin_api_body(tmp_path):
    body = {"flows": _secret_flow()[:2], "credentials": {"b": {"password": SECRET_A}, "gone": {"token": SECRET_B}, "e": {"user": ""}}}
    findings = found(json.dumps(body).encode(), "SEC301")
    top = [f for f in findings if "top-level credentials" in f.message]
    assert sorted((f.node_id or "") for f in top) == ["", "b"]
    assert "Admin API body" in top[0].message and "node gone (not in this file)" in " ".join(f.message for f in top)


def test_top_level_credentials_of_a_snapshot_and_encrypted_ones():
    snap = {"id": "s", "name": "snap", "flows": {"flows": _secret_flow()[:1], "credentials": {"t": {"secret": SECRET_B}}}}
    (f,) = [f for f in found(json.dumps(snap).encode(), "SEC301") if "top-level" in f.message]
    assert "FlowFuse snapshot" in f.message and f.node_id == "t"
    encrypted = {"flows": [tab()], "credentials": {"$": "0123456789abcdef0123456789abcdefbase64text=="}}
    assert found(json.dumps(encrypted).encode(), "SEC301") == []


def test_sec301_names_fields_never_values():
    findings = found(_secret_flow(), "SEC301")
    assert ids(findings) == ["b", "r", "t"]
    for f in findings:
        for s in (*SECRETS, "u-user"):
            assert s not in f.message and s not in f.detail and s not in (f.path or "")


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_secret_values_are_absent_from_every_output_format(tmp_path, fmt):
    path = tmp_path / "flows.json"
    body = {"flows": _secret_flow(), "credentials": {"r": {"password": SECRET_B}, "x": {"token": SECRET_A}}}
    path.write_text(json.dumps(body))
    out = tmp_path / f"report.{fmt}"
    proc = run_cli("check", str(path), "--format", fmt, "--output", str(out), "--fail-on", "never")
    assert proc.returncode == 0, proc.err
    text = out.read_text("utf-8") + proc.out + proc.err
    assert "SEC301" in text or "credentials-in-flow" in text, text[:500]
    for s in SECRETS:
        assert s not in text, f"{fmt} output shows a credential value"


# --- cost ----------------------------------------------------------------------------------------


def test_paths_and_context_stay_linear_on_a_long_chain():
    """10 000 context-writing functions in one chain from an http in: walking each finding's
    path in full would be quadratic (minutes); the shortened walk keeps it to seconds."""
    n = 10_000
    chain = [fn(f"f{i}", f"flow.set('k{i % 50}', (flow.get('k{i % 50}') || 0) + msg.payload);\nreturn msg;", [f"f{i + 1}"]) for i in range(n)]
    flow = [tab(), http("in", ["f0"]), *chain, fn(f"f{n}", "return msg;")]
    start = time.process_time()
    findings = check_flow_data(flow, select=("HA201", "HA202", "HA203", "HA200"))
    elapsed = time.process_time() - start
    assert len([f for f in findings if f.rule_id == "HA202"]) == n
    assert elapsed < 60, elapsed
