"""`hacheck split` on the corpora (issue 32, proof 1): the findings before and after, per flow.

    python -m benchmarks.split                 # every corpus flow with such findings, markdown table
    python -m benchmarks.split --bridge project-link
    python -m benchmarks.split --all           # also the flows with none

For each readable flow of both corpora, the findings of the rules the split is about, by family:
duplicated work (HA101, HA103, HA105, HA107, HA109-HA112), dashboards (HA140), host-bound
(HA120, HA122), per-copy state (HA201-HA205), counted as `before -> HA part / singleton part`;
the singleton part is checked as what it is, one copy (its `hacheck-instance: singleton` marker),
so those rules do not run on it and its figure says that the marker is there and works. Then the
findings of all rules (errors and warnings) before and in each part, what moved, the bridges, the
nodes that had to stay (`kept`), the rounds and the time the split took.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FAMILIES = {
    "dup": ("HA101", "HA103", "HA105", "HA107", "HA109", "HA110", "HA111", "HA112"),
    "dash": ("HA140",),
    "host": ("HA120", "HA122"),
    "state": ("HA201", "HA202", "HA203", "HA204", "HA205"),
}


def measure(bridge: str) -> list[dict]:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import corpus_dir  # the one corpus setting

    from hacheck.commands.split import SplitError, dumps_flow, parse_broker, split_checked
    from hacheck.config.suppress import Suppressor
    from hacheck.engine.catalog import load_catalog
    from hacheck.engine.check import check_flow
    from hacheck.load.loader import Source, parse_bytes, read_source
    from hacheck.model.config import Config

    rules, config = load_catalog(), Config()
    supp = Suppressor(rules, config)

    def check(flow):
        return [f for f in supp.apply(flow, check_flow(flow, rules, config)) if f.suppressed is None]

    broker = parse_broker("mqtt://broker.example:1883") if bridge == "mqtt" else None
    rows = []
    for name in ("corpus", "corpus2"):
        for path in sorted((corpus_dir(name) / "files").iterdir()):
            flow = read_source(Source(path.name, str(path)))
            if flow.shape == "unreadable":
                continue
            t0 = time.perf_counter()
            try:
                s = split_checked(flow, check, bridge, broker)
            except SplitError as e:
                rows.append({"flow": path.name, "refused": str(e)})
                continue
            seconds = time.perf_counter() - t0
            before = check(flow)
            ha = check(parse_bytes("ha.json", dumps_flow(s.parts["ha"]).encode()))
            single = check(parse_bytes("singleton.json", dumps_flow(s.parts["singleton"]).encode())) if s.parts["singleton"] else []
            row = {"flow": path.name, "nodes": len(flow.nodes), "seconds": seconds, "rounds": s.rounds,
                   "moved": sum(1 for ps in s.home.values() if ps == {"singleton"}), "bridges": len(s.bridges),
                   "kept": len(s.kept)}
            for fam, ids in FAMILIES.items():
                row[fam] = tuple(sum(1 for f in fs if f.rule_id in ids) for fs in (before, ha, single))
            row["all"] = tuple(sum(1 for f in fs if str(f.severity) in ("error", "warning")) for fs in (before, ha, single))
            rows.append(row)
    return rows


def _cell(t: tuple[int, int, int]) -> str:
    return "·" if t == (0, 0, 0) else f"{t[0]} → {t[1]} / {t[2]}"


def table(rows: list[dict], every: bool) -> str:
    shown = [r for r in rows if "refused" not in r and (every or any(sum(r[f][:1]) for f in FAMILIES))]
    out = [
        "| flow | nodes | dup | dash | host | state | all (err+warn) | moved | bridges | kept | rounds | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in shown:
        out.append(
            f"| {r['flow'].split('__')[0]} {r['flow'].split('__')[1][:18]} | {r['nodes']} | "
            + " | ".join(_cell(r[f]) for f in FAMILIES)
            + f" | {_cell(r['all'])} | {r['moved']} | {r['bridges']} | {r['kept']} | {r['rounds']} | {r['seconds']:.2f} |"
        )
    ok = [r for r in rows if "refused" not in r]
    tot = {f: tuple(sum(r[f][i] for r in ok) for i in range(3)) for f in (*FAMILIES, "all")}
    out.append(
        f"| **all {len(ok)} flows** | {sum(r['nodes'] for r in ok)} | "
        + " | ".join(_cell(tot[f]) for f in FAMILIES)
        + f" | {_cell(tot['all'])} | {sum(r['moved'] for r in ok)} | {sum(r['bridges'] for r in ok)} | "
        f"{sum(r['kept'] for r in ok)} | max {max(r['rounds'] for r in ok)} | {sum(r['seconds'] for r in ok):.1f} |"
    )
    refused = [r for r in rows if "refused" in r]
    text = "\n".join(out) + "\n"
    if refused:
        text += "\nRefused (exit 2, nothing written): " + "; ".join(f"{r['flow'].split('__')[0]}: {r['refused'].split(': ', 1)[-1]}" for r in refused) + "\n"
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bridge", choices=("mqtt", "project-link"), default="mqtt")
    ap.add_argument("--all", action="store_true", help="also list the flows with none of these findings")
    opts = ap.parse_args(argv)
    rows = measure(opts.bridge)
    sys.stdout.write(table(rows, opts.all))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
