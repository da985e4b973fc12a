"""The README's commands and snippets are what the tool does, not a sketch of it.

The README is short (what, install, the two commands, a snippet each for pre-commit, CI and the
deploy gate); the details live on the documentation pages, whose examples are tested where
they are (tests/test_docs.py says where). The README's pre-commit snippet is run by the real
pre-commit in tests/test_precommit.py, its CI workflow through action.yml in
tests/test_action.py; the rest is here.
"""

from __future__ import annotations

import json
import re
import shutil

from ruamel.yaml import YAML

from hacheck import __version__
from hacheck.deploy.targets_file import load_targets
from tests.conftest import FIXTURES, REPO, code_blocks, run_cli

README = REPO / "README.md"
MAX_LINES = 200


def test_the_readme_is_short():
    lines = README.read_text("utf-8").count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines; details belong on a docs page"


def test_the_quick_start_commands_are_shown_exactly_and_work():
    shown = code_blocks(README, "sh", "Quick start")
    assert shown == ["pip install . && hacheck check fixtures/example/flows.json\n", "bash scripts/test\n"]
    # `pip install .` is proven by tests/test_wheel.py (a wheel of this checkout installed into a
    # fresh environment); the check prints the findings and exits 1, as the README says
    res = run_cli("check", "fixtures/example/flows.json")
    assert res.returncode == 1, res.err
    assert "HA101" in res.out and "fixtures/example/flows.json" in res.out
    # `bash scripts/test` is what CI runs: .ci/run calls it, and it runs this suite
    assert "bash scripts/test" in (REPO / ".ci" / "run").read_text("utf-8")
    assert "python -m pytest" in (REPO / "scripts" / "test").read_text("utf-8")


def test_the_install_command_pins_the_current_version():
    (block,) = code_blocks(README, "sh", "Install")
    assert block == f"pipx install nodered-hacheck=={__version__}\n"


def _github_slugs(text: str) -> set[str]:
    """Heading anchors as GitHub makes them (outside code blocks)."""
    slugs, fence = set(), False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slugs.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return slugs


def test_every_link_of_the_readme_leads_somewhere():
    text = README.read_text("utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert len(local) >= 10, local
    for link in local:
        path, _, anchor = link.partition("#")
        target = REPO / path
        assert target.exists(), f"README.md links {link}: no such file"
        if anchor:
            assert anchor in _github_slugs(target.read_text("utf-8")), f"README.md links {link}: no such heading"


def test_the_deploy_gate_snippet_loads_and_refuses_flows_that_fail_the_check(tmp_path):
    """The targets file is valid as shown, and the commands run as shown: with the example
    flow (not HA-ready) both stop at the check, exit 1 and contact nothing."""
    (targets,) = code_blocks(README, "yaml", "The deploy gate")
    (commands,) = code_blocks(README, "sh", "The deploy gate")
    (tmp_path / "hacheck-targets.yaml").write_text(targets, "utf-8")
    assert set(load_targets(str(tmp_path / "hacheck-targets.yaml")).targets) == {"prod"}
    shutil.copy(FIXTURES / "example" / "flows.json", tmp_path / "flows.json")
    lines = [line.split("#")[0].split() for line in commands.splitlines() if line.strip()]
    assert [argv[:2] for argv in lines] == [["hacheck", "deploy"]] * 2 and "--dry-run" in lines[0]
    for argv in lines:
        res = run_cli(*argv[1:], cwd=tmp_path, env={"NODE_RED_TOKEN": "not-a-real-token"})
        assert res.returncode == 1, res.out + res.err
        assert "HA101" in res.out and "NOT DEPLOYED" in res.out and "nothing was contacted" in res.out, res.out
    records = [json.loads(line) for line in (tmp_path / ".hacheck-deploy.log").read_text("utf-8").splitlines()]
    assert [r["outcome"] for r in records] == ["check-failed", "check-failed"]
    assert [{m["status"] for m in r["members"]} for r in records] == [{"not contacted"}] * 2, records
    assert "not-a-real-token" not in (tmp_path / ".hacheck-deploy.log").read_text("utf-8")


def test_the_ci_and_pre_commit_snippets_name_this_version():
    (workflow,) = code_blocks(README, "yaml", "CI")
    steps = YAML(typ="safe").load(workflow)["jobs"]["hacheck"]["steps"]
    assert [s["uses"] for s in steps if "hacheck/hacheck" in s.get("uses", "")] == [f"hacheck/hacheck@v{__version__}"]
    (hook,) = code_blocks(README, "yaml", "pre-commit")
    assert YAML(typ="safe").load(hook)["repos"][0]["rev"] == f"v{__version__}"
