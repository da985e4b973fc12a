"""Fuzz target: bytes -> loader.parse_bytes -> runner.check_one with every rule -> every reporter.

Run (see fuzz/README.md):  python fuzz/fuzz_loader.py -max_total_time=600

A crash is any exception escaping hacheck, including a rule that fails inside the engine
(which in normal runs becomes an HC000 finding: here it is re-raised so libFuzzer sees the
traceback and saves the input).
"""

from __future__ import annotations

import importlib
import io
import pkgutil
import sys

import atheris
import fuzz_common

fuzz_common.ensure_repo_on_path()

with atheris.instrument_imports(include=["hacheck"]):
    import hacheck

    # hacheck imports most modules on first use (the rules, the graph, the JavaScript front
    # end, the reporters): import them all here, or they would run uninstrumented and the
    # fuzzer could not see which branches of the rules an input reaches
    for mod in pkgutil.walk_packages(hacheck.__path__, "hacheck."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
    from hacheck import reporters
    from hacheck.engine import check as engine
    from hacheck.engine.catalog import load_catalog
    from hacheck.model.config import Config
    from hacheck.load.loader import parse_bytes
    from hacheck.run.runner import RunResult, check_one


def _reraise(rule, exc, flow):
    raise exc


engine._crash = _reraise  # an HC000 would hide the bug from the fuzzer
CONFIG = Config(preview=True)  # every rule, preview ones too
RULES = load_catalog()
# the reporters are rendered on a sample of inputs only: they are slower than the check
FORMATS = sorted(reporters.REPORTERS)
_count = 0


def TestOneInput(data: bytes) -> None:
    global _count
    flow = parse_bytes("fuzz.json", data)
    result = check_one(flow, RULES, CONFIG)
    for f in result.findings:
        assert isinstance(f.message, str) and f.rule_id, f
    _count += 1
    if result.findings and _count % 50 == 0:
        run = RunResult([result], RULES, CONFIG, {flow.path: flow})
        fmt = FORMATS[(_count // 50) % len(FORMATS)]
        reporters.get(fmt).render(run, io.StringIO(), color=False)


def CustomMutator(data: bytes, max_size: int, seed: int) -> bytes:
    return fuzz_common.custom_mutator(data, max_size, seed, atheris.Mutate)


def main() -> None:
    argv = fuzz_common.prepare("loader", fuzz_common.loader_seeds, sys.argv, ["-max_len=65536", "-rss_limit_mb=4096", "-timeout=30"])
    atheris.Setup(argv, TestOneInput, custom_mutator=CustomMutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
