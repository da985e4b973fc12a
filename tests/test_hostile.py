"""Hostile inputs: whatever a user or an attacker feeds hacheck, it answers with a clear result
(an exit code and a one-line message), in bounded time, and never with a traceback.

Two kinds of cases:
- flow content (self-containing subflows, link and wire loops, wrong types, NaN, huge or deep
  values, lone surrogates...): checked in-process with every rule and rendered in every
  format (a crashing rule would hide as an HC000 finding there, so HC000 fails the test), and
  through the CLI in every format at once;
- paths (FIFOs, sockets, devices, symlink loops, unreadable files, standard input that never
  ends): through the CLI only.
The regressions found by the fuzzers and the property tests are at the end.
"""

from __future__ import annotations

import gc
import io
import json
import os
import socket
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

from hacheck import reporters
from hacheck.engine.catalog import load_catalog
from hacheck.model.config import Config
from hacheck.load.loader import parse_bytes
from hacheck.run.runner import RunResult, check_one
from tests.conftest import REPO, assert_clean_error, run_cli

RULES = load_catalog()
ALL_RULES = Config(preview=True)
TAB = {"id": "t1", "type": "tab", "label": "Main"}


def _pos(**kw) -> dict:
    return {"x": 100, "y": 40, **kw}


def http_in(nid: str, to: list[str]) -> dict:
    return _pos(id=nid, type="http in", z="t1", url=f"/{nid}", method="post", wires=[to])


def response(nid: str) -> dict:
    return _pos(id=nid, type="http response", z="t1", wires=[])


def function(nid: str, z: str, code: str, to: list[str]) -> dict:
    return _pos(id=nid, type="function", z=z, func=code, outputs=1, wires=[to])


def check_everything(data: bytes, path: str = "flows.json"):
    """Every rule, then every format; a rule that crashed (HC000) is a failure here."""
    flow = parse_bytes(path, data)
    res = check_one(flow, RULES, ALL_RULES)
    crashed = [f.message for f in res.findings if f.rule_id == "HC000"]
    assert not crashed, crashed
    run = RunResult([res], RULES, ALL_RULES, {flow.path: flow})
    for fmt in sorted(reporters.REPORTERS):
        buf = io.StringIO()
        reporters.get(fmt).render(run, buf, color=False)
        assert buf.getvalue(), fmt
    return res


def cli_every_format(tmp_path: Path, *paths: str, timeout: float = 120):
    """One `hacheck check` writing every format to a file, and text to stdout."""
    args = ["check", *paths]
    for fmt in sorted(reporters.REPORTERS):
        args += ["-f", fmt, "-o", str(tmp_path / f"out.{fmt}")]
    proc = run_cli(*args, "-f", "text", timeout=timeout)
    assert_clean_error(proc)
    assert "internal error" not in proc.err and "HC000" not in proc.out, proc.err + proc.out
    for fmt in reporters.REPORTERS:
        assert (tmp_path / f"out.{fmt}").stat().st_size > 0, fmt
    return proc


# --- flow content ----------------------------------------------------------------------------

SELF_SUBFLOW = [
    TAB,
    # s1 holds an instance of itself, in a wire loop with a function
    {"id": "s1", "type": "subflow", "name": "Recursive", "in": [{"x": 1, "y": 1, "wires": [{"id": "i1"}]}],
     "out": [{"x": 1, "y": 1, "wires": [{"id": "f1", "port": 0}]}]},
    _pos(id="i1", type="subflow:s1", z="s1", wires=[["f1"]]),
    function("f1", "s1", "flow.set('seen', (flow.get('seen') || 0) + msg.payload); return msg;", ["i1"]),
    http_in("h", ["top"]),
    _pos(id="top", type="subflow:s1", z="t1", wires=[["r", "top"]]),
    response("r"),
]

