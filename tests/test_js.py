"""Tests for hacheck.analysis.js: the JavaScript front end of function-node code."""
from __future__ import annotations

import sys
import threading

import pytest

from hacheck.analysis import js
from hacheck.analysis.js import ContextAccess, JsAnalysis, Timer, analyze


def acc(src: str) -> list[tuple]:
    """(scope, op, keys, dynamic_key, store) of each access, in source order."""
    r = analyze(src)
    return [(a.scope, a.op, a.keys, a.dynamic_key, a.store) for a in r.accesses]


# --------------------------------------------------------------------------
# recognised forms

FORMS = [
    ('flow.set("k", 1)', [("flow", "set", ("k",), False, None)]),
    ('flow.get("k")', [("flow", "get", ("k",), False, None)]),
    ("flow.keys()", [("flow", "keys", (), False, None)]),
    ('global.set("k", 1)', [("global", "set", ("k",), False, None)]),
    ("global.get('k')", [("global", "get", ("k",), False, None)]),
    ("global.keys()", [("global", "keys", (), False, None)]),
    ('context.set("k", 1)', [("node", "set", ("k",), False, None)]),
    ('context.get("k")', [("node", "get", ("k",), False, None)]),
    ("context.keys()", [("node", "keys", (), False, None)]),
    ('context.flow.set("k", 1)', [("flow", "set", ("k",), False, None)]),
    ('context.flow.get("k")', [("flow", "get", ("k",), False, None)]),
    ("context.flow.keys()", [("flow", "keys", (), False, None)]),
    ('context.global.set("k", 1)', [("global", "set", ("k",), False, None)]),
    ('context.global.get("k")', [("global", "get", ("k",), False, None)]),
    ("context.global.keys()", [("global", "keys", (), False, None)]),
    # optional chaining
    ('flow?.get("k")', [("flow", "get", ("k",), False, None)]),
    ('context?.flow?.set("k", 1)', [("flow", "set", ("k",), False, None)]),
    ('flow.get?.("k")', [("flow", "get", ("k",), False, None)]),
    ('context?.global.get("k")', [("global", "get", ("k",), False, None)]),
    # computed member access with a literal
    ('flow["set"]("k", 1)', [("flow", "set", ("k",), False, None)]),
    ("flow['get']('k')", [("flow", "get", ("k",), False, None)]),
    ('context["flow"].get("k")', [("flow", "get", ("k",), False, None)]),
    ('context["global"]["set"]("k", 1)', [("global", "set", ("k",), False, None)]),
    ("flow[`keys`]()", [("flow", "keys", (), False, None)]),
    ('flow?.["get"]("k")', [("flow", "get", ("k",), False, None)]),
    # parenthesised callee / .call
    ('(flow.set)("k", 1)', [("flow", "set", ("k",), False, None)]),
    ('(0, flow.get)("k")', [("flow", "get", ("k",), False, None)]),
    ('flow.set.call(flow, "k", 1, "file")', [("flow", "set", ("k",), False, "file")]),
    # whitespace, comments and newlines inside the call
    ('flow\n  .set( /* key */ "k", // v\n 1)', [("flow", "set", ("k",), False, None)]),
    # return value used, nested calls, awaited
    ('const v = flow.get("a") ?? global.get("b");',
     [("flow", "get", ("a",), False, None), ("global", "get", ("b",), False, None)]),
    ('msg.payload = await flow.get("k");', [("flow", "get", ("k",), False, None)]),
    ('flow.set("a", flow.get("b") + 1)',
     [("flow", "set", ("a",), False, None), ("flow", "get", ("b",), False, None)]),
    # code inside template substitutions and JSX expressions is code
    ('msg.payload = `n=${flow.get("n")}`', [("flow", "get", ("n",), False, None)]),
    ('const e = <b>{global.get("g")}</b>;', [("global", "get", ("g",), False, None)]),
    # not context accesses
    ('msg.get("k"); map.set("k", 1); node.set("x"); env.get("X")', []),
    ('flow.other("k"); flow.setX("k"); context.node.get("k"); flow.flow.get("k")', []),
    ('global.flow.get("k"); flow.global.set("k", 1)', []),
    ('const o = { get(k) {}, set(k, v) {} }; o.get("k")', []),
    ("flow.get", []),  # not called
    ('flow[k]("x")', []),  # computed method name
]


