"""Shared helpers: run the real CLI, find the corpus, check small flows in-process.

The corpora of real flows (third-party files from public repositories, pinned by repository,
path, commit and sha256 in tests/corpus-manifest.tsv and tests/corpus2-manifest.tsv) are found
in ONE place, here:

- `corpus_dir(name="corpus") -> Path`: the corpus folder (holding `manifest.tsv` and `files/`):
  `$HACHECK_CORPUS` if set (and its sibling `corpus2` for the second corpus), else
  `../shared/<name>` beside the repository when it holds a manifest, else `.cache/<name>` in
  the repository (where `scripts/fetch-corpus` puts it).
  It does not check that the folder is there: use it outside pytest (benchmarks) or in a
  helper of a test that already takes the `corpus` fixture.
- the `corpus` and `corpus2` fixtures (session scope): those folders, for the tests that read them.
  When the corpus is absent the test is skipped with one line saying how to get it, and
  under `CI=true` (as `.ci/run` sets) it fails, so CI cannot go green without the corpus.
- `corpus_manifest() -> list[dict]`: the manifest rows (column name -> text); from the
  committed manifest when the corpus is absent, so parametrize lists built at import time
  are the same either way and the tests are then skipped by the fixture, not lost.

No test or benchmark reaches outside the repository any other way (tests/test_no_outside_paths.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"


def run_cli(*args: str, input: bytes | None = None, cwd: Path | None = None, env: dict | None = None, timeout: float = 120):
    """Run `python -m hacheck` as a user would; returns CompletedProcess with text output."""
    # this checkout's hacheck, whatever the cwd and whatever is installed
    full_env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO), **(env or {})}
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


def load_script(path: Path, name: str):
    """A script of scripts/ (no .py suffix) imported as a module, to test its functions."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader(name, str(path))
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    loader.exec_module(mod)
    return mod


def assert_clean_error(proc, *fragments: str) -> None:
    """A user-facing error is one line, names what is wrong, and is never a traceback."""
    assert "Traceback" not in proc.err and "Traceback" not in proc.out, proc.err
    for frag in fragments:
        assert frag in proc.err or frag in proc.out, (frag, proc.out, proc.err)


def check_flow_data(flow, select: tuple[str, ...] = (), path: str = "flow.json", config=None):
    """Check an in-memory flow (list or dict) and return its findings."""
    from hacheck.model.config import Config
    from hacheck.load.loader import parse_bytes
    from hacheck.run.runner import check_one

    cfg = config or Config()
    if select:
        cfg.select = tuple(select)
    data = flow if isinstance(flow, bytes) else json.dumps(flow).encode()
    return check_one(parse_bytes(path, data), _catalog(), cfg).findings


def _catalog():
    from hacheck.engine.catalog import load_catalog

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


# --- the corpus of real flows: the one place that says where it is -----------------------------

CORPUS_ENV = "HACHECK_CORPUS"
COMMITTED_MANIFEST = REPO / "tests" / "corpus-manifest.tsv"


def corpus_dir(name: str = "corpus") -> Path:
    """A corpus folder (`manifest.tsv` and `files/`); whether it is there is not checked.
    `corpus` is the first corpus (labelled), `corpus2` the second (60 more flows, a blind
    hold-out): $HACHECK_CORPUS names the first, and the second is its sibling `corpus2`."""
    if os.environ.get(CORPUS_ENV):
        first = Path(os.environ[CORPUS_ENV]).expanduser().resolve()
        return first if name == "corpus" else first.parent / name
    beside = REPO.parent / "shared" / name
    if (beside / "manifest.tsv").is_file():
        return beside.resolve()
    return REPO / ".cache" / name


def _corpus_missing(name: str = "corpus") -> str | None:
    """Why the corpus cannot be used, in one line; None when it can."""
    where = corpus_dir(name)
    if (where / "manifest.tsv").is_file() and (where / "files").is_dir():
        return None
    return f"{name} not found at {where}: set {CORPUS_ENV} or run scripts/fetch-corpus"


def _need(name: str) -> Path:
    missing = _corpus_missing(name)
    if missing is None:
        return corpus_dir(name)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{missing} (CI=true: the corpus tests must run in CI)", pytrace=False)
    pytest.skip(missing)


@pytest.fixture(scope="session")
def corpus() -> Path:
    return _need("corpus")


@pytest.fixture(scope="session")
def corpus2() -> Path:
    return _need("corpus2")


def corpus_manifest(name: str = "corpus") -> list[dict]:
    manifest = corpus_dir(name) / "manifest.tsv"
    committed = COMMITTED_MANIFEST if name == "corpus" else REPO / "tests" / f"{name}-manifest.tsv"
    rows = (manifest if manifest.is_file() else committed).read_text("utf-8").splitlines()
    head = rows[0].split("\t")
    return [dict(zip(head, r.split("\t"))) for r in rows[1:] if r.strip()]


def pytest_terminal_summary(terminalreporter) -> None:
    """Say once, at the end, why the corpus tests were skipped (skip reasons are not shown
    without -rs)."""
    for name in ("corpus", "corpus2"):
        missing = _corpus_missing(name)
        skipped = [r for r in terminalreporter.stats.get("skipped", []) if missing and missing in str(r.longrepr)]
        if skipped:
            terminalreporter.write_line(f"SKIPPED {len(skipped)} {name} tests: {missing}", yellow=True, bold=True)


def code_blocks(path: Path, lang: str, section: str | None = None) -> list[str]:
    """The fenced ```lang blocks of a Markdown page (of one section, from the heading named
    `section` to the next heading of its level), as the page shows them: the tests of the
    README's and the docs' snippets read them from the page, so a snippet cannot drift from
    what is tested."""
    import re

    text = path.read_text("utf-8")
    if section is not None:
        m = re.search(rf"^(#+) {re.escape(section)}\n", text, re.M)
        assert m, f"{path.name}: no heading {section!r}"
        rest = text[m.end():]
        end = re.search(rf"^#{{1,{len(m.group(1))}}} ", rest, re.M)
        # a heading only outside code: a '# comment' line inside a block is not one
        while end and rest[:end.start()].count("```") % 2:
            end = re.compile(rf"^#{{1,{len(m.group(1))}}} ", re.M).search(rest, end.end())
        text = rest[:end.start()] if end else rest
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.M | re.S)
