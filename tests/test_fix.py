"""`hacheck fix`: minimal diffs in every file style, idempotent, and only what was intended."""

from __future__ import annotations

import json
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hacheck.engine.catalog import load_catalog
from hacheck.model.config import Config
from hacheck.engine.check import check_flow
from hacheck.commands.fix import FIXERS, fix_text
from hacheck.load.loader import parse_bytes
from tests.conftest import assert_clean_error, corpus_manifest, run_cli

RULES = load_catalog()
FIXABLE = {r.id for r in RULES if r.fixable}

UNREADY = [
    {"id": "t1", "type": "tab", "label": "Ingest Line", "disabled": False, "info": "ünïcode stays"},
    {"id": "b1", "type": "mqtt-broker", "name": "plant", "broker": "10.0.0.5", "port": "1883", "clientid": "line-7", "protocolVersion": "4"},
    {"id": "m1", "type": "mqtt in", "z": "t1", "name": "jobs", "topic": "plant/+/jobs", "qos": "1", "broker": "b1", "inputs": 0, "x": 100, "y": 40, "wires": [["d1"]]},
    {"id": "d1", "type": "mqtt out", "z": "t1", "name": "done", "topic": "plant/done", "broker": "b1", "x": 300, "y": 40, "wires": []},
]
# the same subscription, also feeding a moving average: sharing it would split the average
FEEDS_STATE = UNREADY + [
    {"id": "s1", "type": "smooth", "z": "t1", "name": "avg", "property": "payload", "action": "mean", "count": "10", "x": 300, "y": 100, "wires": [["d1"]]},
]
FEEDS_STATE[2] = {**UNREADY[2], "wires": [["d1", "s1"]]}


def _styles(doc):
    yield "compact", json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    yield "four-spaces", json.dumps(doc, indent=4, ensure_ascii=False) + "\n"
    yield "two-spaces", json.dumps(doc, indent=2, ensure_ascii=False)
    yield "crlf", (json.dumps(doc, indent=4, ensure_ascii=False) + "\n").replace("\n", "\r\n")
    yield "spaced", json.dumps(doc, ensure_ascii=False)


def _fix(text: str, unsafe=False, config=None):
    flow = parse_bytes("flows.json", text.encode())
    cfg = config or Config()
    return fix_text(flow, check_flow(flow, RULES, cfg), RULES, cfg, unsafe)


def _changed_lines(a: str, b: str) -> list[tuple[str, str]]:
    return [(x, y) for x, y in zip(a.splitlines(True), b.splitlines(True)) if x != y]


@pytest.mark.parametrize("name,text", list(_styles(UNREADY)), ids=[s[0] for s in _styles(UNREADY)])
def test_minimal_diff_in_every_style(name, text):
    new, edits = _fix(text)
    assert {(e.rule_id, e.field) for e in edits} == {("HA101", "topic"), ("HA103", "clientid")}
    # exactly the two values changed, nothing else: same length elsewhere, same line endings
    expected = text.replace('"plant/+/jobs"', '"$share/ingest-line/plant/+/jobs"').replace('"line-7"', '""')
    assert new == expected
    if "\n" in text:
        assert len(new.splitlines()) == len(text.splitlines())
        assert len(_changed_lines(text, new)) == 2
    assert new.endswith("\n") == text.endswith("\n")


def test_share_group_from_config():
    cfg = Config(share_group="workers")
    new, _ = _fix(json.dumps(UNREADY), config=cfg)
    assert '"$share/workers/plant/+/jobs"' in new


def test_fix_is_idempotent_and_recheck_is_clean():
    text = json.dumps(UNREADY, indent=4)
    once, _ = _fix(text)
    twice, edits = _fix(once)
    assert twice == once and edits == []
    flow = parse_bytes("flows.json", once.encode())
    after = {f.rule_id for f in check_flow(flow, RULES, Config())}
    before = {f.rule_id for f in check_flow(parse_bytes("flows.json", text.encode()), RULES, Config())}
    assert not (after & {"HA101", "HA103"})
    assert after <= before  # nothing new


@pytest.mark.parametrize(
    "wrap",
    [lambda f: {"rev": "abc123", "flows": f}, lambda f: {"id": "snap", "flows": {"flows": f, "credentials": {"$": "00ff"}}, "settings": {"env": {}}}],
    ids=["admin-api-v2", "flowfuse-snapshot"],
)
def test_wrapped_shapes_are_fixed_in_place(wrap):
    doc = wrap(UNREADY)
    text = json.dumps(doc, indent=2)
    new, edits = _fix(text)
    assert len(edits) == 2
    out = json.loads(new)
    inner = out["flows"] if isinstance(out["flows"], list) else out["flows"]["flows"]
    assert inner[2]["topic"] == "$share/ingest-line/plant/+/jobs"
    # everything around the flows is untouched
    assert {k: v for k, v in out.items() if k != "flows"} == {k: v for k, v in doc.items() if k != "flows"}


