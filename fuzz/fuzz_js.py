"""Fuzz target: bytes -> js.analyze (the tree-sitter front end for function-node code).

Run (see fuzz/README.md):  python fuzz/fuzz_js.py -max_total_time=600

`js.analyze` promises never to raise: it turns its own failures into an
`error="analysis failed: ..."` result. The fuzzer calls the implementation under that
safety net, so such a failure is a crash with a traceback, not a silent empty result.
"""

from __future__ import annotations

import sys

import atheris
import fuzz_common

fuzz_common.ensure_repo_on_path()

with atheris.instrument_imports(include=["hacheck"]):
    from hacheck.analysis import js


def TestOneInput(data: bytes) -> None:
    # the bytes are taken as UTF-8 where they are, with lone surrogates where they are not:
    # a flow's JSON can carry "\udc80", which reaches analyze as exactly such a str
    source = data.decode("utf-8", "surrogateescape")
    res = js._analyze_impl(source)
    assert isinstance(res, js.JsAnalysis)
    lines = source.count("\n") + 1
    for a in res.accesses:
        assert 1 <= a.line <= lines and a.column >= 1, (a, lines)
        assert a.dynamic_key == (a.keys == ()) or a.op == "keys", a
    for t in res.timers:
        assert 1 <= t.line <= lines, (t, lines)
    # the public entry point agrees with the implementation
    assert js.analyze(source) == res


def main() -> None:
    argv = fuzz_common.prepare("js", fuzz_common.js_seeds, sys.argv, ["-max_len=65536", "-rss_limit_mb=4096", "-timeout=30"])
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
