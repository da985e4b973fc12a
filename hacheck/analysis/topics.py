"""What a message can carry when it reaches a `switch`, so that the outputs no message can take
are not paths.

A plain subscription to `status/#` that feeds a switch whose rules test `msg.topic ==
"actuator/x"` never sends anything through that rule: the subscription sets msg.topic to a topic
its filter matches, and the nodes between that leave msg.topic alone keep it. Likewise a cron
inject that sends a timestamp never equals "on", and a value a change node has just set in flow
context is the one a switch right after it reads. Every path search (the effects a source
reaches, the inputs that reach state) runs on the message graph, so the graph drops the switch
outputs no message can take (FlowGraph calls `dead_switch_ports` once it is built).

Only the properties some switch tests are tracked: msg.<p>, flow.<p> or global.<p>. The value of
a vertex, per property, is the set of values its messages may carry there or ANY. Only what is
certain narrows it: a subscription's filter (msg.topic), an inject's literal properties, a change
rule setting a literal; a node that may set the property gives ANY. A value is written
"s:<text>" (a string; for msg.topic an MQTT filter), "n:<number>", "n:*" (some number, a
timestamp), "b:true"/"b:false", or "u:" (not set). Dashboard widgets add no messages of their
own: dashboards do not run on an HA instance (HA140), so what a viewer would send is never sent.
"""

from __future__ import annotations

import re

ANY = None  # any value at all
MAX_VALUES = 32  # beyond this a set is as good as ANY, and cheaper

# core nodes that pass the message they got on with its properties unchanged (a rate-limiting
# delay or rbe drops some messages but changes none; switch outputs are pruned separately)
_KEEP = frozenset((
    "switch", "junction", "link in", "link out", "rbe", "filter", "delay", "debug", "range", "sort",
))
# ... and those that change msg.payload only
_KEEP_BUT_PAYLOAD = frozenset(("json", "xml", "yaml", "csv", "html", "http request", "file", "file in", "base64", "strip", "smooth", "split"))
_SUBSCRIBERS = frozenset(("mqtt in", "ff-mqtt-in"))
# code that sends a message it made, or sends on its own clock
_NEW_MESSAGE = re.compile(r"\b(?:return|send)\s*\(?\s*\[?\s*\{|\bmsg\s*=(?!=)|cloneMessage|setInterval|setTimeout|\bnew\s")
_SHARE = re.compile(r"^\$(?:share/[^/]+/|queue/)")
_NUMBER = re.compile(r"^\s*-?(\d+\.?\d*|\.\d+)(e-?\d+)?\s*$", re.IGNORECASE)


def tested_switches(graph) -> dict[tuple[str, str], list[str]]:
    """The property each switch tests -> the switch vertices testing it (once per graph)."""
    got = getattr(graph, "_tested_switches", None)
    if got is None:
        got = {}
        for v, n in graph._node_at.items():
            if n.type == "switch":
                key = _tested(n)
                if key is not None:
                    got.setdefault(key, []).append(v)
        graph._tested_switches = got
    return got


def dead_switch_ports(graph, region: set[str] | None = None, starts: tuple[str, ...] = ()) -> dict[str, set[int]]:
    """Vertex of a switch -> the output ports no arriving message can take: for the messages
    of every source (the default), or, with `region` and `starts`, for those of `starts` alone
    (region: what they reach)."""
    switches = tested_switches(graph)
    if not switches:
        return {}
    pred = graph.pred
    out: dict[str, set[int]] = {}
    for key, vs in switches.items():
        if region is not None:
            vs = [v for v in vs if v in region]
            if not vs:
                continue
        values = _propagate(graph, key, region, starts)
        for v in vs:
            incoming = _join(values.get(u, frozenset()) for u in pred.get(v, ()))
            if incoming is ANY or not incoming:
                continue
            rules = graph.node(v).raw["rules"]
            dead = {i for i, r in enumerate(rules) if isinstance(r, dict) and not any(_can_match(key, r, x) for x in incoming)}
            if dead:
                out[v] = dead
    return out


