"""The baseline: write, match (also after nodes move), fail on what is new, shrink."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from hacheck.config import baseline
from hacheck.commands.cli import cli
from hacheck.model.config import Config
from hacheck.model.findings import Finding, Severity
from hacheck.run.runner import FileResult, RunResult

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "hacheck" / "schemas" / "baseline.schema.json").read_text())

TAB = {"id": "t", "type": "tab", "label": "Ingest"}
BROKER = {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": ""}


def mqtt(id: str, x: int = 100, y: int = 40, dynamic: bool = False) -> dict:
    """HA101 (plain topic) or HA102 (dynamic): wired to ACT, so the messages reach an action."""
    return {"id": id, "type": "mqtt in", "z": "t", "name": id, "topic": "" if dynamic else f"{id}/#", "broker": "b", "inputs": 1 if dynamic else 0, "x": x, "y": y, "wires": [["act"]]}


def act(x: int = 500, y: int = 40) -> dict:
    """An MQTT publish: the outbound effect the subscriptions reach."""
    return {"id": "act", "type": "mqtt out", "z": "t", "name": "command", "topic": "plant/cmd", "broker": "b", "x": x, "y": y, "wires": []}


def dangling(id: str, x: int = 300, y: int = 40) -> dict:
    """HC004: a wire to a node that is not in the file (path /wires[0], detail names the target)."""
    return {"id": id, "type": "change", "z": "t", "name": id, "rules": [], "x": x, "y": y, "wires": [["elsewhere"]]}


FLOW = [TAB, BROKER, mqtt("m1"), mqtt("m2", y=80), mqtt("dyn", y=120, dynamic=True), dangling("c"), act()]
SELECT = ["--select", "HA101,HA102"]  # and the HC rules, which always run


pytestmark = pytest.mark.usefixtures("own_cache")


def invoke(*args: str):
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in r.output
    return r


def write(path: Path, nodes, indent=1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nodes, indent=indent), "utf-8")


def check_json(*args: str) -> tuple[int, dict]:
    r = invoke("check", "-f", "json", *SELECT, *args)
    return r.exit_code, json.loads(r.stdout)


def unsuppressed(doc: dict) -> set[tuple]:
    return {(f["rule"], f["node"]) for f in doc["findings"] if f["suppressed"] is None}


def make_baseline(*paths: str, out: str = ".hacheck-baseline.json") -> dict:
    (Path.cwd() / ".hacheck.yaml").write_text("select: [HA101, HA102]\n")  # `baseline` reads the config
    r = invoke("baseline", "-o", out, *paths)
    assert r.exit_code == 0, r.output
    return json.loads(Path(out).read_text("utf-8"))


def test_round_trip_accepts_every_current_finding(repo):
    write(repo / "flows.json", FLOW)
    code, before = check_json(".")
    assert code == 1 and unsuppressed(before) == {("HA101", "m1"), ("HA101", "m2"), ("HA102", "dyn"), ("HC004", "c")}
    doc = make_baseline(".")
    jsonschema.validate(doc, SCHEMA)
    assert doc["version"] == 1 and len(doc["findings"]) == 4
    code, after = check_json("--baseline", ".hacheck-baseline.json", ".")
    assert code == 0 and unsuppressed(after) == set()
    assert {f["suppressed"]["kind"] for f in after["findings"]} == {"baseline"}
    assert {f["suppressed"]["source"] for f in after["findings"]} == {".hacheck-baseline.json"}
    assert after["summary"]["suppressed"] == 4 and after["notes"] == []
    text = invoke("check", *SELECT, "--baseline", ".hacheck-baseline.json", ".")
    assert text.exit_code == 0 and "(4 suppressed)" in text.stdout


def test_baseline_file_is_sorted_stable_and_free_of_line_numbers(repo):
    write(repo / "b" / "flows.json", FLOW)
    write(repo / "a" / "flows.json", list(reversed(FLOW)))
    first = (make_baseline("b", "a"), Path(".hacheck-baseline.json").read_bytes())
    second = (make_baseline("a", "b"), Path(".hacheck-baseline.json").read_bytes())
    assert first[1] == second[1]  # same bytes whatever the order of paths and nodes
    entries = first[0]["findings"]
    keys = [(e["file"], e["rule"], e["node"] or "") for e in entries]
    assert keys == sorted(keys) and keys[0][0] == "a/flows.json"
    assert all(set(e) <= {"rule", "name", "file", "node", "node_name", "message", "fingerprint"} for e in entries)
    m1 = next(e for e in entries if e["node"] == "m1")
    assert m1["name"] == "mqtt-subscription-not-shared" and m1["node_name"] == "m1" and "m1/#" in m1["message"]


def test_a_moved_node_still_matches_its_entry(repo):
    write(repo / "flows.json", FLOW)
    make_baseline(".")
    _, before = check_json(".")
    # the editor moved nodes on the canvas and re-exported: other order, other x/y, other layout
    moved = [dangling("c", x=900, y=700), mqtt("dyn", x=5, y=5, dynamic=True), BROKER, mqtt("m2", x=640, y=480), act(x=800, y=20), TAB, mqtt("m1", x=20, y=300)]
    write(repo / "flows.json", moved, indent=4)
    code, after = check_json("--baseline", ".hacheck-baseline.json", ".")
    line = {f["node"]: f["line"] for f in before["findings"]}
    assert {f["node"]: f["line"] for f in after["findings"]} != line  # they really moved
    assert code == 0 and unsuppressed(after) == set() and after["notes"] == []


def test_a_new_finding_fails_the_run(repo):
    write(repo / "flows.json", FLOW)
    make_baseline(".")
    write(repo / "flows.json", FLOW + [mqtt("m3", y=200)])
    code, doc = check_json("--baseline", ".hacheck-baseline.json", ".")
    assert code == 1
    assert unsuppressed(doc) == {("HA101", "m3")}
    text = invoke("check", *SELECT, "--baseline", ".hacheck-baseline.json", ".")
    assert "m3" in text.stdout and "m1" not in text.stdout.split("checked:")[0]


def test_a_changed_finding_is_new(repo):
    # same node, different problem detail (the wire now points somewhere else missing)
    write(repo / "flows.json", FLOW)
    make_baseline(".")
    changed = [n if n.get("id") != "c" else {**n, "wires": [["another-missing"]]} for n in FLOW]
    write(repo / "flows.json", changed)
    code, doc = check_json("--baseline", ".hacheck-baseline.json", ".")
    assert code == 1 and unsuppressed(doc) == {("HC004", "c")}


def test_entries_that_no_longer_occur_are_reported_and_the_baseline_shrinks(repo):
    write(repo / "flows.json", FLOW)
    make_baseline(".")
    fixed = [n if n.get("id") != "m2" else {**n, "topic": "$share/workers/m2/#"} for n in FLOW]
    write(repo / "flows.json", fixed)
    code, doc = check_json("--baseline", ".hacheck-baseline.json", ".")
    assert code == 0
    assert doc["notes"][0].startswith("baseline .hacheck-baseline.json: 1 entry no longer occurs")
    assert doc["notes"][1].startswith("  HA101 flows.json node m2: 'm2' subscribes to 'm2/#'")
    text = invoke("check", *SELECT, "--baseline", ".hacheck-baseline.json", ".")
    assert "1 entry no longer occurs" in text.stdout
    assert len(make_baseline(".")["findings"]) == 3
    _, doc = check_json("--baseline", ".hacheck-baseline.json", ".")
    assert doc["notes"] == []


def test_entries_for_files_or_rules_outside_this_run_are_not_called_gone(repo):
    write(repo / "a" / "flows.json", FLOW)
    write(repo / "b" / "flows.json", FLOW)
    make_baseline(".")
    code, doc = check_json("--baseline", ".hacheck-baseline.json", "a")  # pre-commit passes a few files
    assert code == 0 and doc["notes"] == []
    r = invoke("check", "-f", "json", "--select", "HA102", "--baseline", ".hacheck-baseline.json", ".")
    assert r.exit_code == 0 and json.loads(r.stdout)["notes"] == []


def test_baseline_paths_are_relative_to_the_baseline_file(repo, monkeypatch):
    write(repo / "flows" / "flows.json", FLOW)
    doc = make_baseline("flows")
    assert {e["file"] for e in doc["findings"]} == {"flows/flows.json"}
    monkeypatch.chdir(repo / "flows")
    code, after = check_json("--baseline", "../.hacheck-baseline.json", ".")
    assert code == 0 and unsuppressed(after) == set()


def test_unreadable_files_are_never_baselined(repo):
    write(repo / "flows.json", FLOW)
    (repo / "flows_broken.json").write_text("[{", "utf-8")
    (repo / ".hacheck.yaml").write_text("select: [HA101, HA102]\n")
    r = invoke("baseline", ".")
    assert r.exit_code == 0 and "cannot be baselined" in r.stderr and "flows_broken.json" in r.stderr
    doc = json.loads(Path(".hacheck-baseline.json").read_text())
    assert "HC001" not in {e["rule"] for e in doc["findings"]}
    code, after = check_json("--baseline", ".hacheck-baseline.json", ".")
    assert code == 1 and unsuppressed(after) == {("HC001", None)}


def test_inline_suppressed_findings_stay_out_of_the_baseline(repo):
    flow = [n if n.get("id") != "m1" else {**n, "info": "hacheck-disable HA101 -- broadcast"} for n in FLOW]
    write(repo / "flows.json", flow)
    doc = make_baseline(".")
    assert "m1" not in {e["node"] for e in doc["findings"]}


def test_a_second_copy_of_an_accepted_finding_is_new():
    def finding(msg: str) -> Finding:
        return Finding("HA101", "x", Severity.ERROR, msg, "flows.json", node_id="m1")

    one = RunResult([FileResult("flows.json", "array", 1, [finding("a")])], [], Config())
    text = baseline.dumps(one, ".hacheck-baseline.json")
    two = RunResult([FileResult("flows.json", "array", 1, [finding("a"), finding("b")])], [], Config())
    baseline.apply(two, baseline.Baseline(".hacheck-baseline.json", json.loads(text)["findings"]))
    assert [f.suppressed is not None for f in two.findings] == [True, False]


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "nope.json: baseline file not found (write one with `hacheck baseline`)"),
        ("{", "b.json:1: not valid JSON"),
        ('{"version": 2, "findings": []}', "b.json: version: 2 is not a version this hacheck reads (it reads 1)"),
        ('{"version": 1}', "b.json: (top level): 'findings' is missing"),
        ('{"version": 1, "findings": [], "extra": 1}', "b.json: (top level): unknown key 'extra'"),
        ('{"version": 1, "findings": [{"rule": "HA101", "file": "f", "fingerprint": "xyz"}]}', "b.json: findings[0].fingerprint: \"xyz\" is not allowed; expected 32 lowercase hex digits"),
        ('[]', "b.json: (top level)"),
    ],
)
def test_bad_baseline_is_exit_2(repo, content, message):
    write(repo / "flows.json", FLOW)
    name = "nope.json" if content is None else "b.json"
    if content is not None:
        (repo / name).write_text(content)
    r = invoke("check", "--baseline", name, ".")
    assert r.exit_code == 2 and message in r.stderr, r.stderr


def test_baseline_output_folder_must_exist(repo):
    write(repo / "flows.json", FLOW)
    r = invoke("baseline", "-o", "missing/dir/b.json", ".")
    assert r.exit_code == 2 and "cannot write" in r.stderr
