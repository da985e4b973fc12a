"""How much of the real flows the effect catalogue describes (issue 30).

    python -m benchmarks.coverage        # both corpora: flows whose every node type is known

A flow is covered when every node type it runs is in the catalogue (rules/effects/*.yaml:
catalogued, or deliberately neutral), apart from structure (tabs, subflows, groups, junctions,
comments) and subflow instances whose definition is in the file. Prints the share of covered
flows, the number of catalogued packages and types, and the types still unknown with the flows
that use them.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure() -> tuple[int, int, dict[str, set[str]], int, int]:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import corpus_dir  # the one corpus setting

    from hacheck.effects.catalogue import bundled, bundled_dir
    from hacheck.load.loader import Source, read_source
    from hacheck.model.config import Config
    from hacheck.run.check_file import unknown_types

    flows = covered = 0
    missing: dict[str, set[str]] = defaultdict(set)
    for name in ("corpus", "corpus2"):
        for path in sorted((corpus_dir(name) / "files").iterdir()):
            flow = read_source(Source(path.name, str(path)))
            if flow.problems and not flow.by_id:
                continue  # an unreadable file: nothing to describe
            flows += 1
            unknown = unknown_types(flow, Config())
            if not unknown:
                covered += 1
            for t in unknown:
                missing[t].add(path.name.split("__")[0])
    packages = len(list(bundled_dir().glob("*.yaml")))
    return flows, covered, missing, packages, len(bundled())


def main() -> int:
    flows, covered, missing, packages, types = measure()
    print(f"{covered}/{flows} flows = {covered / flows:.1%} have every running node type in the catalogue")
    print(f"catalogue: {packages} packages, {types} node types")
    for t, where in sorted(missing.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"  unknown: {t!r} in {', '.join(sorted(where))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
