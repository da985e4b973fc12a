"""hacheck's modules import one way: down the layers, never round in a circle.

Every module under hacheck/ is in one layer of LAYERS below (lowest first). A module may import
modules of its own layer and of the layers below it, never of a layer above; and no chain of
imports may lead from a module back to itself, within a layer or across layers. Every import
counts: at the top of a file, inside a function (the lazy imports kept for a fast start), under
`if TYPE_CHECKING:`, and a module named in a string (the reporters are imported by name).
Importing `hacheck.pkg.mod` from outside `pkg` also runs `hacheck/pkg/__init__.py`, so it counts
as importing the package too.

The layers are folders: a new module goes in the folder of the lowest layer that holds
everything it imports (and no higher than anything that imports it). If it fits nowhere,
something has to move.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tests.conftest import REPO

# Lowest first. The layers are the package's folders: every module lives in the folder of its
# layer (a new rule check goes in engine/checks/, a reporter in reporters/, a deploy target in
# deploy/), and the few files at the top of hacheck/ are listed in TOP.
LAYERS: dict[str, list[str]] = {
    # the version and the package's folder; small helpers that import nothing else of hacheck
    "base": ["__init__.py", "util/"],
    # the values every layer passes around: a flow (FlowFile, Node, LoadProblem), what a check
    # finds (Hit, Related, Finding, Severity), the effective configuration
    "model": ["model/"],
    # files to FlowFiles: finding flow files, decoding them, the files changed since a revision
    "load": ["load/"],
    # what a flow means: the message graph, load-balanced inputs, input paths, function code
    "analysis": ["analysis/"],
    # the effect catalogue (rules/effects/): what each node type does to the world
    "effects": ["effects/"],
    # the rules: rule files and their cache, what a check may ask, the Python checks,
    # directives, Hit -> Finding, and running the rules over one flow
    "engine": ["engine/"],
    # after the rules: suppressions, the baseline and the config file (it checks
    # ignore_findings against the catalogue)
    "config": ["config/"],
    # output: one module per format, and the rule documentation
    "report": ["reporters/"],
    # checking a set of files: one process, a process pool, the library API
    "run": ["run/"],
    # `hacheck split`: what moves to the singleton, the bridges, the shared context, the report
    "split": ["split/"],
    # the commands: the CLI, fix, serve, deploy
    "commands": ["commands/", "deploy/", "__main__.py"],
}
# the modules at the top of hacheck/, beside the layer folders (issue 33: at most 8)
TOP = {"__init__.py", "__main__.py"}
MAX_TOP = 8

# in LAYERS before they exist (drop them from here once they do)
PLANNED: set[str] = set()

PACKAGE = REPO / "hacheck"


@dataclass(frozen=True)
class Import:
    src: str  # module name, e.g. hacheck.engine.check
    dst: str
    line: int
    how: str = "imports"

    def __str__(self) -> str:
        return f"{_file(self.src)}:{self.line} {self.how} {self.dst}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@lru_cache(maxsize=1)
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _file(module: str) -> str:
    return str(_modules()[module].relative_to(REPO))


def _is_package(module: str) -> bool:
    return _modules()[module].name == "__init__.py"


def _ancestors(module: str) -> list[str]:
    """The packages Python imports before `module`: hacheck.a.b -> [hacheck, hacheck.a]."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _containing(module: str) -> set[str]:
    """The packages `module` is part of (its own, if it is a package's __init__)."""
    return set(_ancestors(module)) | ({module} if _is_package(module) else set())


def _targets(src: str, node: ast.AST) -> list[tuple[str, str]]:
    """(module, how) for one import statement, hacheck's modules only."""
    mods = _modules()
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            here = src.split(".") if _is_package(src) else src.split(".")[:-1]
            base = ".".join(here[: len(here) - node.level + 1])
            mod = f"{base}.{node.module}" if node.module else base
        else:
            mod = node.module or ""
        # `from hacheck import suppress` imports the module hacheck.config.suppress
        names = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in mods:
        return [(node.value, "imports by name")]
    out = []
    for name in names:
        while name and name not in mods:  # `import hacheck.x.Thing`-style: the module that exists
            name = name.rpartition(".")[0]
        if name.startswith("hacheck"):
            out.append((name, "imports"))
    return out


@lru_cache(maxsize=1)
def imports() -> tuple[Import, ...]:
    """Every import of a hacheck module by another, wherever it is in the file."""
    found: dict[tuple[str, str], Import] = {}
    for src, path in _modules().items():
        inside = _containing(src)
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            for dst, how in _targets(src, node):
                # the packages Python runs first, except those it is part of (run already)
                hits = [(dst, how)] + [(p, f"imports (by importing {dst})") for p in _ancestors(dst) if p not in inside]
                for d, h in hits:
                    # resources.files("hacheck.reporters") in reporters/html.py reads the package's
                    # files: naming a package it is part of (imported already) is no dependency
                    if d != src and not (h == "imports by name" and d in inside):
                        key = (src, d)
                        if key not in found or node.lineno < found[key].line:
                            found[key] = Import(src, d, node.lineno, h)
    return tuple(sorted(found.values(), key=lambda i: (i.src, i.dst)))


