"""The documentation site: it builds with `mkdocs build --strict` (a broken link, a missing
heading or a page left out of the nav fails), its generated pages are current, and its examples
are what the tool prints.

Where the other examples of the pages are tested, each reading its block from the page:
docs/configuration.md's configuration blocks in tests/test_config.py, docs/deploy.md's targets
file in tests/deploy/test_targets_file.py, docs/ci.md's pre-commit config in
tests/test_precommit.py and its GitHub workflow in tests/test_action.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from ruamel.yaml import YAML

from hacheck.reporters.docs import REGENERATE, generated_pages, stale_pages
from tests.conftest import REPO, code_blocks, run_cli

DOCS = REPO / "docs"
# the pages issue 33 asks for; each must be in the nav (the rule pages are linked from rules.md)
REQUIRED = ["index.md", "getting-started.md", "configuration.md", "reports.md", "ci.md", "deploy.md", "fix.md",
            "editor.md", "rules.md", "hazards.md", "effects.md", "performance.md", "ARCHITECTURE.md", "contributing.md"]


def _mkdocs(config, site) -> subprocess.CompletedProcess:
    try:
        import material  # noqa: F401  (the theme)
        import mkdocs  # noqa: F401
    except ImportError:
        pytest.fail("mkdocs and mkdocs-material are not installed: pip install -e '.[test]' (they are in the test extra)", pytrace=False)
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def _nav_pages(nav) -> list[str]:
    out = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        out += _nav_pages(value) if isinstance(value, list) else [value]
    return out


def test_the_site_builds_strictly_with_every_page(tmp_path):
    proc = _mkdocs(REPO / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    nav = _nav_pages(YAML(typ="safe").load((REPO / "mkdocs.yml").read_text("utf-8"))["nav"])
    assert set(REQUIRED) <= set(nav), set(REQUIRED) - set(nav)
    for page in nav:
        built = tmp_path / "site" / ("" if page == "index.md" else page[:-3]) / "index.html"
        assert built.is_file(), f"{page} was not built"
    for page in generated_pages():
        assert (tmp_path / "site" / page[:-3] / "index.html").is_file(), f"{page} was not built"


def test_a_broken_link_or_a_page_outside_the_nav_fails_the_build(tmp_path):
    """The build is a real check: the same configuration over a copy of the pages with one
    link to a heading that does not exist and one page nobody listed."""
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(REPO / "mkdocs.yml", tmp_path / "mkdocs.yml")
    with open(tmp_path / "docs" / "fix.md", "a", encoding="utf-8") as f:
        f.write("\nSee [the options](ci.md#no-such-heading).\n")
    (tmp_path / "docs" / "orphan.md").write_text("# Nobody links me\n", "utf-8")
    proc = _mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode != 0
    log = proc.stdout + proc.stderr
    assert "no-such-heading" in log and "orphan.md" in log, log


def test_every_generated_page_is_up_to_date():
    stale = stale_pages(DOCS, generated_pages())
    assert not stale, f"out of date: {', '.join(stale)}; run `{REGENERATE}`"


def test_one_command_writes_every_stale_page_and_removes_a_dropped_rules_page(tmp_path):
    shutil.copytree(DOCS, tmp_path / "docs")
    page = tmp_path / "docs" / "rules" / "HA101-mqtt-subscription-not-shared.md"
    page.write_text("# edited by hand\n", "utf-8")
    (tmp_path / "docs" / "effects.md").unlink()
    (tmp_path / "docs" / "rules" / "HA999-gone.md").write_text("# a rule that was removed\n", "utf-8")
    check = run_cli_docs("--docs-dir", str(tmp_path / "docs"), "--check")
    assert check.returncode == 1
    assert {line.split(":")[0] for line in check.stderr.splitlines()} == {
        str(tmp_path / "docs" / p) for p in ("rules/HA101-mqtt-subscription-not-shared.md", "effects.md", "rules/HA999-gone.md")}
    assert page.read_text("utf-8") == "# edited by hand\n", "--check changes nothing"
    assert run_cli_docs("--docs-dir", str(tmp_path / "docs")).returncode == 0
    assert not (tmp_path / "docs" / "rules" / "HA999-gone.md").exists()
    assert run_cli_docs("--docs-dir", str(tmp_path / "docs"), "--check").returncode == 0
    assert page.read_text("utf-8") == (DOCS / "rules" / page.name).read_text("utf-8")


def run_cli_docs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hacheck.reporters.docs", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_every_rule_keeps_its_anchor_on_the_rules_page_and_has_its_own_page():
    """Reports link docs/rules.md#<id>-<name> (golden files, SARIF helpUri): that heading stays,
    and links on to the rule's page, which is what `hacheck explain` prints."""
    from hacheck.engine.catalog import load_catalog

    text = (DOCS / "rules.md").read_text("utf-8")
    for r in load_catalog():
        section = text.split(f"\n## {r.id} {r.name}\n", 1)[1].split("\n## ", 1)[0]
        assert f"(rules/{r.id}-{r.name}.md)" in section, r.id
    explained = run_cli("explain", "HA101")
    assert explained.returncode == 0, explained.err
    own = (DOCS / "rules" / "HA101-mqtt-subscription-not-shared.md").read_text("utf-8")
    assert own.startswith(explained.out.rstrip("\n") + "\n")


# --- the pages' examples ---------------------------------------------------------------------------


def _json_example() -> dict:
    (block,) = code_blocks(DOCS / "reports.md", "json", "JSON output (version 1)")
    return json.loads(block)


def test_the_json_example_is_the_real_output_of_the_example_flow():
    res = run_cli("check", "fixtures/example/flows.json", "-f", "json")
    assert res.returncode == 1, res.err
    real = json.loads(res.out)
    shown = _json_example()
    assert shown["findings"], "the example shows at least one finding"
    for f in shown["findings"]:
        assert f in real["findings"]
    assert {k: v for k, v in shown.items() if k != "findings"} == {k: v for k, v in real.items() if k != "findings"}
    assert shown["summary"]["error"] + shown["summary"]["warning"] == len(real["findings"])


def test_the_getting_started_commands_are_real_subcommands_and_options():
    """Each line of the command list parses: `--help` of the subcommand knows every option shown."""
    (block,) = code_blocks(DOCS / "getting-started.md", "sh", "Using it")
    lines = [line.split("#")[0].split() for line in block.splitlines() if line.strip()]
    assert len(lines) >= 10
    for argv in lines:
        assert argv[0] == "hacheck"
        sub = argv[1] if argv[1] != "config" else "config show"
        helptext = run_cli(*sub.split(), "--help")
        assert helptext.returncode == 0, (argv, helptext.err)
        for opt in (a for a in argv[2:] if a.startswith("-") and a != "-"):
            assert re.search(rf"(^|[\s,]){re.escape(opt)}([\s,=]|$)", helptext.out, re.M), (argv, opt)
