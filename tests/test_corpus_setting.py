"""The one corpus setting (tests/conftest.py): where the corpus is, and what happens without it.

Without the corpus a test that reads it is skipped, with one line in the summary saying how to
get it; under CI=true it fails, so CI cannot go green on a run that never read a real flow.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import COMMITTED_MANIFEST, REPO, corpus_dir

# a test module of its own, run by a pytest of its own with the conftest as a plugin, so the
# contract is checked whatever this run's corpus and CI settings are
PROBE = """
def test_reads_the_corpus(corpus):
    assert (corpus / "manifest.tsv").is_file()

def test_reads_it_too(corpus):
    assert (corpus / "files").is_dir()

def test_needs_no_corpus():
    pass
"""


def _probe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_probe.py").write_text(PROBE)
    full = {k: v for k, v in os.environ.items() if k not in ("CI", "HACHECK_CORPUS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", str(tmp_path / "test_probe.py")],
        cwd=REPO, env={**full, **env}, capture_output=True, text=True, timeout=300,
    )


def test_hacheck_corpus_names_the_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HACHECK_CORPUS", str(tmp_path / "mine"))
    assert corpus_dir() == tmp_path.resolve() / "mine"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HACHECK_CORPUS", "rel")
    assert corpus_dir() == tmp_path.resolve() / "rel"  # a relative path is from the current directory


def test_without_hacheck_corpus_it_is_beside_the_repository_or_in_its_cache(monkeypatch):
    for unset in ("", None):
        if unset is None:
            monkeypatch.delenv("HACHECK_CORPUS", raising=False)
        else:
            monkeypatch.setenv("HACHECK_CORPUS", unset)  # empty counts as unset
        found = corpus_dir()
        if found != REPO / ".cache" / "corpus":
            # shared/corpus, holding a manifest, in the folder that holds this repository
            assert found.parts[-2:] == ("shared", "corpus") and (found / "manifest.tsv").is_file()
            assert (found.parent.parent / REPO.name).samefile(REPO)


def test_a_missing_corpus_skips_its_tests_with_one_line_saying_how_to_get_it(tmp_path):
    proc = _probe(tmp_path, HACHECK_CORPUS=str(tmp_path / "none"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 2 skipped" in proc.stdout
    line = f"SKIPPED 2 corpus tests: corpus not found at {tmp_path / 'none'}: set HACHECK_CORPUS or run scripts/fetch-corpus"
    assert proc.stdout.count(line) == 1, proc.stdout


def test_under_ci_a_missing_corpus_fails(tmp_path):
    proc = _probe(tmp_path, HACHECK_CORPUS=str(tmp_path / "none"), CI="true")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 passed, 2 errors" in proc.stdout
    summary = [ln for ln in proc.stdout.splitlines() if ln.startswith("ERROR ")]
    assert len(summary) == 2 and all("corpus not found at" in ln and "CI=true" in ln for ln in summary), proc.stdout


def test_a_corpus_folder_is_a_manifest_and_files(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "files").mkdir(parents=True)
    (folder / "manifest.tsv").write_text("local_name\n")
    proc = _probe(tmp_path, HACHECK_CORPUS=str(folder), CI="true")
    assert proc.returncode == 0 and "3 passed" in proc.stdout, proc.stdout + proc.stderr


def test_the_committed_manifest_is_the_corpus(corpus):
    """tests/corpus-manifest.tsv (what scripts/fetch-corpus fetches and verifies) agrees with
    the corpus in use, ../shared/corpus where it is: every column of its manifest, and a sha256
    for each of its files, which are all listed."""
    committed = {r["local_name"]: r for r in _rows(COMMITTED_MANIFEST)}
    theirs = _rows(corpus / "manifest.tsv")
    assert [r["local_name"] for r in theirs] == list(committed)
    for row in theirs:
        mine = committed[row["local_name"]]
        assert {k: mine.get(k) for k in row} == row
        data = (corpus / "files" / row["local_name"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (int(mine["bytes"]), mine["sha256"]), row["local_name"]
    assert sorted(p.name for p in (corpus / "files").iterdir()) == sorted(committed)


def test_the_committed_manifest_pins_every_file():
    rows = _rows(COMMITTED_MANIFEST)
    assert len(rows) == len({r["local_name"] for r in rows}) > 0
    for r in rows:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", r["repo"]) and re.fullmatch(r"[0-9a-f]{40}", r["commit"]), r
        assert re.fullmatch(r"[0-9a-f]{64}", r["sha256"]) and int(r["bytes"]) > 0 and r["path"], r
        assert "/" not in r["local_name"] and not r["local_name"].startswith("."), r


def _rows(manifest: Path) -> list[dict]:
    lines = manifest.read_text("utf-8").splitlines()
    head = lines[0].split("\t")
    assert all(len(ln.split("\t")) == len(head) for ln in lines[1:]), manifest
    return [dict(zip(head, ln.split("\t"))) for ln in lines[1:]]


def test_no_corpus_file_is_committed():
    """The flows belong to their authors: the repository pins them, it never holds them."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, timeout=60)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    pinned = {(int(r["bytes"]), r["sha256"]): r["local_name"] for r in _rows(COMMITTED_MANIFEST)}
    sizes = {size for size, _ in pinned}
    for name in filter(None, listed.stdout.decode().split("\0")):
        f = REPO / name
        if f.is_file() and not f.is_symlink() and f.stat().st_size in sizes:
            data = f.read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) not in pinned, f"{name} is the corpus file {pinned[(len(data), hashlib.sha256(data).hexdigest())]}"
