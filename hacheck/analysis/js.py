"""JavaScript front end for Node-RED ``function`` node code.

Finds, with a real parser (tree-sitter), the context accesses
(``flow``/``global``/``context`` ``get``/``set``/``keys``) and the timers
(``setInterval``/``setTimeout``) in the code of a function node, so that
comments, strings, template strings and regex literals never trigger anything.

Public API::

    analyze(source) -> JsAnalysis(accesses, timers, error)
    parse_program(source) -> Program(root, data, error)   (a whole file, for node_module.py)

The code of a function node is the *body* of a function: it is parsed wrapped
in ``async function __hacheck__(msg){ ... }`` (like Node-RED does), so a
top-level ``return`` or ``await`` is legal.  Lines and columns are reported in
the coordinates of the code as the user wrote it (1-based; columns count
Unicode code points; lines are separated by ``\\n``).

Recognised forms (``X`` being ``get``, ``set`` or ``keys``):

* ``flow.X(...)``, ``global.X(...)``, ``context.X(...)`` (node scope),
  ``context.flow.X(...)``, ``context.global.X(...)``;
* optional chaining (``flow?.get(...)``, ``context?.flow?.set(...)``,
  ``flow.get?.(...)``), computed access with a literal (``flow["set"](...)``,
  ``context["flow"].get(...)``), parenthesised callees (``(0, flow.set)(...)``),
  ``flow.set.call(thisArg, ...)``;
* aliases by name: ``const f = flow``, ``let g = context.global``,
  ``var s = flow.set; s("k", 1)``, ``const {set, get} = flow``,
  ``const {flow: fl} = context``, ``const {flow: {set}} = context``,
  chains of aliases (``const a = flow; const b = a;``), plain assignments
  (``let f; f = flow;``);
* timers: calls of the bare identifiers ``setInterval``/``setTimeout`` (and of
  aliases of them).

How: the code is parsed once with tree-sitter (iterative, in C).  Instead of
walking or querying the whole tree from Python, the text is searched for the
names that matter (``flow``, ``global``, ``context``, ``setInterval``,
``setTimeout``, then the aliases discovered), and each occurrence is located
in the tree with a C descent; an occurrence that is not an identifier node
spanning exactly the match (a comment, a string, a regex, a property name,
``$flow``) is ignored.  Python work is thus proportional to the number of
occurrences, not to the size of the tree, and no Python recursion is used.
Code in which none of those five names appears is only parsed (for
``error``).  Inputs over 64 KiB are parsed under a time budget (5 s + 2 s per
MB); if it runs out, ``error`` is ``"parse aborted: ..."`` and nothing is
reported.

Simplifications (documented, deliberate):

* Scopes are not analysed.  A name is resolved across the whole body: every
  binding of a name anywhere (``var``/``let``/``const`` declaration,
  assignment, function parameter, function/class name, ``catch`` parameter,
  ``for``-``in``/``of`` variable, destructuring target) is considered, and the
  name denotes a context object (or a get/set/keys method, or a timer) only
  when *all* its bindings agree.  So a ``flow`` declared or assigned anywhere to
  something else (``const flow = {...}``, ``function f(flow){...}``) is treated
  as shadowed in the whole body and nothing is reported for it; likewise an
  alias name that is also bound to something else is not an alias.  A
  declaration without initialiser (``let f;``) does not count against an alias,
  but for the built-in names it does remove the sandbox global (``let flow;``
  shadows it).
* Keys: a string literal, a template literal without ``${}``, or an array of
  those gives ``keys``; anything else (variables, even ``const`` ones,
  expressions, templates with substitutions, spread) gives
  ``dynamic_key=True`` and ``keys=()``.  Keys are kept as written
  (``"a.b"`` stays ``"a.b"``), JS escapes in them decoded.
* Store: the argument in the store position (2nd of ``get``, 3rd of ``set``,
  1st of ``keys``).  A string literal gives its value; absent, ``undefined``,
  ``null``, a function/arrow expression, or an identifier declared in the body
  as a function (the callback) gives ``None`` (default store); anything else
  gives ``"?"``.
* Not recognised: methods taken or called through other means
  (``Reflect.apply``, ``.apply``, ``.bind``, passing ``flow.get`` as a value),
  keys built by string constants, ``eval``/``new Function``, ``globalThis.flow``,
  Unicode escapes inside identifiers.
"""
from __future__ import annotations

import functools
import re

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["ContextAccess", "Timer", "Mutation", "JsAnalysis", "analyze", "Program", "parse_program"]


@dataclass(frozen=True, slots=True)
class ContextAccess:
    scope: str  # "flow" | "global" | "node"
    op: str  # "get" | "set" | "keys"
    keys: tuple[str, ...]  # literal keys; () when dynamic
    dynamic_key: bool  # True when the key is not a literal
    store: str | None  # literal store; None = default store; "?" = non-literal
    line: int  # 1-based line in the code as the user wrote it
    column: int  # 1-based column (code points)


@dataclass(frozen=True, slots=True)
class Timer:
    kind: str  # "setInterval" | "setTimeout"
    line: int


@dataclass(frozen=True, slots=True)
class Mutation:
    """Context changed without `set`: a property assigned on the context object itself
    (`flow.count = 1`, the legacy form), or a value read with `get` changed in place
    (`const q = global.get("queue"); q.push(m)`). `key` is the top-level key changed."""

    scope: str  # "flow" | "global" | "node"
    key: str
    how: str  # "assigns flow.count", "calls .push() on global 'queue'"
    line: int


