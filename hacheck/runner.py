"""Check a set of paths: discover, load, run the rules, apply suppressions. The library API."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import perf_counter

from hacheck.catalog import Rule, load_catalog
from hacheck.config import Config
from hacheck.engine import check_flow
from hacheck.findings import Finding, Severity
from hacheck.loader import Source, discover, read_source
from hacheck.model import FlowFile
from hacheck.suppress import Suppressor


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


def check_sources(
    sources: list[Source],
    config: Config,
    rules: list[Rule] | None = None,
    keep_flows: bool = False,
    jobs: int = 1,
    skip_non_flows: bool = False,
    timings: dict | None = None,
) -> RunResult:
    """`jobs` > 1 checks many files on a process pool (same result, see parallel.py);
    `skip_non_flows` drops files that are JSON but no flow (whole-file HC002) without a word,
    for pre-commit, which passes every JSON file; `timings` collects seconds per phase."""
    from hacheck import parallel

    rules = rules if rules is not None else load_catalog(config.rule_packs)
    suppressor = Suppressor(rules, config)
    if not keep_flows and timings is None and parallel.worth_it(sources, jobs):
        results = parallel.check_in_pool(sources, config, rules, suppressor, jobs, skip_non_flows)
        flows: dict[str, FlowFile] = {}
    else:
        results, flows = check_serial(sources, config, rules, suppressor, keep_flows, skip_non_flows, timings)
    suppressor.finish_into(results)  # config entries that matched nothing, across all files
    results.sort(key=lambda r: r.path)
    return RunResult(results, rules, config, flows, notes=list(suppressor.notes))


def check_serial(sources, config, rules, suppressor, keep_flows=False, skip_non_flows=False, timings=None):
    """Check the sources one after the other in this process: (results, flows kept)."""
    results: list[FileResult] = []
    flows: dict[str, FlowFile] = {}
    for src in sources:
        # a flow is a large tree of dicts and lists without cycles: the cyclic garbage
        # collector would rescan it again and again while it is built (2-3x the load time)
        with _gc_paused():
            t0 = perf_counter()
            flow = read_source(src)
            if timings is not None:
                timings["load"] = timings.get("load", 0.0) + perf_counter() - t0
            if not (skip_non_flows and _not_a_flow(flow)):
                results.append(check_one(flow, rules, config, suppressor, timings))
                if keep_flows:
                    flows[flow.path] = flow
            del flow  # freed before the next file is read: never two large flows in memory
    return results, flows


def _not_a_flow(flow: FlowFile) -> bool:
    return flow.shape == "unreadable" and bool(flow.problems) and all(p.rule == "HC002" for p in flow.problems)


@contextmanager
def _gc_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_one(flow: FlowFile, rules: list[Rule], config: Config, suppressor: Suppressor | None = None, timings: dict | None = None) -> FileResult:
    findings = check_flow(flow, rules, config, timings)
    if suppressor is not None:
        findings = suppressor.apply(flow, findings)
    else:  # one file on its own: its config suppressions are judged on it alone
        own = Suppressor(rules, config)
        findings = own.apply(flow, findings) + [f for fs in own.finish().values() for f in fs]
    findings.sort(key=Finding.sort_key)
    return FileResult(flow.path, flow.shape, len(flow.by_id), findings)


def lint_paths(paths: list[str], config: Config | None = None, **kw) -> RunResult:
    """Check files or directories; the function behind `hacheck check`."""
    config = config or Config()
    return check_sources(discover(paths), config, **kw)