@pytest.mark.parametrize("src,expected", FORMS)
def test_forms(src, expected):
    assert acc(src) == expected


# --------------------------------------------------------------------------
# stores and callbacks

STORES = [
    ('flow.get("k", "persistent")', "persistent"),
    ('flow.get("k", `memory`)', "memory"),
    ('flow.set("k", 1, "redis")', "redis"),
    ('context.set("k", 1, "file")', "file"),
    ('global.keys("disk")', "disk"),
    ('context.global.get("k", "file")', "file"),
    ('flow.get(["a", "b"], "file")', "file"),
    ('flow.set(["a", "b"], [1, 2], "file")', "file"),
    ('flow.set("k", 1, "file", function (err) {})', "file"),
    ('flow.get("k", "file", (err, v) => {})', "file"),
    # callback in the store position is not a store
    ('flow.get("k", function (err, v) {})', None),
    ('flow.get("k", (err, v) => {})', None),
    ('flow.get("k", async (err, v) => {})', None),
    ('flow.set("k", 1, (err) => {})', None),
    ("global.keys(function (err, keys) {})", None),
    ('function done(e, v) {}\nflow.get("k", done)', None),
    ('const cb = (e, v) => {};\nflow.get("k", cb)', None),
    # explicit default
    ('flow.get("k", undefined, cb)', None),
    ('flow.set("k", 1, null)', None),
    # absent
    ('flow.get("k")', None),
    ('flow.set("k", 1)', None),
    ("flow.keys()", None),
    # value argument of set is not a store
    ('flow.set("k", "persistent")', None),
    # non-literal store
    ('flow.get("k", store)', "?"),
    ('flow.set("k", 1, env.get("STORE"))', "?"),
    ('flow.get("k", `${s}`)', "?"),
    ('flow.get("k", a ? "x" : "y")', "?"),
    ('flow.get(...args)', "?"),
    ('flow.set("k", ...rest)', "?"),
]


@pytest.mark.parametrize("src,store", STORES)
def test_store(src, store):
    accesses = [a for a in analyze(src).accesses if a.scope == "flow" or "flow" not in src]
    assert len(accesses) == 1, accesses
    assert accesses[0].store == store


# --------------------------------------------------------------------------
# keys

KEYS = [
    ('flow.get("a.b")', ("a.b",), False),  # kept as written
    ("flow.get('a[0].b')", ("a[0].b",), False),
    ("flow.get(`plain`)", ("plain",), False),
    ('flow.get(["a", \'b\', `c`])', ("a", "b", "c"), False),
    ('flow.set(["a", "b"], [1, 2])', ("a", "b"), False),
    ('flow.get("a\\"b\\u0041\\x42\\n")', ('a"bAB\n',), False),
    ('flow.get("\\u{1F600}")', ("\U0001F600",), False),
    ('flow.get("\\uD83D\\uDE00")', ("\U0001F600",), False),
    ('flow.get("")', ("",), False),
    ('flow.get("clé")', ("clé",), False),
    # dynamic
    ("flow.get(k)", (), True),
    ('const K = "x"; flow.get(K)', ("x",), False),  # a variable bound once, to a literal
    ('let K = "x"; K = msg.topic; flow.get(K)', (), True),  # assigned again: unknown
    ('function f(K) { return flow.get(K); }', (), True),  # a parameter: unknown
    ('const K = "x"; function g() { const K = msg.topic; flow.get(K); }', (), True),  # two bindings
    ("flow.get(`a${i}`)", (), True),
    ('flow.get("a" + i)', (), True),
    ('flow.get(msg.topic)', (), True),
    ('flow.get(["a", k])', (), True),
    ('flow.get(["a", ...more])', (), True),
    ("flow.get(...args)", (), True),
    ("flow.get()", (), True),
    ("flow.set(k, 1)", (), True),
    ("flow.get(1)", (), True),
]