MUTUAL_SUBFLOWS = [
    TAB,
    {"id": "s1", "type": "subflow", "name": "A", "in": [{"wires": [{"id": "a"}]}], "out": [{"wires": [{"id": "a", "port": 0}]}]},
    {"id": "s2", "type": "subflow", "name": "B", "in": [{"wires": [{"id": "b"}]}], "out": [{"wires": [{"id": "b", "port": 0}]}]},
    _pos(id="a", type="subflow:s2", z="s1", wires=[[]]),
    _pos(id="b", type="subflow:s1", z="s2", wires=[[]]),
    http_in("h", ["top"]),
    _pos(id="top", type="subflow:s1", z="t1", wires=[["r"]]),
    response("r"),
]

LINK_CYCLE = [
    TAB,
    http_in("h", ["lo1"]),
    _pos(id="lo1", type="link out", z="t1", links=["li2"], mode="link"),
    _pos(id="li2", type="link in", z="t1", links=["lo1", "lo2"], wires=[["lo2", "lc"]]),
    _pos(id="lo2", type="link out", z="t1", links=["li1", "li2"], mode="link"),
    _pos(id="li1", type="link in", z="t1", links=["lo2"], wires=[["lo1", "ret"]]),
    # a link call into the loop whose return leads back into the call
    _pos(id="lc", type="link call", z="t1", links=["li1"], linkType="static", wires=[["lc", "lo1"]]),
    _pos(id="ret", type="link out", z="t1", mode="return", links=[]),
]

WIRE_LOOPS = [
    TAB,
    http_in("h", ["f"]),
    function("f", "t1", "const n = flow.get('n') || 0; flow.set('n', n + 1); return msg;", ["f", "g"]),
    function("g", "t1", "return msg;", ["f", "g", "j"]),
    _pos(id="j", type="junction", z="t1", wires=[["j", "f", "r"]]),
    response("r"),
]

# the structure a model walks by following ids: each points where it must not
ODD_STRUCTURE = [
    {"id": "t1", "type": "tab", "label": "Main", "z": "t1", "g": "t1"},
    {"id": "g1", "type": "group", "z": "t1", "g": "g2", "nodes": ["g2", "n1", "g1"]},
    {"id": "g2", "type": "group", "z": "t1", "g": "g1", "nodes": ["g1"]},
    {"id": "g3", "type": "group", "z": "t1", "g": "g3", "nodes": ["g3"]},
    _pos(id="n1", type="inject", z="n1", g="g1", repeat="5", wires=[["n2"]]),
    _pos(id="n2", type="function", z="t1", g="g3", func="flow.set('k', 1)", wires=[["n2"]]),
    _pos(id="i0", type="subflow:", z="t1", wires=[["n2"]]),
    _pos(id="i1", type="subflow:t1", z="t1", wires=[["n2"]]),
    _pos(id="i2", type="subflow:i2", z="t1", wires=[["i2"]]),
    # config nodes that use each other (the runtime starts a config node when a user runs)
    {"id": "c1", "type": "mqtt-broker", "broker": "h", "clientid": "fixed", "tls": "c2"},
    {"id": "c2", "type": "tls-config", "ca": "c1"},
    _pos(id="m1", type="mqtt in", z="t1", topic="a/b", broker="c1", inputs=0, wires=[["m1", "x1"]]),
    _pos(id="x1", type="exec", z="t1", command="true", wires=[[], [], []]),
    _pos(id="cat", type="catch", z="t1", scope=["cat", "n2", "missing"], wires=[["n2"]]),
    _pos(id="st", type="status", z="t1", scope="group", wires=[["st"]]),
    _pos(id="cp", type="complete", z="t1", scope=["cp"], wires=[["cp"]]),
]

# each element fails one way to be a node; one real node keeps it a flow
NOT_NODES = [
    {"id": 5, "type": "inject"}, {"id": None, "type": "debug"}, {"id": {}, "type": "debug"}, {"id": "", "type": "x"},
    {"id": ["a"], "type": "debug"}, {"type": "debug"}, {"id": "no-type"}, {"id": "t", "type": 7},
    "a string", 7, None, [], TAB,
]

