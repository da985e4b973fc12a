"""The benchmark flows: deterministic, of the size asked, well formed, and made of what real
flows are made of (so the benchmark measures the work real flows cause)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from benchmarks import flowgen
from tests.conftest import check_flow_data


@pytest.mark.parametrize("n", [40, 1_000, 4_321])
def test_exact_size_unique_ids_and_same_bytes_for_the_same_seed(n):
    nodes = flowgen.generate(n, seed=3)
    assert len(nodes) == n
    assert len({x["id"] for x in nodes}) == n
    assert flowgen.dumps(flowgen.generate(n, seed=3)) == flowgen.dumps(nodes)
    assert flowgen.dumps(flowgen.generate(n, seed=4)) != flowgen.dumps(nodes)


def test_small_flow_has_twenty_nodes():
    nodes = flowgen.small_flow()
    assert len(nodes) == 20 and len({x["id"] for x in nodes}) == 20


def test_generated_flows_hold_the_patterns_of_real_flows():
    types = Counter(x["type"] for x in flowgen.generate(5_000, seed=1))
    for t in ("tab", "subflow", "group", "mqtt-broker", "mqtt in", "mqtt out", "function", "http in", "http response",
              "link in", "link out", "link call", "smooth", "join", "delay", "trigger", "rbe", "inject", "junction"):
        assert types[t] > 0, t
    instances = [t for t in types if t.startswith("subflow:")]
    assert instances and all(types[t] >= 3 for t in instances)  # several instances of each subflow


@pytest.mark.parametrize("make", [lambda: flowgen.generate(2_000, seed=5), flowgen.small_flow])
def test_generated_flows_are_well_formed(make):
    """No structural finding: every wire, link, group member, subflow and broker resolves."""
    findings = check_flow_data(make())
    structural = [(f.rule_id, f.message) for f in findings if f.rule_id.startswith("HC")]
    assert structural == []
    assert {f.rule_id for f in findings} & {"HA101", "HA150"}  # and HA-unready places to find


def test_fleet_files_are_flows_of_varied_sizes(tmp_path):
    paths = flowgen.write_fleet(tmp_path, 6, seed=2, min_nodes=40, max_nodes=200)
    sizes = [len(json.loads(p.read_text("utf-8"))) for p in paths]
    assert len(set(sizes)) > 1 and all(40 <= s <= 200 for s in sizes)
    assert [p.parent.name for p in paths] == [f"instance-{i:04d}" for i in range(6)]
