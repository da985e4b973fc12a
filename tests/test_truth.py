"""hacheck against the hand labels of real flows (tests/truth/, format in its README).

Each labelled flow is checked with the rules in scope.
- The first corpus (labels at the top of tests/truth/, labelled per rule): every finding must
  be one the labels expect (a `fire` or a debatable label), every `fire` label must be found and
  no `silent` label may be. `none` labels are hazards no rule covers yet: they are counted by
  `python -m benchmarks.truth`, not asserted.
- The second corpus (tests/truth/corpus2-*/, labelled blind by hazard, with a severity): every
  serious hazard (high or medium, not debatable) must be named by a warning or error finding on
  its node or among its related nodes, no `silent` label may be found, and every warning or
  error finding must be judged by a label.
A new false positive or a new miss fails here, with the label's reason in the message. In each
set of labels, every warning- and error-level rule with at least 10 judged findings there must
be right at least 90% of the time, and every one over all sets together.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hacheck.engine.catalog import load_catalog
from hacheck.model.config import Config
from hacheck.model.findings import Severity
from hacheck.load.loader import Source, read_source
from hacheck.run.runner import check_one

REPO = Path(__file__).resolve().parents[1]
from benchmarks.truth import NAMING, SERIOUS, finding_precision, judge, load_known, load_labels, named, rules_in_scope

LABELLED = load_labels()
KNOWN = load_known()  # disagreements kept on purpose, each with its reason in tests/truth/_known.yaml
RULES_IN_SCOPE = rules_in_scope()
MIN_PRECISION = 0.9  # for every warning- and error-level rule, in each set of labels


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _findings(folder: Path, name: str, catalog) -> list[dict]:
    path = folder / "files" / name
    flow = read_source(Source(name, str(path)))
    result = check_one(flow, catalog, Config(select=tuple(RULES_IN_SCOPE), preview=True))
    return [
        {"rule": f.rule_id, "node": f.node_id, "severity": f.severity.name.lower(), "related": [r.node_id for r in f.related]}
        for f in result.findings if f.rule_id in RULES_IN_SCOPE
    ]


def _folder(labelled, request) -> Path:
    return request.getfixturevalue(labelled.corpus)  # the corpus or corpus2 fixture


def test_the_labels_name_real_nodes_of_real_flows(request):
    assert len(LABELLED) >= 20
    for lf in LABELLED:
        flow = read_source(Source(lf.name, str(_folder(lf, request) / "files" / lf.name)))
        assert not flow.problems, lf.name
        for lab in lf.labels:
            assert lab.node in flow.by_id, f"{lf.name}: label on unknown node {lab.node}"
            assert all(a in flow.by_id for a in lab.also), f"{lf.name}: {lab.node}'s `also` names an unknown node"
            assert lab.rule in RULES_IN_SCOPE or lab.rule == "none", f"{lf.name}: rule {lab.rule} is not in scope"
            assert lab.expect in ("fire", "silent") and lab.reason.strip(), f"{lf.name} {lab.node}: expect and reason"
            if lf.corpus != "corpus" and lab.expect == "fire" and not lab.debatable:
                assert lab.severity in ("high", "medium", "low") and lab.cls, f"{lf.name} {lab.node}: a hazard needs its class and severity"


def _disagreements(labelled, found) -> dict[tuple[str, str, str, str], str]:
    """(kind, flow, rule, node) -> the label's reason, for each finding the labels disagree with."""
    if labelled.corpus != "corpus":
        return _hazard_disagreements(labelled, found)
    by = {(lab.rule, lab.node): lab for lab in labelled.labels}
    got = {(f["rule"], f["node"]) for f in found}
    out = {}
    for (rule, node), lab in by.items():
        if lab.debatable or rule == "none":
            continue
        if lab.expect == "fire" and (rule, node) not in got:
            out[("missed", labelled.name, rule, node)] = lab.reason
        if lab.expect == "silent" and (rule, node) in got:
            out[("false-positive", labelled.name, rule, node)] = lab.reason
    for rule, node in got - set(by):
        out[("unlabelled", labelled.name, rule, node)] = "(no label)"
    return out


def _hazard_disagreements(labelled, found) -> dict[tuple[str, str, str, str], str]:
    out = {}
    for lab in labelled.labels:
        if lab.debatable:
            continue
        if lab.expect == "fire" and lab.severity in SERIOUS and not named(lab, found):
            out[("missed-hazard", labelled.name, lab.rule, lab.node)] = lab.reason
    for f in found:
        if f["severity"] not in NAMING:
            continue
        verdict = judge(labelled, f)
        if verdict == "fp":
            lab = next(x for x in labelled.labels if (x.rule, x.node) == (f["rule"], f["node"]))
            out[("false-positive", labelled.name, f["rule"], f["node"])] = lab.reason
        elif verdict == "unlabelled":
            out[("unlabelled", labelled.name, f["rule"], f["node"])] = "(no label)"
    return out


@pytest.mark.parametrize("labelled", LABELLED, ids=[lf.name.split("__")[0] for lf in LABELLED])
def test_findings_match_the_labels(labelled, request, catalog):
    found = _disagreements(labelled, _findings(_folder(labelled, request), labelled.name, catalog))
    known = {k for k in KNOWN if k[1] == labelled.name}
    new = [f"{kind} {rule} on {node}: {reason}" for (kind, _, rule, node), reason in sorted(found.items()) if (kind, _, rule, node) not in known]
    gone = [f"{kind} {rule} on {node}" for kind, _, rule, node in sorted(known - set(found))]
    assert not new, "findings that disagree with the hand labels:\n" + "\n".join(new)
    assert not gone, "fixed, so remove from tests/truth/_known.yaml:\n" + "\n".join(gone)


SETS = sorted({lf.group for lf in LABELLED})
# A precision on fewer findings than this says little (one false positive in four is 75%);
# such rules are held over all sets together instead, and benchmarks.truth prints each figure
MIN_JUDGED = 10


def _precision(labelled, request, catalog) -> dict:
    found = {lf.name: _findings(_folder(lf, request), lf.name, catalog) for lf in labelled}
    return finding_precision(labelled, found)


@pytest.mark.parametrize("group", SETS, ids=[g or "corpus" for g in SETS])
def test_warning_and_error_rules_are_precise_on_each_labelled_set(group, request, catalog):
    naming = {r.id for r in catalog if r.severity.name.lower() in NAMING}
    measured = 0
    for rule, c in _precision([lf for lf in LABELLED if lf.group == group], request, catalog).items():
        judged = c["tp"] + c["fp"]
        if rule in naming and judged >= MIN_JUDGED:
            measured += 1
            assert c["tp"] / judged >= MIN_PRECISION, f"{rule}: precision {c['tp']}/{judged} on the set {group or 'corpus'}"
    assert measured >= 2  # every set has rules with enough findings to judge


def test_warning_and_error_rules_are_precise_over_all_labelled_sets(request, catalog):
    naming = {r.id for r in catalog if r.severity.name.lower() in NAMING}
    measured = 0
    for rule, c in _precision(LABELLED, request, catalog).items():
        judged = c["tp"] + c["fp"]
        if rule in naming and judged:
            measured += 1
            assert c["tp"] / judged >= MIN_PRECISION, f"{rule}: precision {c['tp']}/{judged} over every labelled set"
    assert measured >= 8