LONE_SURROGATES = [
    {"id": "t\ud800", "type": "tab", "label": "tab \udfff"},
    {"id": "b\udc80", "type": "mqtt-broker", "broker": "h\ud800", "clientid": "c\udfff"},
    _pos(id="m\ud800", type="mqtt in", z="t\ud800", name="n\ud800", topic="a/\udfff", broker="b\udc80", inputs=0, wires=[["x\ud800"]]),
    _pos(id="x\ud800", type="exec", z="t\ud800", command="c\udfff", wires=[[], [], []]),
    _pos(id="f\ud800", type="function", z="t\ud800", func="flow.set('\ud800', 1)", wires=[[]]),
]


def _deep(depth: int, leaf) -> str:
    return "[" * depth + json.dumps(leaf) + "]" * depth


def _ten_mb_function() -> bytes:
    line = 'flow.set("total", flow.get("total") + msg.payload); // keep a running total\n'
    code = line * (10_000_000 // len(line))
    return json.dumps([TAB, http_in("h", ["f"]), function("f", "t1", code, ["r"]), response("r")]).encode()


FLOW_CASES = {
    # name: (bytes, exit code, rules that must be among the findings)
    "subflow-contains-itself": (SELF_SUBFLOW, 1, {"HA202"}),
    "subflows-contain-each-other": (MUTUAL_SUBFLOWS, 0, set()),
    "link-cycle-with-a-link-call-loop": (LINK_CYCLE, 1, {"HA150"}),
    "wire-loops-and-wires-to-self": (WIRE_LOOPS, 1, {"HA202"}),
    "groups-tabs-and-subflows-pointing-at-themselves": (ODD_STRUCTURE, 1, {"HA103", "HA101", "HC004"}),
    "elements-that-are-not-nodes": (NOT_NODES, 1, {"HC002"}),
    "lone-surrogates-in-ids-labels-and-code": (LONE_SURROGATES, 1, {"HA101", "HA103"}),
    "exponent-beyond-double-range": (
        (b'[{"id":"t1","type":"tab"},{"id":"i","type":"inject","z":"t1","x":1e999,"y":-1e999,"repeat":"5","onceDelay":1e999,"wires":[["d"]]},'
         b'{"id":"d","type":"exec","z":"t1","x":-0.0,"y":1E+400,"command":"true","wires":[]}]'), 1, {"HA110"}),
    "nesting-900-deep-in-a-field": (
        ('[{"id":"t1","type":"tab"},{"id":"f","type":"function","z":"t1","x":1,"y":1,"wires":[[]],"func":"return msg",'
         f'"deep":{_deep(900, "x")},"rules":{_deep(900, {"t": "set"})}}}]').encode(), 0, set()),
}


@pytest.mark.parametrize("name", sorted(FLOW_CASES))
def test_flow_content(name, tmp_path):
    doc, code, rules = FLOW_CASES[name]
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    res = check_everything(data)
    assert rules <= {f.rule_id for f in res.findings}, [f.rule_id for f in res.findings]
    f = tmp_path / "flows.json"
    f.write_bytes(data)
    proc = cli_every_format(tmp_path, str(f))
    assert proc.returncode == code, proc.out + proc.err
    for rule in rules:
        assert f" {rule} " in proc.out


# a field of the wrong JSON type where the runtime expects another: every core field the rules
# and the model read, each on its own node
WRONG_TYPES = [
    ("mqtt in", "topic", 5), ("mqtt in", "topic", ["a"]), ("mqtt in", "broker", {"id": "b"}), ("mqtt in", "qos", {}),
    ("mqtt in", "inputs", "1"), ("mqtt in", "nl", "yes"), ("mqtt-broker", "clientid", {}), ("mqtt-broker", "clientid", 42),
    ("mqtt-broker", "protocolVersion", [5]), ("mqtt-broker", "birthTopic", 1), ("inject", "wires", "x"),
    ("inject", "wires", [["a", 5, None, ["b"]], "x", None]), ("inject", "repeat", []), ("inject", "crontab", 7),
    ("inject", "once", "true"), ("link out", "links", 7), ("link in", "links", "lo"), ("link call", "links", {"a": 1}),
    ("link out", "mode", []), ("link call", "linkType", 1), ("change", "rules", "x"), ("change", "rules", [1, None, "x", {"t": 5, "p": [], "pt": {}}]),
    ("function", "func", 42), ("function", "func", ["flow.set('a',1)"]), ("function", "initialize", {}),
    ("function", "libs", "x"), ("http in", "url", {}), ("http in", "method", 5), ("switch", "rules", {"t": "eq"}),
    ("delay", "pauseType", 3), ("join", "mode", None), ("catch", "scope", 5), ("status", "scope", {"a": "b"}),
    ("complete", "scope", "n"), ("ui_button", "group", 7), ("websocket in", "server", []), ("kafkajs-consumer", "groupid", 5),
    ("amqp-in", "queueName", []), ("template", "template", 9), ("subflow:s1", "env", "x"),
    ("subflow:s1", "env", [1, {"name": 5, "type": "cred", "value": {"x": 1}}]), ("function", "z", 5), ("function", "g", []),
    ("function", "d", "yes"), ("function", "name", {"n": 1}), ("function", "info", 5),
    ("function", "credentials", "x"), ("function", "credentials", {"password": {"deep": ["x"]}}), ("function", "x", "left"),
]


def _wrong_type_flow(ntype: str, field: str, value) -> list:
    node = _pos(id="n", type=ntype, z="t1", wires=[["d"]], broker="b", topic="a/b")
    node[field] = value
    sub = {"id": "s1", "type": "subflow", "name": "S", "in": "x", "out": [5, {"wires": "x"}], "env": {"a": 1}}
    return [TAB, sub, node, _pos(id="d", type="debug", z="t1", wires=[]), {"id": "b", "type": "mqtt-broker", "broker": "h"}]


@pytest.mark.parametrize("ntype,field,value", WRONG_TYPES, ids=[f"{t}.{f}={json.dumps(v)}" for t, f, v in WRONG_TYPES])
def test_wrong_type_where_a_field_is_read(ntype, field, value):
    res = check_everything(json.dumps(_wrong_type_flow(ntype, field, value)).encode())
    assert res.nodes == 5


def test_wrong_types_through_the_cli(tmp_path):
    """All of them in one directory: every format, one process, exit 0 or 1 (no usage error)."""
    for i, (t, f, v) in enumerate(WRONG_TYPES):
        (tmp_path / f"flows_{i:02d}.json").write_text(json.dumps(_wrong_type_flow(t, f, v)))
    out = tmp_path / "out"
    out.mkdir()
    proc = cli_every_format(out, str(tmp_path))
    assert proc.returncode == 1
    assert f"{len(WRONG_TYPES)} files checked" in proc.out


def test_ten_megabytes_of_function_code(tmp_path):
    """Parsed under the JavaScript front end's time budget; the context write is still found."""
    f = tmp_path / "flows.json"
    f.write_bytes(_ten_mb_function())
    t0 = time.monotonic()
    proc = run_cli("check", str(f), "-f", "json", timeout=600)
    elapsed = time.monotonic() - t0
    assert_clean_error(proc)
    assert proc.returncode == 1, proc.err
    findings = json.loads(proc.out)["findings"]
    assert [(x["rule"], x["node"]) for x in findings if x["rule"] == "HA202"] == [("HA202", "f")]
    print(f"10 MB function code: {elapsed:.1f} s")


# --- numbers and nesting the decoder refuses --------------------------------------------------

REFUSED = [
    # JSON.parse (how Node-RED reads flows) refuses these, so the runtime would not start
    ("nan", b'[{"id":"t1","type":"tab"},\n {"id":"n","type":"inject","z":"t1","x":NaN,"wires":[]}]', "NaN is not allowed at line 2, column 41"),
    ("infinity", b'[{"id":"t1","type":"tab","label":"NaN Infinity"},{"id":"n","type":"inject","y":Infinity}]', "Infinity is not allowed at line 1, column 80"),
    ("minus-infinity", b'{"flows":[{"id":"a","type":"x","v":[1,-Infinity]}]}', "-Infinity is not allowed at line 1, column 39"),
    # Python's int() refuses over 4300 digits (a guard against quadratic conversion)
    ("5000-digit-integer", b'[{"id":"a","type":"inject","x":1.' + b"5" * 5000 + b',"y":\n' + b"9" * 5000 + b"}]", "number with more than 4300 digits at line 2, column 1"),
    ("deep-nesting", ('[{"id":"a","type":"function","deep":' + _deep(100_000, 0) + "}]").encode(), "nesting too deep"),
    ("invalid-utf8", b'[{"id":"a",\n "type":"inject","name":"caf\xe9"}]', "is not UTF-8: invalid byte at line 2, column 29"),
    ("utf16-export", json.dumps([TAB]).encode("utf-16"), "is not UTF-8: invalid byte at line 1, column 1"),
    ("bom-only", b"\xef\xbb\xbf \n\t", "is empty"),
]


@pytest.mark.parametrize("name,data,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_documents_are_unreadable_flows(name, data, message, tmp_path):
    flow = parse_bytes("flows.json", data)
    assert [(p.rule, p.message) for p in flow.problems] == [("HC001", flow.problems[0].message)]
    assert message in flow.problems[0].message
    check_everything(data)
    f = tmp_path / "flows.json"
    f.write_bytes(data)
    proc = run_cli("check", str(f))
    assert proc.returncode == 1
    assert_clean_error(proc, "HC001", message)


def test_largest_integer_python_reads_is_a_number():
    digits = b"9" * 4300
    flow = parse_bytes("f.json", b'[{"id":"a","type":"inject","n":' + digits + b"}]")
    assert flow.problems == [] and flow.nodes[0].get("n") == int(digits)


# --- paths --------------------------------------------------------------------------------------


def _symlink_loop(tmp: Path) -> list[str]:
    d = tmp / "proj"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "loop").symlink_to(d, target_is_directory=True)
    (d / "self").symlink_to(d / "self")
    (d / "sub" / "flows.json").write_text(json.dumps([TAB]))
    return [str(d)]


def _fifo_in_directory(tmp: Path) -> list[str]:
    os.mkfifo(tmp / "flows.json")
    (tmp / "flows_real.json").write_text(json.dumps([TAB]))
    return [str(tmp)]


def _socket(tmp: Path) -> list[str]:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp / "flows.json"))
    s.close()
    return [str(tmp / "flows.json")]


