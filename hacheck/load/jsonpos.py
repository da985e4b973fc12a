"""Decode a flow document and remember where each node starts, for line numbers in reports.

The standard library's C scanner does the work: the outer array (or the `flows` array
inside an Admin API or FlowFuse wrapper) is walked element by element with
`raw_decode`, so each node's start offset costs nothing extra.
"""

from __future__ import annotations

import json
import re

_WS = re.compile(r"[ \t\n\r]*")
_AFTER_ITEM = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")  # the separator after an array element


class _Refused(ValueError):
    """A token Python's json reads but JSON.parse refuses (NaN, Infinity, -Infinity): Node-RED
    loads flows with JSON.parse, so a file holding one would not start."""


def _refuse_constant(name: str):
    raise _Refused(name)


# parse_constant is called only for NaN/Infinity: normal documents pay nothing for it
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


class DecodeError(ValueError):
    """Not valid JSON. `line`/`column` are 1-based; `why` is short and names no secret."""

    def __init__(self, why: str, line: int, column: int):
        super().__init__(f"{why} at line {line}, column {column}")
        self.why, self.line, self.column = why, line, column


def decode(text: str) -> tuple[object, dict[int, list[int]]]:
    """Return (document, {id(flows array): [offset of each element]}): the top-level array,
    or the `flows` array of an Admin API body or FlowFuse snapshot."""
    offsets: dict[int, list[int]] = {}
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
    except _Refused as e:
        line, column = _locate(text, re.escape(str(e)))
        raise DecodeError(f"{e} is not allowed", line, column) from None
    except ValueError:
        # int() refuses over 4300 digits (Python's guard against quadratic conversion); no
        # flow needs such a number, and JSON.parse would only read it as Infinity anyway
        line, column = _locate(text, r"(?<![\d.eE+-])-?\d{4301,}(?![\d.eE])")
        raise DecodeError("number with more than 4300 digits", line, column) from None


def _locate(text: str, token: str) -> tuple[int, int]:
    """Line and column of the first `token` outside a string. Only on the error path: the
    text up to there decoded, so the strings are skipped correctly."""
    for m in re.finditer(r'"(?:[^"\\]+|\\.)*"|(' + token + ")", text):
        if m.group(1) is not None:
            at = m.start(1)
            return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1
    return 1, 1


def _value(text: str, pos: int, offsets: dict[int, list[int]], depth: int) -> tuple[object, int]:
    ch = text[pos : pos + 1]
    if ch == "[" and depth <= 2:
        return _array(text, pos, offsets)
    if ch == "{" and depth < 2:
        return _object(text, pos, offsets, depth)
    return _DECODER.raw_decode(text, pos)


def _array(text: str, pos: int, offsets: dict[int, list[int]]) -> tuple[list, int]:
    items: list = []
    starts: list[int] = []
    offsets[id(items)] = starts
    pos = _WS.match(text, pos + 1).end()
    if text[pos : pos + 1] == "]":
        return items, pos + 1
    # the hot loop of a 100k-node file: one C scan per node and one regex for ", " or "]"
    scan, after, append, start = _DECODER.scan_once, _AFTER_ITEM.match, items.append, starts.append
    while True:
        try:
            item, end = scan(text, pos)
        except StopIteration as e:  # what raw_decode says for a missing value
            raise json.JSONDecodeError("Expecting value", text, e.value) from None
        start(pos)
        append(item)
        m = after(text, end)
        if m is None:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, _WS.match(text, end).end())
        if m.group(1) == "]":
            return items, m.end(1)
        pos = m.end()


def _object(text: str, pos: int, offsets: dict[int, list[int]], depth: int) -> tuple[dict, int]:
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
