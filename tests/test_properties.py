"""Properties that hold for every flow, checked on random ones (hypothesis).

Random flows are built from the real node shapes: every node type used in the fixtures, as
written there, re-wired at random onto a small pool of ids, so that wires, links, groups,
config references, `z` and subflow instances point at anything (tabs, subflows, config nodes,
groups, missing ids, the node itself), and ids collide. The corpus flows are mutated too:
a node deleted, a field's type corrupted, an id duplicated, wires broken, a type swapped,
the bytes cut short.

For all of them: hacheck never raises (in-process with every rule, where a crashing rule
would become an HC000 finding, so HC000 fails; and through the CLI on a sample), the exit
code is 0 or 1, and two runs give byte-identical output in every format, also across
processes with different hash seeds and with -j 1 / -j 2.

Invariants:
- disabling a tab removes every finding of the runtime rules (categories routing and state)
  on its nodes. Not of the file rules: structure (HC0xx: a duplicate id or a dangling
  reference breaks the file whether its tab runs or not, an unreadable file has no tabs,
  and HC005 may rightly appear, for a suppression on the tab that now has nothing to
  suppress) and security (SEC301: a secret written into the file leaks whether the node
  runs or not). Stronger, and checked as well: every runtime finding names a node the
  runtime would start (or the tab or subflow holding such nodes, where HA140 anchors);
- renaming nodes (`name`, and a tab's `label`) changes no (rule, node, path, detail): names
  are labels. The new names never equal an id: the runtime finds a config node's users by
  any property value equal to its id, so such a "name" is a reference;
- checking a directory gives what checking its files one by one gives (with the default
  configuration: an `ignore_findings` entry in a config is judged on all files together,
  so a file checked alone may rightly report it unused).

Examples are kept few (deadline off, a few dozen each) so the suite stays fast; the
long-running search is the fuzzers' (fuzz/README.md).
"""

from __future__ import annotations

import copy
import io
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings, target
from hypothesis import strategies as st

from hacheck import reporters
from hacheck.engine.catalog import load_catalog
from hacheck.model.config import Config
from hacheck.load.loader import parse_bytes
from hacheck.run.runner import RunResult, check_one, lint_paths
from tests.conftest import FIXTURES, run_cli

RULES = load_catalog()
CATEGORY = {r.id: r.category for r in RULES}
FILE_CATEGORIES = frozenset({"structure", "security"})  # see the module docstring
# HACHECK_PROPERTY_EXAMPLES=5000 for a long search (fuzz/README.md); the suite keeps it small
EXAMPLES = int(os.environ.get("HACHECK_PROPERTY_EXAMPLES", "60"))
FAST = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def all_rules() -> Config:
    return Config(preview=True)


# --- random flows from real node shapes ----------------------------------------------------------

TABS, SUBFLOWS, GROUPS = ["t1", "t2", "t3"], ["s1", "s2"], ["g1", "g2"]
NODES, CONFIGS = [f"n{i}" for i in range(14)], ["c1", "c2", "c3"]
ANY_ID = TABS + SUBFLOWS + GROUPS + NODES + CONFIGS + ["ghost", ""]
STRUCTURAL = ("tab", "subflow", "group", "junction", "link in", "link out", "link call")
# properties that hold a config node's id in the fixtures' shapes
CONFIG_REFS = ("broker", "server", "client", "tls", "group", "serial", "endpoint", "ui", "page", "theme", "serialport")


def _nodes_of(doc) -> list:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("flows"), list):
        return doc["flows"]
    if isinstance(doc, dict) and isinstance(doc.get("flows"), dict):
        return _nodes_of(doc["flows"])
    return []