def _dir_named_like_a_flow(tmp: Path) -> list[str]:
    (tmp / "flows.json").mkdir()
    return [str(tmp)]


def _dangling_symlink(tmp: Path) -> list[str]:
    (tmp / "flows.json").symlink_to(tmp / "gone.json")
    return [str(tmp)]


def _read_fails(tmp: Path) -> list[str]:
    """A file whose read fails: /proc/self/mem gives EIO at offset 0 even to root (the suite
    runs as root, for whom chmod 000 would not stop the read)."""
    (tmp / "flows.json").symlink_to("/proc/self/mem")
    return [str(tmp)]


def _same_file_twice(tmp: Path) -> list[str]:
    for name in ("flows.json", "flows_b.json"):
        (tmp / name).write_text(json.dumps([TAB]))
    return [str(tmp), str(tmp / "flows.json"), str(tmp / ".." / tmp.name / "flows.json")]


PATH_CASES = [
    # name, setup -> CLI paths, exit code, message fragment
    ("directory-with-symlink-loops", _symlink_loop, 0, "1 file checked"),
    ("fifo-inside-a-directory-is-skipped", _fifo_in_directory, 0, "1 file checked"),
    ("unix-socket-named", _socket, 1, "cannot be read: No such device or address"),
    ("directory-named-flows.json", _dir_named_like_a_flow, 2, "no flow files found"),
    ("dangling-symlink", _dangling_symlink, 1, "cannot be read: No such file or directory"),
    ("read-fails-with-eio", _read_fails, 1, "cannot be read: Input/output error"),
    ("device-dev-null", lambda tmp: ["/dev/null"], 1, "not a regular file (FIFO, device or socket)"),
    ("device-dev-urandom", lambda tmp: ["/dev/urandom"], 1, "not a regular file (FIFO, device or socket)"),
    ("same-file-through-a-directory-and-by-name", _same_file_twice, 0, "2 files checked"),
]


