"""`check` options for CI and pre-commit: --changed-since REF and --skip-non-flows."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, run_cli

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def _flow(topic: str, nid: str = "m1") -> list[dict]:
    return [
        {"id": "t1", "type": "tab", "label": "Ingest"},
        {"id": "b1", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": ""},
        {"id": nid, "type": "mqtt in", "z": "t1", "name": "jobs", "topic": topic, "broker": "b1", "inputs": 0, "x": 100, "y": 40, "wires": [["act"]]},
        # a publish: what makes a plain subscription duplicated work (HA101)
        {"id": "act", "type": "mqtt out", "z": "t1", "name": "done", "topic": "jobs/done", "broker": "b1", "x": 300, "y": 40, "wires": []},
    ]


def _write(p: Path, doc) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2), "utf-8")
    return p


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def _files(proc) -> list[str]:
    assert "Traceback" not in proc.err, proc.err
    return [f["file"] for f in json.loads(proc.out)["files"]]


# --- --skip-non-flows -------------------------------------------------------------------------


def test_skip_non_flows_drops_json_that_is_not_a_flow(tmp_path):
    _write(tmp_path / "package.json", {"name": "x", "dependencies": {"node-red": "4"}})
    _write(tmp_path / "tsconfig.json", [1, 2])
    _write(tmp_path / "flows.json", _flow("$share/g/jobs/#"))
    plain = run_cli("check", "package.json", "tsconfig.json", "flows.json", "-f", "json", cwd=tmp_path)
    assert plain.returncode == 1
    assert {f["rule"] for f in json.loads(plain.out)["findings"]} == {"HC002"}
    skipped = run_cli("check", "package.json", "tsconfig.json", "flows.json", "--skip-non-flows", "-f", "json", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.out
    assert _files(skipped) == ["flows.json"]
    assert json.loads(skipped.out)["findings"] == []


def test_skip_non_flows_still_reports_broken_and_partly_broken_flows(tmp_path):
    _write(tmp_path / "flows.json", '[{"id": "a", "type": "tab"},')  # truncated: HC001
    _write(tmp_path / "flows_b.json", [{"id": "t", "type": "tab"}, 42])  # one element is no node: HC002
    proc = run_cli("check", "flows.json", "flows_b.json", "--skip-non-flows", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 1
    assert sorted((f["file"], f["rule"]) for f in json.loads(proc.out)["findings"]) == [("flows.json", "HC001"), ("flows_b.json", "HC002")]


def test_skip_non_flows_with_only_non_flows_passes_quietly(tmp_path):
    _write(tmp_path / "package.json", {"name": "x"})
    proc = run_cli("check", "package.json", "--skip-non-flows", "-q", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.out == "" and proc.err == ""


# --- --changed-since --------------------------------------------------------------------------


@pytest.fixture
def flows_repo(tmp_path) -> Path:
    """A git repository with three committed flows, then: one edited, one new, one untouched."""
    root = tmp_path / "flows-repo"
    for name in ("a/flows.json", "b/flows.json", "c/flows.json"):
        _write(root / name, _flow("$share/g/jobs/#"))
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "first")
    _write(root / "a" / "flows.json", _flow("plain/#"))  # edited, not staged
    _write(root / "d" / "flows.json", _flow("new/#"))  # untracked
    _write(root / ".gitignore", "ignored/\n")
    _write(root / "ignored" / "flows.json", _flow("ignored/#"))  # ignored: never "changed"
    return root


def test_changed_since_checks_edited_and_untracked_flows_only(flows_repo):
    proc = run_cli("check", ".", "--changed-since", "HEAD", "-f", "json", cwd=flows_repo)
    assert _files(proc) == ["a/flows.json", "d/flows.json"]
    assert proc.returncode == 1 and proc.err == ""


def test_changed_since_sees_committed_changes_and_takes_sub_paths(flows_repo):
    _git(flows_repo, "add", "-A")
    _git(flows_repo, "commit", "-q", "-m", "second")
    _write(flows_repo / "b" / "flows.json", _flow("$share/h/jobs/#"))
    assert _files(run_cli("check", ".", "--changed-since", "HEAD~1", "-f", "json", cwd=flows_repo)) == ["a/flows.json", "b/flows.json", "d/flows.json"]
    assert _files(run_cli("check", ".", "--changed-since", "HEAD", "-f", "json", cwd=flows_repo)) == ["b/flows.json"]
    assert _files(run_cli("check", "a", "c", "--changed-since", "HEAD~1", "-f", "json", cwd=flows_repo)) == ["a/flows.json"]
    assert _files(run_cli("check", "flows.json", "--changed-since", "HEAD", "-f", "json", cwd=flows_repo / "b")) == ["flows.json"]


def test_changed_since_with_nothing_changed_passes(flows_repo):
    _git(flows_repo, "add", "-A")
    _git(flows_repo, "commit", "-q", "-m", "second")
    proc = run_cli("check", ".", "--changed-since", "HEAD", cwd=flows_repo)
    assert proc.returncode == 0, proc.out
    assert "0 files checked" in proc.out


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=/tmp/x", ""])
def test_changed_since_an_unknown_ref_is_a_usage_error(flows_repo, ref):
    proc = run_cli("check", ".", "--changed-since", ref, cwd=flows_repo)
    assert proc.returncode == 2
    assert_clean_error(proc, "--changed-since")
    assert len(proc.err.strip().splitlines()) == 1


def test_changed_since_outside_a_git_repository_checks_everything_with_a_note(tmp_path):
    _write(tmp_path / "x" / "flows.json", _flow("plain/#"))
    _write(tmp_path / "y" / "flows.json", _flow("$share/g/a"))
    if any((p / ".git").exists() for p in [tmp_path, *tmp_path.parents]):
        pytest.fail(f"{tmp_path} is inside a git working tree; the test needs a folder outside one")
    proc = run_cli("check", ".", "--changed-since", "main", "-f", "json", cwd=tmp_path)
    assert _files(proc) == ["x/flows.json", "y/flows.json"]
    assert "hacheck: note: --changed-since:" in proc.err and "not in a git working tree" in proc.err
    assert proc.returncode == 1


def test_changed_since_without_git_checks_everything_with_a_note(flows_repo, tmp_path):
    empty_path = tmp_path / "no-git-here"
    empty_path.mkdir()
    proc = run_cli("check", ".", "--changed-since", "HEAD", "-f", "json", cwd=flows_repo, env={"PATH": str(empty_path)})
    assert _files(proc) == ["a/flows.json", "b/flows.json", "c/flows.json", "d/flows.json", "ignored/flows.json"]
    assert "git is not installed" in proc.err