def test_missing_field_is_added_in_the_file_style():
    from hacheck.commands.fix import FieldEdit, apply

    text = '[\n    {\n        "id": "a",\n        "type": "x"\n    }\n]\n'
    flow = parse_bytes("f.json", text.encode())
    new = apply(flow, [FieldEdit("a", "nl", False, "HA104")])
    assert new == '[\n    {\n        "id": "a",\n        "type": "x",\n        "nl": false\n    }\n]\n'
    compact = '[{"id":"a","type":"x"}]'
    assert apply(parse_bytes("f.json", compact.encode()), [FieldEdit("a", "nl", False, "HA104")]) == '[{"id":"a","type":"x","nl":false}]'


def test_suppressed_findings_are_not_fixed(tmp_path):
    doc = json.loads(json.dumps(UNREADY))
    doc[2]["info"] = "hacheck-disable HA101 -- every copy must see these (cache refresh)"
    f = tmp_path / "flows.json"
    f.write_text(json.dumps(doc, indent=4))
    proc = run_cli("fix", str(f))
    assert proc.returncode == 0, proc.err
    out = json.loads(f.read_text())
    assert out[2]["topic"] == "plant/+/jobs"  # the accepted finding is left alone
    assert out[1]["clientid"] == ""  # the other one is fixed


def test_sharing_a_no_local_subscription_also_turns_no_local_off():
    """Regression: sharing the topic alone would create an HA104 protocol error on MQTT v5."""
    doc = json.loads(json.dumps(UNREADY))
    doc[1]["protocolVersion"] = "5"
    doc[2]["nl"] = True
    new, edits = _fix(json.dumps(doc, indent=4))
    assert {(e.rule_id, e.field) for e in edits} >= {("HA101", "topic"), ("HA104", "nl")}
    again, more = _fix(new)
    assert more == [] and again == new
    flow = parse_bytes("flows.json", new.encode())
    assert not {f.rule_id for f in check_flow(flow, RULES, Config())} & {"HA101", "HA103", "HA104"}


def test_cli_fix_diff_check_and_write(tmp_path):
    f = tmp_path / "flows.json"
    original = json.dumps(UNREADY, indent=4) + "\n"
    f.write_text(original)
    os.chmod(f, 0o640)
    diff = run_cli("fix", str(f), "--diff")
    assert diff.returncode == 0 and '+        "topic": "$share/ingest-line/plant/+/jobs",' in diff.out
    assert f.read_text() == original  # --diff changes nothing
    chk = run_cli("fix", str(f), "--check")
    assert chk.returncode == 1 and f.read_text() == original
    done = run_cli("fix", str(f))
    assert done.returncode == 0, done.err
    assert "fixed 2 values in 1 file (HA101, HA103)" in done.out
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o640
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hacheck-fix-")]
    assert run_cli("fix", str(f), "--check").returncode == 0
    assert run_cli("check", str(f), "--select", "HA101,HA103").returncode == 0


def test_share_is_held_back_when_the_subscription_feeds_state():
    """ruff's fix safety: the $share/ fix is safe only when nothing per-copy is downstream."""
    notes: list[str] = []
    flow = parse_bytes("flows.json", json.dumps(FEEDS_STATE, indent=4).encode())
    findings = check_flow(flow, RULES, Config())
    (ha101,) = [f for f in findings if f.rule_id == "HA101"]
    assert "smooth 'avg'" in ha101.message and "would split" in ha101.message
    new, edits = fix_text(flow, findings, RULES, Config(), False, notes)
    assert {(e.rule_id, e.field) for e in edits} == {("HA103", "clientid")}
    assert notes == ["flows.json: HA101 on 'jobs' not fixed: sharing it would split smooth 'avg' between the copies (split the subscription, or fix with --unsafe-fixes)"]
    notes.clear()
    new, edits = fix_text(flow, findings, RULES, Config(), True, notes)
    assert ("HA101", "topic") in {(e.rule_id, e.field) for e in edits}
    assert notes == ["flows.json: HA101 on 'jobs' fixed although sharing it would split smooth 'avg' between the copies"]
    # and the split is then reported, as the note said
    after = check_flow(parse_bytes("flows.json", new.encode()), RULES, Config())
    assert [(f.rule_id, f.node_id) for f in after if f.rule_id == "HA201"] == [("HA201", "s1")]


def test_cli_names_the_state_a_held_back_fix_would_split(tmp_path):
    f = tmp_path / "flows.json"
    original = json.dumps(FEEDS_STATE, indent=4) + "\n"
    f.write_text(original)
    proc = run_cli("fix", str(f))
    assert proc.returncode == 0, proc.err
    assert "HA101 on 'jobs' not fixed: sharing it would split smooth 'avg'" in proc.err
    assert json.loads(f.read_text())[2]["topic"] == "plant/+/jobs"
    proc = run_cli("fix", str(f), "--unsafe-fixes")
    assert "fixed although sharing it would split smooth 'avg'" in proc.err
    assert json.loads(f.read_text())[2]["topic"].startswith("$share/")


