"""Decode a flow document and remember where each node starts, for line numbers in reports.

The standard library's C scanner does the work: the outer array (or the `flows` array
inside an Admin API or FlowFuse wrapper) is walked element by element with
`raw_decode`, so each node's start offset costs nothing extra.
"""

from __future__ import annotations

import json
import re

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class DecodeError(ValueError):
    """Not valid JSON. `line`/`column` are 1-based; `why` is short and names no secret."""

    def __init__(self, why: str, line: int, column: int):
        super().__init__(f"{why} at line {line}, column {column}")
        self.why, self.line, self.column = why, line, column


def decode(text: str) -> tuple[object, dict[int, int]]:
    """Return (document, {id(element): offset}) for the elements of the flows array."""
    offsets: dict[int, int] = {}
    try:
        pos = _WS.match(text, 0).end()
        doc, end = _value(text, pos, offsets, depth=0)
        end = _WS.match(text, end).end()
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
        return doc, offsets
    except json.JSONDecodeError as e:
        raise DecodeError(e.msg, e.lineno, e.colno) from None
    except RecursionError:
        raise DecodeError("nesting too deep", 1, 1) from None


def _value(text: str, pos: int, offsets: dict[int, int], depth: int) -> tuple[object, int]:
    ch = text[pos : pos + 1]
    if ch == "[" and depth <= 2:
        return _array(text, pos, offsets)
    if ch == "{" and depth < 2:
        return _object(text, pos, offsets, depth)
    return _DECODER.raw_decode(text, pos)


def _array(text: str, pos: int, offsets: dict[int, int]) -> tuple[list, int]:
    items: list = []
    pos = _WS.match(text, pos + 1).end()
    if text[pos : pos + 1] == "]":
        return items, pos + 1
    while True:
        pos = _WS.match(text, pos).end()
        item, end = _DECODER.raw_decode(text, pos)
        offsets[id(item)] = pos
        items.append(item)
        pos = _WS.match(text, end).end()
        ch = text[pos : pos + 1]
        if ch == ",":
            pos += 1
        elif ch == "]":
            return items, pos + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)


def _object(text: str, pos: int, offsets: dict[int, int], depth: int) -> tuple[dict, int]:
    obj: dict = {}
    pos = _WS.match(text, pos + 1).end()
    if text[pos : pos + 1] == "}":
        return obj, pos + 1
    while True:
        pos = _WS.match(text, pos).end()
        if text[pos : pos + 1] != '"':
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _WS.match(text, pos).end()
        if text[pos : pos + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
        pos = _WS.match(text, pos + 1).end()
        if key == "flows":
            value, pos = _value(text, pos, offsets, depth + 1)
        else:
            value, pos = _DECODER.raw_decode(text, pos)
        obj[key] = value
        pos = _WS.match(text, pos).end()
        ch = text[pos : pos + 1]
        if ch == ",":
            pos += 1
        elif ch == "}":
            return obj, pos + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)


def lines_of(text: str, offsets: list[int]) -> list[int]:
    """1-based line of each offset; offsets must be ascending."""
    out, line, last = [], 1, 0
    for off in offsets:
        line += text.count("\n", last, off)
        last = off
        out.append(line)
    return out


def members(text: str, start: int) -> tuple[list[tuple[str, int, int, int, int]], int]:
    """The members of the JSON object at `start`: (key, key_start, key_end, value_start,
    value_end) each, and the offset just past the closing brace. For minimal-diff edits."""
    out: list[tuple[str, int, int, int, int]] = []
    if text[start : start + 1] != "{":
        raise ValueError("not an object")
    pos = _WS.match(text, start + 1).end()
    if text[pos : pos + 1] == "}":
        return out, pos + 1
    while True:
        pos = _WS.match(text, pos).end()
        key_start = pos
        key, pos = _DECODER.raw_decode(text, pos)
        key_end = pos
        pos = _WS.match(text, pos).end() + 1  # past ':'
        pos = _WS.match(text, pos).end()
        _, end = _DECODER.raw_decode(text, pos)
        out.append((key, key_start, key_end, pos, end))
        pos = _WS.match(text, end).end()
        if text[pos : pos + 1] == ",":
            pos += 1
        else:
            return out, pos + 1
