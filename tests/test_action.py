"""action.yml run as the runner runs a composite action: each step's `run:` in
`bash --noprofile --norc -eo pipefail`, its `env:` with ${{ inputs.* }} put in, $GITHUB_PATH
carried to the next step. The package installed is a wheel built from this checkout (through
the action's `package` input): the released one of the same version is not on the index here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from hacheck import __version__
from tests.conftest import FIXTURES, REPO, code_blocks

ACTION = YAML(typ="safe").load((REPO / "action.yml").read_text("utf-8"))
SARIF_SCHEMA = REPO / "tests" / "schemas" / "sarif-schema-2.1.0.json"
_EXPR = re.compile(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}")


class Runner:
    """A small stand-in for the Actions runner's composite-step executor."""

    def __init__(self, work: Path):
        self.work = work
        self.temp = work / "runner-temp"
        self.temp.mkdir()
        self.path_file = work / "github-path"
        self.path_file.write_text("")
        self.summary = work / "step-summary.md"

    def inputs(self, given: dict) -> dict:
        unknown = set(given) - set(ACTION["inputs"])
        assert not unknown, unknown
        return {k: str(given.get(k, spec.get("default", ""))) for k, spec in ACTION["inputs"].items()}

    def run_step(self, step: dict, inputs: dict, cwd: Path) -> subprocess.CompletedProcess:
        assert step["shell"] == "bash"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(RUNNER_TEMP=str(self.temp), GITHUB_PATH=str(self.path_file), GITHUB_ACTIONS="true",
                   GITHUB_STEP_SUMMARY=str(self.summary), NO_COLOR="1")
        added = [line for line in self.path_file.read_text().splitlines() if line]
        env["PATH"] = os.pathsep.join([*reversed(added), env["PATH"]])
        for k, v in (step.get("env") or {}).items():
            env[k] = _EXPR.sub(lambda m: inputs[m.group(1)], str(v))
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("action-dist")
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return next(dist.glob("nodered_hacheck-*.whl"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheel) -> Runner:
    runner = Runner(tmp_path_factory.mktemp("action"))
    install = ACTION["runs"]["steps"][0]
    p = runner.run_step(install, runner.inputs({"package": str(wheel)}), runner.work)
    assert p.returncode == 0, p.stdout + p.stderr
    return runner


def check(runner: Runner, cwd: Path, **given) -> subprocess.CompletedProcess:
    step = ACTION["runs"]["steps"][1]
    return runner.run_step(step, runner.inputs(given), cwd)


def project(tmp_path: Path, *flows: str) -> Path:
    for name in flows:
        (tmp_path / "flows").mkdir(exist_ok=True)
        (tmp_path / "flows" / Path(name).name).write_bytes((FIXTURES / name).read_bytes())
    return tmp_path


def test_the_action_is_composite_and_pinned_to_its_own_version():
    assert ACTION["runs"]["using"] == "composite"
    assert ACTION["inputs"]["version"]["default"] == __version__  # the tag you use is the version you get
    for step in ACTION["runs"]["steps"]:
        # inputs arrive through env, never as expressions inside the script
        assert "${{" not in step["run"], step["name"]


def test_findings_fail_the_step_annotate_and_write_valid_sarif(installed, tmp_path):
    import jsonschema

    cwd = project(tmp_path, "example/flows.json")
    p = check(installed, cwd, paths="flows", **{"sarif-file": "hacheck.sarif"})
    assert p.returncode == 1, p.stdout + p.stderr
    assert "::error " in p.stdout and "HA101" in p.stdout  # annotations on the pull request
    sarif = json.loads((cwd / "hacheck.sarif").read_text("utf-8"))
    jsonschema.Draft7Validator(json.loads(SARIF_SCHEMA.read_text("utf-8"))).validate(sarif)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"HA101"}
    assert "HA101" in installed.summary.read_text("utf-8")  # the run page summary


def test_clean_flows_pass(installed, tmp_path):
    cwd = project(tmp_path, "flows/flows_ha-ready.json")
    p = check(installed, cwd, paths="flows")
    assert p.returncode == 0, p.stdout + p.stderr


def test_fail_on_is_passed_through(installed, tmp_path):
    cwd = project(tmp_path, "example/flows.json")
    assert check(installed, cwd, paths="flows", **{"fail-on": "never"}).returncode == 0
    bad = check(installed, cwd, paths="flows", **{"fail-on": "sometimes"})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_an_input_cannot_become_shell_code(installed, tmp_path):
    cwd = project(tmp_path, "flows/flows_ha-ready.json")
    p = check(installed, cwd, paths="flows $(touch pwned) ;touch pwned2")
    assert not (cwd / "pwned").exists() and not (cwd / "pwned2").exists()
    assert p.returncode != 0  # the odd words are taken as paths that do not exist


@pytest.mark.parametrize("page", ["README.md", "docs/ci.md"])
def test_the_shown_workflow_runs_the_action_as_shown(installed, tmp_path, page):
    """The workflow the page shows: its hacheck step names this version and, run with the
    `with:` it shows, fails on the example flow with annotations (and the SARIF file it asks for)."""
    (block,) = [b for b in code_blocks(REPO / page, "yaml") if "# .github/workflows/hacheck.yml" in b]
    steps = next(iter(YAML(typ="safe").load(block)["jobs"].values()))["steps"]
    (step,) = [s for s in steps if s.get("uses", "").startswith("hacheck/hacheck@")]
    assert step["uses"] == f"hacheck/hacheck@v{__version__}"
    given = step.get("with", {})
    cwd = project(tmp_path, "example/flows.json")
    assert given["paths"].rstrip("/") == "flows"
    p = check(installed, cwd, **given)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "::error " in p.stdout and "HA101" in p.stdout
    if "sarif-file" in given:
        sarif = json.loads((cwd / given["sarif-file"]).read_text("utf-8"))
        assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"HA101"}
