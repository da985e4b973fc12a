"""Run results for the reporter tests, built from the fixture flows with a pinned rule pack.

The goldens test the reporters, so they must not change when the real catalogue grows:
the rules come from fixtures/golden/rules (declarative stand-ins for HA201/HA202/SEC301,
copies of HA101/HC001). What declarative rules cannot do is added here the way the real
HA201/HA202 checks do it: input paths from the load-balanced inputs, computed with the real
message graph. Suppressions are the real ones (a `hacheck-disable` line in a node's info).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hacheck.engine.catalog import load_dir
from hacheck.model.config import Config
from hacheck.engine.context import RuleContext
from hacheck.model.findings import Related
from hacheck.analysis.graph import base_id
from hacheck.analysis.ingress import describe
from hacheck.load.loader import Source
from hacheck.run.runner import RunResult, check_sources

REPO = Path(__file__).resolve().parents[1]
FLOWS = REPO / "fixtures" / "flows"
GOLDEN = REPO / "fixtures" / "golden"
GOLDEN_RULES = GOLDEN / "rules"
# the official OASIS schema, vendored unchanged (origin: tests/schemas/README.md)
SARIF_SCHEMA = REPO / "tests" / "schemas" / "sarif-schema-2.1.0.json"

# scenario name -> fixture flow files, checked together as `hacheck check` would
SCENARIOS = {
    "ha-ready": ["flows_ha-ready.json"],
    "mixed": ["flows_broken.json", "flows_ha-ready.json", "flows_not-ha-ready.json"],
}

# values planted in fixtures/flows/flows_hostile-labels.json and flows_not-ha-ready.json:
# no output format may contain them
PLANTED_SECRETS = ("PLANTED-inline-9c1e5b", "PLANTED-fn-token-44aa", "PLANTED-toplevel-7f3a", "GOLDEN-plant-Pa55")

def sources(files: list[str]) -> list[Source]:
    return [Source(f"fixtures/flows/{name}", str(FLOWS / name)) for name in files]


def pinned_rules():
    return load_dir(GOLDEN_RULES)


def run(files: list[str], rules=None, config: Config | None = None, keep_flows: bool = True) -> RunResult:
    """The fixture files checked with the pinned rules, plus input paths."""
    config = config or Config()
    result = check_sources(sources(files), config, rules if rules is not None else pinned_rules(), keep_flows=True)
    for fr in result.files:
        flow = result.flows[fr.path]
        fr.findings = [_with_paths(f, flow, config) for f in fr.findings]
    if not keep_flows:
        result.flows = {}
    return result


def scenario(name: str, **kw) -> RunResult:
    return run(SCENARIOS[name], **kw)


def _with_paths(f, flow, config):
    """What the real HA201/HA202 checks report: the shortest path from each load-balanced input."""
    if f.rule_id not in ("HA201", "HA202") or f.node_id is None:
        return f
    ctx = RuleContext(flow, config)
    paths, related = [], []
    for v in ctx.graph.vertices_of.get(f.node_id, []):
        for src in ctx.trace.sources_of(v):
            path = tuple(base_id(x) for x in ctx.trace.path(src, v))
            if path not in paths:
                paths.append(path)
    for path in paths:
        src = flow.by_id[path[0]]
        related.append(Related(src.id, f"fed by {describe(src)}", src.type, src.name or None, src.line, src.z))
    return dataclasses.replace(f, paths=tuple(paths), related=tuple(related))
