"""Turn a check's Hit into a Finding: the rule's id, name and severity, the place (file, tab,
line) and the message, rendered from the rule's template.

The engine makes the findings of a check pass with this, and suppress.py the findings about
suppressions (HC005, HC006) it makes after the pass.
"""

from __future__ import annotations

from hacheck.model.config import Config
from hacheck.model.findings import Finding, Hit
from hacheck.model.flow import FlowFile, Node
from hacheck.engine.rule_file import Rule


def make_finding(rule: Rule, hit: Hit, flow: FlowFile, config: Config) -> Finding:
    node = flow.by_id.get(hit.node_id) if hit.node_id else None
    line = hit.args.get("_line") if node is None else node.line
    return Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        severity=config.rule_severity(rule, hit.severity),
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
        fix_unsafe=hit.fix_unsafe,
        effect_paths=hit.effect_paths,
        headline=headline(rule, node, flow, hit.args),
    )


HEADLINE_MAX = 120


def headline(rule: Rule, node: Node | None, flow: FlowFile, args: dict) -> str:
    """The rule's headline for this hit, on one line and cut to HEADLINE_MAX characters: a topic
    or URL from the flow may be long, and the line must fit a narrow sidebar or a SARIF viewer."""
    if not rule.headline:
        return ""
    text = " ".join(render(rule.headline, node, flow, args).split())
    return text if len(text) <= HEADLINE_MAX else text[: HEADLINE_MAX - 1].rstrip() + "\u2026"


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
