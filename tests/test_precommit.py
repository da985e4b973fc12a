"""The pre-commit hook, run by the real `pre-commit` in a throwaway git repository.

pre-commit installs the hook from a git repository at a commit, so the current working tree
(committed or not) is copied into a temporary repository and committed there; the flows
repository's `.pre-commit-config.yaml` points at that copy. pre-commit builds the hook's
environment with pip once per module (PRE_COMMIT_HOME is shared), from this repository and
hacheck's dependencies; no Node-RED and no network beyond the package index are needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

GIT_ENV = {
    "GIT_AUTHOR_NAME": "hacheck tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "hacheck tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}
SKIP_IN_COPY = {".git", ".cache", ".pytest_cache", ".benchmarks", "__pycache__", "node_modules", "build", "dist"}

BROKER = {"id": "b1", "type": "mqtt-broker", "name": "broker", "broker": "mqtt.example.internal", "port": "1883", "clientid": ""}
TAB = {"id": "t1", "type": "tab", "label": "Ingest"}


def _mqtt_in(topic: str) -> dict:
    return {"id": "m1", "type": "mqtt in", "z": "t1", "name": "jobs", "topic": topic, "qos": "1", "broker": "b1", "inputs": 0, "x": 120, "y": 40, "wires": [["d1", "act"]]}


DEBUG = {"id": "d1", "type": "debug", "z": "t1", "x": 300, "y": 40, "wires": []}
ACT = {"id": "act", "type": "mqtt out", "z": "t1", "name": "command", "topic": "plant/cmd", "broker": "b1", "x": 300, "y": 100, "wires": []}  # an action
UNREADY = [TAB, BROKER, _mqtt_in("jobs/#"), DEBUG, ACT]  # plain subscription reaching a publish: HA101
READY = [TAB, BROKER, _mqtt_in("$share/workers/jobs/#"), DEBUG, ACT]


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        timeout=120,
    )
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout.strip()


def _pre_commit_exe() -> list[str]:
    beside = Path(sys.executable).parent / "pre-commit"
    exe = str(beside) if beside.exists() else shutil.which("pre-commit")
    if exe is None:
        pytest.fail("pre-commit is not installed: pip install -e '.[test]' (it is in the test extra)", pytrace=False)
    return [exe]


def _working_tree_files() -> list[str]:
    """What a commit of the working tree would hold: tracked and untracked, not ignored."""
    out = _git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    names = [n for n in out.split("\0") if n]
    return [n for n in names if not (set(Path(n).parts) & SKIP_IN_COPY) and (REPO / n).is_file()]


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> tuple[Path, str]:
    """A git repository holding a copy of the current working tree, committed: (path, sha)."""
    repo = tmp_path_factory.mktemp("hacheck-hook-repo")
    for name in _working_tree_files():
        dest = repo / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest)
    assert (repo / ".pre-commit-hooks.yaml").is_file()
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "hacheck under test")
    return repo, _git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")  # the hook's venv is built once here


def _flows_repo(root: Path, hook_repo, files: dict[str, object], hook: str = "hacheck") -> Path:
    repo_path, sha = hook_repo
    root.mkdir()
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {json.dumps(str(repo_path))}\n    rev: {sha}\n    hooks:\n      - id: {hook}\n", "utf-8"
    )
    for name, content in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content if isinstance(content, str) else json.dumps(content, indent=4), "utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")  # pre-commit --all-files checks the files git knows
    return root


def _run(root: Path, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "NO_COLOR", "PRE_COMMIT")}
    env.update(GIT_ENV, PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never")
    proc = subprocess.run(
        [*_pre_commit_exe(), "run", "--all-files", "--color", "never"],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,  # the first run builds the hook's venv with pip
    )
    proc.out = proc.stdout + proc.stderr  # type: ignore[attr-defined]
    return proc


def test_fails_on_an_ha_unready_flow_and_shows_the_findings(tmp_path, hook_repo, pre_commit_home):
    root = _flows_repo(tmp_path / "flows", hook_repo, {"flows.json": UNREADY, "package.json": {"name": "my-flows", "node-red": {"settings": {"flowFile": "flows.json"}}}})
    proc = _run(root, pre_commit_home)
    assert proc.returncode == 1, proc.out
    assert "hacheck (Node-RED HA readiness)" in proc.out and "Failed" in proc.out, proc.out
    assert "HA101" in proc.out and "mqtt-subscription-not-shared" in proc.out, proc.out
    assert "flows.json" in proc.out and "'jobs'" in proc.out, proc.out
    assert "HC002" not in proc.out and "Traceback" not in proc.out, proc.out


def test_passes_on_an_ha_ready_flow(tmp_path, hook_repo, pre_commit_home):
    root = _flows_repo(tmp_path / "flows", hook_repo, {"flows.json": READY})
    proc = _run(root, pre_commit_home)
    assert proc.returncode == 0, proc.out
    assert "Passed" in proc.out and "Failed" not in proc.out, proc.out


def test_passes_with_no_flow_files(tmp_path, hook_repo, pre_commit_home):
    root = _flows_repo(tmp_path / "flows", hook_repo, {"README.md": "# nothing to lint\n", "run.sh": "echo hi\n"})
    proc = _run(root, pre_commit_home)
    assert proc.returncode == 0, proc.out
    assert "no files to check" in proc.out, proc.out


def test_skips_json_that_is_not_a_flow_and_never_reads_credentials_or_backups(tmp_path, hook_repo, pre_commit_home):
    root = _flows_repo(
        tmp_path / "flows",
        hook_repo,
        {
            "package.json": {"name": "my-flows", "version": "1.0.0", "dependencies": {"node-red": "4.1.15"}},
            ".vscode/settings.json": {"editor.tabSize": 4},
            "config/targets.json": [1, 2, 3],
            "flows_cred.json": {"$": "6c2b4e1f0a9d8c7b6a5f4e3d2c1b0a99Zm9vYmFy"},
            ".flows.json.backup": UNREADY,
            "flows.json": READY,
        },
    )
    proc = _run(root, pre_commit_home)
    assert proc.returncode == 0, proc.out
    assert "Passed" in proc.out, proc.out
    for unwanted in ("HC002", "HC001", "not a Node-RED flow", "HA101", "Zm9vYmFy"):
        assert unwanted not in proc.out, proc.out


def test_fix_hook_repairs_the_flow_then_passes(tmp_path, hook_repo, pre_commit_home):
    root = _flows_repo(
        tmp_path / "flows",
        hook_repo,
        {"flows.json": UNREADY, "package.json": {"name": "my-flows"}, "flows_cred.json": {"$": "00ff"}},
        hook="hacheck-fix",
    )
    first = _run(root, pre_commit_home)
    assert first.returncode == 1, first.out
    assert "files were modified by this hook" in first.out, first.out
    fixed = json.loads((root / "flows.json").read_text("utf-8"))
    (topic,) = [n["topic"] for n in fixed if n["type"] == "mqtt in"]
    share, group, rest = topic.split("/", 2)
    assert (share, rest) == ("$share", "jobs/#") and group and not set(group) & set("+#"), topic
    assert json.loads((root / "package.json").read_text("utf-8")) == {"name": "my-flows"}  # never passed to the fixer
    _git(root, "add", "-A")
    second = _run(root, pre_commit_home)
    assert second.returncode == 0, second.out
    assert "Passed" in second.out, second.out


@pytest.mark.parametrize("page", ["README.md", "docs/ci.md"])
def test_the_shown_config_fixes_then_checks(tmp_path, hook_repo, pre_commit_home, page):
    """The .pre-commit-config.yaml the page shows, run as shown; only the repository and its
    rev point at this checkout's copy (the released tag is not reachable here)."""
    from ruamel.yaml import YAML

    from hacheck import __version__
    from hacheck.util.project import urls
    from tests.conftest import code_blocks

    (block,) = [b for b in code_blocks(REPO / page, "yaml") if ".pre-commit-config.yaml" in b]
    config = YAML(typ="safe").load(block)
    (entry,) = config["repos"]
    assert entry["repo"] == urls()["Repository"] and entry["rev"] == f"v{__version__}"
    assert [h["id"] for h in entry["hooks"]] == ["hacheck-fix", "hacheck"]
    repo_path, sha = hook_repo
    root = _flows_repo(tmp_path / "flows", hook_repo, {"flows.json": UNREADY, "package.json": {"name": "my-flows"}})
    shown = block.replace(entry["repo"], json.dumps(str(repo_path))).replace(f"rev: {entry['rev']}", f"rev: {sha}")
    (root / ".pre-commit-config.yaml").write_text(shown, "utf-8")
    _git(root, "add", "-A")
    first = _run(root, pre_commit_home)
    assert first.returncode == 1 and "files were modified by this hook" in first.out, first.out
    (topic,) = [n["topic"] for n in json.loads((root / "flows.json").read_text("utf-8")) if n["type"] == "mqtt in"]
    assert topic.startswith("$share/") and topic.endswith("/jobs/#"), topic
    _git(root, "add", "-A")
    second = _run(root, pre_commit_home)
    assert second.returncode == 0 and "Failed" not in second.out, second.out
