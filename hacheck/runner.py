"""Check a set of paths: discover, load, run the rules, apply suppressions. The library API."""

from __future__ import annotations

from dataclasses import dataclass, field

from hacheck.catalog import Rule, load_catalog
from hacheck.config import Config
from hacheck.engine import check_flow
from hacheck.findings import Finding, Severity
from hacheck.loader import Source, discover, read_source
from hacheck.model import FlowFile


@dataclass
class FileResult:
    path: str
    shape: str
    nodes: int
    findings: list[Finding]


@dataclass
class RunResult:
    files: list[FileResult]
    rules: list[Rule]
    config: Config
    flows: dict[str, FlowFile] = field(default_factory=dict)  # kept for reporters that draw flows
    notes: list[str] = field(default_factory=list)  # e.g. baseline entries that no longer occur

    @property
    def findings(self) -> list[Finding]:
        return [f for fr in self.files for f in fr.findings]

    def counts(self, include_suppressed: bool = False) -> dict[str, int]:
        c = {"error": 0, "warning": 0, "info": 0}
        for f in self.findings:
            if f.suppressed is None or include_suppressed:
                c[str(f.severity)] += 1
        return c

    @property
    def suppressed_count(self) -> int:
        return sum(1 for f in self.findings if f.suppressed is not None)

    def failed(self, fail_on: str | None = None) -> bool:
        fail_on = fail_on or self.config.fail_on
        if fail_on == "never":
            return False
        threshold = Severity.parse(fail_on)
        return any(f.suppressed is None and f.severity >= threshold for f in self.findings)


def check_sources(sources: list[Source], config: Config, rules: list[Rule] | None = None, keep_flows: bool = False) -> RunResult:
    rules = rules if rules is not None else load_catalog(config.rule_packs)
    results: list[FileResult] = []
    flows: dict[str, FlowFile] = {}
    for src in sources:
        flow = read_source(src)
        results.append(check_one(flow, rules, config))
        if keep_flows:
            flows[flow.path] = flow
    results.sort(key=lambda r: r.path)
    return RunResult(results, rules, config, flows)


def check_one(flow: FlowFile, rules: list[Rule], config: Config) -> FileResult:
    findings = check_flow(flow, rules, config)
    findings.sort(key=Finding.sort_key)
    return FileResult(flow.path, flow.shape, len(flow.by_id), findings)


def lint_paths(paths: list[str], config: Config | None = None, **kw) -> RunResult:
    """Check files or directories; the function behind `hacheck check`."""
    config = config or Config()
    return check_sources(discover(paths), config, **kw)
