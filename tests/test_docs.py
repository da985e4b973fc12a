"""The generated pages of the documentation: the rule list (docs/rules.md), a page per rule
(docs/rules/<ID>-<name>.md) and the effect catalogue (docs/effects.md) are current, and one
command writes them all."""

from __future__ import annotations

import shutil
import subprocess
import sys

from hacheck.reporters.docs import REGENERATE, generated_pages, stale_pages
from tests.conftest import REPO, run_cli

DOCS = REPO / "docs"


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
