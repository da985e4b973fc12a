"""The effect catalogue (rules/effects/) and the reach search built on it.

The catalogue is data, checked here like the rules are: every file valid against its schema,
no type described twice, docs for every entry and generated docs that are current, the most
frequent contrib types of the real flows covered. Then what the engine makes of it: a node's
roles, where a message stops, what a source reaches and by which path.
"""

from __future__ import annotations

import collections
import json

import pytest

from hacheck.model.config import Config
from hacheck.engine.context import RuleContext
from hacheck.effects.catalogue import (
    EffectsError,
    _files,
    bundled,
    bundled_dir,
    load_dir,
    validate_types,
)
from hacheck.load.loader import parse_bytes
from tests.conftest import REPO, check_flow_data, corpus_manifest, run_cli

CATALOGUE = bundled()


def ctx_of(nodes: list[dict], config: Config | None = None) -> RuleContext:
    return RuleContext(parse_bytes("flow.json", json.dumps(nodes).encode()), config or Config())


# --- the data --------------------------------------------------------------------------------


def test_every_file_is_valid_and_no_type_is_described_twice():
    types = load_dir(bundled_dir())  # raises on a schema error or a type in two files
    assert types == CATALOGUE
    assert len(_files(bundled_dir())) >= 40 and len(types) >= 300


def test_every_entry_says_what_it_does():
    for t, e in CATALOGUE.items():
        assert len(e["doc"]) >= 10, t
        for axis in ("source", "effect", "host", "session"):
            for x in e.get(axis, ()):
                if x["kind"] not in ("none",):
                    assert x.get("what") or axis in ("host", "session"), f"{t}: a {axis} without words for it"


def test_a_file_that_breaks_the_schema_is_a_clear_error(tmp_path):
    (tmp_path / "bad.yaml").write_text("package: x\nchecked: y\ntypes:\n  my-node:\n    doc: Sends things somewhere.\n    effect:\n      - {kind: outbond, class: publish}\n")
    with pytest.raises(EffectsError, match=r"bad.yaml: types/my-node/effect/0/kind: 'outbond' is not one of"):
        load_dir(tmp_path)
    (tmp_path / "bad.yaml").write_text("package: x\nchecked: y\ntypes:\n  mqtt in:\n    doc: A second description.\n    neutral: true\n")
    (tmp_path / "other.yaml").write_text("package: z\nchecked: y\ntypes:\n  mqtt in:\n    doc: A first description.\n    neutral: true\n")
    with pytest.raises(EffectsError, match="already described in bad.yaml"):
        load_dir(tmp_path)


def test_the_contrib_types_real_flows_use_most_are_covered(corpus):
    """The 40 most frequent node types of the corpus that are not core Node-RED types."""
    core = {t for t, e in CATALOGUE.items() if e["package"] == "node-red"} | {"tab", "subflow", "group"}
    count: collections.Counter = collections.Counter()
    for row in corpus_manifest():
        if row["notes"].startswith("MALFORMED"):
            continue
        flow = parse_bytes(row["local_name"], (corpus / "files" / row["local_name"]).read_bytes())
        count.update(n.type for n in flow.nodes if n.type not in core and not n.type.startswith("subflow:"))
    top = [t for t, _ in count.most_common(40)]
    assert len(top) == 40
    missing = [t for t in top if t not in CATALOGUE]
    assert not missing, f"frequent contrib types without a catalogue entry: {missing}"


