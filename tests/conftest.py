"""Shared helpers: run the real CLI, find the corpus, check small flows in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()
FIXTURES = REPO / "fixtures"


def run_cli(*args: str, input: bytes | None = None, cwd: Path | None = None, env: dict | None = None, timeout: float = 120):
    """Run `python -m hacheck` as a user would; returns CompletedProcess with text output."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "hacheck", *args],
        input=input,
        capture_output=True,
        cwd=cwd or REPO,
        env=full_env,
        timeout=timeout,
    )
    proc.out = proc.stdout.decode("utf-8", "replace")  # type: ignore[attr-defined]
    proc.err = proc.stderr.decode("utf-8", "replace")  # type: ignore[attr-defined]
    return proc


def assert_clean_error(proc, *fragments: str) -> None:
    """A user-facing error is one line, names what is wrong, and is never a traceback."""
    assert "Traceback" not in proc.err and "Traceback" not in proc.out, proc.err
    for frag in fragments:
        assert frag in proc.err or frag in proc.out, (frag, proc.out, proc.err)


def check_flow_data(flow, select: tuple[str, ...] = (), path: str = "flow.json", config=None):
    """Check an in-memory flow (list or dict) and return its findings."""
    from hacheck.config import Config
    from hacheck.loader import parse_bytes
    from hacheck.runner import check_one

    cfg = config or Config()
    if select:
        cfg.select = tuple(select)
    data = flow if isinstance(flow, bytes) else json.dumps(flow).encode()
    return check_one(parse_bytes(path, data), _catalog(), cfg).findings


def _catalog():
    from hacheck.catalog import load_catalog

    return load_catalog()


@pytest.fixture
def own_cache(tmp_path_factory, monkeypatch) -> None:
    """A cache folder of the test's own: validated config files are cached per path, and
    test folders are new every run. Modules that write config files use it for every test
    (`pytestmark = pytest.mark.usefixtures("own_cache")`)."""
    monkeypatch.setenv("HACHECK_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    """A project folder that is a repository root (so discovery never leaves it), made the
    current directory, with plain output whatever CI runs the tests."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "manifest.tsv").is_file():
        pytest.fail(f"the shared corpus is missing at {CORPUS}: it is part of the test inputs")
    return CORPUS


def corpus_manifest() -> list[dict]:
    rows = (CORPUS / "manifest.tsv").read_text("utf-8").splitlines()
    head = rows[0].split("\t")
    return [dict(zip(head, r.split("\t"))) for r in rows[1:] if r.strip()]