@lru_cache(maxsize=1)
def shapes() -> tuple[list[dict], list[dict]]:
    """(flow node shapes, config node shapes): up to three nodes of each type in the fixtures."""
    by_type: dict[str, list[dict]] = {}
    files = sorted(FIXTURES.glob("rules/*/*.json")) + sorted(FIXTURES.glob("flows/*.json")) + sorted(FIXTURES.glob("example/*.json"))
    for p in files:
        try:
            doc = json.loads(p.read_text("utf-8"))
        except ValueError:
            continue  # flows_broken.json
        for n in _nodes_of(doc):
            t = n.get("type") if isinstance(n, dict) else None
            if isinstance(t, str) and t not in STRUCTURAL and not t.startswith("subflow:") and len(by_type.setdefault(t, [])) < 3:
                by_type[t].append(n)
    flow = [n for ns in by_type.values() for n in ns if "x" in n or "wires" in n]
    config = [n for ns in by_type.values() for n in ns if not ("x" in n or "wires" in n)]
    assert len(flow) > 50 and len(config) > 10, "the fixtures are the source of real node shapes"
    return flow, config


ref = st.sampled_from(ANY_ID)
# mostly on a tab, so that most nodes run and the rules have something to say
container = st.sampled_from(TABS * 5 + SUBFLOWS * 2 + ["ghost", None])
disabled = st.sampled_from([False] * 5 + [True, "yes"])
wires = st.lists(st.lists(ref, max_size=3), max_size=3)
label = st.text(max_size=12)
env = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["A", "B", "TOKEN"]), "type": st.sampled_from(["str", "cred", "env", "num"]),
                           "value": st.one_of(st.text(max_size=6), st.sampled_from(["${HOME}", "__PWRD__"]))}),
    max_size=2,
)


def _optional(node: dict, draw, **extra) -> dict:
    for k, strat in extra.items():
        if draw(st.booleans()):
            node[k] = draw(strat)
    return node


@st.composite
def tab(draw, nid):
    return _optional({"id": nid, "type": "tab", "label": draw(label)}, draw, disabled=disabled, env=env,
                     info=st.sampled_from(["", "hacheck-disable HA202 -- a test", "hacheck-disable HA101"]))


@st.composite
def subflow(draw, nid):
    port_in = st.fixed_dictionaries({"x": st.just(50), "y": st.just(30), "wires": st.lists(st.fixed_dictionaries({"id": ref}), max_size=2)})
    port_out = st.fixed_dictionaries({"x": st.just(500), "y": st.just(30),
                                      "wires": st.lists(st.fixed_dictionaries({"id": ref, "port": st.integers(0, 1)}), max_size=2)})
    return _optional({"id": nid, "type": "subflow", "name": draw(label), "in": draw(st.lists(port_in, max_size=1)),
                      "out": draw(st.lists(port_out, max_size=2))}, draw, env=env)


@st.composite
def flow_node(draw):
    """A node of a real shape, placed and wired at random."""
    kind = draw(st.sampled_from(["shape"] * 6 + ["instance", "link", "group", "junction"]))
    nid = draw(st.sampled_from(NODES))
    z = draw(container)
    if kind == "shape":
        n = copy.deepcopy(draw(st.sampled_from(shapes()[0])))
        n.update(id=nid, x=draw(st.integers(0, 900)), y=draw(st.integers(0, 900)))
        if "wires" in n:
            n["wires"] = draw(wires)
        for k in CONFIG_REFS:
            if k in n:
                n[k] = draw(st.sampled_from(CONFIGS + ["ghost"]))
    elif kind == "instance":
        n = {"id": nid, "type": "subflow:" + draw(st.sampled_from(SUBFLOWS + ["ghost"])), "x": 1, "y": 1, "wires": draw(wires)}
        _optional(n, draw, env=env)
    elif kind == "link":
        t = draw(st.sampled_from(["link in", "link out", "link call"]))
        n = {"id": nid, "type": t, "x": 1, "y": 1, "links": draw(st.lists(ref, max_size=3))}
        if t != "link out":
            n["wires"] = draw(wires)
        _optional(n, draw, mode=st.sampled_from(["link", "return"]), linkType=st.sampled_from(["static", "dynamic"]))
    elif kind == "group":
        n = {"id": draw(st.sampled_from(GROUPS)), "type": "group", "nodes": draw(st.lists(ref, max_size=4))}
        _optional(n, draw, g=ref)
    else:
        n = {"id": nid, "type": "junction", "x": 1, "y": 1, "wires": draw(wires)}
    if z is not None:
        n["z"] = z
    return _optional(n, draw, d=disabled, g=st.sampled_from(GROUPS + ["ghost"]))