def _graph(edges) -> dict[str, dict[str, Import]]:
    graph: dict[str, dict[str, Import]] = {}
    for e in edges:
        graph.setdefault(e.src, {})[e.dst] = e
    return graph


def cycles(edges) -> list[tuple[list[str], list[Import]]]:
    """Each group of modules that import each other (strongly connected components, Tarjan),
    with one shortest cycle through its first module, as the imports that close it."""
    graph = _graph(edges)
    nodes = sorted({e.src for e in edges} | {e.dst for e in edges})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in nodes:
        if v not in index:
            visit(v)
    out = []
    for group in groups:
        start, members = group[0], set(group)
        # breadth-first from start's successors back to start, inside the group
        prev: dict[str, str] = {}
        queue = deque([start])
        while queue:
            v = queue.popleft()
            for w in sorted(graph.get(v, {})):
                if w in members and w not in prev:
                    prev[w] = v
                    queue.append(w)
            if start in prev:
                break
        path, w = [], start
        while True:
            v = prev[w]
            path.append(graph[v][w])
            w = v
            if w == start:
                break
        out.append((group, path[::-1]))
    return out


def layer_of(module: str) -> str | None:
    """The layer whose folder holds the module (or that lists it, for the files at the top)."""
    rel = str(_modules()[module].relative_to(PACKAGE)).replace("\\", "/")
    folder = rel.split("/")[0] + "/" if "/" in rel else rel
    for layer, names in LAYERS.items():
        if folder in names:
            return layer
    return None


def upward(edges) -> list[str]:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    out = []
    for e in edges:
        a, b = layer_of(e.src), layer_of(e.dst)
        if a is not None and b is not None and rank[b] > rank[a]:
            out.append(f"{e} (layer '{b}') from layer '{a}': a module may import only its own layer and the ones below")
    return out


# --- the tests -----------------------------------------------------------------------------------


def test_every_module_is_in_a_layer():
    missing = [_file(m) for m in _modules() if layer_of(m) is None]
    assert not missing, (
        f"{', '.join(missing)}: in no layer. Add each to LAYERS at the top of tests/test_layers.py, in the "
        "lowest layer that holds everything it imports (and no higher than anything that imports it)."
    )


def test_the_top_of_the_package_holds_only_the_entry_points():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert set(top) <= TOP, f"{sorted(set(top) - TOP)}: at the top of hacheck/. A module goes in the folder of its layer (LAYERS)."
    assert len(top) <= MAX_TOP


def test_every_layer_folder_is_a_package():
    for names in LAYERS.values():
        for name in names:
            if name.endswith("/"):
                assert (PACKAGE / name / "__init__.py").is_file(), f"hacheck/{name} has no __init__.py saying what the layer is"


def test_every_layer_entry_names_a_module_once():
    names = [n for ns in LAYERS.values() for n in ns]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    stale = [n for n in names if n not in PLANNED and not (PACKAGE / n).exists()]
    assert not stale, f"LAYERS names files that are gone: {stale}"


def test_no_module_imports_itself_through_others():
    found = cycles(imports())
    assert not found, "import cycles:\n" + "\n".join(
        f"  {', '.join(group)} import each other; for one:\n    " + "\n    ".join(map(str, cycle)) for group, cycle in found
    )


def test_imports_point_down_the_layers():
    wrong = upward(imports())
    assert not wrong, "imports against the layers:\n  " + "\n  ".join(wrong)


def test_the_scan_sees_lazy_package_and_string_imports():
    """The checks above are only as good as the import scan: it must see imports inside
    functions, the package a submodule import runs, and modules imported by name."""
    edges = {(e.src, e.dst) for e in imports()}
    assert ("hacheck.engine.check", "hacheck.engine.checks") in edges  # inside check_flow
    assert ("hacheck.commands.fix", "hacheck.deploy.redact") in edges and ("hacheck.commands.fix", "hacheck.deploy") in edges
    assert ("hacheck.reporters", "hacheck.reporters.text") in edges  # the REPORTERS registry
    assert ("hacheck.deploy.gate", "hacheck.deploy") in edges  # `from hacheck.deploy import KINDS`
    assert ("hacheck.deploy.gate", "hacheck.deploy.audit") in edges  # `from hacheck.deploy import audit`


def test_the_cycle_and_layer_checks_catch_what_they_should():
    made_up = [Import("hacheck.engine.check", "hacheck.config.suppress", 1), Import("hacheck.config.suppress", "hacheck.engine.render", 2),
               Import("hacheck.engine.render", "hacheck.engine.check", 3), Import("hacheck.model.flow", "hacheck.analysis.graph", 4)]
    ((group, cycle),) = cycles(made_up)
    assert group == ["hacheck.config.suppress", "hacheck.engine.check", "hacheck.engine.render"]
    assert [e.src for e in cycle] == ["hacheck.config.suppress", "hacheck.engine.render", "hacheck.engine.check"]
    assert [w.split(":")[0] for w in upward(made_up)] == ["hacheck/engine/check.py", "hacheck/model/flow.py"]
