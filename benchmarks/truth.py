"""Precision per rule and missed hazards, against the hand labels in tests/truth/.

    python -m benchmarks.truth                      # this checkout
    python -m benchmarks.truth --checkout DIR       # another checkout (e.g. an older commit)
    python -m benchmarks.truth -v                   # also list every miss and false positive
    python -m benchmarks.truth --labels DIR         # only the label files in DIR (a hold-out set)

Each labelled flow of the corpus is checked with the CLI of the checkout (`python -m hacheck
check -f json`, run in that folder), so any version can be measured the same way. For each
rule: TP (a finding the labels say should fire), FP (a finding on a node labelled silent),
FN (a node labelled fire without the finding), unlabelled findings, and precision
TP / (TP + FP). Debatable labels count in none of them. `none` labels are hazards no rule
covers; they are listed as misses of the class they name.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRUTH = REPO / "tests" / "truth"


@dataclass
class Label:
    rule: str
    node: str
    expect: str  # "fire" | "silent"
    reason: str
    debatable: bool = False
    cls: str = ""


@dataclass
class Labelled:
    name: str  # corpus file name
    labels: list[Label]
    reviewed: str = ""


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    unlabelled: int = 0
    misses: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None


def load_labels(folder: Path = TRUTH) -> list[Labelled]:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    out = []
    for p in sorted(folder.glob("*.yaml")):
        if p.name.startswith("_"):
            continue  # _known.yaml: the disagreements hacheck is known to have, not labels
        data = yaml.load(p.read_text("utf-8"))
        labels = [
            Label(str(e["rule"]), str(e["node"]), e["expect"], e.get("reason", ""), bool(e.get("debatable")), e.get("class", ""))
            for e in data["labels"]
        ]
        out.append(Labelled(data["flow"], labels, data.get("reviewed", "")))
    return out


def load_known(folder: Path = TRUTH) -> set[tuple[str, str, str, str]]:
    """(kind, flow, rule, node) of each disagreement with the labels that is known and kept:
    `_known.yaml` says why each is left so."""
    from ruamel.yaml import YAML

    path = folder / "_known.yaml"
    if not path.is_file():
        return set()
    entries = YAML(typ="safe", pure=True).load(path.read_text("utf-8")) or []
    return {(e["kind"], e["flow"], e["rule"], e["node"]) for e in entries}


def rules_in_scope(folder: Path = TRUTH) -> list[str]:
    """The rule ids of the README's table: the rules a labelled flow is labelled completely for."""
    import re

    text = (folder / "README.md").read_text("utf-8")
    ids: list[str] = []
    for line in text.splitlines():
        if line.startswith("| HA"):
            ids += re.findall(r"HA\d{3}", line.split("|")[1])
    return ids


def findings(checkout: Path, flow: Path, rules: list[str]) -> list[dict]:
    env = {**os.environ, "NO_COLOR": "1", "HACHECK_CACHE_DIR": ""}
    proc = subprocess.run(  # noqa: PLW1510 - the return code is checked below
        [sys.executable, "-m", "hacheck", "check", str(flow), "-f", "json", "--fail-on", "never", "--preview", "--select", "HA"],
        capture_output=True, cwd=checkout, env=env, timeout=600,
    )
    if proc.returncode != 0:
        raise SystemExit(f"hacheck failed on {flow.name} (exit {proc.returncode}): {proc.stderr.decode()[-500:]}")
    doc = json.loads(proc.stdout)
    return [f for f in doc["findings"] if f["rule"] in rules]


def score(labelled: list[Labelled], found: dict[str, list[dict]], rules: list[str]) -> dict[str, Score]:
    scores: dict[str, Score] = defaultdict(Score)
    for lf in labelled:
        got = {(f["rule"], f["node"]) for f in found[lf.name]}
        seen = set()
        for lab in lf.labels:
            key = (lab.rule, lab.node)
            seen.add(key)
            if lab.debatable:
                continue
            s = scores[lab.rule if lab.rule != "none" else f"none:{lab.cls or '?'}"]
            where = f"{lf.name[:40]} {lab.node}: {lab.reason}"
            if lab.rule == "none":
                s.fn += 1
                s.misses.append(where)
            elif lab.expect == "fire":
                if key in got:
                    s.tp += 1
                else:
                    s.fn += 1
                    s.misses.append(where)
            elif key in got:
                s.fp += 1
                s.false.append(where)
            else:
                s.tn += 1
        for rule, node in sorted(got - seen):
            scores[rule].unlabelled += 1
            scores[rule].strays.append(f"{lf.name[:40]} {node}")
    return dict(scores)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.truth", description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkout", type=Path, default=REPO, help="the hacheck checkout to measure (default: this one)")
    ap.add_argument("--labels", type=Path, default=TRUTH, help="a folder of label files, e.g. a new hold-out set (default: tests/truth)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss, false positive and unlabelled finding")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import corpus_dir  # the one corpus setting

    corpus = corpus_dir()
    labelled = load_labels(args.labels)
    rules = rules_in_scope()
    found = {}
    for lf in labelled:
        path = corpus / "files" / lf.name
        if not path.is_file():
            raise SystemExit(f"the corpus file {path} is missing: set HACHECK_CORPUS or run scripts/fetch-corpus")
        found[lf.name] = findings(args.checkout.resolve(), path, rules)
    scores = score(labelled, found, rules)
    n_labels = sum(len(lf.labels) for lf in labelled)
    kinds = Counter(lab.expect if not lab.debatable else "debatable" for lf in labelled for lab in lf.labels)
    print(f"{len(labelled)} flows, {n_labels} labels ({kinds['fire']} fire, {kinds['silent']} silent, {kinds['debatable']} debatable), checkout {args.checkout}")
    print(f"{'rule':<22} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'unlab.':>6} {'precision':>9}")
    for rule in sorted(scores):
        s = scores[rule]
        p = "-" if s.precision is None else f"{s.precision:.0%}"
        print(f"{rule:<22} {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.tn:>4} {s.unlabelled:>6} {p:>9}")
    total = Score()
    for s in scores.values():
        total.tp, total.fp, total.fn = total.tp + s.tp, total.fp + s.fp, total.fn + s.fn
    print(f"{'all':<22} {total.tp:>4} {total.fp:>4} {total.fn:>4}        {'':>6} {total.precision or 0:>9.0%}")
    if args.verbose:
        for rule in sorted(scores):
            s = scores[rule]
            for kind, items in (("MISS", s.misses), ("FALSE", s.false), ("UNLABELLED", s.strays)):
                for it in items:
                    print(f"{kind:<10} {rule:<8} {it}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