@pytest.mark.parametrize("src,keys,dynamic", KEYS)
def test_keys(src, keys, dynamic):
    (a,) = analyze(src).accesses
    assert (a.keys, a.dynamic_key) == (keys, dynamic)


# --------------------------------------------------------------------------
# comments, strings, template strings and regexes never trigger anything

INERT = [
    '// flow.set("k", 1)',
    '/* flow.set("k", 1) */',
    '/**\n * global.get("k")\n * setInterval(f, 1)\n */',
    "'flow.set(\"k\", 1)'",
    '"context.flow.set(\'k\', 1)"',
    '`flow.set("k", 1)`',
    '`${"flow.set(1)"}`',
    '/flow.set\\("k", 1\\)/.test(msg.payload)',
    'const re = /context.get("k")/g;',
    '"setInterval(f, 1000)"',
    "// setTimeout(f, 1)",
    "const s = `setTimeout(f, 1)`;",
    '/* global.set("a", 1) */ // flow.get("b")\n"setInterval(x)"',
    "<div>flow.set('k', 1)</div>",  # JSX text
]


@pytest.mark.parametrize("src", INERT)
def test_inert(src):
    r = analyze(src)
    assert r.accesses == ()
    assert r.timers == ()


def test_code_next_to_comment_is_still_found():
    src = '// flow.set("a", 1)\nflow.set("b", 2) /* flow.set("c", 3) */'
    assert acc(src) == [("flow", "set", ("b",), False, None)]


# --------------------------------------------------------------------------
# aliases and destructuring

ALIASES = [
    ('const f = flow; f.set("k", 1)', [("flow", "set", ("k",), False, None)]),
    ('let g = context.global; g.get("k")', [("global", "get", ("k",), False, None)]),
    ('var c = context; c.get("k"); c.flow.set("j", 1)',
     [("node", "get", ("k",), False, None), ("flow", "set", ("j",), False, None)]),
    ('var s = flow.set; s("k", 1, "file")', [("flow", "set", ("k",), False, "file")]),
    ('const g = context.global.get;\ng("k")', [("global", "get", ("k",), False, None)]),
    ('const { set, get } = flow; set("k", 1); get("j")',
     [("flow", "set", ("k",), False, None), ("flow", "get", ("j",), False, None)]),
    ('const { get: fget } = global; fget("k")', [("global", "get", ("k",), False, None)]),
    ('const {flow: fl} = context; fl.get("k")', [("flow", "get", ("k",), False, None)]),
    ('const {flow} = context; flow.get("k")', [("flow", "get", ("k",), False, None)]),
    ('const {flow: {set}} = context; set("k", 1)', [("flow", "set", ("k",), False, None)]),
    ('const {"global": gl} = context; gl.keys()', [("global", "keys", (), False, None)]),
    ('const { set = null } = flow; set("k", 1)', [("flow", "set", ("k",), False, None)]),
    # chains of aliases, in any order
    ('const a = flow; const b = a; b.get("k")', [("flow", "get", ("k",), False, None)]),
    ('b.get("k"); var b = a; var a = global;', [("global", "get", ("k",), False, None)]),
    # plain assignment after a bare declaration
    ('let f;\nf = flow;\nf.get("k")', [("flow", "get", ("k",), False, None)]),
    ('let f; ({ set: f } = flow); f("k", 1)', [("flow", "set", ("k",), False, None)]),
    # alias used inside nested functions, callbacks, classes
    ('const f = flow;\nmsg.payload.forEach(x => f.set(x.k, x.v));',
     [("flow", "set", (), True, None)]),
    ('class C { m() { return flow.get("k"); } }', [("flow", "get", ("k",), False, None)]),
    # not aliases
    ('const f = flow.get("k"); f.get("x")', [("flow", "get", ("k",), False, None)]),
    ('const f = somethingElse; f.set("k", 1)', []),
    # an alias bound to two different things is not an alias
    ('let f = flow; f = {}; f.set("k", 1)', []),
    ('let f = flow; if (x) { f = global; } f.set("k", 1)', []),
    ('const f = flow; function g(f) { f.set("k", 1) }', []),
    # array destructuring / rest: unknown
    ('const [f] = [flow]; f.set("k", 1)', []),
    ('const {...r} = flow; r.set("k", 1)', []),
]


