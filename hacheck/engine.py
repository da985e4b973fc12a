"""Run the selected rules over one flow and stamp each rule's metadata onto its hits."""

from __future__ import annotations

import traceback
from pathlib import Path
from time import perf_counter

from hacheck.catalog import Rule
from hacheck.config import Config
from hacheck.context import RuleContext
from hacheck.findings import Finding, Hit, Severity
from hacheck.match import evaluate
from hacheck.model import FlowFile, Node

# Findings the engine itself produces; they have no YAML body to run, but are documented.
INTERNAL_RULE_ERROR = ("HC000", "internal-rule-error")


def check_flow(flow: FlowFile, rules: list[Rule], config: Config, timings: dict | None = None) -> list[Finding]:
    """`timings` (for the benchmarks) gets seconds per phase: "graph" (the model's derived
    tables, the message graph and the ingress trace, built up front so they are timed apart)
    and "rules", plus "rule:<id>" for each rule; without it nothing extra is done."""
    ctx = RuleContext(flow, config)
    if timings is not None:
        t0 = perf_counter()
        if flow.by_id:
            ctx.trace  # noqa: B018 - builds flow.running, the graph and the trace
        timings["graph"] = timings.get("graph", 0.0) + perf_counter() - t0
        t_rules = perf_counter()
    active = [r for r in rules if config.selects(r)]
    findings: list[Finding] = []
    failed: set[str] = set()

    declarative = [r for r in active if r.match is not None]
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
                        findings.append(make_finding(rule, Hit(node.id), flow, config))
                except Exception as exc:  # one broken rule must not stop the others
                    failed.add(rule.id)
                    findings.append(_crash(rule, exc, flow))
    if timings is not None:
        timings["rule:(match rules)"] = timings.get("rule:(match rules)", 0.0) + perf_counter() - t_rules

    for rule in active:
        if rule.impl is None:
            continue
        from hacheck.checks import CHECKS

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
    return findings


def _matches(rule: Rule, node: Node, flow: FlowFile) -> bool:
    m = rule.match
    if m.get("running", True) and node.id not in flow.running:
        return False
    where = m.get("where")
    return where is None or evaluate(where, node, flow)


def make_finding(rule: Rule, hit: Hit, flow: FlowFile, config: Config) -> Finding:
    node = flow.by_id.get(hit.node_id) if hit.node_id else None
    line = hit.args.get("_line") if node is None else node.line
    return Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        severity=config.rule_severity(rule),
        message=render(rule.message, node, flow, hit.args),
        file=flow.path,
        node_id=node.id if node else None,
        node_type=node.type if node else None,
        node_name=(node.name or None) if node else None,
        tab_id=_tab_id(node, flow),
        tab_label=flow.tab_label(node) if node else None,
        line=line,
        path=hit.path,
        js_line=hit.js_line,
        detail=hit.detail,
        related=hit.related,
        paths=hit.paths,
    )


def _tab_id(node: Node | None, flow: FlowFile) -> str | None:
    if node is None:
        return None
    if node.type in ("tab", "subflow"):
        return node.id
    return node.z


class _Fields(dict):
    """Node fields for message templates; credentials never reach a message."""

    def __missing__(self, key):
        return ""


def _template_fields(raw: dict) -> _Fields:
    """Never `credentials`, nor the value of an `env` entry of type cred (tabs, subflows and
    subflow instances keep those inline, in plain text): a rule pack's `{f[env]}` must not
    print them."""
    fields = _Fields({k: v for k, v in raw.items() if k != "credentials"})
    env = fields.get("env")
    if isinstance(env, list):
        fields["env"] = [{**e, "value": "***"} if isinstance(e, dict) and e.get("type") == "cred" else e for e in env]
    return fields


def render(template: str, node: Node | None, flow: FlowFile, args: dict) -> str:
    values = {
        "node": f"'{node.label}'" if node else "",
        "type": node.type if node else "",
        "id": node.id if node else "",
        "tab": (flow.tab_label(node) or "") if node else "",
        "file": flow.path,
        # a copy of the node's fields, only for the (pack) templates that print one
        "f": _template_fields(node.raw) if node and "{f" in template else _Fields(),
    }
    values.update({k: v for k, v in args.items() if not k.startswith("_")})
    try:
        return template.format_map(_Fields(values))
    except (ValueError, IndexError, AttributeError, TypeError, KeyError):
        return template


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
