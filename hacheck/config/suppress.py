"""Suppressions with reasons: directives in Description fields and `ignore_findings` entries.

JSON has no comments, so a suppression lives in the data, as checkov's do: a line

    hacheck-disable HA201, mqtt-subscription-not-shared -- why this is safe here

in the `info` (Description) of a node covers that node; on a group, tab or subflow definition it
covers the nodes inside. A suppressed finding is marked, never dropped, so JSON and SARIF keep
it with its reason. A suppression that matched nothing is HC005, so it cannot linger and hide the
next problem at that place; a directive without a rule or a reason is HC006 and suppresses
nothing. HC005 needs every other finding first, so it is made here after matching rather than in
the check pass; HC006 for the directive's syntax comes from the check pass (its `impl`, in
checks/suppressions.py), and for rule names it does not know from here, where the catalogue is
at hand. Reading the directives out of the Descriptions is directives.py.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from hacheck.engine.directives import KEYWORD, Directive, directives
from hacheck.model.findings import Finding, Hit, Suppression
from hacheck.engine.render import make_finding

# an unreadable file carries no directives, and a crash of hacheck is a bug to report: neither
# may be hidden, or a gate would pass on a file it never checked
NEVER_SUPPRESSED = frozenset({"HC000", "HC001", "HC002"})
# findings about suppressions themselves; a directive naming them is meaningless (use `ignore`)
META = frozenset({"HC005", "HC006"})
CONTAINERS = frozenset({"tab", "subflow", "group"})
UNUSED, INVALID = "HC005", "HC006"


@dataclass
class _Entry:
    index: int
    raw: dict
    rule_id: str | None
    file_re: re.Pattern | None
    used: bool = False
    file_seen: bool = False
    scope_seen: bool = False
    host: tuple | None = None  # (flow path, [host node, its container]) where the scope was first seen

    def describe(self, cfg_path: str | None) -> str:
        scope = ", ".join(f"{k} '{self.raw[k]}'" for k in ("node", "tab", "file") if k in self.raw)
        where = f" in {cfg_path}" if cfg_path else ""
        return f"The entry ignore_findings[{self.index}]{where} (rule {self.raw.get('rule')}, {scope})"


class Suppressor:
    """Marks the findings of one run, file by file, and reports what matched nothing at the end."""

    def __init__(self, rules, config):
        from hacheck.model.config import glob_regex

        self.config = config
        self.by_ref = {r.id: r for r in rules} | {r.name: r for r in rules}
        self.unused_rule = self._meta_rule(rules, UNUSED)
        self.invalid_rule = self._meta_rule(rules, INVALID)
        self.notes: list[str] = []
        self.entries = []
        for i, raw in enumerate(config.ignore_findings):
            rule = self.by_ref.get(raw.get("rule"))
            file_re = glob_regex(raw["file"]) if raw.get("file") else None
            self.entries.append(_Entry(i, raw, rule.id if rule else None, file_re))

    def _meta_rule(self, rules, rule_id):
        rule = next((r for r in rules if r.id == rule_id), None)
        return rule if rule is not None and self.config.selects(rule) else None

    def _active(self, rule_id: str) -> bool:
        rule = self.by_ref.get(rule_id)
        return rule is not None and self.config.selects(rule)

    # --- per file --------------------------------------------------------------------------------

    def apply(self, flow, findings: list[Finding]) -> list[Finding]:
        ds = directives(flow) if flow.by_id else []
        extra: list[Finding] = []
        by_host: dict[str, list[Directive]] = {}
        for d in ds:
            if d.problem is None:
                extra.extend(self._resolve(d, flow))
                if d.ids:
                    by_host.setdefault(d.host, []).append(d)
        relevant = [e for e in self.entries if e.rule_id is not None]
        if flow.shape != "unreadable":
            for e in relevant:
                self._see(e, flow)
        out = []
        for f in findings:
            if f.suppressed is None and f.rule_id not in NEVER_SUPPRESSED:
                s = self._inline(f, flow, by_host) if by_host else None
                if s is None and relevant:
                    s = self._configured(f, relevant)
                if s is not None:
                    f = f.with_suppression(s)
            out.append(f)
        if self.unused_rule is not None:
            for d in ds:
                for rule_id, ref in d.ids.items():
                    if rule_id not in d.used and self._active(rule_id) and _host_runs(flow, d.host):
                        label = _label(flow, d.host)
                        hit = Hit(d.host, args={"what": f"The directive '{KEYWORD} {ref}' on {label}", "target": rule_id}, path="/info", detail=f"directive:{rule_id}")
                        extra.append(make_finding(self.unused_rule, hit, flow, self.config))
        return out + extra

    def _resolve(self, d: Directive, flow) -> list[Finding]:
        problems = []
        for ref in d.refs:
            rule = self.by_ref.get(ref)
            if rule is None:
                hint = difflib.get_close_matches(ref, list(self.by_ref), n=1)
                problems.append(f"names '{ref}', which is not a rule id or name" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
            elif rule.id in NEVER_SUPPRESSED or rule.id in META:
                problems.append(f"names {rule.id}, which a directive cannot suppress (turn it off with `ignore: [{rule.id}]` in the config)")
            else:
                d.ids[rule.id] = ref
        if not problems or self.invalid_rule is None:
            return []
        hit = Hit(d.host, args={"directive": d.text, "problem": "; ".join(problems)}, path="/info", detail=d.text)
        return [make_finding(self.invalid_rule, hit, flow, self.config)]

    def _inline(self, f: Finding, flow, by_host) -> Suppression | None:
        node = flow.by_id.get(f.node_id) if f.node_id else None
        if node is None:
            return None
        scopes = [node] + flow.group_chain(node)
        container = flow.container(node)
        if container is not None and container.type in ("tab", "subflow"):
            scopes.append(container)
        for scope in scopes:
            for d in by_host.get(scope.id, ()):
                if f.rule_id in d.ids:
                    d.used.add(f.rule_id)
                    kind = scope.type if scope.type in CONTAINERS else "node"
                    return Suppression("inline", d.reason, f"{kind} {scope.id}")
        return None

    def _configured(self, f: Finding, entries) -> Suppression | None:
        for e in entries:
            raw = e.raw
            if e.rule_id != f.rule_id:
                continue
            if "node" in raw and raw["node"] != f.node_id:
                continue
            if "tab" in raw and raw["tab"] not in (f.tab_id, f.tab_label):
                continue
            if e.file_re is not None and not e.file_re.match(self.config.relative(f.file)):
                continue
            e.used = True
            return Suppression("config", raw["reason"], f"{self.config.path or 'config'} ignore_findings[{e.index}]")
        return None

    def _see(self, e: _Entry, flow) -> None:
        """Whether this file holds the entry's node, tab and file: only then can the entry be
        judged unused (pre-commit checks a few files; the others are not evidence)."""
        raw = e.raw
        if e.file_re is not None:
            if not e.file_re.match(self.config.relative(flow.path)):
                return
            e.file_seen = True
        node = flow.by_id.get(raw["node"]) if "node" in raw else None
        if "node" in raw and node is None:
            return
        tab = None
        if "tab" in raw:
            tab = flow.by_id.get(raw["tab"])
            if tab is None or tab.type not in ("tab", "subflow"):
                tab = next((t for t in flow.tabs.values() if t.raw.get("label") == raw["tab"]), None)
            if tab is None or (node is not None and node.z != tab.id):
                return
        e.scope_seen = True
        if e.host is None:
            host = node or tab
            hosts = [host] if host is not None else []
            c = flow.container(host) if host is not None else None
            if c is not None:
                hosts.append(c)
            e.host = (flow.path, flow.shape, hosts)

    # --- end of the run ------------------------------------------------------------------------

    def finish(self) -> dict[str, list[Finding]]:
        """HC005 for config entries that matched nothing, by the file they point into; notes for
        entries whose node or tab is in none of the checked files."""
        from hacheck.model.flow import FlowFile

        late: dict[str, list[Finding]] = {}
        if self.unused_rule is None:
            return late
        for e in self.entries:
            if e.used or e.rule_id is None or not self._active(e.rule_id):
                continue
            if e.scope_seen:
                path, shape, hosts = e.host
                flow = FlowFile(path=path, shape=shape, nodes=hosts)
                hit = Hit(hosts[0].id if hosts else None, args={"what": e.describe(self.config.path), "target": e.rule_id}, detail=f"config:{e.rule_id}:{e.raw.get('node', '')}:{e.raw.get('tab', '')}:{e.raw.get('file', '')}")
                late.setdefault(path, []).append(make_finding(self.unused_rule, hit, flow, self.config))
            elif e.file_re is None or e.file_seen:
                self.notes.append(f"{e.describe(self.config.path)} matched none of the checked files: remove it if that node or tab is gone.")
        return late

    def finish_into(self, results) -> None:
        """Add the end-of-run findings to the FileResults they belong to."""
        late = self.finish()
        for fr in results:
            if fr.path in late:
                fr.findings.extend(late[fr.path])
                fr.findings.sort(key=Finding.sort_key)


def _host_runs(flow, host_id: str) -> bool:
    """A directive on a disabled node or tab cannot match: rules skip what does not run. Saying
    it is unused there would only punish disabling a node."""
    host = flow.by_id.get(host_id)
    if host is None:
        return False
    if host.type in ("tab", "subflow"):
        return any(flow.runs(n) for n in flow.children.get(host.id, ()))
    if host.type == "group":
        return any(flow.runs(n) for n in flow.by_id.values() if host in flow.group_chain(n))
    return flow.runs(host)


def _label(flow, host_id: str) -> str:
    n = flow.by_id[host_id]
    if n.type == "tab":
        return f"tab '{n.raw.get('label') or n.id}'"
    if n.type in ("subflow", "group"):
        return f"{n.type} '{n.name or n.id}'"
    return f"'{n.label}'"