def test_the_catalogue_is_cached_and_a_warm_start_needs_neither_yaml_nor_jsonschema(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from hacheck.effects.catalogue import bundled; bundled(); "
        "print('ruamel' in sys.modules, 'jsonschema' in sys.modules)"
    )
    env = {"HACHECK_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=False)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=False)
    assert first.stdout.split() == ["True", "True"], first.stderr
    assert second.stdout.split() == ["False", "False"], second.stderr
    assert list(tmp_path.glob("effects-*.json"))


# --- a config's own node types ------------------------------------------------------------------

VALVE = [
    {"id": "t", "type": "tab"},
    {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": ""},
    {"id": "m", "type": "mqtt in", "z": "t", "topic": "valves/set", "broker": "b", "x": 1, "y": 1, "wires": [["v"]]},
    {"id": "v", "type": "acme-valve", "z": "t", "valve": "V7", "x": 1, "y": 1, "wires": [["d"]]},
    {"id": "d", "type": "debug", "z": "t", "x": 1, "y": 1, "wires": []},
]


def test_a_config_adds_its_own_node_type(repo):
    (repo / "flows.json").write_text(json.dumps(VALVE))
    quiet = run_cli("check", "flows.json", "--select", "HA101", cwd=repo)
    assert quiet.returncode == 0, quiet.out  # an unknown type with an output: a pass-through
    (repo / ".hacheck.yaml").write_text(
        "effects:\n  acme-valve:\n    doc: Opens or closes a valve over the plant bus.\n"
        "    effect:\n      - {kind: outbound, class: command, what: \"switches valve {f[valve]}\"}\n"
    )
    loud = run_cli("check", "flows.json", "--select", "HA101", cwd=repo)
    assert loud.returncode == 1 and "acme-valve (switches valve V7)" in loud.out, loud.out


def test_a_bad_config_entry_is_exit_2_with_file_line_and_what_is_allowed(repo):
    (repo / "flows.json").write_text(json.dumps(VALVE))
    (repo / ".hacheck.yaml").write_text("effects:\n  acme-valve:\n    doc: Opens a valve.\n    effect:\n      - {kind: outbond, class: command}\n")
    proc = run_cli("check", "flows.json", cwd=repo)
    assert proc.returncode == 2 and "Traceback" not in proc.err
    assert ".hacheck.yaml:5: effects.acme-valve.effect[0].kind" in proc.err and "outbound" in proc.err


def test_validate_types_names_the_config_key():
    with pytest.raises(EffectsError, match="effects/x/source/0/class"):
        validate_types({"x": {"doc": "A source of things.", "source": [{"kind": "every-copy", "class": "nope"}]}}, "cfg")


# --- roles and reach -----------------------------------------------------------------------------


def _roles(node: dict, *others: dict):
    ctx = ctx_of([{"id": "t", "type": "tab"}, node, *others])
    return ctx.effects.roles(ctx.flow.by_id[node["id"]])


def test_a_nodes_options_decide_its_roles():
    assert _roles({"id": "i", "type": "inject", "z": "t", "repeat": "60", "wires": [[]]}).source.cls == "timer"
    assert _roles({"id": "i", "type": "inject", "z": "t", "repeat": "", "once": True, "wires": [[]]}).source.kind == "start-up"
    assert _roles({"id": "i", "type": "inject", "z": "t", "repeat": "", "wires": [[]]}).source is None  # a button
    assert _roles({"id": "m", "type": "mqtt in", "z": "t", "topic": "$share/g/a", "wires": [[]]}).source.kind == "load-balanced"
    assert _roles({"id": "m", "type": "mqtt in", "z": "t", "topic": "a/#", "wires": [[]]}).source.kind == "every-copy"
    get = _roles({"id": "h", "type": "http request", "z": "t", "method": "GET", "url": "https://api.example/v1/items", "wires": [[]]})
    assert get.effect is None  # a read
    cmd = _roles({"id": "h", "type": "http request", "z": "t", "method": "GET", "url": "http://10.0.0.7/cm?cmnd=Power%20On", "wires": [[]]})
    assert cmd.effect.kind == "outbound"  # a device command sent as a GET
    assert _roles({"id": "u", "type": "ui_switch", "z": "t", "passthru": False, "wires": [[]]}).passes is False
    assert _roles({"id": "u", "type": "ui_switch", "z": "t", "wires": [[]]}).passes is True


def test_unknown_types_are_judged_by_their_shape():
    assert _roles({"id": "s", "type": "acme sender", "z": "t", "wires": []}).effect.kind == "outbound"  # no output
    assert _roles({"id": "s", "type": "acme out", "z": "t", "wires": [[]]}).effect.assumed  # "<thing> out"
    assert _roles({"id": "s", "type": "acme parser", "z": "t", "wires": [[]]}).effect is None  # a pass-through
    assert _roles({"id": "s", "type": "ui_worldmap", "z": "t", "wires": []}).effect.kind == "view"


def test_a_function_acts_through_the_modules_it_loads_and_passes_only_what_it_returns():
    lib = _roles({"id": "f", "type": "function", "z": "t", "func": "return msg;", "libs": [{"var": "axios", "module": "axios"}], "wires": [[]]})
    assert lib.effect.kind == "outbound" and "axios" in lib.effect.what
    assert _roles({"id": "f", "type": "function", "z": "t", "func": "msg.x = 1; return msg;", "wires": [[]]}).effect is None
    assert _roles({"id": "f", "type": "function", "z": "t", "func": "", "wires": [[]]}).passes is False
    assert _roles({"id": "f", "type": "function", "z": "t", "func": "node.send(msg);", "wires": [[]]}).passes is True


def _reach(nodes, source_id):
    ctx = ctx_of(nodes)
    eff = ctx.effects
    return [t for t, _ in eff.nearest(eff.outbound(), ctx.flow.by_id[source_id])]


B = {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": ""}


def test_reach_follows_links_subflows_and_complete_and_stops_where_input_stops():
    nodes = [
        {"id": "t", "type": "tab"}, B,
        {"id": "m", "type": "mqtt in", "z": "t", "topic": "a", "broker": "b", "x": 1, "y": 1, "wires": [["lo"]]},
        {"id": "lo", "type": "link out", "z": "t", "links": ["li"], "x": 1, "y": 1, "wires": []},
        {"id": "li", "type": "link in", "z": "t", "links": ["lo"], "x": 1, "y": 1, "wires": [["inst"]]},
        {"id": "sf", "type": "subflow", "name": "s", "in": [{"wires": [{"id": "sfn"}]}], "out": [{"wires": [{"id": "sfn", "port": 0}]}]},
        {"id": "sfn", "type": "function", "z": "sf", "func": "return msg;", "x": 1, "y": 1, "wires": [[]]},
        {"id": "inst", "type": "subflow:sf", "z": "t", "x": 1, "y": 1, "wires": [["w"]]},
        {"id": "w", "type": "ui_switch", "z": "t", "passthru": False, "x": 1, "y": 1, "wires": [["out1"]]},
        {"id": "out1", "type": "mqtt out", "z": "t", "topic": "never", "broker": "b", "x": 1, "y": 1, "wires": []},
        {"id": "c", "type": "complete", "z": "t", "scope": ["li"], "x": 1, "y": 1, "wires": [["out2"]]},
        {"id": "out2", "type": "mqtt out", "z": "t", "topic": "done", "broker": "b", "x": 1, "y": 1, "wires": []},
    ]
    assert _reach(nodes, "m") == ["out2"]  # through the complete hop; the widget stops the other path


def test_reach_follows_a_catch_that_names_its_nodes_but_not_one_that_watches_the_whole_tab():
    def flow(scope):
        return [
            {"id": "t", "type": "tab"}, B,
            {"id": "m", "type": "mqtt in", "z": "t", "topic": "a", "broker": "b", "x": 1, "y": 1, "wires": [["f"]]},
            {"id": "f", "type": "function", "z": "t", "func": "throw new Error('x');", "x": 1, "y": 1, "wires": [[]]},
            {"id": "c", "type": "catch", "z": "t", "scope": scope, "x": 1, "y": 1, "wires": [["alert"]]},
            {"id": "alert", "type": "mqtt out", "z": "t", "topic": "alerts", "broker": "b", "x": 1, "y": 1, "wires": []},
        ]

    assert _reach(flow(["f"]), "m") == ["alert"]
    assert _reach(flow(None), "m") == []  # every node's errors on the tab: too wide to follow


def test_a_broker_on_localhost_judged_per_copy_carries_messages_within_the_copy():
    from hacheck.analysis.match import localhost_services

    local = {"id": "lb", "type": "mqtt-broker", "broker": "127.0.0.1", "clientid": ""}
    nodes = [
        {"id": "t", "type": "tab"}, local, B,
        {"id": "tick", "type": "inject", "z": "t", "repeat": "60", "x": 1, "y": 1, "wires": [["pub"]]},
        {"id": "pub", "type": "mqtt out", "z": "t", "topic": "lamp/set", "broker": "lb", "x": 1, "y": 1, "wires": []},
        {"id": "sub", "type": "mqtt in", "z": "t", "topic": "lamp/+", "broker": "lb", "x": 1, "y": 1, "wires": [["act"]]},
        {"id": "act", "type": "http request", "z": "t", "method": "POST", "url": "http://10.0.0.9/lamp", "x": 1, "y": 1, "wires": [[]]},
    ]
    per_copy = Config(localhost_services="per-copy")
    with localhost_services("per-copy"):
        assert _reach(nodes, "tick") == ["act"]  # the publish to the copy's own broker is not the effect
    findings = check_flow_data(nodes, select=("HA101", "HA110"), config=per_copy)
    assert [(f.rule_id, f.node_id) for f in findings] == [("HA110", "tick")]  # no HA101: its own broker
    # by default the broker is the one shared broker it must become: the publish acts on it, and
    # every copy receives every 'lamp/+' message
    assert _reach(nodes, "tick") == ["pub"]
    shared = check_flow_data(nodes, select=("HA101", "HA110"))
    assert sorted((f.rule_id, f.node_id) for f in shared) == [("HA101", "sub"), ("HA110", "tick")]


def test_a_correlation_gate_drops_events_on_the_copies_that_did_not_start_them():
    nodes = [
        {"id": "t", "type": "tab"},
        {"id": "mk", "type": "function", "z": "t", "func": "return msg;", "initialize": "flow.set('tag', 'n_' + Math.random());", "x": 1, "y": 1, "wires": [[]]},
        {"id": "ev", "type": "server-events", "z": "t", "event_type": "action", "x": 1, "y": 1, "wires": [["gate"]]},
        {"id": "gate", "type": "switch", "z": "t", "property": "payload.tag", "rules": [{"t": "eq", "v": "tag", "vt": "flow"}], "x": 1, "y": 1, "wires": [["call"]]},
        {"id": "call", "type": "api-call-service", "z": "t", "domain": "light", "service": "toggle", "x": 1, "y": 1, "wires": [[]]},
    ]
    assert _reach(nodes, "ev") == []
    nodes[1]["initialize"] = "flow.set('tag', 'fixed');"  # the same value on every copy
    assert _reach(nodes, "ev") == ["call"]


def test_explain_shows_a_rules_sources_and_effects_and_a_node_types_roles():
    rule = run_cli("explain", "HA107")
    assert rule.returncode == 0 and "## Sources and effects" in rule.out and "`server-state-changed`" in rule.out
    assert "`mqtt in`" not in rule.out.split("## Sources and effects")[1].split("\n")[2]  # MQTT is HA101's
    node = run_cli("explain", "api-call-service")
    assert node.returncode == 0 and "effect: outbound" in node.out
    none = run_cli("explain", "no-such-thing")
    assert none.returncode == 2 and "no rule or node type 'no-such-thing'" in none.err and "hacheck explain HA109" in none.err


def test_a_localhost_service_is_judged_shared_by_default_and_per_copy_when_configured():
    local = {"id": "lb", "type": "mqtt-broker", "broker": "127.0.0.1", "clientid": "fixed"}
    nodes = [
        {"id": "t", "type": "tab"}, local,
        {"id": "sub", "type": "mqtt in", "z": "t", "topic": "jobs", "broker": "lb", "x": 1, "y": 1, "wires": [["act"]]},
        {"id": "act", "type": "http request", "z": "t", "method": "POST", "url": "http://10.0.0.9/run", "x": 1, "y": 1, "wires": [[]]},
    ]
    rules = ("HA101", "HA103", "HA123")

    def found(config=None):
        return {(f.rule_id, f.node_id, f.severity.name.lower()) for f in check_flow_data(nodes, select=rules, config=config)}

    # the default: the broker must become one shared broker, whose subscriptions every copy holds
    shared = found()
    assert shared == {("HA101", "sub", "error"), ("HA103", "lb", "error"), ("HA123", "lb", "warning")}
    (msg,) = [f.message for f in check_flow_data(nodes, select=("HA123",))]
    assert "must change" in msg and "localhost_services: per-copy" in msg
    # each copy runs its own broker beside it: no duplicates, no takeover, HA123 as information
    own = found(Config(localhost_services="per-copy"))
    assert own == {("HA123", "lb", "info")}
    (msg,) = [f.message for f in check_flow_data(nodes, select=("HA123",), config=Config(localhost_services="per-copy"))]
    assert "its own pod or container" in msg
    # a severity the configuration sets wins over the one the assumption gives
    assert found(Config(localhost_services="per-copy", severity={"HA123": "error"})) == {("HA123", "lb", "error")}


def test_node_reds_own_port_on_localhost_is_the_copy_itself_not_a_service():
    nodes = [
        {"id": "t", "type": "tab"},
        {"id": "tick", "type": "inject", "z": "t", "repeat": "60", "x": 1, "y": 1, "wires": [["q"]]},
        {"id": "q", "type": "http request", "z": "t", "method": "GET", "url": "http://localhost:1880/api/refresh", "x": 1, "y": 1, "wires": [[]]},
        {"id": "q2", "type": "http request", "z": "t", "method": "GET", "url": "http://127.0.0.1:5000/status", "x": 1, "y": 1, "wires": [[]]},
    ]
    assert [f.node_id for f in check_flow_data(nodes, select=("HA123",))] == ["q2"]


def test_the_old_localhost_is_shared_key_still_reads(tmp_path):
    from hacheck.config.files import load_config

    (tmp_path / ".hacheck.yaml").write_text("localhost_is_shared: false\n")
    cfg = load_config([str(tmp_path)])
    assert cfg.localhost_services == "per-copy" and "localhost_is_shared" in cfg.origin["localhost_services"]
    (tmp_path / ".hacheck.yaml").write_text("localhost_services: per-copy\n")
    assert load_config([str(tmp_path)]).localhost_services == "per-copy"
    (tmp_path / ".hacheck.yaml").write_text("")
    assert load_config([str(tmp_path)]).localhost_services == "shared"


def test_the_nearest_only_search_finds_a_nearest_effect_and_a_real_path_to_it():
    """k = 1 has its own faster search; on random graphs it must agree with the general one
    on how far the nearest effect is, and its path must follow edges to that effect."""
    import random

    from hacheck.effects.reach import Reach

    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(2, 30)
        vs = [f"v{i}" for i in range(n)]
        pred: dict[str, list[str]] = {}
        for _ in range(rng.randint(1, 3 * n)):
            u, v = rng.choice(vs), rng.choice(vs)
            if u != v:
                pred.setdefault(v, []).append(u)
        targets = rng.sample(vs, rng.randint(1, min(3, n)))
        blocked = set(rng.sample(vs, rng.randint(0, n // 3)))
        one, many = Reach(pred, targets, blocked, 1), Reach(pred, targets, blocked, 3)
        for v in vs:
            got, want = one.targets_of(v), many.targets_of(v)
            assert bool(got) == bool(want), v
            if not got:
                continue
            t = got[0]
            assert one.depth_of(v, t) == min(many.depth_of(v, x) for x in want)
            path = one.path(v, t)
            assert path[0] == v and path[-1] == t and len(path) == one.depth_of(v, t) + 1
            assert all(a in pred.get(b, ()) for a, b in zip(path, path[1:]))
            assert not any(x in blocked for x in path[1:-1])
