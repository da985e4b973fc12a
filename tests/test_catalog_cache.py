"""The cache of the bundled catalogue: a fast start, never a stale or unvalidated rule."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hacheck.util import cache

from hacheck.engine import catalog
from tests.conftest import REPO

PROBE = textwrap.dedent(
    """
    import json, sys
    from hacheck.engine.catalog import load_catalog
    rules = load_catalog()
    print(json.dumps({
        "heavy": sorted(m for m in ("ruamel.yaml", "jsonschema") if m in sys.modules),
        "rules": [[r.id, r.name, str(r.severity), r.category, r.status, r.message, r.docs, r.fix,
                   r.match, r.impl, r.options, r.source] for r in rules],
    }))
    """
)


def _probe(cache: Path) -> dict:
    env = {**os.environ, "HACHECK_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_second_start_reads_the_cache_without_yaml_or_jsonschema_and_gets_the_same_rules(tmp_path):
    first = _probe(tmp_path)
    assert first["heavy"] == ["jsonschema", "ruamel.yaml"]  # parsed and validated
    assert len(list(tmp_path.glob("rules-*.json"))) == 1
    second = _probe(tmp_path)
    assert second["heavy"] == []
    assert second["rules"] == first["rules"] and len(first["rules"]) >= 6


@pytest.fixture
def rules_dir(tmp_path, monkeypatch) -> Path:
    """A copy of the bundled rules standing in for the bundled folder, and a private cache."""
    d = tmp_path / "rules"
    shutil.copytree(REPO / "rules", d)
    monkeypatch.setattr(catalog, "bundled_rules_dir", lambda: d)
    monkeypatch.setenv("HACHECK_CACHE_DIR", str(tmp_path / "cache"))
    catalog._bundled_cached.cache_clear()
    yield d
    catalog._bundled_cached.cache_clear()


def _reload():
    catalog._bundled_cached.cache_clear()
    return {r.id: r for r in catalog.load_catalog()}


def _cache_files(rules_dir: Path) -> list[Path]:
    return list((rules_dir.parent / "cache").glob("rules-*.json"))


def _edit_message(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_an_edited_rule_file_is_read_again(rules_dir):
    assert "HA101" in _reload() and _cache_files(rules_dir)
    f = next(rules_dir.glob("HA101-*.yaml"))
    _edit_message(f, 'message: "', 'message: "EDITED ')
    assert _reload()["HA101"].message.startswith("EDITED ")
    # the same size: only the modification time tells the edit apart
    f2 = next(rules_dir.glob("HA102-*.yaml"))
    st = f2.stat()
    old_message = _reload()["HA102"].message
    text = f2.read_text("utf-8")
    at = text.index("message:") + len("message:")
    at += next(i for i, ch in enumerate(text[at:]) if ch.isascii() and ch.isalpha())
    f2.write_text(text[:at] + text[at].swapcase() + text[at + 1 :], "utf-8")
    assert f2.stat().st_size == st.st_size
    os.utime(f2, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    new_message = _reload()["HA102"].message
    assert new_message != old_message and new_message.lower() == old_message.lower()


def test_a_new_or_removed_rule_file_changes_the_catalogue(rules_dir):
    before = _reload()
    victim = next(rules_dir.glob("HA102-*.yaml"))
    victim.unlink()
    after = _reload()
    assert "HA102" in before and "HA102" not in after


def test_a_rule_made_invalid_is_reported_even_with_a_warm_cache(rules_dir):
    _reload()
    f = next(rules_dir.glob("HA101-*.yaml"))
    f.write_text(f.read_text("utf-8") + "unknown_key: 1\n", "utf-8")
    with pytest.raises(catalog.CatalogError, match="unknown key 'unknown_key'"):
        _reload()


def test_a_corrupt_or_foreign_cache_file_is_only_a_miss(rules_dir):
    good = _reload()
    (cache,) = _cache_files(rules_dir)
    for junk in (b"", b"{not json", b"[]", json.dumps({"key": "x", "rules": []}).encode()):
        cache.write_bytes(junk)
        again = _reload()
        assert sorted(again) == sorted(good)
        assert [again[i].message for i in sorted(good)] == [good[i].message for i in sorted(good)]


def test_a_tampered_cache_with_the_right_key_cannot_crash_the_load(rules_dir):
    good = _reload()
    (cache,) = _cache_files(rules_dir)
    doc = json.loads(cache.read_bytes())
    doc["value"][0][1] = {"id": "HA999"}  # [source, data] of one rule, data of the wrong shape: construction fails, the rules are read again
    cache.write_text(json.dumps(doc), "utf-8")
    assert sorted(_reload()) == sorted(good)


def test_an_unwritable_or_disabled_cache_still_loads(rules_dir, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("HACHECK_CACHE_DIR", str(blocker / "sub"))
    assert "HA101" in _reload()
    monkeypatch.setenv("HACHECK_CACHE_DIR", "")
    assert cache.cache_dir() is None
    assert "HA101" in _reload()
    assert not _cache_files(rules_dir)


def test_user_rule_packs_are_always_validated(rules_dir, tmp_path):
    _reload()
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "XY001-bad.yaml").write_text("id: XY001\nname: bad\n", "utf-8")
    catalog._bundled_cached.cache_clear()
    with pytest.raises(catalog.CatalogError, match="XY001-bad.yaml"):
        catalog.load_catalog([str(pack)])


def test_default_cache_folder_follows_the_platform_conventions(monkeypatch, tmp_path):
    monkeypatch.delenv("HACHECK_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cache.cache_dir() == tmp_path / "xdg" / "hacheck"
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
        assert cache.cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "hacheck"