@pytest.mark.parametrize("name,setup,code,fragment", PATH_CASES, ids=[c[0] for c in PATH_CASES])
def test_hostile_paths(name, setup, code, fragment, tmp_path):
    paths = setup(tmp_path)
    proc = run_cli("check", *paths, timeout=60)
    assert proc.returncode == code, proc.out + proc.err
    assert_clean_error(proc, fragment)
    if code == 2:
        lines = proc.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hacheck: error: "), proc.err


def test_unreadable_file_when_not_root(tmp_path):
    """chmod 000 where it means something; as root the read succeeds, and must check the file."""
    f = tmp_path / "flows.json"
    f.write_text(json.dumps([TAB]))
    f.chmod(0)
    proc = run_cli("check", str(f))
    assert_clean_error(proc)
    if os.geteuid() == 0:
        assert proc.returncode == 0 and "1 file checked" in proc.out
    else:
        assert proc.returncode == 1 and "cannot be read: Permission denied" in proc.out


def test_standard_input_that_never_ends():
    """`hacheck check - < /dev/zero`: read up to the file size limit, then a clear HC001."""
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run([sys.executable, "-m", "hacheck", "check", "-"], stdin=zero, capture_output=True, check=False,
                              cwd=REPO, env={**os.environ, "NO_COLOR": "1"}, timeout=300)
    out = proc.stdout.decode()
    assert proc.returncode == 1, proc.stderr
    assert "HC001" in out and "standard input is over the 512 MiB limit" in out
    assert b"Traceback" not in proc.stderr


