"""Effective configuration: presets, then the config file, then the command line."""

from __future__ import annotations

from dataclasses import dataclass, field

FAIL_ON = ("error", "warning", "info", "never")


@dataclass
class Config:
    select: tuple[str, ...] = ()  # empty: every stable rule
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)  # rule id or name -> severity
    options: dict[str, dict] = field(default_factory=dict)  # rule id or name -> options
    fail_on: str = "warning"
    exclude: tuple[str, ...] = ()
    rule_packs: tuple[str, ...] = ()
    shared_context_stores: tuple[str, ...] = ()
    persistent_context_stores: tuple[str, ...] = ("persistent",)
    share_group: str | None = None
    ignore_findings: tuple[dict, ...] = ()
    preview: bool = False
    path: str | None = None  # the config file, if any
    origin: dict[str, str] = field(default_factory=dict)  # key -> where its value came from

    def selects(self, rule) -> bool:
        """Longest matching selector wins between select and ignore (as flake8 does);
        a selector is a rule id, an id prefix (HA2) or a rule name."""
        if rule.id.startswith("HC"):
            # structural checks always run unless named exactly: a gate must see broken files
            if rule.id in self.ignore or rule.name in self.ignore:
                return False
            return True
        sel = _best(rule, self.select) if self.select else 0
        ign = _best(rule, self.ignore)
        if self.select and sel == 0:
            return False
        if ign > sel:
            return False
        return rule.status == "stable" or self.preview or sel > 0

    def rule_options(self, rule) -> dict:
        merged = dict(rule.options)
        merged.update(self.options.get(rule.id, {}))
        merged.update(self.options.get(rule.name, {}))
        return merged

    def rule_severity(self, rule):
        from hacheck.findings import Severity

        s = self.severity.get(rule.id) or self.severity.get(rule.name)
        return Severity.parse(s) if s else rule.severity


def _best(rule, selectors) -> int:
    best = 0
    for s in selectors:
        if s == rule.name or s == "ALL":
            best = max(best, 100)
        elif rule.id.startswith(s):
            best = max(best, len(s))
    return best
