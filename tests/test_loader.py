"""Loading every shape a user has, and answering every bad input with a clear result."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hacheck.load.loader import Source, UsageError, discover, parse_bytes, read_source
from tests.conftest import assert_clean_error, corpus_manifest, run_cli

TAB = {"id": "t1", "type": "tab", "label": "Main"}
INJ = {"id": "n1", "type": "inject", "z": "t1", "x": 100, "y": 40, "wires": [["n2"]]}
DBG = {"id": "n2", "type": "debug", "z": "t1", "x": 300, "y": 40, "wires": []}
FLOW = [TAB, INJ, DBG]


def _ids(ff):
    return [n.id for n in ff.nodes]


@pytest.mark.parametrize(
    "doc,shape",
    [
        (FLOW, "array"),
        ({"rev": "abc", "flows": FLOW}, "admin-api-v2"),
        ({"flows": FLOW}, "admin-api-v2"),
        ({"id": "s1", "name": "snap", "flows": {"flows": FLOW, "credentials": {"$": "00"}}, "settings": {"settings": {}, "env": {}}}, "flowfuse-snapshot"),
    ],
)
def test_every_shape_loads(doc, shape):
    ff = parse_bytes("f.json", json.dumps(doc, indent=4).encode())
    assert ff.shape == shape
    assert _ids(ff) == ["t1", "n1", "n2"]
    assert not ff.problems


def test_node_lines_are_where_each_node_starts():
    text = '[\n  {"id": "t1", "type": "tab"},\n\n  {"id": "n1",\n   "type": "debug", "z": "t1", "wires": []}\n]\n'
    ff = parse_bytes("f.json", text.encode())
    assert [n.line for n in ff.nodes] == [2, 4]
    wrapped = '{"rev": "x",\n "flows": [\n {"id": "a", "type": "tab"},\n {"id": "b", "type": "tab"}]}'
    assert [n.line for n in parse_bytes("f.json", wrapped.encode()).nodes] == [3, 4]


def test_bom_is_accepted():
    ff = parse_bytes("f.json", b"\xef\xbb\xbf" + json.dumps(FLOW).encode())
    assert _ids(ff) == ["t1", "n1", "n2"] and not ff.problems


def test_directory_finds_flow_files_and_skips_credentials_backups_and_node_modules(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "flows.json").write_text(json.dumps(FLOW))
    (tmp_path / "a" / "flows_cred.json").write_text('{"$": "00"}')
    (tmp_path / "a" / ".flows.json.backup").write_text(json.dumps(FLOW))
    (tmp_path / "a" / "settings.json").write_text("{}")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "flows.json").write_text(json.dumps(FLOW))
    # a Node-RED project names its flow file in package.json
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "package.json").write_text(json.dumps({"name": "p", "node-red": {"settings": {"flowFile": "main.json"}}}))
    (proj / "main.json").write_text(json.dumps(FLOW))
    (proj / "flows_other.json").write_text(json.dumps(FLOW))
    found = sorted(Path(s.fs_path).relative_to(tmp_path).as_posix() for s in discover([str(tmp_path)]))
    assert found == ["a/flows.json", "proj/main.json"]


def test_directory_with_a_symlink_loop_terminates(tmp_path):
    (tmp_path / "flows.json").write_text(json.dumps(FLOW))
    os.symlink(tmp_path, tmp_path / "loop")
    assert [Path(s.fs_path).name for s in discover([str(tmp_path)])] == ["flows.json"]


def test_stdin_is_read(tmp_path):
    proc = run_cli("check", "-", "--format", "json", input=json.dumps(FLOW).encode())
    assert proc.returncode == 0, proc.err
    doc = json.loads(proc.out)
    assert doc["summary"]["files"] == 1 and doc["findings"] == []


# --- bad input: exit code and one clear line, never a traceback ---------------------------

BAD = [
    # name, bytes, exit code, rule id, fragment of the message
    ("truncated", b'[{"id": "a", "type": "tab"', 1, "HC001", "not valid JSON"),
    ("object-not-a-flow", b'{"name": "x", "version": "1"}', 1, "HC002", "not a Node-RED flow"),
    ("numbers", b"[1, 2, 3]", 1, "HC002", "no element is a node"),
    ("credentials-file", b'{"$": "6f2d1c9a7e"}', 1, "HC002", "credentials file"),
    ("invalid-utf8", b'[{"id": "a", "type": "tab", "label": "\xff\xfe"}]', 1, "HC001", "not UTF-8"),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000, 1, "HC001", "nesting too deep"),
    ("duplicate-ids", json.dumps([TAB, INJ, {**DBG, "id": "n1"}]).encode(), 1, "HC003", "share the id n1"),
    ("wire-to-missing", json.dumps([TAB, {**INJ, "wires": [["ghost"]]}]).encode(), 1, "HC004", "'ghost'"),
    ("empty-file", b"\n", 1, "HC001", "empty"),
    ("a-string", b'"hello"', 1, "HC002", "JSON string"),
]


@pytest.mark.parametrize("name,data,code,rule,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_input_table(tmp_path, name, data, code, rule, fragment):
    f = tmp_path / f"{name}.json"
    f.write_bytes(data)
    proc = run_cli("check", str(f))
    assert proc.returncode == code, proc.out + proc.err
    assert_clean_error(proc, rule, fragment)
    findings = json.loads(run_cli("check", str(f), "--format", "json").out)["findings"]
    assert rule in {x["rule"] for x in findings}
    # the message names the file
    assert all(x["file"].endswith(f"{name}.json") for x in findings)


def test_empty_array_is_clean(tmp_path):
    f = tmp_path / "flows.json"
    f.write_text("[]")
    proc = run_cli("check", str(f))
    assert proc.returncode == 0, proc.out + proc.err
    assert "1 file checked" in proc.out


def test_directory_without_flows_is_a_usage_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    proc = run_cli("check", str(tmp_path))
    assert proc.returncode == 2
    assert_clean_error(proc, "no flow files found")
    assert len(proc.err.strip().splitlines()) == 1


def test_missing_path_is_a_usage_error(tmp_path):
    proc = run_cli("check", str(tmp_path / "nope.json"))
    assert proc.returncode == 2
    assert_clean_error(proc, "nope.json", "no such file")


def test_fifo_named_on_the_command_line_does_not_hang(tmp_path):
    fifo = tmp_path / "flows.json"
    os.mkfifo(fifo)
    proc = run_cli("check", str(fifo), timeout=30)
    assert proc.returncode == 1
    assert_clean_error(proc, "HC001", "not a regular file")


def test_device_path_is_reported_not_read():
    proc = run_cli("check", "/dev/zero", timeout=30)
    assert proc.returncode == 1
    assert_clean_error(proc, "HC001", "not a regular file")


def test_unreadable_file_permission_denied_double(tmp_path, monkeypatch):
    """Test double: the suite runs as root, for whom chmod 000 does not stop reading, so
    the permission error is injected at os.open."""
    f = tmp_path / "flows.json"
    f.write_text(json.dumps(FLOW))
    real_open = os.open

    def denied(path, flags, *a, **kw):
        if str(path) == str(f):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", denied)
    ff = read_source(Source("flows.json", str(f)))
    assert ff.shape == "unreadable"
    assert [p.rule for p in ff.problems] == ["HC001"]
    assert "Permission denied" in ff.problems[0].message


def test_missing_path_raises_usage_error_in_the_api(tmp_path):
    with pytest.raises(UsageError):
        discover([str(tmp_path / "nope")])


# --- the real corpus ----------------------------------------------------------------------


@pytest.mark.parametrize("row", corpus_manifest(), ids=lambda r: r["local_name"][:40])
def test_every_corpus_flow_loads(corpus, row):
    f = corpus / "files" / row["local_name"]
    ff = read_source(Source(row["local_name"], str(f)))
    structural = [p.rule for p in ff.problems if p.rule in ("HC001", "HC002")]
    if row["notes"].startswith("MALFORMED"):
        assert structural == ["HC001"], ff.problems
    else:
        assert structural == [], [p.message for p in ff.problems]
        assert len(ff.nodes) == int(row["n_nodes"])
