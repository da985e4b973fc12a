"""The release: artifacts built and proven by scripts/check-dist (what the release workflow runs),
the version in one place, the project's URLs in one place."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile

import pytest
from ruamel.yaml import YAML

from hacheck import __version__
from tests.conftest import REPO, load_script

CHECK_DIST = REPO / "scripts" / "check-dist"


def _check_dist_module():
    return load_script(CHECK_DIST, "check_dist")


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    p = subprocess.run([sys.executable, str(CHECK_DIST), "--out", str(out)], capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"check-dist: OK: nodered-hacheck {__version__}" in p.stdout
    return out


def test_the_artifacts_are_built_checked_installed_and_run(dist):
    # check-dist itself ran twine check, installed both into fresh environments and ran them;
    # here: what a user downloads is named and stamped as the index will show it
    names = sorted(p.name for p in dist.iterdir())
    assert names == [f"nodered_hacheck-{__version__}-py3-none-any.whl", f"nodered_hacheck-{__version__}.tar.gz"]
    with zipfile.ZipFile(dist / names[0]) as zf:
        meta = zf.read(f"nodered_hacheck-{__version__}.dist-info/METADATA").decode()
    assert "\nName: nodered-hacheck\n" in meta and "\nLicense-Expression: Apache-2.0\n" in meta
    with tarfile.open(dist / names[1]) as tf:
        root = f"nodered_hacheck-{__version__}"
        assert tf.extractfile(f"{root}/LICENSE").read() == (REPO / "LICENSE").read_bytes()


def test_check_dist_fails_loudly_on_a_broken_artifact(tmp_path, monkeypatch):
    """Its checks can fail: a wheel without the rules is refused (a test double of a broken
    build: the real build cannot be made to drop them without editing pyproject.toml)."""
    mod = _check_dist_module()
    version = mod.package_version()
    wheel = tmp_path / f"nodered_hacheck-{version}-py3-none-any.whl"
    info = f"nodered_hacheck-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{info}/METADATA", f"Name: nodered-hacheck\nVersion: {version}\n\nbody")
        zf.writestr(f"{info}/entry_points.txt", "[console_scripts]\nhacheck = hacheck.commands.cli:main\n")
        zf.writestr(f"{info}/licenses/LICENSE", "x")
    with pytest.raises(mod.Failed, match="the wheel lacks hacheck/_rules/"):
        mod.inspect_wheel(wheel, version)


def test_a_release_tag_must_be_the_version_with_a_dated_changelog_entry():
    mod = _check_dist_module()
    dated = f"# Changelog\n\n## [{__version__}] - 2026-12-02\n\n### Added\n- x\n"
    mod.check_release(f"v{__version__}", __version__, dated)
    with pytest.raises(mod.Failed, match="is not the package's version"):
        mod.check_release("v99.0.0", __version__, dated)
    with pytest.raises(mod.Failed, match="no '## \\["):
        mod.check_release(f"v{__version__}", __version__, "# Changelog\n\n## [Unreleased]\n")


def test_the_changelog_follows_the_version():
    text = (REPO / "CHANGELOG.md").read_text("utf-8")
    heads = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    assert heads, "CHANGELOG.md has no '## [...]' section"
    top = heads[0]
    # either the version is being prepared, or it is the newest release
    assert top[0] == "Unreleased" or (top[0] == __version__ and top[1]), top
    assert "Keep a Changelog" in text


def test_the_release_workflow_runs_what_the_tests_run():
    wf = YAML(typ="safe").load((REPO / ".github" / "workflows" / "release.yml").read_text("utf-8"))
    assert wf["on"]["push"]["tags"] == ["v*"]
    build, publish = wf["jobs"]["build"], wf["jobs"]["publish"]
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert 'python -m pip install -e ".[test]"' in runs  # the environment the tests have
    assert 'python scripts/check-dist --out dist --release "$GITHUB_REF_NAME"' in runs
    assert publish["needs"] == "build" and publish["permissions"] == {"id-token": "write"}
    uses = [s.get("uses", "") for s in publish["steps"]]
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in uses)
    # trusted publishing: no password or token handed to the publish step
    text = (REPO / ".github" / "workflows" / "release.yml").read_text("utf-8")
    assert "${{ secrets." not in text
    assert not any("password" in s.get("with", {}) or "token" in s.get("with", {}) for s in publish["steps"])


def test_the_project_urls_come_from_one_place():
    from hacheck.util.project import _from_pyproject, docs_url, home_url
    from hacheck.reporters.common import doc_url

    declared = _from_pyproject(REPO / "pyproject.toml")
    assert set(declared) >= {"Homepage", "Documentation", "Repository", "Issues", "Changelog"}
    assert home_url() == declared["Homepage"] and docs_url() == declared["Documentation"]
    assert doc_url("HA101", "mqtt-subscription-not-shared") == declared["Documentation"] + "#ha101-mqtt-subscription-not-shared"
    # no other URL of ours is written into the code
    for path in (REPO / "hacheck").rglob("*.py"):
        assert declared["Homepage"] not in path.read_text("utf-8"), path


def test_the_editor_plugin_has_the_same_version():
    import json

    pkg = json.loads((REPO / "integrations" / "node-red" / "package.json").read_text("utf-8"))
    assert pkg["version"] == __version__ and pkg["node-red"]["plugins"] == {"hacheck": "hacheck.js"}
