"""Tests and benchmarks read nothing outside the repository, except the corpus through its one
setting (corpus_dir() in tests/conftest.py), so a fresh clone with nothing beside it runs them.

A source's code (not its comments and docstrings) is scanned line by line for the ways a path
leaves the repository: `..` next to `__file__` or the repository root, more `parents[...]` or
`.parent` hops from `__file__` than the file is deep, a step up from the repository root, the
folder beside the checkout (`shared/`), and absolute paths of this machine (`/work/`). This
module's own examples are data, not paths, and are not scanned.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from tests.conftest import REPO

ROOT_NAME = r"\b(?:REPO|ROOT|REPO_ROOT|[A-Z_]*_ROOT)\b"
RULES = [
    (re.compile(r"/work/"), "an absolute path of this machine"),
    (re.compile(r"""\.\./shared|\bshared/(?:corpus|schemas)\b|["']shared["']\s*/|/\s*["']shared["']|os\.path\.join\([^)]*["']shared["']"""),
     "the folder beside the checkout"),
    (re.compile(r"\bos\.pardir\b"), "os.pardir"),
    (re.compile(ROOT_NAME + r"\s*\.\s*parents?\b"), "a step up from the repository root"),
    (re.compile(ROOT_NAME + r"""[^#\n]*["']\.\.["']"""), "'..' from the repository root"),
    (re.compile(r"""__file__[^#\n]*["']\.\.["']"""), "'..' from __file__"),
]


def _code_lines(text: str) -> dict[int, str]:
    """Line number -> the line without its comment; docstrings and other bare strings left out."""
    lines = text.splitlines()
    prose = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            prose.update(range(node.lineno, node.end_lineno + 1))
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            no, col = tok.start
            lines[no - 1] = lines[no - 1][:col]
    return {no: line for no, line in enumerate(lines, 1) if no not in prose}


def outside_paths(rel: str, text: str, allowed: range = range(0)) -> list[str]:
    """Lines of `text` (the file at `rel` in the repository) that reach outside it."""
    depth = len(Path(rel).parts)  # tests/x.py: 2; from __file__, parents[depth - 1] is the root
    found = []
    for no, code in _code_lines(text).items():
        if no in allowed:
            continue
        for pattern, why in RULES:
            if pattern.search(code):
                found.append(f"{rel}:{no}: {why}: {code.strip()}")
        if "__file__" in code:
            hops = [int(k) + 1 for k in re.findall(r"\.parents\[(\d+)\]", code)]
            hops += [len(m) for m in re.findall(r"(?:\.parent\b(?!s))+", code) for m in [re.findall(r"\.parent\b", m)]]
            if any(h > depth for h in hops):
                found.append(f"{rel}:{no}: more steps up from __file__ than the file is deep: {code.strip()}")
    return found


def _sources() -> list[Path]:
    return sorted({*(REPO / "tests").rglob("*.py"), *(REPO / "benchmarks").glob("*.py")} - {Path(__file__).resolve()})


def _corpus_setting_lines() -> range:
    """The body of corpus_dir() in tests/conftest.py: the one place allowed to look beside the repository."""
    tree = ast.parse((REPO / "tests" / "conftest.py").read_text("utf-8"))
    (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "corpus_dir"]
    return range(fn.lineno, fn.end_lineno + 1)


def test_tests_and_benchmarks_stay_inside_the_repository():
    sources = _sources()
    assert REPO / "tests" / "conftest.py" in sources and len(sources) > 20
    found = []
    for f in sources:
        rel = f.relative_to(REPO).as_posix()
        allowed = _corpus_setting_lines() if rel == "tests/conftest.py" else range(0)
        found += outside_paths(rel, f.read_text("utf-8"), allowed)
    assert not found, "paths outside the repository (use the corpus fixture / corpus_dir() of tests/conftest.py):\n" + "\n".join(found)


def test_the_corpus_setting_is_the_exception_and_is_needed():
    # the exception is real: without it, conftest's corpus_dir() is reported
    conftest = (REPO / "tests" / "conftest.py").read_text("utf-8")
    assert [ln for ln in outside_paths("tests/conftest.py", conftest) if "beside the checkout" in ln]


@pytest.mark.parametrize(("rel", "line"), [
    ("tests/test_x.py", 'CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"'),
    ("tests/test_x.py", 'SCHEMA = REPO / ".." / "shared" / "schemas" / "sarif-schema-2.1.0.json"'),
    ("tests/test_x.py", "OUT = Path(__file__).resolve().parents[2]"),
    ("tests/test_x.py", "OUT = Path(__file__).resolve().parent.parent.parent"),
    ("tests/test_x.py", "OUT = REPO.parent / 'data'"),
    ("tests/test_x.py", "OUT = os.path.join(os.path.dirname(__file__), '..', '..')"),
    ("tests/test_x.py", "OUT = os.path.join(BASE, 'shared', 'corpus')"),
    ("benchmarks/x.py", 'FILES = Path("/work/shared/corpus/files")'),
    ("benchmarks/x.py", 'FILES = Path("../shared/corpus/files")'),
    ("benchmarks/x.py", "up = os.pardir"),
])
def test_what_counts_as_leaving(rel, line):
    assert outside_paths(rel, line)


@pytest.mark.parametrize(("rel", "line"), [
    ("tests/test_x.py", "REPO = Path(__file__).resolve().parents[1]"),
    ("tests/test_x.py", "HERE = Path(__file__).resolve().parent.parent"),
    ("tests/deploy/test_x.py", "REPO = Path(__file__).resolve().parents[2]"),
    ("tests/test_x.py", 'args += ["-o", "../report.html"]  # in the test\'s own project folder'),
    ("tests/test_x.py", 'paths = [str(tmp / ".." / tmp.name / "flows.json")]'),
    ("tests/test_x.py", 'cfg = Config(shared_context_stores=("redis",)); store = "shared-ish"'),
    ("tests/test_x.py", 'found(FLOW, "HA202", Config(options={"HA202": {"default_store": "shared"}}))'),
    ("tests/test_x.py", 'assert found.parts[-2:] == ("shared", "corpus")'),
    ("tests/test_x.py", 'x = 1  # the corpus was at ../shared/corpus, /work/shared'),
    ("tests/test_x.py", '"""Reads ../shared/corpus no more."""'),
])
def test_what_does_not(rel, line):
    assert outside_paths(rel, line) == []
