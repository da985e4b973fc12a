"""Run the selected rules over one flow; each hit becomes a Finding (render.py)."""

from __future__ import annotations

import traceback
from pathlib import Path
from time import perf_counter

from hacheck.engine.catalog import Rule
from hacheck.model.config import Config
from hacheck.engine.context import RuleContext
from hacheck.model.findings import Finding, Hit, Severity
from hacheck.analysis.match import evaluate, localhost_services
from hacheck.model.flow import FlowFile, Node
from hacheck.engine.directives import SINGLE_COPY_IF_UNIQUE, SINGLE_COPY_RULES, shares_client_id, single_copy
from hacheck.engine.render import make_finding

# Findings the engine itself produces; they have no YAML body to run, but are documented.
INTERNAL_RULE_ERROR = ("HC000", "internal-rule-error")


def check_flow(flow: FlowFile, rules: list[Rule], config: Config, timings: dict | None = None, keep: list | None = None) -> list[Finding]:
    """`keep`, when given, receives the rule context (graph, traces, indexes): a caller about
    to exit can hold it rather than pay for freeing it object by object."""
    with localhost_services(config.localhost_services):
        return _check_flow(flow, rules, config, timings, keep)


def _check_flow(flow: FlowFile, rules: list[Rule], config: Config, timings: dict | None = None, keep: list | None = None) -> list[Finding]:
    """`timings` (for the benchmarks) gets seconds per phase: "graph" (the model's derived
    tables, the message graph and the ingress trace, built up front so they are timed apart)
    and "rules", plus "rule:<id>" for each rule; without it nothing extra is done."""
    ctx = RuleContext(flow, config)
    if keep is not None:
        keep.append(ctx)
    if timings is not None:
        t0 = perf_counter()
        if flow.by_id:
            ctx.trace  # noqa: B018 - builds flow.running, the graph and the trace
        timings["graph"] = timings.get("graph", 0.0) + perf_counter() - t0
        t_rules = perf_counter()
    active = [r for r in rules if config.selects(r)]
    one_copy = single_copy(flow, config)
    if one_copy:  # one copy: what only several copies get wrong cannot happen
        active = [r for r in active if r.id not in SINGLE_COPY_RULES or r.id in SINGLE_COPY_IF_UNIQUE]
    findings: list[Finding] = []
    failed: set[str] = set()

    declarative = [r for r in active if r.match is not None and r.selector is not None]
    if declarative and flow.by_id:
        per_type: dict[str, list[Rule]] = {}
        for node in flow.by_id.values():
            candidates = per_type.get(node.type)
            if candidates is None:
                candidates = per_type[node.type] = [r for r in declarative if r.selector.matches(node.type)]
            for rule in candidates:
                if rule.id in failed:
                    continue
                try:
                    if _matches(rule, node, flow):
                        hit = _hit(ctx, rule, node)
                        if hit is not None:
                            findings.append(make_finding(rule, hit, flow, config))
                except Exception as exc:  # one broken rule must not stop the others
                    failed.add(rule.id)
                    findings.append(_crash(rule, exc, flow))
    for rule in active:
        if rule.match is None or rule.selector is not None or not flow.by_id:
            continue
        try:  # selected by role only: the nodes the effect catalogue names as such sources
            role = rule.match["role"]
            for node in ctx.effects.sources(tuple(role["source"]), tuple(role.get("class", ()))):
                if _matches(rule, node, flow):
                    hit = _hit(ctx, rule, node)
                    if hit is not None:
                        findings.append(make_finding(rule, hit, flow, config))
        except Exception as exc:
            findings.append(_crash(rule, exc, flow))
    if timings is not None:
        timings["rule:(match rules)"] = timings.get("rule:(match rules)", 0.0) + perf_counter() - t_rules

    for rule in active:
        if rule.impl is None:
            continue
        from hacheck.engine.checks import CHECKS

        t0 = perf_counter() if timings is not None else 0.0
        try:
            hits = list(CHECKS[rule.impl](ctx, rule))
        except Exception as exc:
            findings.append(_crash(rule, exc, flow))
            continue
        findings.extend(make_finding(rule, h, flow, config) for h in hits)
        if timings is not None:
            key = f"rule:{rule.id}"
            timings[key] = timings.get(key, 0.0) + perf_counter() - t0
    if timings is not None:
        timings["rules"] = timings.get("rules", 0.0) + perf_counter() - t_rules
    if one_copy:
        findings = [f for f in findings if f.rule_id not in SINGLE_COPY_IF_UNIQUE or shares_client_id(flow, f.node_id)]
    return findings


def _matches(rule: Rule, node: Node, flow: FlowFile) -> bool:
    m = rule.match
    if m.get("running", True) and node.id not in flow.running:
        return False
    where = m.get("where")
    return where is None or evaluate(where, node, flow)


def _hit(ctx: RuleContext, rule: Rule, node: Node) -> Hit | None:
    """The Hit of a declarative rule on a node that matched: with `role`, the node must have
    that source role; with `reaches`, its messages must reach such an effect."""
    m = rule.match
    role = m.get("role")
    if role is not None:
        src = ctx.effects.roles(node).source
        if src is None or src.kind not in role["source"] or ("class" in role and src.cls not in role["class"]):
            return None
    if "reaches" not in m:
        return Hit(node.id)
    from hacheck.engine.checks.duplication import reaches_hit

    return reaches_hit(ctx, rule, node)


def _crash(rule: Rule, exc: Exception, flow: FlowFile) -> Finding:
    # name the place in our code, not the exception text: it could quote a flow's secret
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return Finding(
        rule_id=INTERNAL_RULE_ERROR[0],
        rule_name=INTERNAL_RULE_ERROR[1],
        severity=Severity.ERROR,
        message=f"rule {rule.id} ({rule.name}) failed on this file with {type(exc).__name__} at {where}; "
        "the other rules ran. This is a bug in hacheck: please report it with the flow if you can.",
        file=flow.path,
        detail=rule.id,
    )
