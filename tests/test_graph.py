"""The message graph: hand-computed edges on real flows, and the hard cases on small ones."""

from __future__ import annotations

import json

from hacheck.analysis.graph import SEP, FlowGraph, base_id
from hacheck.load.loader import Source, parse_bytes, read_source


def _graph(nodes):
    return FlowGraph(parse_bytes("f.json", json.dumps(nodes).encode()))


def _edges(g, kind=None):
    return {(u, v) for u, v, a in g.edges() if kind is None or a["kind"] == kind}


def _corpus_graph(corpus, name):
    f = corpus / "files" / name
    return FlowGraph(read_source(Source(name, str(f))))


def test_corpus_subflow_instance_edges(corpus):
    # 083: subflow 6dc0247c.d7210c has input -> 9d85d137.fe487; outputs 0..2 come from
    # switch 974bd48d.c253e8 ports 0..2 and output 3 from function 5bc7345c.07b1cc port 1.
    # Its instance 587bab85.857fe4 wires its 4 outputs to e85a9609.74ddd8, 8c90dfc.28f2f2,
    # df484d95.35a35 and 13c8aaf9.466e05. Read off the file by hand.
    g = _corpus_graph(corpus, "083__zachowj__node-red-contrib-home-assistant-websocket__examples_cookbook_actionable-notifications-subflow-for-android_use-case-01.json")
    inst = "587bab85.857fe4"
    assert (inst, inst + SEP + "9d85d137.fe487") in _edges(g, "subflow-in")
    assert _edges(g, "subflow-out") == {
        (inst + SEP + "974bd48d.c253e8", "e85a9609.74ddd8"),
        (inst + SEP + "974bd48d.c253e8", "8c90dfc.28f2f2"),
        (inst + SEP + "974bd48d.c253e8", "df484d95.35a35"),
        (inst + SEP + "5bc7345c.07b1cc", "13c8aaf9.466e05"),
    }
    # link out 88fd9ca4.3ea69 -> link in 9e5e4c22.4d925 (both name each other)
    assert ("88fd9ca4.3ea69", "9e5e4c22.4d925") in _edges(g, "link")
    # the instance itself does not forward its input straight to its outputs
    assert not any(u == inst and a["kind"] == "wire" for u, v, a in g.edges())


def test_corpus_links_and_junctions(corpus):
    # 086: link out 560371c044ee9e19 (mode link) -> link in c203417099e22d29, which is wired
    # to 90794d03f65a40d4 and c928f8a757e6370e; junction 195a61f93a912086 -> 90794d03f65a40d4
    # and is fed by 454da28ef00e68b6.
    g = _corpus_graph(corpus, "086__TotallyInformation__node-red-contrib-uibuilder__examples_No-code_no-code-examples.json")
    e = _edges(g)
    assert ("560371c044ee9e19", "c203417099e22d29") in _edges(g, "link")
    assert {("c203417099e22d29", "90794d03f65a40d4"), ("c203417099e22d29", "c928f8a757e6370e")} <= e
    assert ("195a61f93a912086", "90794d03f65a40d4") in e
    assert ("454da28ef00e68b6", "195a61f93a912086") in e
    # each link pair is one edge, whichever side listed it
    links = [(u, v) for u, v, a in g.edges() if a["kind"] == "link"]
    assert len(links) == len(set(links))


def test_wires_keep_their_output_port():
    g = _graph([
        {"id": "t", "type": "tab"},
        {"id": "s", "type": "switch", "z": "t", "x": 1, "y": 1, "wires": [["a"], ["b"]]},
        {"id": "a", "type": "debug", "z": "t", "x": 1, "y": 1, "wires": []},
        {"id": "b", "type": "debug", "z": "t", "x": 1, "y": 1, "wires": []},
    ])
    assert g.succ["s"]["a"] == [{"kind": "wire", "port": 0}]
    assert g.succ["s"]["b"] == [{"kind": "wire", "port": 1}]


def test_link_call_and_return():
    g = _graph([
        {"id": "t", "type": "tab"},
        {"id": "in", "type": "http in", "z": "t", "url": "/x", "x": 1, "y": 1, "wires": [["call"]]},
        {"id": "call", "type": "link call", "z": "t", "links": ["li"], "x": 1, "y": 1, "wires": [["resp"]]},
        {"id": "resp", "type": "http response", "z": "t", "x": 1, "y": 1, "wires": []},
        {"id": "li", "type": "link in", "z": "t", "links": [], "x": 1, "y": 1, "wires": [["fn"]]},
        {"id": "fn", "type": "function", "z": "t", "x": 1, "y": 1, "wires": [["ret"]]},
        {"id": "ret", "type": "link out", "z": "t", "mode": "return", "links": [], "x": 1, "y": 1, "wires": []},
    ])
    assert ("call", "li") in _edges(g, "link-call")
    assert ("ret", "call") in _edges(g, "return")
    assert "resp" in g.reachable(["in"])
    assert g.shortest_path("in", "resp") == ["in", "call", "resp"]


