"""What several reporters need: rule docs by id, the verdict, counts, and text made safe to write.

Flow files are untrusted input: a node name may hold a lone UTF-16 surrogate (valid in JSON,
unencodable in UTF-8) or control characters (invalid in XML). Every reporter passes
flow-derived text through `clean` before writing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class RuleInfo:
    """A rule's documentation, also for ids the catalogue does not hold (HC000)."""

    id: str
    name: str
    severity: str
    category: str
    what: str
    why: str
    use_instead: str
    fix_title: str | None = None
    known_limits: str | None = None

    @property
    def url(self) -> str:
        return doc_url(self.id, self.name)


# The engine reports HC000 itself when a rule crashes; it has no YAML file to read docs from.
_ENGINE_RULES = {
    "HC000": RuleInfo(
        id="HC000",
        name="internal-rule-error",
        severity="error",
        category="structure",
        what="A rule crashed on this file. The other rules ran.",
        why="The file was not fully checked: a problem that rule looks for may be present and unreported.",
        use_instead="Report the bug to hacheck, with the flow if you can. `--ignore <rule id>` skips the broken rule until it is fixed.",
    )
}


def doc_url(rule_id: str, name: str) -> str:
    from hacheck.util.project import docs_url

    return f"{docs_url() or 'docs/rules.md'}#{rule_id.lower()}-{name}"


def rule_info(rule) -> RuleInfo:
    docs = rule.docs
    return RuleInfo(
        id=rule.id,
        name=rule.name,
        severity=str(rule.severity),
        category=rule.category,
        what=str(docs.get("what", "")).strip(),
        why=str(docs.get("why", "")).strip(),
        use_instead=str(docs.get("use_instead", "")).strip(),
        fix_title=rule.fix.get("title") if rule.fix.get("available") else None,
        known_limits=str(docs["known_limits"]).strip() if docs.get("known_limits") else None,
    )


def ran_rules(result) -> list:
    """The rules this run applied, in id order: what a report can say was checked."""
    return sorted((r for r in result.rules if result.config.selects(r)), key=lambda r: r.id)


def rule_infos(result) -> dict[str, RuleInfo]:
    """Docs for every rule that ran or has a finding, by id, sorted by id."""
    out = {r.id: rule_info(r) for r in result.rules}
    ran = {r.id for r in ran_rules(result)}
    keep: dict[str, RuleInfo] = {}
    for f in result.findings:
        if f.rule_id not in out:
            out[f.rule_id] = _ENGINE_RULES.get(f.rule_id) or RuleInfo(
                f.rule_id, f.rule_name, str(f.severity), "other", f.rule_name, "", ""
            )
        ran.add(f.rule_id)
    for rid in sorted(ran):
        keep[rid] = out[rid]
    return keep


def shown(result) -> list:
    """Findings that count: not suppressed."""
    return [f for f in result.findings if f.suppressed is None]


def worst_first(findings) -> list:
    return sorted(findings, key=lambda f: (-int(f.severity), f.sort_key()))


def verdict(result) -> tuple[str, str]:
    """("ha-ready" | "passed" | "failed", a sentence): HA-ready means nothing unsuppressed."""
    fail_on = result.config.fail_on
    if result.failed():
        return "failed", f"Not HA-ready: findings at or above the fail-on threshold ({fail_on})."
    if shown(result):
        return "passed", f"Passed the gate (fail-on: {fail_on}), with findings below the threshold."
    return "ha-ready", "HA-ready: no findings."


def counts_by_rule(result) -> list[tuple[str, str, str, int, int]]:
    """(rule id, name, severity, findings, suppressed) for each rule with findings, by id."""
    acc: dict[str, list] = {}
    for f in result.findings:
        row = acc.setdefault(f.rule_id, [f.rule_name, str(f.severity), 0, 0])
        if f.suppressed is None:
            row[2] += 1
            if int(f.severity) > _SEV_RANK[row[1]]:
                row[1] = str(f.severity)  # a config override can raise one finding's severity
        else:
            row[3] += 1
    return [(rid, *acc[rid]) for rid in sorted(acc)]


_SEV_RANK = {"info": 1, "warning": 2, "error": 3}


def node_words(f) -> str:
    """Where in the flow, for people: "tab 'Ingest', node 'jobs' [a1b2]"."""
    parts = []
    if f.tab_label and f.node_type not in ("tab", "subflow"):
        # FlowFile.tab_label names a subflow "subflow <name>"
        sub = f.tab_label.startswith("subflow ")
        parts.append(f"subflow '{f.tab_label[8:]}'" if sub else f"tab '{f.tab_label}'")
    if f.node_id:
        label = f"'{f.node_name}'" if f.node_name else f.node_type or "node"
        parts.append(f"{label} [{f.node_id}]")
    return ", ".join(parts)


def node_label(flow, node) -> str:
    """The label the Node-RED editor would show for common types: a name, else what it does.
    Only plain configuration fields are read, never `credentials`."""
    if node.name:
        return node.name
    t, get = node.type, node.get
    if t.startswith("subflow:"):
        sf = flow.subflows.get(t[8:]) if flow is not None else None
        return (sf.name if sf is not None and sf.name else "subflow")
    if t == "http in":
        return f"[{str(get('method') or 'get').lower()}] {get('url') or ''}".strip()
    if t == "http response":
        return f"http ({get('statusCode')})" if get("statusCode") else "http"
    if t in ("mqtt in", "mqtt out", "ff-mqtt-in", "ff-mqtt-out") and isinstance(get("topic"), str) and get("topic"):
        return get("topic")
    if t == "debug":
        return "msg." + get("complete") if isinstance(get("complete"), str) and get("complete") not in ("true", "false", "") else "debug"
    if t == "link in" or t == "link out" or t == "link call":
        return t
    if t == "tab":
        label = get("label")
        return label if isinstance(label, str) and label else node.id
    return t


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def count_words(result) -> str:
    c = result.counts()
    text = ", ".join(f"{c[s]} info" if s == "info" else plural(c[s], s) for s in SEVERITIES)
    if result.suppressed_count:
        text += f" ({result.suppressed_count} suppressed)"
    return text


# --- text safety --------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text) -> str:
    """Text that encodes as UTF-8: lone surrogates become U+FFFD."""
    if text is None:
        return ""
    text = str(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        # a Python str from json holds only lone surrogates (pairs are joined when decoding)
        return _SURROGATE.sub("\ufffd", text)


def clean_xml(text) -> str:
    """Text that XML 1.0 can carry: also no NUL or other C0 control characters."""
    return _NOT_XML.sub("\ufffd", clean(text))


def clean_json(value):
    """A JSON-ready structure with every string passed through `clean`."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value


def one_line(text, limit: int | None = None) -> str:
    """Collapse whitespace (newlines included) for one-line formats; cut long text."""
    s = " ".join(clean(text).split())
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    return s