@pytest.mark.parametrize("src,expected", ALIASES)
def test_aliases(src, expected):
    assert acc(src) == expected


NAMES = [
    ('$flow.get("k"); flow$.get("k"); _flow.get("k"); myflow.get("k")', []),
    ('éflow.get("k"); flowé.get("k")', []),
    ('msg.flow.get("k"); this.flow.set("k", 1); msg.context.get("k")', []),
    ('const o = { flow }; o.flow.get("k")', []),  # through an object: not followed
    ('const $f = flow; $f.set("k", 1)', [("flow", "set", ("k",), False, None)]),
    ('const f$ = global; f$.get("k")', [("global", "get", ("k",), False, None)]),
    ('const é = context; é.get("k")', [("node", "get", ("k",), False, None)]),
    ('const flowX = flow; flowX.get("k")', [("flow", "get", ("k",), False, None)]),
]


@pytest.mark.parametrize("src,expected", NAMES)
def test_identifier_boundaries(src, expected):
    assert acc(src) == expected


# --------------------------------------------------------------------------
# shadowing: a flow/global/context bound to something else is not the sandbox's

SHADOWED = [
    'const flow = { set() {} }; flow.set("k", 1)',
    'let flow = require("x"); flow.get("k")',
    'var global = {}; global.get("k")',
    'function f(flow) { flow.set("k", 1) }',
    'const f = (flow) => flow.set("k", 1)',
    'const f = flow => flow.set("k", 1)',
    'function f({ flow }) { flow.set("k", 1) }',
    'function f(a, ...flow) { flow.set("k", 1) }',
    'function f(flow = {}) { flow.set("k", 1) }',
    'function flow() {} flow.set("k", 1)',
    'class context {} context.get("k")',
    'try {} catch (context) { context.get("k") }',
    'for (const flow of list) { flow.set("k", 1) }',
    'for (var global in o) { global.set("k", 1) }',
    'let flow; flow.set("k", 1)',
    'flow = other; flow.set("k", 1)',
    'const { flow } = msg; flow.set("k", 1)',
    # the simplification: shadowing anywhere counts for the whole body
    'function f(flow) {}\nflow.set("k", 1)',
    # a shadowed context takes context.flow with it
    'const context = {}; context.flow.get("k")',
]


@pytest.mark.parametrize("src", SHADOWED)
def test_shadowed(src):
    assert acc(src) == []


def test_shadowing_one_name_leaves_the_others():
    src = 'function f(flow) { flow.set("k", 1) }\nglobal.set("g", 1); context.flow.get("c")'
    assert acc(src) == [
        ("global", "set", ("g",), False, None),
        ("flow", "get", ("c",), False, None),
    ]


def test_redeclaring_a_builtin_to_itself_is_not_shadowing():
    assert acc('const flow = context.flow; flow.get("k")') == [
        ("flow", "get", ("k",), False, None)
    ]
    assert acc('const global = context.global; global.get("k")') == [
        ("global", "get", ("k",), False, None)
    ]


# --------------------------------------------------------------------------
# timers


TIMERS = [
    ("setInterval(f, 1000)", ["setInterval"]),
    ("setTimeout(() => node.send(msg), 10)", ["setTimeout"]),
    ("const h = setInterval(function () {}, 5);\nsetTimeout(g, 1);", ["setInterval", "setTimeout"]),
    ("context.set('t', setInterval(tick, 1000))", ["setInterval"]),
    ("const si = setInterval; si(f, 1)", ["setInterval"]),
    ("(setTimeout)(f, 1)", ["setTimeout"]),
    ('"setInterval(f, 1000)"', []),
    ("// setInterval(f, 1000)", []),
    ("/* setTimeout(f) */", []),
    ("`setTimeout(f)`", []),
    ("clearInterval(h); clearTimeout(t)", []),
    ("obj.setInterval(f, 1)", []),
    ("const x = setInterval;", []),  # not called
    ("function setTimeout() {} setTimeout()", []),  # shadowed
]