@dataclass(frozen=True, slots=True)
class JsAnalysis:
    accesses: tuple[ContextAccess, ...]
    timers: tuple[Timer, ...]
    error: str | None
    mutations: tuple[Mutation, ...] = ()


EMPTY = JsAnalysis((), (), None)

# --------------------------------------------------------------------------
# tree-sitter plumbing (lazy import, cached language, parser per thread)

_WRAP_HEAD = b"async function __hacheck__(msg){\n"
_WRAP_TAIL = b"\n}"

# Names that must appear somewhere in the source for anything to be found.
_TRIGGERS = ("flow", "global", "context", "setInterval", "setTimeout")

_OPS = frozenset(("get", "set", "keys"))
_STORE_INDEX = {"get": 1, "set": 2, "keys": 0}
_FUNCTION_TYPES = frozenset(
    ("arrow_function", "function_expression", "generator_function", "function")
)

_lang_lock = threading.Lock()
_language: Any = None
_tls = threading.local()


def _parser() -> Any:
    """The parser of this thread (tree-sitter parsers are not thread-safe);
    tree_sitter is imported on first use only."""
    parser = getattr(_tls, "parser", None)
    if parser is None:
        global _language
        import tree_sitter

        with _lang_lock:
            if _language is None:
                import tree_sitter_javascript

                _language = tree_sitter.Language(tree_sitter_javascript.language())
        parser = tree_sitter.Parser(_language)
        _tls.parser = parser
    return parser


# Large inputs are parsed under a time budget (tree-sitter's error recovery
# can take ~5 us per byte of garbage): base + per MB of code.  Normal code
# parses at several MB/s, far within it.
_PARSE_BUDGET_BASE = 5.0  # seconds
_PARSE_BUDGET_PER_MB = 2.0  # seconds
_BUDGET_FROM = 1 << 16  # smaller inputs are parsed without a budget (faster)
_CHUNK = 1 << 16


def _parse(data: bytes) -> Any | None:
    """The tree of ``data``, or None if the parse ran out of time."""
    parser = _parser()
    if len(data) < _BUDGET_FROM:
        return parser.parse(data)
    import time

    budget = _PARSE_BUDGET_BASE + _PARSE_BUDGET_PER_MB * len(data) / 1e6
    deadline = time.monotonic() + budget
    view = memoryview(data)

    def read(offset: int, _point: Any) -> memoryview:
        return view[offset:offset + _CHUNK]

    def progress(*_state: Any) -> bool:
        return time.monotonic() > deadline

    try:
        return parser.parse(read, progress_callback=progress)
    except ValueError:  # "Parsing failed": cancelled by the progress callback
        parser.reset()
        return None


# --------------------------------------------------------------------------
# descriptors: what a name / expression denotes
#   ("obj", scope)          the context object of scope "node"/"flow"/"global"
#   ("meth", scope, op)     a get/set/keys method of that object
#   ("mcall", scope, op)    that method's .call
#   ("timer", kind)         setInterval / setTimeout
# None = anything else / unknown.

_BUILTINS: dict[str, tuple] = {
    "context": ("obj", "node"),
    "flow": ("obj", "flow"),
    "global": ("obj", "global"),
    "setInterval": ("timer", "setInterval"),
    "setTimeout": ("timer", "setTimeout"),
}

_UNKNOWN = object()  # a binding to something we cannot (or need not) resolve
_NOVALUE = object()  # `let x;`


def _step(desc: tuple | None, prop: str) -> tuple | None:
    if desc is None:
        return None
    kind = desc[0]
    if kind == "obj":
        if prop in _OPS:
            return ("meth", desc[1], prop)
        if desc[1] == "node" and (prop == "flow" or prop == "global"):
            return ("obj", prop)
    elif kind == "meth" and prop == "call":
        return ("mcall", desc[1], desc[2])
    return None


def _text(data: bytes, node: Any) -> str:
    return data[node.start_byte:node.end_byte].decode("utf-8", "replace")


_ESCAPES = {
    "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v",
    "0": "\0", "\n": "", "\r": "", "\u2028": "", "\u2029": "",
}


