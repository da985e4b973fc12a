"""Check a set of paths: discover, load, run the rules, apply suppressions. The library API."""

from __future__ import annotations

from dataclasses import dataclass, field

from hacheck.engine.catalog import Rule, load_catalog
from hacheck.run.check_file import FileResult, check_one, check_serial
from hacheck.model.config import Config
from hacheck.model.findings import Finding, Severity
from hacheck.load.loader import Source, discover
from hacheck.model.flow import FlowFile
from hacheck.config.suppress import Suppressor

__all__ = ["FileResult", "RunResult", "check_one", "check_serial", "check_sources", "lint_paths"]


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
    from hacheck.run import parallel

    rules = rules if rules is not None else load_catalog(config.rule_packs)
    suppressor = Suppressor(rules, config)
    if not keep_flows and timings is None and parallel.worth_it(sources, jobs):
        results = parallel.check_in_pool(sources, config, rules, suppressor, jobs, skip_non_flows)
        flows: dict[str, FlowFile] = {}
    else:
        results, flows = check_serial(sources, config, rules, suppressor, keep_flows, skip_non_flows, timings)
    suppressor.finish_into(results)  # config entries that matched nothing, across all files
    results.sort(key=lambda r: r.path)
    return RunResult(results, rules, config, flows, notes=list(suppressor.notes) + unknown_types_notes(results))


MAX_TYPES_NOTED = 20


def unknown_types_notes(results: list[FileResult]) -> list[str]:
    """One note naming the node types no catalogue entry describes, so the user knows what
    to catalogue (HA109 and the shape-based guesses rest on them)."""
    total: dict[str, int] = {}
    files: dict[str, int] = {}
    for r in results:
        for t, n in r.unknown_types.items():
            total[t] = total.get(t, 0) + n
            files[t] = files.get(t, 0) + 1
    if not total:
        return []
    ranked = sorted(total, key=lambda t: (-total[t], t))
    shown = ", ".join(f"'{t}' ({total[t]} node{'s' if total[t] != 1 else ''})" for t in ranked[:MAX_TYPES_NOTED])
    more = f" and {len(ranked) - MAX_TYPES_NOTED} more" if len(ranked) > MAX_TYPES_NOTED else ""
    return [
        f"{len(ranked)} node type{'s' if len(ranked) != 1 else ''} not in the effect catalogue, judged by their shape"
        f" (hacheck explain HA109): {shown}{more}. Describe them under `effects:` in the configuration"
        " (`hacheck catalogue draft <module folder>` drafts an entry)."
    ]


def lint_paths(paths: list[str], config: Config | None = None, **kw) -> RunResult:
    """Check files or directories; the function behind `hacheck check`."""
    config = config or Config()
    return check_sources(discover(paths), config, **kw)