# --- a million nodes ------------------------------------------------------------------------------


def _write_million(path: Path, n: int = 1_000_000) -> None:
    """1000 tabs of inject -> function -> debug chains, streamed (never a list in memory)."""
    per_tab, count, t = 1000, 0, 0
    with open(path, "w") as out:
        out.write("[")
        sep = ""
        while count < n:
            tid = f"tab{t}"
            out.write(sep + json.dumps({"id": tid, "type": "tab", "label": f"Tab {t}"}))
            sep, count = ",\n", count + 1
            for i in range(0, per_tab - 1, 3):
                if count + 3 > n:
                    break
                a, b, c = f"{tid}.{i}", f"{tid}.{i + 1}", f"{tid}.{i + 2}"
                out.write(sep + json.dumps(_pos(id=a, type="inject", z=tid, repeat="", wires=[[b]])))
                out.write(sep + json.dumps(function(b, tid, "msg.payload += 1;\nreturn msg;", [c])))
                out.write(sep + json.dumps(_pos(id=c, type="debug", z=tid, wires=[])))
                count += 3
            t += 1
        while count < n:
            out.write(sep + json.dumps(_pos(id=f"c{count}", type="comment", z="tab0", wires=[])))
            count += 1
        out.write("]\n")


def test_a_million_nodes_in_one_file(tmp_path):
    """Finishes with the right answer. Time and peak memory are printed, not asserted (they
    depend on the machine); see the issue 12 note for measured numbers."""
    f = tmp_path / "flows.json"
    _write_million(f)
    t0 = time.monotonic()
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        p = subprocess.Popen([sys.executable, "-m", "hacheck", "check", str(f), "-q"], stdout=out, stderr=err,
                             cwd=REPO, env={**os.environ, "NO_COLOR": "1"})
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - t0
    err_text = (tmp_path / "err").read_text()
    assert p.returncode == 0, err_text + (tmp_path / "out").read_text()[:2000]
    assert "Traceback" not in err_text
    print(f"1,000,000 nodes ({f.stat().st_size / 1e6:.0f} MB): {elapsed:.1f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MiB")