def test_cli_fix_unreadable_file_is_reported_and_untouched(tmp_path):
    f = tmp_path / "flows.json"
    f.write_text('[{"id": "a",')
    proc = run_cli("fix", str(f))
    assert proc.returncode == 1
    assert_clean_error(proc, "not fixed", "not valid JSON")
    assert f.read_text() == '[{"id": "a",'


def test_every_fixable_rule_has_a_fixer():
    assert FIXABLE <= set(FIXERS)


# --- property tests over the real corpus ---------------------------------------------------

_CORPUS_FILES = [r["local_name"] for r in corpus_manifest() if not r["notes"].startswith("MALFORMED")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(_CORPUS_FILES),
    indent=st.sampled_from([None, 0, 1, 2, 4, "\t"]),
    crlf=st.booleans(),
    trailing_newline=st.booleans(),
)
def test_fix_properties_on_corpus(corpus, name, indent, crlf, trailing_newline):
    doc = json.loads((corpus / "files" / name).read_text("utf-8"))
    text = json.dumps(doc, indent=indent, ensure_ascii=False) + ("\n" if trailing_newline else "")
    if crlf:
        text = text.replace("\n", "\r\n")
    new, edits = _fix(text, unsafe=True)
    out = json.loads(new)  # valid JSON
    # only the intended fields changed
    edited = {(e.node_id, e.field): e.value for e in edits}
    for before, after in zip(doc, out):
        for key in set(before) | set(after):
            if (before.get("id"), key) in edited:
                assert after[key] == edited[(before["id"], key)]
            else:
                assert before.get(key) == after.get(key)
    assert len(out) == len(doc)
    assert new.endswith("\n") == text.endswith("\n") and (("\r\n" in new) == crlf or "\n" not in new)
    # idempotent, and the fixed findings are gone
    again, more = _fix(new, unsafe=True)
    assert again == new and more == []
    flow = parse_bytes(name, new.encode())
    fixed_rules = {e.rule_id for e in edits}
    left = [f for f in check_flow(flow, RULES, Config()) if f.rule_id in fixed_rules and f.node_id in {e.node_id for e in edits}]
    assert left == []


# --- safe fixes never add a finding (issue 30) -------------------------------------------------

_BOTH = [("corpus", r["local_name"]) for r in corpus_manifest() if not r["notes"].startswith("MALFORMED")] + [
    ("corpus2", r["local_name"]) for r in corpus_manifest("corpus2") if not r["notes"].startswith("MALFORMED")
]


@pytest.mark.parametrize("which,name", _BOTH, ids=[n.split("__")[0] for _, n in _BOTH])
def test_safe_fixes_only_remove_findings(which, name, request):
    """Over every flow of both corpora: the findings after `hacheck fix` (safe fixes only) are
    among those before, less the ones fixed; the fix held back where it would add one."""
    from hacheck.commands.fix import fix_sources
    from hacheck.load.loader import Source

    path = request.getfixturevalue(which) / "files" / name
    (ff,) = fix_sources([Source(name, str(path))], Config(), RULES)
    if ff.error or not ff.edits:
        return
    before = {(f.rule_id, f.node_id, f.detail) for f in check_flow(parse_bytes(name, ff.old.encode()), RULES, Config())}
    fixed = {(e.rule_id, e.node_id) for e in ff.edits}
    after = {(f.rule_id, f.node_id, f.detail) for f in check_flow(parse_bytes(name, ff.new.encode()), RULES, Config())}
    added = after - before
    assert not added, f"safe fixes added findings: {sorted(added)[:5]}"
    assert not {(r, n) for r, n, _ in after} & fixed, "a fixed finding is still there"


def test_a_share_that_would_split_a_local_file_is_held_back(tmp_path):
    from hacheck.commands.fix import fix_sources
    from hacheck.load.loader import Source

    flow = [
        {"id": "t", "type": "tab"}, {"id": "b", "type": "mqtt-broker", "broker": "broker.example", "clientid": ""},
        {"id": "m", "type": "mqtt in", "z": "t", "topic": "plant/log", "broker": "b", "x": 1, "y": 1, "wires": [["w", "o"]]},
        {"id": "o", "type": "mqtt out", "z": "t", "topic": "plant/seen", "broker": "b", "x": 1, "y": 1, "wires": []},
        {"id": "w", "type": "file", "z": "t", "filename": "/data/log.txt", "overwriteFile": "false", "x": 1, "y": 1, "wires": [[]]},
    ]
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(flow))
    (ff,) = fix_sources([Source("flows.json", str(path))], Config(), RULES)
    assert ff.edits == [] and ff.new == ff.old
    assert any("HA101" in n and "HA204" in n for n in ff.notes), ff.notes
    (forced,) = fix_sources([Source("flows.json", str(path))], Config(), RULES, unsafe=True)
    assert [e.rule_id for e in forced.edits] == ["HA101"]