@pytest.mark.parametrize("src,kinds", TIMERS)
def test_timers(src, kinds):
    assert [t.kind for t in analyze(src).timers] == kinds


def test_timer_lines():
    r = analyze("let a = 1;\n\nsetInterval(f, 1);\n  setTimeout(g,\n 2);")
    assert r.timers == (Timer("setInterval", 3), Timer("setTimeout", 4))


# --------------------------------------------------------------------------
# positions

def test_line_and_column_in_user_coordinates():
    src = 'let x = 1;\n  flow.set("a", 1);\n\nif (x) { global.get("b"); }'
    r = analyze(src)
    assert [(a.line, a.column) for a in r.accesses] == [(2, 3), (4, 10)]


def test_first_line_column():
    (a,) = analyze('flow.get("k")').accesses
    assert (a.line, a.column) == (1, 1)


def test_column_counts_code_points_not_bytes():
    (a,) = analyze('const é = "ñ€😀"; flow.get("k")').accesses
    assert (a.line, a.column) == (1, 18)


def test_crlf_lines():
    r = analyze('let a;\r\nflow.get("k");\r\nsetTimeout(f);')
    assert [(x.line, x.column) for x in r.accesses] == [(2, 1)]
    assert r.timers == (Timer("setTimeout", 3),)


# --------------------------------------------------------------------------
# modern syntax and function-body semantics parse cleanly

MODERN = [
    "return msg;",
    "if (!msg.payload) { return null; }\nreturn [msg, null];",
    "const v = await flow.get('k');\nreturn msg;",
    "for await (const x of stream) { node.send(x); }",
    "const a = msg?.payload?.value ?? 0;",
    "x ||= 1; y &&= 2; z ??= 3;",
    "class A extends B { #p = 1; static s = 2; get v() { return this.#p; } async *gen() { yield 1; } }",
    "const f = async (a, { b, c = 2 }, ...rest) => ({ ...a, b, c, rest });",
    "const [a, , b = 1, ...c] = [...list];",
    "const t = tag`x${y}z`; const s = `a${`b${c}`}`;",
    "const r = /[/]+\\d{2,}(?<name>x)/gu.test(s);",
    "const n = 1_000_000n + 0x1fn;",
    "label: for (;;) { break label; }",
    "const o = { [k]: 1, async m() {}, get x() { return 1; }, 'q': 2 };",
    "new.target; import.meta; typeof globalThis;",
    "try { f(); } catch { g(); } finally { h(); }",
    "let r = a ** 2; let s = a?.[0]?.(1);",
    "node.warn('done'); return;",
    "",
    "   \n\t  ",
    "// only a comment",
]


@pytest.mark.parametrize("src", MODERN)
def test_modern_syntax_has_no_error(src):
    assert analyze(src).error is None


def test_top_level_return_and_await_with_accesses():
    r = analyze('const x = await flow.get("k", "file");\nif (!x) return null;\nreturn msg;')
    assert r.error is None
    assert [(a.op, a.keys, a.store) for a in r.accesses] == [("get", ("k",), "file")]


# --------------------------------------------------------------------------
# syntax errors

def test_syntax_error_mentions_line():
    r = analyze('let a = 1;\nlet b = ;\nflow.set("k", 1);')
    assert r.error is not None
    assert r.error.startswith("syntax error at line 2, column ")
    # accesses in the rest are still reported
    assert [(a.scope, a.op, a.keys) for a in r.accesses] == [("flow", "set", ("k",))]


def test_syntax_error_unclosed_call_keeps_later_accesses():
    r = analyze('foo(;\nglobal.get("g");\nsetTimeout(f, 1)')
    assert r.error == "syntax error at line 1, column 5"
    assert [(a.scope, a.keys) for a in r.accesses] == [("global", ("g",))]
    assert [t.kind for t in r.timers] == ["setTimeout"]