def _tested(n) -> tuple[str, str] | None:
    raw = n.raw
    p, pt = raw.get("property"), raw.get("propertyType", "msg")
    if not isinstance(p, str) or not p or pt not in ("msg", "flow", "global") or not isinstance(raw.get("rules"), list):
        return None
    if not re.fullmatch(r"[A-Za-z_$][\w$]*", p):
        return None  # #:(store)::key, nested keys (msg.payload.ok): not followed
    return (pt, p)


def _join(values):
    acc: set[str] = set()
    for val in values:
        if val is ANY:
            return ANY
        acc |= val
        if len(acc) > MAX_VALUES:
            return ANY
    return frozenset(acc)


def _propagate(graph, key, region: set[str] | None = None, starts: tuple[str, ...] = ()) -> dict[str, frozenset | None]:
    """Each vertex's outgoing values of `key`: a forward pass to a fixed point (values only
    grow). In a region, only the starts make messages: what enters from outside it is not
    theirs."""
    succ, node = graph.succ, graph.node
    pred = graph.pred if region is None else {v: [u for u in graph.pred.get(v, ()) if u in region] for v in region}
    out: dict[str, frozenset | None] = {}
    work = list(succ) if region is None else list(region)
    queued = set(work)
    origin = set(starts)
    while work:
        v = work.pop()
        queued.discard(v)
        fed = bool(pred.get(v)) and v not in origin
        incoming = _join(out.get(u, frozenset()) for u in pred.get(v, ())) if fed else ANY
        new = _transfer(node(v), key, incoming, fed)
        if new != out.get(v, frozenset()):
            out[v] = new
            for w in succ[v]:
                if w not in queued and (region is None or w in region):
                    queued.add(w)
                    work.append(w)
    return out


def narrows(graph, starts: tuple[str, ...]) -> bool:
    """Whether the sources' own messages carry a known value of some property a switch tests
    (only then can judging them on their own find less than the graph already drops)."""
    node = graph.node
    return any(_transfer(node(v), key, ANY, False) is not ANY for key in tested_switches(graph) for v in starts)


def reach_of_source(graph, starts: tuple[str, ...]) -> set[str]:
    """The vertices the messages of `starts` can reach, judged by what those messages carry:
    a switch output none of them can take is not followed."""
    region = graph.reachable(starts) | set(starts)
    dead = dead_switch_ports(graph, region, starts) if any(v in region for vs in tested_switches(graph).values() for v in vs) else {}
    if not dead:
        return region
    seen, stack = set(starts), list(starts)
    while stack:
        v = stack.pop()
        ports = dead.get(v)
        for w, edges in graph.succ[v].items():
            if w in seen or (ports and all(e.get("port") in ports for e in edges)):
                continue
            seen.add(w)
            stack.append(w)
    return seen


def _transfer(n, key, incoming, fed: bool):
    scope, prop = key
    t = n.type
    if scope == "msg":
        if t in _SUBSCRIBERS:
            return _subscription(n) if prop == "topic" else ANY
        if t == "inject":
            return _inject(n, prop)
        if t.startswith(("ui_", "ui-")):
            return incoming  # passes what it gets on (when it passes at all); adds nothing on HA
        if t in _KEEP or t.startswith("subflow:") or (t in _KEEP_BUT_PAYLOAD and prop != "payload"):
            return incoming if fed else ANY
    elif t not in ("function", "change", "template"):
        return incoming if fed else ANY  # context: only code, change rules and templates write it
    if t == "change":
        return _change(n, key, incoming)
    if t == "function":
        code = n.raw.get("func")
        if isinstance(code, str) and prop not in code and not (scope == "msg" and _NEW_MESSAGE.search(code)):
            return incoming
        return ANY
    if t == "template":
        return ANY if n.raw.get("field", "payload") == prop and n.raw.get("fieldType", "msg") == scope else incoming
    return ANY


def _subscription(n):
    topic = n.raw.get("topic")
    if n.raw.get("inputs") in (1, "1") or not isinstance(topic, str) or not topic or "${" in topic or "$(" in topic:
        return ANY
    return frozenset(("s:" + _SHARE.sub("", topic),))