@st.composite
def config_node(draw):
    n = copy.deepcopy(draw(st.sampled_from(shapes()[1])))
    n["id"] = draw(st.sampled_from(CONFIGS))
    z = draw(st.sampled_from(TABS + SUBFLOWS + [None]))
    if z is not None:
        n["z"] = z
    return _optional(n, draw, d=disabled, credentials=st.fixed_dictionaries({"user": label, "password": label}))


@st.composite
def random_flow(draw):
    nodes = [draw(tab(t)) for t in TABS if draw(st.sampled_from([True] * 4 + [False]))]
    nodes += [draw(subflow(s)) for s in SUBFLOWS if draw(st.booleans())]
    nodes += draw(st.lists(st.one_of(flow_node(), flow_node(), flow_node(), config_node()), max_size=18))
    nodes = draw(st.permutations(nodes))
    shape = draw(st.sampled_from(["array", "array", "admin-api", "snapshot"]))
    if shape == "array":
        return nodes
    creds = {n["id"]: {"password": "pw"} for n in nodes[:2]}
    if shape == "admin-api":
        return {"rev": "1", "flows": nodes, "credentials": creds}
    return {"id": "snap", "name": "s", "flows": {"flows": nodes, "credentials": creds}}


def encode(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


# --- checking and rendering ------------------------------------------------------------------------


def check(data: bytes, path: str = "flows.json", config: Config | None = None):
    """(FileResult, FlowFile), with every rule; a crashed rule (HC000) fails the caller."""
    config = config or all_rules()
    flow = parse_bytes(path, data)
    res = check_one(flow, RULES, config)
    crashed = [f.message for f in res.findings if f.rule_id == "HC000"]
    assert not crashed, crashed
    assert all(f.rule_id in CATEGORY for f in res.findings)
    return res, flow


def render_all(data: bytes) -> dict[str, str]:
    res, flow = check(data)
    run = RunResult([res], RULES, all_rules(), {flow.path: flow})
    out = {}
    for fmt in sorted(reporters.REPORTERS):
        buf = io.StringIO()
        reporters.get(fmt).render(run, buf, color=False)
        out[fmt] = buf.getvalue()
    assert run.failed() in (True, False)
    return out


def keys(findings) -> list[tuple]:
    return sorted((f.rule_id, f.node_id or "", f.path or "", f.detail) for f in findings)


# --- never raises, same bytes every time -----------------------------------------------------------


@FAST
@given(random_flow())
def test_random_flows_check_and_render_the_same_every_time(doc):
    data = encode(doc)
    first = render_all(data)
    assert render_all(data) == first  # a fresh parse and check: nothing carried over


@lru_cache(maxsize=1)
def corpus_docs(corpus: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted((corpus / "files").iterdir())]


_ODD = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False),
                 st.text(max_size=4), st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
                 st.just([["x"], 5]), st.just({"id": "x"}))
_FIELDS = ["id", "type", "z", "g", "wires", "links", "name", "topic", "func", "broker", "d", "disabled", "env", "credentials",
           "nodes", "in", "out", "mode", "scope", "clientid", "rules", "x", "info", "repeat", "url", "server"]