@pytest.mark.parametrize(
    "src,line",
    [
        ("if (a) {\n  b();", 2),  # missing } at the end: reported within the user's code
        ("a = 1;\nb = `unclosed\n", 2),
        ("x = 1;\n/* never closed", 2),
        ("}\nreturn msg;", 1),  # closes the wrapper early
        ("return msg;\n}}", 2),
        ("const = 1;", 1),
        ("return msg;\n}\nflow.get('k')", 2),
        ("a b c", 1),
        ("\n\n\nfunction (", 4),
    ],
)
def test_syntax_error_lines(src, line):
    err = analyze(src).error
    assert err is not None and err.startswith("syntax error at line ")
    got = int(err.split("line ")[1].split(",")[0])
    assert got == line
    assert 1 <= got <= src.count("\n") + 1


# --------------------------------------------------------------------------
# robustness

@pytest.mark.parametrize("value", [None, 0, 1.5, b'flow.set("k", 1)', ["flow.set('k',1)"], {"a": 1}, object()])
def test_non_string_input(value):
    assert analyze(value) == JsAnalysis((), (), None)


def test_empty_analysis_for_empty_string():
    assert analyze("") == JsAnalysis((), (), None)


def test_nul_bytes():
    r = analyze('flow.set("a\0b", 1);\0\nglobal.get("k")')
    assert r.error is not None
    assert ("global", "get", ("k",), False, None) in acc('flow.set("a\0b", 1);\0\nglobal.get("k")')
    # a NUL inside a string literal is kept in the key
    assert any(a.keys == ("a\0b",) for a in r.accesses)


def test_lone_surrogates():
    src = 'const s = "\ud800"; flow.set("k\udc00", 1);\nglobal.get("g")'
    r = analyze(src)
    assert ("global", "get", ("g",)) in [(a.scope, a.op, a.keys) for a in r.accesses]
    assert ("flow", "set", ("k\udc00",)) in [(a.scope, a.op, a.keys) for a in r.accesses]


def test_deep_parentheses_and_arrays_do_not_crash():
    depth = 50_000
    for src in (
        "(" * depth + "1" + ")" * depth + ';\nflow.get("k")',
        "x = " + "[" * depth + "]" * depth + ';\nflow.get("k")',
        "f(" * depth + ")" * depth + ';\nflow.get("k")',
        "a" + ".b" * depth + '.get("k")',
        "{" * depth + "}" * depth + ';\nflow.get("k")',
        "(" * depth,  # unbalanced
        "x = " + "[" * depth,
        "flow" + "?.x" * depth + '.set("k", 1)',
    ):
        r = analyze(src)
        assert isinstance(r, JsAnalysis)


def test_deep_nesting_still_finds_access():
    depth = 20_000
    r = analyze("x = " + "[" * depth + 'flow.get("deep")' + "]" * depth)
    assert [a.keys for a in r.accesses] == [("deep",)]


def test_deep_recursion_limit_not_needed():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        js.analyze.cache_clear()
        r = analyze("(" * 5000 + 'flow.get("k")' + ")" * 5000)
        assert [a.keys for a in r.accesses] == [("k",)]
    finally:
        sys.setrecursionlimit(old)


def test_ten_megabytes_of_code_returns():
    chunk = (
        "function f%d(msg) {\n"
        "    const v = flow.get('counter') || 0; // flow.set('no', 1)\n"
        "    if (msg.payload > v) { flow.set('counter', msg.payload, 'file'); }\n"
        "    return { payload: `value ${v}`, re: /a+b/g.test(msg.topic) };\n"
        "}\n"
    )
    parts = []
    size = 0
    i = 0
    while size < 10 * 1024 * 1024:
        s = chunk % i
        parts.append(s)
        size += len(s)
        i += 1
    src = "".join(parts)
    r = analyze(src)
    if r.error is not None and r.error.startswith("parse aborted"):
        return  # an extremely loaded machine: the time budget ran out
    assert r.error is None
    assert len(r.accesses) == 2 * i


