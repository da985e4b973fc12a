"""Check flow files in this process, one after the other: load, run the rules, apply the
suppressions. The runner calls this, and so does each worker of the process pool (parallel.py).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import perf_counter

from hacheck.model.config import Config
from hacheck.engine.check import check_flow
from hacheck.model.findings import Finding
from hacheck.load.loader import read_source
from hacheck.model.flow import FlowFile
from hacheck.engine.rule_file import Rule
from hacheck.config.suppress import Suppressor


@dataclass
class FileResult:
    path: str
    shape: str
    nodes: int
    findings: list[Finding]
    # running node types the effect catalogue does not know (judged by their shape): type -> count
    unknown_types: dict[str, int] = field(default_factory=dict)


def check_serial(sources, config, rules, suppressor, keep_flows=False, skip_non_flows=False, timings=None):
    """Check the sources one after the other in this process: (results, flows kept)."""
    results: list[FileResult] = []
    flows: dict[str, FlowFile] = {}
    last = None
    for src in sources:
        last = None  # the previous flow is freed before the next is read
        # a flow is a large tree of dicts and lists without cycles: the cyclic garbage
        # collector would rescan it again and again while it is built (2-3x the load time)
        with _gc_paused():
            t0 = perf_counter()
            flow = read_source(src)
            if timings is not None:
                timings["load"] = timings.get("load", 0.0) + perf_counter() - t0
            kept: list | None = [] if _PARKED is not None else None
            if not (skip_non_flows and _not_a_flow(flow)):
                results.append(check_one(flow, rules, config, suppressor, timings, kept))
                if keep_flows:
                    flows[flow.path] = flow
            if kept is not None:
                last = (flow, kept)  # with its rule context (the graph, the traces)
            del flow, kept  # freed before the next file is read: never two large flows in memory
    if _PARKED is not None and last is not None:
        _PARKED.append(last)
    return results, flows


# When the process ends with the command, the last flow and its rule context are kept, not
# freed: the exit skips freeing them one object at a time (at 100k nodes, 0.1 s for the flow and
# 0.05 s for the graph, traces and indexes), as cli._fast_exit does for the rest. This costs no
# peak memory only because the reports are streamed (cli._write_atomic): a 30 MB report built
# whole on top of the kept context raised the peak from 468 to 618 MiB.
_PARKED: list | None = None


def keep_last_flow_until_exit() -> None:
    global _PARKED
    _PARKED = []


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


def check_one(flow: FlowFile, rules: list[Rule], config: Config, suppressor: Suppressor | None = None, timings: dict | None = None, keep: list | None = None) -> FileResult:
    findings = check_flow(flow, rules, config, timings, keep)
    if suppressor is not None:
        findings = suppressor.apply(flow, findings)
    else:  # one file on its own: its config suppressions are judged on it alone
        own = Suppressor(rules, config)
        findings = own.apply(flow, findings) + [f for fs in own.finish().values() for f in fs]
    findings.sort(key=Finding.sort_key)
    return FileResult(flow.path, flow.shape, len(flow.by_id), findings, unknown_types(flow, config))


# types that are structure, not nodes that run
_STRUCTURE = frozenset(("tab", "subflow", "group", "junction", "comment", "unknown"))


def unknown_types(flow: FlowFile, config: Config) -> dict[str, int]:
    """The running node types the catalogue (with the config's `effects:`) does not know."""
    from hacheck.effects.catalogue import merged

    cat = merged(config.effects)
    out: dict[str, int] = {}
    for t, nodes in flow.by_type.items():
        if t in cat or t in _STRUCTURE or (t.startswith("subflow:") and t[8:] in flow.subflows):
            continue
        n = sum(1 for x in nodes if x.id in flow.running)
        if n:
            out[t] = n
    return dict(sorted(out.items()))
