"""orjson when it is installed, the standard library otherwise, with the same text.

Encoding the findings of a 100k-node flow with orjson takes ~0.3 s less than with
`json.JSONEncoder` (benchmarks/README.md). Parsing stays with the standard library: the
loader walks the flows array element by element with its C scanner to know where each node
starts, and a whole-document orjson parse plus a search for those starts measured no faster.
"""

from __future__ import annotations

import json

try:  # a wheel for every common platform; a source build needs Rust, so it stays optional
    import orjson
except ImportError:  # pragma: no cover - exercised by tests that hide orjson
    orjson = None

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(value) -> str:
    """Compact JSON text, non-ASCII as is (not escaped). What orjson refuses (lone
    surrogates, integers over 64 bits, non-string keys) goes to the standard library."""
    if orjson is not None:
        try:
            return orjson.dumps(value).decode("utf-8")
        except TypeError:  # orjson.JSONEncodeError is one
            pass
    return _COMPACT(value)