mutation = st.one_of(
    st.tuples(st.just("delete"), st.floats(0, 1)),
    st.tuples(st.just("corrupt"), st.floats(0, 1), st.sampled_from(_FIELDS), _ODD),
    st.tuples(st.just("duplicate"), st.floats(0, 1)),
    st.tuples(st.just("break-wires"), st.floats(0, 1), st.sampled_from(["ghost", "", "self", "tab"])),
    st.tuples(st.just("swap-type"), st.floats(0, 1), st.floats(0, 1)),
    st.tuples(st.just("replace"), st.floats(0, 1), _ODD),
)


def mutate(nodes: list, m: tuple) -> None:
    if not nodes:
        return
    i = min(int(m[1] * len(nodes)), len(nodes) - 1)
    n = nodes[i]
    op = m[0]
    if op == "delete":
        del nodes[i]
    elif op == "duplicate":
        nodes.insert(i, copy.deepcopy(n))
    elif op == "replace":
        nodes[i] = copy.deepcopy(m[2])
    elif not isinstance(n, dict):
        return
    elif op == "corrupt":
        n[m[2]] = copy.deepcopy(m[3])
    elif op == "break-wires":
        tab_ids = [x.get("id") for x in nodes if isinstance(x, dict) and x.get("type") == "tab"]
        target = {"self": n.get("id"), "tab": (tab_ids or ["ghost"])[0]}.get(m[2], m[2])
        n["wires"] = [[target], []] if isinstance(target, str) else [[]]
    elif op == "swap-type":
        other = nodes[min(int(m[2] * len(nodes)), len(nodes) - 1)]
        if isinstance(other, dict):
            n["type"], other["type"] = other.get("type"), n.get("type")


@FAST
@given(st.data())
def test_mutated_corpus_flows_never_crash(corpus, data):
    name, raw = data.draw(st.sampled_from(corpus_docs(corpus)), label="file")
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None  # the malformed ones: mutate their bytes
    if doc is None or not _nodes_of(doc):
        cut = data.draw(st.integers(0, len(raw)))
        mutated = raw[:cut] + data.draw(st.binary(max_size=8)) + raw[cut:]
    else:
        nodes = _nodes_of(doc)
        for m in data.draw(st.lists(mutation, min_size=1, max_size=4), label="mutations"):
            mutate(nodes, m)
        mutated = encode(doc)
        if data.draw(st.booleans()):  # and sometimes the bytes cut short
            mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    res, flow = check(mutated, path=name)
    assert res.path == name
    fmt = data.draw(st.sampled_from(sorted(reporters.REPORTERS)), label="format")
    reporters.get(fmt).render(RunResult([res], RULES, all_rules(), {flow.path: flow}), io.StringIO(), color=False)


# --- invariants -------------------------------------------------------------------------------------


def runtime(findings) -> list:
    return [f for f in findings if CATEGORY[f.rule_id] not in FILE_CATEGORIES]


@FAST
@given(random_flow(), st.data())
def test_disabling_a_tab_removes_the_runtime_findings_on_it(doc, data):
    res, flow = check(encode(doc))
    assume(flow.tabs)
    busy = sorted({f.tab_id for f in runtime(res.findings)} & set(flow.tabs))
    tid = data.draw(st.sampled_from(busy or sorted(flow.tabs)), label="tab")
    target(sum(1 for f in runtime(res.findings) if f.tab_id == tid), label="runtime findings on the tab")
    for n in _nodes_of(doc):
        if n.get("id") == tid and n.get("type") == "tab":
            n["disabled"] = True
    after, flow_after = check(encode(doc))
    on_tab = [(f.rule_id, f.node_id) for f in runtime(after.findings) if f.tab_id == tid]
    assert on_tab == [], on_tab
    # the stronger form: a runtime rule only ever names a node the runtime would start, or the
    # tab or subflow of such nodes (HA140 anchors one finding per tab there)
    for res_, fl in ((res, flow), (after, flow_after)):
        idle = [(f.rule_id, f.node_id) for f in runtime(res_.findings) if f.node_id is not None and not _active(fl, f.node_id)]
        assert idle == [], idle