def _unescape(body: str) -> str:
    """Decode JavaScript escape sequences in a string literal body."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        i += 2
        if e == "x" and i + 2 <= n:
            try:
                out.append(chr(int(body[i:i + 2], 16)))
                i += 2
                continue
            except ValueError:
                pass
            out.append(e)
        elif e == "u":
            if i < n and body[i] == "{":
                j = body.find("}", i)
                try:
                    out.append(chr(int(body[i + 1:j], 16)))
                    i = j + 1
                    continue
                except (ValueError, OverflowError):
                    pass
            else:
                try:
                    out.append(chr(int(body[i:i + 4], 16)))
                    i += 4
                    continue
                except ValueError:
                    pass
            out.append(e)
        elif e == "\r" and i < n and body[i] == "\n":
            i += 1  # line continuation with CRLF
        else:
            out.append(_ESCAPES.get(e, e))
    s = "".join(out)
    try:  # join \uD83D\uDE00 style surrogate pairs
        s = s.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeError:
        pass
    return s


def _literal(data: bytes, node: Any) -> str | None:
    """Value of a string literal or of a template literal without ``${}``."""
    t = node.type
    if t == "string":
        raw = data[node.start_byte:node.end_byte].decode("utf-8", "surrogatepass")
        return _unescape(raw[1:-1]) if len(raw) >= 2 else None
    if t == "template_string":
        for child in node.named_children:
            if child.type == "template_substitution":
                return None
        raw = data[node.start_byte:node.end_byte].decode("utf-8", "surrogatepass")
        if len(raw) < 2:
            return None
        return _unescape(raw[1:-1].replace("\r\n", "\n"))
    return None


def _safe_literal(data: bytes, node: Any) -> str | None:
    try:
        return _literal(data, node)
    except UnicodeError:
        t = data[node.start_byte:node.end_byte].decode("utf-8", "replace")
        return t[1:-1] if len(t) >= 2 and node.type in ("string", "template_string") else None


def _resolve(data: bytes, node: Any, env: dict[str, tuple | None]) -> tuple | None:
    """What an expression denotes (iterative; chains longer than any context
    access chain give up early)."""
    props: list[str] = []
    while True:
        t = node.type
        if t == "identifier":
            desc = env.get(_text(data, node))
            break
        if t == "member_expression":
            prop = node.child_by_field_name("property")
            if prop is None or prop.type != "property_identifier":
                return None
            props.append(_text(data, prop))
            node = node.child_by_field_name("object")
        elif t == "subscript_expression":
            idx = node.child_by_field_name("index")
            lit = _safe_literal(data, idx) if idx is not None else None
            if lit is None:
                return None
            props.append(lit)
            node = node.child_by_field_name("object")
        elif t == "parenthesized_expression" or t == "sequence_expression":
            last = None
            for child in node.named_children:
                if child.type != "comment":
                    last = child
            node = last
        else:
            return None
        if node is None or len(props) > 3:
            return None
    for prop in reversed(props):
        desc = _step(desc, prop)
        if desc is None:
            return None
    return desc


def _pattern_targets(data: bytes, pattern: Any, with_paths: bool) -> list[tuple[str, tuple[str, ...] | None]]:
    """Names bound by a binding pattern, each with the property path it takes
    from the destructured value (None when unknown: arrays, rest, computed)."""
    out: list[tuple[str, tuple[str, ...] | None]] = []
    stack: list[tuple[Any, tuple[str, ...] | None]] = [(pattern, () if with_paths else None)]
    while stack:
        node, path = stack.pop()
        t = node.type
        if t == "identifier":
            out.append((_text(data, node), path))
        elif t == "shorthand_property_identifier_pattern":
            name = _text(data, node)
            out.append((name, path + (name,) if path is not None else None))
        elif t == "object_pattern":
            for child in node.named_children:
                stack.append((child, path))
        elif t == "pair_pattern":
            key = node.child_by_field_name("key")
            value = node.child_by_field_name("value")
            if value is None:
                continue
            sub: tuple[str, ...] | None = None
            if path is not None and key is not None:
                if key.type == "property_identifier":
                    sub = path + (_text(data, key),)
                else:
                    lit = _safe_literal(data, key)
                    sub = path + (lit,) if lit is not None else None
            stack.append((value, sub))
        elif t in ("object_assignment_pattern", "assignment_pattern"):
            left = node.child_by_field_name("left")
            if left is not None:
                stack.append((left, path))
        elif t in ("array_pattern", "rest_pattern"):
            for child in node.named_children:
                stack.append((child, None))
        # anything else (member expressions as assignment targets, comments...)
        # binds no name
    return out


def _args(arguments: Any) -> list[Any]:
    return [c for c in arguments.named_children if c.type != "comment"]


def _keys_of(data: bytes, arg: Any | None, scan: _Scan | None = None) -> tuple[tuple[str, ...], bool]:
    if arg is None:
        return (), True
    lit = _safe_literal(data, arg)
    if lit is not None:
        return (lit,), False
    if arg.type == "identifier" and scan is not None:
        lit = _constant(data, _text(data, arg), scan)
        if lit is not None:
            return (lit,), False
    if arg.type == "array":
        keys: list[str] = []
        for el in arg.named_children:
            if el.type == "comment":
                continue
            lit = _safe_literal(data, el)
            if lit is None:
                return (), True
            keys.append(lit)
        return tuple(keys), False
    return (), True


def _constant(data: bytes, name: str, scan: _Scan) -> str | None:
    """The string a variable always holds: bound once in the whole code (`const k = "count"`,
    never assigned again), to a literal. Two bindings anywhere (another function's variable
    of the same name included) make it unknown."""
    scan.run({name})
    bound = scan.bindings.get(name, ())
    if len(bound) != 1 or isinstance(bound[0], tuple) or bound[0] is _UNKNOWN or bound[0] is _NOVALUE:
        return None
    return _safe_literal(data, bound[0])


def _store_of(data: bytes, arg: Any | None, scan: _Scan) -> str | None:
    if arg is None:
        return None
    lit = _safe_literal(data, arg)
    if lit is not None:
        return lit
    t = arg.type
    if t in _FUNCTION_TYPES or t == "null" or t == "undefined":
        return None
    if t == "identifier":
        name = _text(data, arg)
        if name == "undefined" or scan.is_function(name):
            return None
    return "?"


# --------------------------------------------------------------------------


class _Positions:
    """Converts tree positions (wrapped, byte columns) to user coordinates."""

    __slots__ = ("data", "ascii", "nlines", "last_line_len")

    def __init__(self, source: str, data: bytes) -> None:
        self.data = data
        self.ascii = source.isascii()
        self.nlines = source.count("\n") + 1
        self.last_line_len = len(source) - (source.rfind("\n") + 1)

    def of(self, node: Any) -> tuple[int, int]:
        row, col = node.start_point
        line = row  # the wrapper head is row 0
        if line < 1:
            return 1, 1
        if line > self.nlines:
            return self.nlines, self.last_line_len + 1
        if not self.ascii and col:
            start = node.start_byte
            data = self.data
            ls = data.rfind(b"\n", 0, start) + 1
            chunk = data[ls:start]
            try:
                col = len(chunk.decode("utf-8", "surrogatepass"))
            except UnicodeError:
                col = len(chunk.decode("utf-8", "replace"))
        return line, col + 1


def _first_error(root: Any) -> Any | None:
    if not root.has_error:
        return None
    node = root
    while True:
        if node.is_error or node.is_missing:
            return node
        cursor = node.walk()
        nxt = None
        if cursor.goto_first_child():
            while True:
                child = cursor.node
                if child is not None and (child.has_error or child.is_missing or child.is_error):
                    nxt = child
                    break
                if not cursor.goto_next_sibling():
                    break
        if nxt is None:
            return node
        node = nxt


def _stray_close(root: Any, size: int) -> Any | None:
    """The user's ``}`` that closes the wrapper function early, if any (the
    rest then parses as top-level code, often without any ERROR node)."""
    wrapper = root.child(0)
    if wrapper is None:
        return None
    if wrapper.type == "expression_statement":
        wrapper = wrapper.child(0)
        if wrapper is None:
            return None
    if wrapper.type not in ("function_declaration", "function_expression"):
        return None
    body = wrapper.child_by_field_name("body")
    if body is None or body.end_byte >= size:
        return None
    last = body.child(body.child_count - 1)
    if last is None or last.type != "}" or last.is_missing:
        return None
    return last


def _analyze_uncached(source: str) -> JsAnalysis:
    try:
        return _analyze_impl(source)
    except RecursionError:  # pragma: no cover - defensive
        return JsAnalysis((), (), "analysis failed: nesting too deep")
    except Exception as exc:  # never raise  # pragma: no cover - defensive
        return JsAnalysis((), (), f"analysis failed: {type(exc).__name__}: {exc}")


_SHORTHAND_PAT = "shorthand_property_identifier_pattern"
_NAMED_DECLS = frozenset((
    "function_declaration", "generator_function_declaration", "function_expression",
    "generator_function", "class_declaration", "class",
))
_FUNCTION_DECLS = frozenset((
    "function_declaration", "generator_function_declaration", "function_expression",
    "generator_function",
))
# Parents in which an identifier is certainly a use (an expression), never a
# binding: the common case, decided without further look-ups.
_USE_PARENTS = frozenset((
    "member_expression", "subscript_expression", "call_expression", "arguments",
    "binary_expression", "unary_expression", "await_expression", "return_statement",
    "expression_statement", "ternary_expression", "spread_element", "array",
    "template_substitution", "pair", "if_statement", "new_expression",
))


@lru_cache(maxsize=256)
def _name_regex(names: frozenset[str]) -> Any:
    """Whole-word occurrences of the names in the (UTF-8) source.  The match
    is only a candidate: it counts when the tree has an identifier spanning
    exactly it (so ``$flow`` or a match inside a comment is rejected later)."""
    import re

    pieces = []
    for name in sorted(names, key=len, reverse=True):
        raw = name.encode("utf-8", "surrogatepass")
        # \b is cheap but ASCII-only on bytes and wrong next to "$"
        head = rb"\b" if _is_word(name[0]) else rb"(?<![\w$\x80-\xff])"
        tail = rb"\b" if _is_word(name[-1]) else rb"(?![\w$\x80-\xff])"
        pieces.append(head + re.escape(raw) + tail)
    return re.compile(b"|".join(pieces))


def _is_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


class _Scan:
    """Finds, from the text occurrences of a few names, their bindings and
    their uses in the tree (no full-tree walk: each occurrence is located
    with a descent from the root, done by tree-sitter in C)."""

    __slots__ = ("root", "data", "bindings", "declared", "uses", "scanned", "pending", "fn_names")

    def __init__(self, root: Any, data: bytes) -> None:
        self.root = root
        self.data = data
        # name -> binding values: a node (resolve it), (node, path) for a
        # destructured value, _UNKNOWN or _NOVALUE
        self.bindings: dict[str, list[Any]] = {}
        self.declared: set[str] = set()  # declared with var/let/const
        # (name, identifier, top of its member chain, parent of that top)
        self.uses: list[tuple[str, Any, Any, Any]] = []
        self.scanned: set[str] = set()
        self.pending: set[str] = set()
        self.fn_names: dict[str, bool] = {}

    def bind(self, name: str, value: Any) -> None:
        lst = self.bindings.get(name)
        if lst is None:
            self.bindings[name] = [value]
        else:
            lst.append(value)

    def occurrences(self, names: Any) -> list[tuple[str, Any]]:
        out = []
        root = self.root
        find = root.named_descendant_for_byte_range
        for m in _name_regex(frozenset(names)).finditer(self.data):
            start, end = m.span()
            node = find(start, end)
            if node is None or node.start_byte != start or node.end_byte != end:
                continue  # inside a comment, a string, a regex...
            t = node.type
            if t == "identifier" or t == _SHORTHAND_PAT:
                out.append((m.group().decode("utf-8", "surrogatepass"), node))
        return out

    def run(self, names: Any) -> None:
        self.pending.update(names)
        while self.pending:
            batch = {n for n in self.pending - self.scanned if n}
            self.pending = set()
            if not batch:
                break
            self.scanned |= batch
            for name, node in self.occurrences(batch):
                self.classify(name, node)

    # -- one occurrence --------------------------------------------------
    def classify(self, name: str, n: Any) -> None:
        data = self.data
        node = n
        in_pattern = n.type == _SHORTHAND_PAT
        if not in_pattern:
            p = n.parent
            if p is not None and p.type in _USE_PARENTS:
                self.use(name, n)
                return
        path: tuple[str, ...] | None = (name,) if in_pattern else ()
        for _ in range(64):
            p = node.parent
            if p is None:
                break
            t = p.type
            if t == "variable_declarator":
                if p.child_by_field_name("name") == node:
                    self.declared.add(name)
                    value = p.child_by_field_name("value")
                    if value is None:
                        self.bind(name, _NOVALUE)
                    elif path is None:
                        self.bind(name, _UNKNOWN)
                    elif in_pattern:
                        self.bind(name, (value, path))
                    else:
                        self.bind(name, value)
                    return
                break
            if t == "assignment_expression":
                if p.child_by_field_name("left") == node:
                    right = p.child_by_field_name("right")
                    if right is None or path is None:
                        self.bind(name, _UNKNOWN)
                    elif in_pattern:
                        self.bind(name, (right, path))
                    else:
                        self.bind(name, right)
                    return
                break
            if t == "formal_parameters":
                self.bind(name, _UNKNOWN)
                return
            if t in ("arrow_function", "catch_clause", "for_in_statement"):
                field = {"arrow_function": "parameter", "catch_clause": "parameter"}.get(t, "left")
                if p.child_by_field_name(field) == node:
                    self.bind(name, _UNKNOWN)
                    return
                break
            if t in _NAMED_DECLS:
                if p.child_by_field_name("name") == node:
                    self.bind(name, _UNKNOWN)
                    return
                break
            if t == "pair_pattern":
                if p.child_by_field_name("value") != node:
                    break
                if path is not None:
                    key = p.child_by_field_name("key")
                    lit = None
                    if key is not None:
                        lit = _text(data, key) if key.type == "property_identifier" else _safe_literal(data, key)
                    path = (lit,) + path if lit is not None else None
                in_pattern = True
            elif t == "object_pattern":
                in_pattern = True
            elif t == "array_pattern" or t == "rest_pattern":
                in_pattern = True
                path = None
            elif t == "assignment_pattern" or t == "object_assignment_pattern":
                if p.child_by_field_name("left") != node:
                    break  # a default value: a use
                in_pattern = True
            elif t == "augmented_assignment_expression":
                if p.child_by_field_name("left") == node:
                    self.bind(name, _UNKNOWN)
                    return
                break
            elif t == "update_expression":
                self.bind(name, _UNKNOWN)
                return
            else:
                break
            node = p
        if in_pattern:
            self.bind(name, _UNKNOWN)  # a pattern somewhere we do not model
            return
        self.use(name, n)

    def use(self, name: str, n: Any) -> None:
        data = self.data
        # a use that is (the root of) the value of a binding makes the
        # bound names candidate aliases: scan them too
        top, parent = _chain_top(n)
        self.uses.append((name, n, top, parent))
        if parent is None:
            return
        pt = parent.type
        target = None
        if pt == "variable_declarator" and parent.child_by_field_name("value") == top:
            target = parent.child_by_field_name("name")
        elif pt == "assignment_expression" and parent.child_by_field_name("right") == top:
            target = parent.child_by_field_name("left")
        if target is not None:
            for tname, _ in _pattern_targets(data, target, False):
                if tname and tname not in self.scanned:  # "" = a MISSING node
                    self.pending.add(tname)

    def is_function(self, name: str) -> bool:
        """Whether ``name`` is declared as a function (a callback)."""
        known = self.fn_names.get(name)
        if known is not None:
            return known
        result = False
        for _, node in self.occurrences((name,)):
            p = node.parent
            if p is None:
                continue
            t = p.type
            if t in _FUNCTION_DECLS and p.child_by_field_name("name") == node:
                result = True
                break
            if t == "variable_declarator" and p.child_by_field_name("name") == node:
                value = p.child_by_field_name("value")
                if value is not None and value.type in _FUNCTION_TYPES:
                    result = True
                    break
        self.fn_names[name] = result
        return result

    # -- environment -----------------------------------------------------
    def environment(self) -> dict[str, tuple]:
        """name -> descriptor, for the names whose bindings all agree."""
        data = self.data
        bindings = self.bindings
        declared = self.declared
        env: dict[str, tuple] = {
            n: d for n, d in _BUILTINS.items() if n not in bindings and n in self.scanned
        }
        for _ in range(16):
            new_env = dict(env)
            for name, values_in in bindings.items():
                values: list[tuple] = []
                if name in _BUILTINS and name not in declared:
                    values.append(_BUILTINS[name])
                ok = True
                for v in values_in:
                    if v is _NOVALUE:
                        continue
                    if v is _UNKNOWN:
                        ok = False
                        break
                    if isinstance(v, tuple):
                        vnode, vpath = v
                        d = _resolve(data, vnode, env)
                        for prop in vpath:
                            d = _step(d, prop)
                    else:
                        d = _resolve(data, v, env)
                    if d is None:
                        ok = False
                        break
                    values.append(d)
                if ok and values and all(x == values[0] for x in values):
                    new_env[name] = values[0]
                else:
                    new_env.pop(name, None)
            if new_env == env:
                break
            env = new_env
        return env


def _chain_top(node: Any) -> tuple[Any, Any]:
    """Climb from an identifier through member/subscript accesses of which it
    is the object, parentheses and comma expressions (``(0, flow.set)``).
    Returns (top expression, its parent)."""
    for _ in range(8):
        p = node.parent
        if p is None:
            return node, None
        t = p.type
        if t == "member_expression" or t == "subscript_expression":
            # the object is the first child: nothing else starts with p
            if p.start_byte != node.start_byte:
                return node, p
        elif t == "sequence_expression":
            last = None
            for child in p.named_children:
                if child.type != "comment":
                    last = child
            if last != node:
                return node, p
        elif t != "parenthesized_expression":
            return node, p
        node = p
    return node, None


# `node.context()` is the node's own context, the object the sandbox also names `context`
# (with its .flow and .global): read as that name, padded to the same length so every offset,
# line and column of the code stays where it was
_NODE_CONTEXT = re.compile(r"\bnode\s*\.\s*context\s*\(\s*\)")


def _as_context(m: re.Match) -> str:
    return "context" + " " * (len(m.group(0)) - len("context"))


def _analyze_impl(source: str) -> JsAnalysis:
    if not source.strip():
        return EMPTY
    if "node" in source and "context" in source:
        source = _NODE_CONTEXT.sub(_as_context, source)
    try:
        body = source.encode("utf-8", "surrogatepass")
    except UnicodeError:  # pragma: no cover - surrogatepass handles str fully
        body = source.encode("utf-8", "replace")
    data = _WRAP_HEAD + body + _WRAP_TAIL
    tree = _parse(data)
    if tree is None:
        return JsAnalysis(
            (), (), "parse aborted: the code is too large or too malformed to parse in time"
        )
    root = tree.root_node
    pos = _Positions(source, data)

    error: str | None = None
    err_node = _first_error(root)
    stray = _stray_close(root, len(data))
    if stray is not None and (err_node is None or stray.start_byte < err_node.start_byte):
        err_node = stray
    if err_node is not None:
        line, col = pos.of(err_node)
        error = f"syntax error at line {line}, column {col}"

    present = [t for t in _TRIGGERS if t in source]
    if not present:
        return JsAnalysis((), (), error) if error else EMPTY

    scan = _Scan(root, data)
    scan.run(present)
    env = scan.environment()
    if not env:
        return JsAnalysis((), (), error) if error else EMPTY

    accesses: list[ContextAccess] = []
    timers: list[Timer] = []
    gets: list[tuple[Any, str, str]] = []  # (call, scope, key) of each get with one literal key
    seen: set[tuple[int, int]] = set()
    for name, _ident, callee, call in list(scan.uses):  # _keys_of may scan more names
        if name not in env or call is None:
            continue
        # the function is the first child of a call: nothing else starts with it
        if call.type != "call_expression" or call.start_byte != callee.start_byte:
            continue
        desc = _resolve(data, callee, env)
        if desc is None:
            continue
        key = (call.start_byte, call.end_byte)
        if key in seen:
            continue
        seen.add(key)
        kind = desc[0]
        if kind == "timer":
            timers.append(Timer(desc[1], pos.of(call)[0]))
            continue
        if kind != "meth" and kind != "mcall":
            continue
        arguments = call.child_by_field_name("arguments")
        if arguments is None or arguments.type != "arguments":
            continue  # tagged template
        args = _args(arguments)
        if kind == "mcall":  # .call(thisArg, ...)
            if args and args[0].type == "spread_element":
                args = [args[0]] + args  # unknown shift
            else:
                args = args[1:]
        _, scope, op = desc
        # index of the first spread argument: positions after it are unknown
        spread_at = next(
            (i for i, a in enumerate(args) if a.type == "spread_element"), 1 << 30
        )
        if op == "keys":
            keys: tuple[str, ...] = ()
            dynamic = False
        elif spread_at == 0:
            keys, dynamic = (), True
        else:
            keys, dynamic = _keys_of(data, args[0] if args else None, scan)
        si = _STORE_INDEX[op]
        if spread_at <= si:
            store: str | None = "?"
        else:
            store = _store_of(data, args[si] if si < len(args) else None, scan)
        line, col = pos.of(call)
        accesses.append(ContextAccess(scope, op, keys, dynamic, store, line, col))
        if op == "get" and len(keys) == 1:
            gets.append((call, scope, keys[0]))

    mutations = _mutations(data, scan, env, gets, pos)
    written = {(a.scope, a.keys[0]) for a in accesses if a.op == "set" and len(a.keys) == 1}
    # a value changed in place and then written back with set is a write (HA202's), not this
    mutations = [m for m in mutations if (m.scope, m.key) not in written]
    accesses.sort(key=lambda a: (a.line, a.column))
    timers.sort(key=lambda t: t.line)
    return JsAnalysis(tuple(accesses), tuple(timers), error, tuple(mutations))


# methods that change the array, Map, Set or object they are called on
_MUTATORS = frozenset((
    "push", "pop", "shift", "unshift", "splice", "sort", "reverse", "fill", "copyWithin",
    "set", "add", "delete", "clear",
))
_SCOPE_WORD = {"flow": "flow", "global": "global", "node": "context"}


def _changed_in_place(data: bytes, expr: Any) -> tuple[str, list[str]] | None:
    """How the value of `expr` is changed where it stands (`expr.a = 1`, `expr[i]++`,
    `delete expr.a`, `expr.list.push(x)`), with the property names on the way; None when it
    is only read."""
    node, props = expr, []
    p = node.parent
    # tree-sitter finds a parent by descending from the root: a few steps up, never a long
    # chain (`flow?.x?.x...` 50,000 deep would take minutes); a change 16 properties deep is
    # not worth the search
    while p is not None and p.type in ("member_expression", "subscript_expression") and p.child_by_field_name("object") == node:
        if len(props) >= 16:
            return None
        if p.type == "member_expression":
            prop = p.child_by_field_name("property")
            props.append(_text(data, prop) if prop is not None else "?")
        else:
            idx = p.child_by_field_name("index")
            lit = _safe_literal(data, idx) if idx is not None else None
            props.append(lit if lit is not None else "[]")
        node, p = p, p.parent
    if node is expr or p is None:
        return None
    t = p.type
    if t in ("assignment_expression", "augmented_assignment_expression") and p.child_by_field_name("left") == node:
        return "assigns", props
    if t == "update_expression":
        return "assigns", props
    if t == "unary_expression" and _text(data, p).startswith("delete"):
        return "deletes", props
    if t == "call_expression" and p.child_by_field_name("function") == node and props and props[-1] in _MUTATORS:
        return f"calls .{props[-1]}()", props[:-1]
    return None


def _report(out: list, data: bytes, pos: _Positions, node: Any, scope: str, key: str) -> None:
    found = _changed_in_place(data, node)
    if found is not None:
        how = found[0]
        word = _SCOPE_WORD[scope]
        verb = f"{how} on {word} '{key}' read with get" if how.startswith("calls") else f"{how} the value of {word} '{key}' read with get"
        out.append(Mutation(scope, key, verb, pos.of(node)[0]))


def _mutations(data: bytes, scan: _Scan, env: dict, gets: list, pos: _Positions) -> list[Mutation]:
    out: list[Mutation] = []
    # the legacy form: a property of the context object itself
    for name, ident, _top, _parent in list(scan.uses):
        desc = env.get(name)
        if desc is None or desc[0] != "obj":
            continue
        found = _changed_in_place(data, ident)
        if found is None:
            continue
        how, props = found
        scope = desc[1]
        if props and scope == "node" and props[0] in ("flow", "global"):
            scope, props = props[0], props[1:]
        if not props or props[0] in _OPS or props[0] in ("[]", "?"):
            continue  # flow.set(...), or a computed key
        word = _SCOPE_WORD[scope]
        verb = f"{how} {word}.{props[0]}" if how != "calls" else how
        if how.startswith("calls"):
            verb = f"{how} on {word}.{props[0]}"
        out.append(Mutation(scope, props[0], verb, pos.of(ident)[0]))
    # a value read with get: through a variable bound once to the call, or the call itself.
    # The variables are looked for in one batch: a big body binds thousands of them
    bound_to: list[tuple[Any, str, str, Any, str]] = []  # (value, scope, key, name node, name)
    for call, scope, key in gets:
        value, p = call, call.parent
        # `flow.get("q") || []`, `(flow.get("q") ?? {})`: the default only when unset
        while p is not None and (p.type == "parenthesized_expression" or (
            p.type == "binary_expression" and p.child_by_field_name("left") == value
            and _text(data, p.child_by_field_name("operator")) in ("||", "??"))):
            value, p = p, p.parent
        if p is not None and p.type == "variable_declarator" and p.child_by_field_name("value") == value:
            var = p.child_by_field_name("name")
            if var is not None and var.type == "identifier":
                bound_to.append((value, scope, key, var, _text(data, var)))
            continue
        _report(out, data, pos, call, scope, key)
    if bound_to:
        scan.run({name for *_, name in bound_to})
        once = [b for b in bound_to if len(scan.bindings.get(b[4], ())) == 1 and scan.bindings[b[4]][0] == b[0]]
        uses_of: dict[str, list[Any]] = {}
        if once:
            for name, node in scan.occurrences({b[4] for b in once}):
                uses_of.setdefault(name, []).append(node)
        for _, scope, key, var, name in once:
            for node in uses_of.get(name, ()):
                if node != var:
                    _report(out, data, pos, node, scope, key)
    out.sort(key=lambda m: m.line)
    return out


@lru_cache(maxsize=1024)
def assigned_strings(source: str, obj: str, prop: str, parts: bool = False) -> tuple[str, ...] | None:
    """The string literals the code assigns to `obj.prop` (`msg.method = "GET"`), in order;
    None when it assigns something else there (a variable, an expression) or cannot be
    parsed. () when it never assigns it. With `parts`, the string pieces of any expression
    assigned (`msg.url = "10.0.0.9/led" + n` gives "10.0.0.9/led"), never None for one."""
    if not isinstance(source, str) or prop not in source:
        return ()
    data = _WRAP_HEAD + source.encode("utf-8", "surrogatepass") + _WRAP_TAIL
    tree = _parse(data)
    if tree is None or _first_error(tree.root_node) is not None:
        return None
    scan = _Scan(tree.root_node, data)
    out: list[str] = []
    for _, ident in scan.occurrences({obj}):
        p = ident.parent
        if p is None or p.type != "member_expression" or p.child_by_field_name("object") != ident:
            continue
        name = p.child_by_field_name("property")
        if name is None or _text(data, name) != prop:
            continue
        a = p.parent
        if a is None or a.type != "assignment_expression" or a.child_by_field_name("left") != p:
            continue
        right = a.child_by_field_name("right")
        if parts and right is not None:
            out.extend(_string_pieces(data, right))
            continue
        lit = _safe_literal(data, right) if right is not None else None
        if lit is None:
            return None
        out.append(lit)
    return tuple(out)


def _string_pieces(data: bytes, expr: Any) -> list[str]:
    """The string literals inside an expression (template strings' text included)."""
    out, stack = [], [expr]
    while stack and len(out) < 64:
        n = stack.pop()
        if n.type in ("string", "template_string"):
            lit = _safe_literal(data, n)
            if lit is not None:
                out.append(lit)
            elif n.type == "template_string":
                out.extend(_text(data, c) for c in n.named_children if c.type == "string_fragment")
            continue
        stack.extend(reversed(n.named_children))
    return out


@lru_cache(maxsize=1024)
def member_calls(source: str, names: frozenset[str]) -> frozenset[tuple[str, str]] | None:
    """Which of `names` the code calls as a method (or constructs, `new osc.Server(...)`), with
    the variable it calls it on: {("fs", "writeFileSync")} for `fs.writeFileSync(...)` (""
    when the object is not a plain variable); None when it cannot be parsed. Comments and
    strings never count."""
    if not isinstance(source, str):
        return frozenset()
    present = frozenset(n for n in names if n in source)
    if not present:
        return frozenset()
    data = _WRAP_HEAD + source.encode("utf-8", "surrogatepass") + _WRAP_TAIL
    tree = _parse(data)
    if tree is None:
        return None
    find = tree.root_node.named_descendant_for_byte_range
    found = set()
    for m in _name_regex(present).finditer(data):
        start, end = m.span()
        node = find(start, end)
        if node is None or node.type != "property_identifier" or node.start_byte != start or node.end_byte != end:
            continue
        member = node.parent
        call = member.parent if member is not None else None
        if member is not None and member.type == "member_expression" and call is not None and (
            (call.type == "call_expression" and call.child_by_field_name("function") == member)
            or (call.type == "new_expression" and call.child_by_field_name("constructor") == member)
        ):
            obj = member.child_by_field_name("object")
            found.add((_text(data, obj) if obj is not None and obj.type == "identifier" else "", m.group().decode()))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Program:
    """A whole JavaScript file (a node's .js, the editor script of its .html) parsed as a
    program, not as a function body: `root` is the tree-sitter tree's root, `data` the UTF-8
    bytes its offsets index, `error` the first syntax error ("line L, column C") or None."""

    root: Any
    data: bytes
    error: str | None


def parse_program(source: str) -> Program | None:
    """`source` parsed as a whole file (module code: `import`, top-level `await`); None when
    the parse ran out of its time budget. Lines in the tree are 0-based rows of `source`."""
    data = source.encode("utf-8", "surrogatepass")
    tree = _parse(data)
    if tree is None:
        return None
    err = _first_error(tree.root_node)
    error = None
    if err is not None:
        row, col = err.start_point
        error = f"line {row + 1}, column {col + 1}"
    return Program(tree.root_node, data, error)


_CACHE_LIMIT = 1 << 20  # sources larger than this are not kept in the cache
_analyze_cached = lru_cache(maxsize=4096)(_analyze_uncached)


def analyze(source: Any) -> JsAnalysis:
    """Analyse the code of one function-node field. Never raises.

    Non-string input (``None``, numbers...) gives an empty analysis.  Results
    are cached by source string (LRU, 4096 entries; sources over 1 MiB are not
    cached).  If tree-sitter cannot be loaded, ``error`` says so.
    """
    if not isinstance(source, str):
        return EMPTY
    if len(source) > _CACHE_LIMIT:
        return _analyze_uncached(source)
    try:
        return _analyze_cached(source)
    except Exception as exc:  # pragma: no cover - e.g. unhashable str subclass
        return JsAnalysis((), (), f"analysis failed: {type(exc).__name__}: {exc}")


analyze.cache_clear = _analyze_cached.cache_clear  # type: ignore[attr-defined]
analyze.cache_info = _analyze_cached.cache_info  # type: ignore[attr-defined]


def passes_nothing(source: str) -> bool:
    """Function code that can never pass a message on: every `return` returns nothing, `null`
    or `undefined`, and nothing calls `send`. False when in doubt (unparsable code)."""
    if not isinstance(source, str) or "send" in source:
        return False
    if len(source) > _CACHE_LIMIT:
        return _passes_nothing(source)
    return _passes_nothing_cached(source)


def _passes_nothing(source: str) -> bool:
    data = _WRAP_HEAD + source.encode("utf-8", "surrogatepass") + _WRAP_TAIL
    tree = _parse(data)
    if tree is None or _first_error(tree.root_node) is not None:
        return False
    root = tree.root_node
    wrapper = next((c for c in root.named_children if c.type == "function_declaration"), None)
    body = wrapper.child_by_field_name("body") if wrapper is not None else None
    if body is None:
        return False
    stack = [body]
    while stack:
        n = stack.pop()
        if n.type in _NESTED_FUNCTIONS:
            continue  # a helper's return is not the node's
        if n.type == "return_statement":
            args = [c for c in n.named_children if c.type != "comment"]
            if args and not (args[0].type in ("null", "undefined") or _text(data, args[0]) == "undefined"):
                return False
        stack.extend(n.children)
    return True


# flows copy the same code into many nodes (subflow instances, pasted nodes): parse it once
_passes_nothing_cached = functools.lru_cache(maxsize=4096)(_passes_nothing)

_NESTED_FUNCTIONS = frozenset(("function_declaration", "function_expression", "function", "arrow_function",
                               "method_definition", "generator_function_declaration", "generator_function"))