def _typed(value, vt) -> frozenset | None:
    if vt in ("str", None) and isinstance(value, str):
        return ANY if "${" in value else frozenset(("s:" + value,))
    if vt == "num" and _NUMBER.match(str(value)):
        return frozenset(("n:" + str(float(value)),))
    if vt == "bool" and str(value) in ("true", "false"):
        return frozenset(("b:" + str(value),))
    if vt == "date":
        return frozenset(("n:*",))
    return ANY


def _inject(n, prop: str):
    raw = n.raw
    props = raw.get("props")
    if not isinstance(props, list):  # before Node-RED 1.1: topic and payload only
        if prop == "topic":
            return _typed(raw.get("topic", ""), "str")
        return _typed(raw.get("payload", ""), raw.get("payloadType", "date")) if prop == "payload" else frozenset(("u:",))
    entry = next((p for p in props if isinstance(p, dict) and p.get("p") == prop), None)
    if entry is None:
        return frozenset(("u:",))  # not set at all
    if prop == "topic":
        return _typed(raw.get("topic", ""), "str") if entry.get("vt") in (None, "str") and "v" not in entry else _typed(entry.get("v"), entry.get("vt"))
    if prop == "payload" and "v" not in entry:
        return _typed(raw.get("payload", ""), raw.get("payloadType", "date"))
    return _typed(entry.get("v"), entry.get("vt", "str"))


def _change(n, key, incoming):
    scope, prop = key
    rules = n.raw.get("rules")
    if not isinstance(rules, list):
        return ANY
    value = incoming
    for r in rules:
        if not isinstance(r, dict):
            return ANY
        target = r.get("p") == prop and r.get("pt", "msg") == scope
        moved = r.get("t") == "move" and r.get("to") == prop and r.get("tot", "msg") == scope
        if moved or (target and r.get("t") in ("change", "move")):
            return ANY
        if target and r.get("t") == "set":
            value = _typed(r.get("to"), r.get("tot"))
        elif target and r.get("t") == "delete":
            value = frozenset(("u:",))
    return value


def filter_matches(pattern: str, topic: str) -> bool:
    """Whether `topic` matches the MQTT filter `pattern` (`+` one level, `#` the rest)."""
    f, t = pattern.split("/"), topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)


def _can_match(key, rule: dict, value: str) -> bool:
    """Whether a message carrying `value` may pass this switch rule: False only where that is
    certain (a literal compared with a value that can never equal or hold it)."""
    op, v, vt = rule.get("t"), rule.get("v"), rule.get("vt", "str")
    kind, _, text = value.partition(":")
    if op in ("true", "false"):
        return kind == "b" and text == op if kind in ("b", "s", "n", "u") and text != "*" else True
    if vt not in ("str", None, "num") or not isinstance(v, str) or op not in ("eq", "neq", "cont", "regex"):
        return True
    filt = key == ("msg", "topic") and kind == "s" and ("+" in text or "#" in text)
    if op == "eq":
        if kind == "u":
            return False
        if kind == "n":  # switch's eq is JavaScript's ==: a number equals a numeric string
            return text == "*" and _NUMBER.match(v) is not None or (_NUMBER.match(v) is not None and float(v) == float(text))
        if kind == "b":
            return v == text
        return filter_matches(text, v) if filt else v == text
    if op == "neq":
        return True if filt or kind != "s" else v != text
    if kind != "s":
        return True
    if op == "cont":
        return True if filt else v in text
    if not filt:
        try:
            return re.search(v, text, re.IGNORECASE if rule.get("case") else 0) is not None
        except re.error:
            return True
    # `^literal...` against a filter: the topics it matches all start with its text before the
    # first wildcard, so one of the two beginnings must start the other
    head = _REGEX_HEAD.match(v)
    if head and not rule.get("case"):
        lit, pre = head.group(1).replace("\\/", "/"), text.split("+")[0].split("#")[0]
        return lit.startswith(pre) or pre.startswith(lit)
    return True


# a regex that starts with ^ and plain text (no other regex syntax before the first special)
_REGEX_HEAD = re.compile(r"^\^((?:[A-Za-z0-9_\- ]|\\/|/)+)")
