"""hacheck against the hand labels of real flows (tests/truth/, format in its README).

Each labelled flow is checked with the rules in scope. Every finding must be one the labels
expect (a `fire` or a debatable label), every `fire` label must be found and no `silent` label
may be: a new false positive or a new miss fails here, with the label's reason in the message.
`none` labels are hazards no rule covers yet: they are counted by `python -m benchmarks.truth`,
not asserted. Across all flows, every error-level rule must be right at least 90% of the time.
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
from benchmarks.truth import load_known, load_labels, rules_in_scope, score

LABELLED = load_labels()
KNOWN = load_known()  # disagreements kept on purpose, each with its reason in tests/truth/_known.yaml
RULES_IN_SCOPE = rules_in_scope()
MIN_PRECISION = 0.9  # for every error-level rule, over the whole labelled set


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _findings(corpus: Path, name: str, catalog) -> list[dict]:
    path = corpus / "files" / name
    flow = read_source(Source(name, str(path)))
    result = check_one(flow, catalog, Config(select=tuple(RULES_IN_SCOPE), preview=True))
    return [{"rule": f.rule_id, "node": f.node_id} for f in result.findings if f.rule_id in RULES_IN_SCOPE]


def test_the_labels_name_real_nodes_of_real_flows(corpus):
    assert len(LABELLED) >= 20
    for lf in LABELLED:
        flow = read_source(Source(lf.name, str(corpus / "files" / lf.name)))
        assert not flow.problems, lf.name
        for lab in lf.labels:
            assert lab.node in flow.by_id, f"{lf.name}: label on unknown node {lab.node}"
            assert lab.rule in RULES_IN_SCOPE or lab.rule == "none", f"{lf.name}: rule {lab.rule} is not in scope"
            assert lab.expect in ("fire", "silent") and lab.reason.strip(), f"{lf.name} {lab.node}: expect and reason"


def _disagreements(labelled, found) -> dict[tuple[str, str, str, str], str]:
    """(kind, flow, rule, node) -> the label's reason, for each finding the labels disagree with."""
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


@pytest.mark.parametrize("labelled", LABELLED, ids=[lf.name.split("__")[0] for lf in LABELLED])
def test_findings_match_the_labels(labelled, corpus, catalog):
    found = _disagreements(labelled, _findings(corpus, labelled.name, catalog))
    known = {k for k in KNOWN if k[1] == labelled.name}
    new = [f"{kind} {rule} on {node}: {reason}" for (kind, _, rule, node), reason in sorted(found.items()) if (kind, _, rule, node) not in known]
    gone = [f"{kind} {rule} on {node}" for kind, _, rule, node in sorted(known - set(found))]
    assert not new, "findings that disagree with the hand labels:\n" + "\n".join(new)
    assert not gone, "fixed, so remove from tests/truth/_known.yaml:\n" + "\n".join(gone)


def test_error_rules_are_precise_on_the_labelled_set(corpus, catalog):
    found = {lf.name: _findings(corpus, lf.name, catalog) for lf in LABELLED}
    scores = score(LABELLED, found, RULES_IN_SCOPE)
    errors = {r.id for r in catalog if r.severity == Severity.ERROR}
    measured = 0
    for rule, sc in scores.items():
        if rule in errors and sc.precision is not None:
            measured += 1
            assert sc.precision >= MIN_PRECISION, f"{rule}: precision {sc.precision:.0%} on the labelled set"
    assert measured >= 4  # HA101, HA103, HA107, HA140 at least have findings to judge
