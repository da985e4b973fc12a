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


SERIOUS = ("high", "medium")  # the hazards the recall target counts (issue 30)
NAMING = ("warning", "error")  # the severities at which a finding names a hazard


@dataclass
class Label:
    rule: str
    node: str
    expect: str  # "fire" | "silent"
    reason: str
    debatable: bool = False
    cls: str = ""
    severity: str = ""  # high | medium | low: how bad the hazard is (fire labels of corpus2)
    also: tuple[str, ...] = ()  # the other nodes of the hazard's path
    source: str = ""  # "" blind label; "adjudicated": a finding judged after the fact


@dataclass
class Labelled:
    name: str  # corpus file name
    labels: list[Label]
    reviewed: str = ""
    corpus: str = "corpus"  # which corpus the flow is in: corpus or corpus2
    group: str = ""  # the sub-folder of tests/truth the file is in ("" at the top)


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
    """Every label file in `folder` and its sub-folders (each sub-folder is a set: the blind
    corpus2 halves are `corpus2-tune/` and `corpus2-test/`)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    out = []
    for p in sorted(folder.rglob("*.yaml")):
        if p.name.startswith("_"):
            continue  # _known.yaml: the disagreements hacheck is known to have, not labels
        data = yaml.load(p.read_text("utf-8"))
        labels = [
            Label(str(e["rule"]), str(e["node"]), e["expect"], e.get("reason", ""), bool(e.get("debatable")),
                  e.get("class", ""), str(e.get("severity", "")), tuple(str(a) for a in e.get("also") or ()), e.get("source", ""))
            for e in data["labels"]
        ]
        group = str(p.parent.relative_to(folder)) if p.parent != folder else ""
        out.append(Labelled(data["flow"], labels, data.get("reviewed", ""), data.get("corpus", "corpus"), group))
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
    return [slim(f) for f in doc["findings"] if f["rule"] in rules]


def slim(f: dict) -> dict:
    """What scoring needs of a JSON finding: rule, node, severity and the related nodes."""
    return {"rule": f["rule"], "node": f["node"], "severity": f.get("severity", "error"),
            "related": [r["node"] for r in f.get("related") or () if r.get("node")]}


@dataclass
class Hazards:
    """Recall of the serious hazards: a `fire` label of severity high or medium (not
    debatable) is named when a warning or error finding of any rule is on its node or lists
    it among its related nodes."""
    total: Counter = field(default_factory=Counter)  # by class
    named: Counter = field(default_factory=Counter)
    by_rule_total: Counter = field(default_factory=Counter)  # by the label's rule
    by_rule_named: Counter = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        n = sum(self.total.values())
        return sum(self.named.values()) / n if n else None


def named(lab: Label, found: list[dict]) -> bool:
    return any(f["severity"] in NAMING and (f["node"] == lab.node or lab.node in f["related"]) for f in found)


def hazards(labelled: list[Labelled], found: dict[str, list[dict]]) -> Hazards:
    h = Hazards()
    for lf in labelled:
        for lab in lf.labels:
            if lab.expect != "fire" or lab.debatable or lab.severity not in SERIOUS:
                continue
            cls = lab.cls or "?"
            h.total[cls] += 1
            h.by_rule_total[lab.rule] += 1
            if named(lab, found[lf.name]):
                h.named[cls] += 1
                h.by_rule_named[lab.rule] += 1
            else:
                h.misses.append(f"{lf.name[:40]} {lab.node} [{lab.severity} {cls} {lab.rule}]: {lab.reason}")
    return h


def judge(lf: Labelled, f: dict) -> str:
    """tp, fp, debatable or unlabelled for one finding. A finding on a node with a `fire`
    label of another rule names a labelled hazard (the labeller chose another rule for it)."""
    same = [lab for lab in lf.labels if (lab.rule, lab.node) == (f["rule"], f["node"])]
    if same:
        lab = same[0]
        return "debatable" if lab.debatable else ("tp" if lab.expect == "fire" else "fp")
    if lf.corpus != "corpus":
        fires = [lab for lab in lf.labels if lab.node == f["node"] and lab.expect == "fire"]
        if any(not lab.debatable for lab in fires):
            return "tp"
        if fires:
            return "debatable"  # the labeller saw a hazard here that could be judged either way
    return "unlabelled"


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


def finding_precision(labelled: list[Labelled], found: dict[str, list[dict]], severities=NAMING) -> dict[str, Counter]:
    """Per rule, the findings at these severities judged tp / fp / debatable / unlabelled."""
    out: dict[str, Counter] = defaultdict(Counter)
    for lf in labelled:
        for f in found[lf.name]:
            if f["severity"] in severities:
                out[f["rule"]][judge(lf, f)] += 1
    return dict(out)


def measure(labelled: list[Labelled], checkout: Path, rules: list[str]) -> dict[str, list[dict]]:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import corpus_dir  # the one corpus setting

    found = {}
    for lf in labelled:
        path = corpus_dir(lf.corpus) / "files" / lf.name
        if not path.is_file():
            raise SystemExit(f"the corpus file {path} is missing: set HACHECK_CORPUS or run scripts/fetch-corpus")
        found[lf.name] = findings(checkout.resolve(), path, rules)
    return found


def _pct(a: int, b: int) -> str:
    return f"{a / b:.0%}" if b else "-"


def report(labelled: list[Labelled], found: dict[str, list[dict]], rules: list[str], verbose: bool, out=print) -> None:
    scores = score(labelled, found, rules)
    n_labels = sum(len(lf.labels) for lf in labelled)
    kinds = Counter(lab.expect if not lab.debatable else "debatable" for lf in labelled for lab in lf.labels)
    out(f"{len(labelled)} flows, {n_labels} labels ({kinds['fire']} fire, {kinds['silent']} silent, {kinds['debatable']} debatable)")
    out(f"{'rule':<22} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'unlab.':>6} {'precision':>9}")
    for rule in sorted(scores):
        s = scores[rule]
        p = "-" if s.precision is None else f"{s.precision:.0%}"
        out(f"{rule:<22} {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.tn:>4} {s.unlabelled:>6} {p:>9}")
    total = Score()
    for s in scores.values():
        total.tp, total.fp, total.fn = total.tp + s.tp, total.fp + s.fp, total.fn + s.fn
    out(f"{'all':<22} {total.tp:>4} {total.fp:>4} {total.fn:>4}        {'':>6} {total.precision or 0:>9.0%}")
    h = hazards(labelled, found)
    if sum(h.total.values()):
        out("")
        out(f"serious hazards (high/medium, not debatable) named at warning/error: "
            f"{sum(h.named.values())}/{sum(h.total.values())} = {_pct(sum(h.named.values()), sum(h.total.values()))}")
        for cls in sorted(h.total):
            out(f"  {cls:<20} {h.named[cls]:>3}/{h.total[cls]:<3} {_pct(h.named[cls], h.total[cls]):>5}")
        out("  by the labeller's rule: " + ", ".join(
            f"{r} {h.by_rule_named[r]}/{h.by_rule_total[r]}" for r in sorted(h.by_rule_total)))
    prec = finding_precision(labelled, found)
    if prec:
        out("")
        out("findings at warning/error, judged against the labels (precision = tp / (tp + fp)):")
        out(f"  {'rule':<8} {'tp':>4} {'fp':>4} {'deb.':>4} {'unlab.':>6} {'precision':>9}")
        for rule in sorted(prec):
            c = prec[rule]
            out(f"  {rule:<8} {c['tp']:>4} {c['fp']:>4} {c['debatable']:>4} {c['unlabelled']:>6} {_pct(c['tp'], c['tp'] + c['fp']):>9}")
    if verbose:
        for rule in sorted(scores):
            s = scores[rule]
            for kind, items in (("MISS", s.misses), ("FALSE", s.false), ("UNLABELLED", s.strays)):
                for it in items:
                    out(f"{kind:<10} {rule:<8} {it}")
        for m in h.misses:
            out(f"HAZARD-MISS {m}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.truth", description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkout", type=Path, default=REPO, help="the hacheck checkout to measure (default: this one)")
    ap.add_argument("--labels", type=Path, default=TRUTH, help="a folder of label files, e.g. a hold-out set (default: tests/truth, all sets)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss, false positive and unlabelled finding")
    args = ap.parse_args(argv)
    labelled = load_labels(args.labels)
    rules = rules_in_scope()
    found = measure(labelled, args.checkout, rules)
    print(f"checkout {args.checkout}, labels {args.labels}")
    report(labelled, found, rules, args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