def _active(flow, node_id: str) -> bool:
    if flow.runs(node_id):
        return True
    node = flow.by_id.get(node_id)
    return node is not None and node.type in ("tab", "subflow") and any(flow.runs(c) for c in flow.children.get(node_id, ()))


names = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)


@FAST
@given(random_flow(), st.data())
def test_renaming_nodes_changes_no_rule_result(doc, data):
    before, _ = check(encode(doc))
    for i, n in enumerate(_nodes_of(doc)):
        new = f"renamed {i} {data.draw(names)}"
        n["label" if n.get("type") == "tab" else "name"] = new
    after, _ = check(encode(doc))
    assert keys(after.findings) == keys(before.findings)


@settings(FAST, max_examples=max(25, EXAMPLES // 4))
@given(st.lists(random_flow(), min_size=1, max_size=4))
def test_checking_a_directory_equals_checking_its_files_one_by_one(docs):
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i, doc in enumerate(docs):
            p = Path(d) / f"flows_{i}.json"
            p.write_bytes(encode(doc))
            files.append(str(p))
        whole = lint_paths([d], Config())
        one_by_one = [fr for f in files for fr in lint_paths([f], Config()).files]
        assert [(fr.path, fr.findings) for fr in whole.files] == [(fr.path, fr.findings) for fr in one_by_one]
        assert whole.failed() == any(lint_paths([f], Config()).failed() for f in files)


# --- across processes ----------------------------------------------------------------------------------


def _cli_outputs(tmp: Path, paths: list[str], tag: str, hash_seed: str, jobs: str) -> tuple[int, dict[str, bytes]]:
    args = ["check", *paths, "-j", jobs]
    for fmt in sorted(reporters.REPORTERS):
        args += ["-f", fmt, "-o", str(tmp / f"{tag}.{fmt}")]
    proc = run_cli(*args, "-f", "text", env={"PYTHONHASHSEED": hash_seed}, timeout=300)
    assert "Traceback" not in proc.err and "internal error" not in proc.err, proc.err
    out = {fmt: (tmp / f"{tag}.{fmt}").read_bytes() for fmt in reporters.REPORTERS}
    out["stdout"] = proc.stdout
    return proc.returncode, out


def test_corpus_output_is_byte_identical_across_processes_hash_seeds_and_jobs(tmp_path, corpus):
    """Hash randomisation changes set and dict-of-set orders between processes, which one
    process never sees; -j 2 merges results from a pool. The whole corpus, every format."""
    files = [str(p) for p in sorted((corpus / "files").iterdir())]
    code1, first = _cli_outputs(tmp_path, files, "a", "0", "1")
    code2, second = _cli_outputs(tmp_path, files, "b", "4242", "2")
    assert code1 == code2 == 1
    assert b"HC000" not in first["json"]
    for fmt in first:
        assert first[fmt] == second[fmt], fmt


@settings(FAST, max_examples=max(4, EXAMPLES // 15))
@given(st.lists(random_flow(), min_size=2, max_size=4))
def test_random_flows_through_the_cli(docs):
    """Exit code 0 or 1; the same bytes with other hash seeds; a directory as its files."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        files = []
        for i, doc in enumerate(docs):
            p = tmp / f"flows_{i}.json"
            p.write_bytes(encode(doc))
            files.append(str(p))
        code, a = _cli_outputs(tmp, [d], "dir", "1", "1")
        assert code in (0, 1)
        code_b, b = _cli_outputs(tmp, files, "files", "99", "2")
        assert code_b == code
        for fmt in a:
            assert a[fmt] == b[fmt], fmt
        findings = json.loads(a["json"])["findings"]
        assert code == (1 if any(f["severity"] in ("error", "warning") and not f.get("suppressed") for f in findings) else 0)
        assert "HC000" not in {f["rule"] for f in findings}