def test_garbage_returns_with_error_and_accesses():
    src = ("}{)(][" * 10_000) + '\nflow.get("k")'  # under 64 KiB: no time budget
    r = analyze(src)
    assert r.error is not None and r.error.startswith("syntax error at line 1,")
    assert [a.keys for a in r.accesses] == [("k",)]


def test_parse_out_of_time_gives_error(monkeypatch):
    monkeypatch.setattr(js, "_PARSE_BUDGET_BASE", 0.0)
    monkeypatch.setattr(js, "_PARSE_BUDGET_PER_MB", 0.0)
    src = ("}{)(][" * 20_000) + '\nflow.get("k")'
    r = js._analyze_uncached(src)
    assert r.accesses == () and r.timers == ()
    assert r.error is not None and r.error.startswith("parse aborted")
    # the parser is usable afterwards
    assert analyze('flow.get("after")').accesses[0].keys == ("after",)


def test_results_are_cached_and_immutable():
    src = 'flow.set("cache-me", 1)'
    a = analyze(src)
    b = analyze(src)
    assert a is b
    with pytest.raises(AttributeError):
        a.accesses[0].scope = "global"  # type: ignore[misc]
    assert isinstance(a.accesses, tuple) and isinstance(a.accesses[0], ContextAccess)


def test_threads_share_nothing_mutable():
    srcs = [f'flow.set("k{i}", {i}); setTimeout(f, {i})' for i in range(200)]
    out: dict[int, JsAnalysis] = {}

    def work(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            out[i] = js._analyze_uncached(srcs[i])

    threads = [threading.Thread(target=work, args=(k * 50, (k + 1) * 50)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(200):
        assert [a.keys for a in out[i].accesses] == [(f"k{i}",)]
        assert [t.kind for t in out[i].timers] == ["setTimeout"]


# --------------------------------------------------------------------------
# a realistic function node


def test_realistic_function():
    src = """\
// Count messages per topic, persist the totals.
const counts = flow.get("counts", "persistent") || {};
const topic = msg.topic || "none";
counts[topic] = (counts[topic] || 0) + 1;
flow.set("counts", counts, "persistent");

const g = context.global;
const cfg = g.get(["cfg.url", "cfg.token"]);
context.set("last", Date.now());

if (!context.get("timer")) {
    context.set("timer", setInterval(() => {
        node.send({ payload: flow.get(`counts`, "persistent") });
    }, 60_000));
}
node.status({ text: `seen ${counts[topic]}` }); // flow.set("x")
return msg;
"""
    r = analyze(src)
    assert r.error is None
    got = [(a.scope, a.op, a.keys, a.dynamic_key, a.store, a.line) for a in r.accesses]
    assert got == [
        ("flow", "get", ("counts",), False, "persistent", 2),
        ("flow", "set", ("counts",), False, "persistent", 5),
        ("global", "get", ("cfg.url", "cfg.token"), False, None, 8),
        ("node", "set", ("last",), False, None, 9),
        ("node", "get", ("timer",), False, None, 11),
        ("node", "set", ("timer",), False, None, 12),
        ("flow", "get", ("counts",), False, "persistent", 13),
    ]
    assert r.timers == (Timer("setInterval", 12),)


def test_import_is_lazy():
    import subprocess

    code = (
        "import sys, hacheck.analysis.js as j\n"
        "assert 'tree_sitter' not in sys.modules\n"
        "assert j.analyze(None) == j.JsAnalysis((), (), None)\n"
        "assert j.analyze('   ') == j.JsAnalysis((), (), None)\n"
        "assert 'tree_sitter' not in sys.modules\n"
        "assert j.analyze('flow.get(\"k\")').accesses\n"
        "assert 'tree_sitter' in sys.modules\n"
    )
    root = __file__.rsplit("/tests/", 1)[0]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_cache_helpers():
    analyze.cache_clear()
    analyze('flow.get("c1")')
    analyze('flow.get("c1")')
    info = analyze.cache_info()
    assert info.hits >= 1 and info.maxsize == 4096
