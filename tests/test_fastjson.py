"""orjson (where installed) and the standard library give the same report text."""

from __future__ import annotations

import json

import pytest

from hacheck.util import fastjson
from hacheck.reporters import json_report


def test_orjson_is_installed_where_the_benchmarks_run():
    # the dependency is declared; the fallback is tested by hiding it
    assert fastjson.orjson is not None


@pytest.mark.parametrize(
    "value",
    ["plain", "naïve ☃ 😀", "lone \ud800 surrogate", 2**64 + 1, "ctrl \x00\x1f\x7f \b\f\n\r\t", "quote \" back \\ slash /", 0, -1, 2**63, None, True, [1, [2]], {"k": {"n": [None]}}],
)
def test_compact_encoding_is_the_same_with_and_without_orjson(monkeypatch, value):
    with_orjson = fastjson.dumps(value)
    monkeypatch.setattr(fastjson, "orjson", None)
    assert fastjson.dumps(value) == with_orjson == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_json_report_is_byte_identical_without_orjson(monkeypatch, corpus):
    from hacheck.model.config import Config
    from hacheck.load.loader import Source
    from hacheck.run.runner import check_sources

    flows = sorted(corpus.glob("**/*.json"))[:12]
    result = check_sources([Source(str(p), str(p)) for p in flows], Config(), jobs=1)
    assert len(result.findings) > 10

    class Sink(list):
        write = list.append

    a, b = Sink(), Sink()
    json_report.render(result, a)
    monkeypatch.setattr(fastjson, "orjson", None)
    json_report.render(result, b)
    assert "".join(a) == "".join(b)
    json.loads("".join(a))