def test_subflow_instances_are_isolated():
    # two instances of one subflow: what enters instance A must not leave through B
    sub = {"id": "sf", "type": "subflow", "name": "avg", "in": [{"x": 1, "y": 1, "wires": [{"id": "sm"}]}],
           "out": [{"x": 1, "y": 1, "wires": [{"id": "sm", "port": 0}]}]}
    g = _graph([
        {"id": "t", "type": "tab"},
        sub,
        {"id": "sm", "type": "smooth", "z": "sf", "x": 1, "y": 1, "wires": [[]]},
        {"id": "h", "type": "http in", "z": "t", "x": 1, "y": 1, "wires": [["A"]]},
        {"id": "A", "type": "subflow:sf", "z": "t", "x": 1, "y": 1, "wires": [["outA"]]},
        {"id": "B", "type": "subflow:sf", "z": "t", "x": 1, "y": 1, "wires": [["outB"]]},
        {"id": "outA", "type": "debug", "z": "t", "x": 1, "y": 1, "wires": []},
        {"id": "outB", "type": "debug", "z": "t", "x": 1, "y": 1, "wires": []},
    ])
    assert sorted(g.vertices_of["sm"]) == ["A" + SEP + "sm", "B" + SEP + "sm"]
    r = g.reachable(["h"])
    assert "outA" in r and "outB" not in r and "B" + SEP + "sm" not in r
    assert base_id("A" + SEP + "sm") == "sm"


def test_subflow_that_contains_itself_terminates():
    g = _graph([
        {"id": "t", "type": "tab"},
        {"id": "s1", "type": "subflow", "in": [{"wires": [{"id": "i2"}]}], "out": []},
        {"id": "s2", "type": "subflow", "in": [{"wires": [{"id": "i1"}]}], "out": []},
        {"id": "i2", "type": "subflow:s2", "z": "s1", "x": 1, "y": 1, "wires": []},
        {"id": "i1", "type": "subflow:s1", "z": "s2", "x": 1, "y": 1, "wires": []},
        {"id": "self", "type": "subflow:s1", "z": "s1", "x": 1, "y": 1, "wires": []},
        {"id": "top", "type": "subflow:s1", "z": "t", "x": 1, "y": 1, "wires": []},
    ])
    assert len(g.succ) < 20
    assert "top" in g.succ


def test_disabled_nodes_and_tabs_carry_no_messages():
    g = _graph([
        {"id": "t", "type": "tab"},
        {"id": "off", "type": "tab", "disabled": True},
        {"id": "a", "type": "inject", "z": "t", "x": 1, "y": 1, "wires": [["b"]]},
        {"id": "b", "type": "function", "z": "t", "d": True, "x": 1, "y": 1, "wires": [["c"]]},
        {"id": "c", "type": "debug", "z": "t", "x": 1, "y": 1, "wires": []},
        {"id": "x", "type": "inject", "z": "off", "x": 1, "y": 1, "wires": [["c"]]},
    ])
    assert set(g.succ) == {"a", "c"}
    assert g.reachable(["a"]) == set()


def test_wire_loops_and_self_wires_terminate():
    g = _graph([
        {"id": "t", "type": "tab"},
        {"id": "a", "type": "function", "z": "t", "x": 1, "y": 1, "wires": [["a", "b"]]},
        {"id": "b", "type": "function", "z": "t", "x": 1, "y": 1, "wires": [["a"]]},
    ])
    assert g.reachable(["a"]) == {"a", "b"}
    tr = g.trace(["a"])
    assert tr.sources_of("b") == ["a"] and tr.path("a", "b") == ["a", "b"]


def test_trace_reports_each_input_with_its_shortest_path():
    g = _graph([
        {"id": "t", "type": "tab"},
        {"id": "h1", "type": "http in", "z": "t", "x": 1, "y": 1, "wires": [["f"]]},
        {"id": "h2", "type": "http in", "z": "t", "x": 1, "y": 1, "wires": [["g"]]},
        {"id": "f", "type": "function", "z": "t", "x": 1, "y": 1, "wires": [["s"]]},
        {"id": "g", "type": "function", "z": "t", "x": 1, "y": 1, "wires": [["f", "s"]]},
        {"id": "s", "type": "smooth", "z": "t", "x": 1, "y": 1, "wires": [[]]},
    ])
    tr = g.trace(["h1", "h2"])
    assert sorted(tr.sources_of("s")) == ["h1", "h2"]
    assert tr.path("h1", "s") == ["h1", "f", "s"]
    assert tr.path("h2", "s") == ["h2", "g", "s"]
    # the networkx view is the same graph
    assert set(g.nx.successors("g")) == {"f", "s"}


def test_every_type_an_input_can_be_load_balanced_for_is_listed():
    """RuleContext.ingress looks only at the types in ingress.TYPES: every type name the
    check compares with, given every property that makes an input load-balanced, must be
    there (a type added to the check but not to the list would silently never count)."""
    from hacheck.analysis import ingress
    from hacheck.model.flow import FlowFile, Node

    names = set()
    for c in ingress.is_load_balanced.__code__.co_consts:
        names.update(c if isinstance(c, tuple) else (c,))
    names = {n for n in names if isinstance(n, str) and (" " in n or "-" in n)}  # node type names
    assert names >= {"http in", "mqtt in", "websocket in", "kafkajs-consumer"}
    raws = [{"id": "wsl", "type": "websocket-listener"}]
    for i, t in enumerate(sorted(names)):
        raws.append({"id": f"n{i}", "type": t, "z": "t", "x": 1, "wires": [[]], "topic": "$share/g/t", "groupid": "g",
                     "queueName": "q", "queueExclusive": False, "command": "blpop", "server": "wsl"})
    flow = FlowFile("f.json", "array", [Node(r, r["id"], r["type"], i) for i, r in enumerate(raws)])
    balanced = {n.type for n in flow.nodes if ingress.is_load_balanced(n, flow)}
    assert balanced and balanced <= ingress.TYPES
