"""Effective configuration: presets, then the config file, then the command line.

This module is the plain value the engine reads; finding, reading and validating the file is
`config_file.py` (kept apart so a run without a config file never imports YAML or jsonschema).
"""

from __future__ import annotations

import os
import re
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
    persistent_context_stores: tuple[str, ...] = ("persistent", "file", "localfilesystem", "disk")
    share_group: str | None = None
    effects: dict[str, dict] = field(default_factory=dict)  # node type -> effect catalogue entry
    # how a service at a loopback address is judged: "shared" (the one service it must become
    # on HA, where nothing else runs in a copy's container) or "per-copy" (each copy runs its
    # own beside it, on purpose)
    localhost_services: str = "shared"
    # "singleton": the files run as one copy (the single-copy part of `hacheck split`), so the
    # rules about several copies are not run (engine/directives.py SINGLE_COPY_RULES)
    instance: str = "ha"
    ignore_findings: tuple[dict, ...] = ()
    preview: bool = False
    extends: str = "default"  # the bundled preset under the file: default | strict
    path: str | None = None  # the config file, if any
    origin: dict[str, str] = field(default_factory=dict)  # key -> where its value came from

    @property
    def root(self) -> str:
        """The folder relative paths in the config mean: the config file's, else the cwd."""
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()

    def relative(self, shown_path: str) -> str:
        """A reported file path, relative to `root`, POSIX; what exclude and file globs see."""
        if shown_path.startswith("<"):  # <stdin>
            return shown_path
        try:
            rel = os.path.relpath(os.path.abspath(shown_path), self.root)
        except ValueError:  # another drive on Windows
            rel = os.path.abspath(shown_path)
        return rel.replace(os.sep, "/")

    def exclude_matcher(self):
        """A predicate for `loader.discover(exclude=...)`, or None when nothing is excluded."""
        if not self.exclude:
            return None
        pats = [glob_regex(p) for p in self.exclude]
        return lambda shown: any(p.match(self.relative(shown)) for p in pats)

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

    def rule_severity(self, rule, default=None):
        """The configured severity of the rule, else `default` (a finding's own), else the rule's."""
        from hacheck.model.findings import Severity

        s = self.severity.get(rule.id) or self.severity.get(rule.name)
        return Severity.parse(s) if s else (default or rule.severity)


def _best(rule, selectors) -> int:
    best = 0
    for s in selectors:
        if s == rule.name or s == "ALL":
            best = max(best, 100)
        elif rule.id.startswith(s):
            best = max(best, len(s))
    return best


def glob_regex(pattern: str) -> re.Pattern:
    """gitignore-like globs, because that is what people already write for paths: `*` and `?`
    stay inside one folder, `**` crosses folders; a pattern without a slash matches a file or
    folder name at any depth; matching a folder matches everything below it."""
    p = pattern.strip()
    anchored = "/" in p.rstrip("/")
    p = p.strip("/")
    p = p.removeprefix("./")
    out, i = [], 0
    while i < len(p):
        if p.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif p.startswith("**", i):
            out.append(".*")
            i += 2
        elif p[i] == "*":
            out.append("[^/]*")
            i += 1
        elif p[i] == "?":
            out.append("[^/]")
            i += 1
        elif p[i] == "[" and "]" in p[i + 2 :]:
            j = p.index("]", i + 2)
            body = p[i + 1 : j]
            neg = body.startswith("!")
            body = re.escape(body[1:] if neg else body).replace("\\-", "-")
            out.append(f"[{'^' if neg else ''}{body}]")
            i = j + 1
        else:
            out.append(re.escape(p[i]))
            i += 1
    head = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{head}{''.join(out)}(?:/.*)?$", re.DOTALL)