# --- regressions found by the fuzzers and property tests ------------------------------------------


def test_regression_integer_over_4300_digits_was_an_internal_error(tmp_path):
    """Was: ValueError from int() escaped parse_bytes (exit 2 "internal error" on the CLI)."""
    data = b'[{"id":"a","type":"inject","repeat":' + b"1" * 4301 + b"}]"
    assert [p.rule for p in parse_bytes("f.json", data).problems] == ["HC001"]


def test_regression_nan_was_read_as_a_number(tmp_path):
    """Was: a client id of NaN gave HA103 "fixed client id 'nan'" for a file Node-RED cannot load."""
    data = b'[{"id":"b","type":"mqtt-broker","broker":"h","clientid":NaN}]'
    res = check_everything(data)
    assert [f.rule_id for f in res.findings] == ["HC001"]


def test_regression_lone_surrogates_crashed_text_and_json_output(tmp_path):
    """Was: UnicodeEncodeError writing a tab label "\\udfff" to stdout (text) and an id (json)."""
    f = tmp_path / "flows.json"
    f.write_text(json.dumps(LONE_SURROGATES))
    for fmt in ("text", "json"):
        proc = run_cli("check", str(f), "-f", fmt)
        assert proc.returncode == 1, proc.err
        assert_clean_error(proc)
    doc = json.loads(run_cli("check", str(f), "-f", "json").out)
    assert [x["rule"] for x in doc["findings"]].count("HA101") == 1  # the mqtt in "m\ud800"


def test_regression_html_with_a_position_beyond_float_range(tmp_path):
    big = "9" * 400
    data = f'[{{"id":"t1","type":"tab"}},{{"id":"a","type":"inject","z":"t1","x":{big},"y":-{big},"wires":[]}}]'.encode()
    check_everything(data)


def test_regression_sarif_with_a_file_name_that_is_not_utf8(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    Path(os.fsdecode(bytes(d) + b"/flows_\xff.json")).write_text(json.dumps([TAB]))
    proc = run_cli("check", str(d), "-f", "sarif")
    assert proc.returncode == 0, proc.err
    assert_clean_error(proc)


def test_regression_deploy_audit_with_a_file_name_that_is_not_utf8(tmp_path):
    flows = Path(os.fsdecode(bytes(tmp_path) + b"/flows_\xff.json"))
    flows.write_text(json.dumps([TAB]))
    (tmp_path / "hacheck-targets.yaml").write_text("targets:\n  t:\n    kind: node-red\n    replicas: [http://127.0.0.1:1]\n    retries: 0\n    timeout: 2\n")
    proc = run_cli("deploy", flows.name, "--target", "t", "--dry-run", "--audit-log", "audit.log", cwd=tmp_path)
    assert proc.returncode == 1, proc.err
    assert_clean_error(proc)
    assert len((tmp_path / "audit.log").read_text().splitlines()) == 1


def _freed_after_check(doc) -> bool:
    flow = parse_bytes("flows.json", json.dumps(doc).encode())
    ref = weakref.ref(flow)
    check_one(flow, RULES, ALL_RULES)
    del flow
    gc.collect()
    return ref() is None


def test_a_checked_flow_is_freed():
    """One process checks many files one after the other (a fleet, pre-commit): nothing may
    keep a flow alive once its result is made, or memory grows with every file."""
    assert _freed_after_check(ODD_STRUCTURE)


def test_regression_a_checked_flow_with_a_load_balanced_input_is_freed():
    assert _freed_after_check(WIRE_LOOPS)
