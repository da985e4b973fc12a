"""A draft effect catalogue file for an installed Node-RED module (`hacheck catalogue draft`).

The facts come from hacheck/analysis/node_module.py (what the module's code and editor scripts
show); this module guesses each type's roles from them, in the format of rules/effects/*.yaml
(hacheck/schemas/effects.schema.json), and writes every claim with its evidence (file:line) as
YAML comments above it. It is a draft for a person to review, and says so in its header: a
timer in the code does not say whether it runs in every copy, a client library does not say
whether an input message writes or only reads.

How the roles are guessed, per type (a config node only gets `host` and `session`):

- source, when the node has outputs: an `RED.httpNode` route is a load-balanced request; a
  scheduler library a scheduler; a timer or a message it sends itself a poll when the node (or
  a config node it names in `defaults`) holds a client connection, else a timer; a server a
  listener; with no input, a device is a listener and a connection an event stream;
- effect, when it has an input: a connection (its own or its config node's) is outbound, of
  the class its library sends (publish, write, notify, call, command); a device a command; a
  local database or a file write per-copy state;
- host: a device is hardware, a server a port, a file or local database the disk;
- session: a bot library, its `polling` option, a `clientId`.

An axis holds one guess without a `when`; the other candidates follow it as comments, for the
reviewer to turn into conditions or drop. A type with no evidence is `neutral: true`, with a
comment that nothing was found.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from hacheck.analysis.node_module import LIBRARIES, Evidence, Module, NodeType

__all__ = ["draft", "check_draft", "Claim"]

# evidence a node inherits from a config node of the package it names in `defaults`
_THROUGH_CONFIG = frozenset(("client", "session", "hardware", "database"))
_MAX_SHOWN = 5  # evidence lines per claim; the rest are counted
_MAX_DEFAULTS = 24  # fields shown in a type's `defaults` comment


@dataclass
class Claim:
    entry: dict  # one entry of the axis, as the schema has it
    evidence: list[tuple[str, Evidence]]  # (how it is reached: "" or "config node 'server' (x)", evidence)
    note: str = ""


@dataclass
class _Draft:
    node: NodeType
    axes: dict[str, list[Claim]] = field(default_factory=dict)
    review: list[str] = field(default_factory=list)

    def add(self, axis: str, claim: Claim) -> None:
        self.axes.setdefault(axis, []).append(claim)


def _of(kinds: str | tuple[str, ...], pairs: list[tuple[str, Evidence]]) -> list[tuple[str, Evidence]]:
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    return [(how, e) for how, e in pairs if e.kind in kinds]


def _words(pairs: list[tuple[str, Evidence]]) -> str:
    """The libraries' words (`an IMAP client`), first found first, at most two."""
    out: list[str] = []
    for _, e in pairs:
        w = LIBRARIES[e.lib][1] if e.lib in LIBRARIES else ""
        if w and w not in out:
            out.append(w)
    return " or ".join(out[:2])


def _effect_class(pairs: list[tuple[str, Evidence]]) -> str:
    for _, e in pairs:
        if e.lib in LIBRARIES and LIBRARIES[e.lib][2]:
            return LIBRARIES[e.lib][2]
    return "call"


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TARGETS = ("server", "host", "hostname", "broker", "url", "address", "ip", "endpoint")


def _plain(node: NodeType) -> list[str]:
    """The node's own setting fields that a `what` template can quote (not config node links)."""
    return [n for n, d in node.defaults.items() if not d.type and _FIELD_NAME.match(n)]


def _period(node: NodeType) -> str:
    """` every {f[repeat]}` (and its unit field) when a field looks like the timer's period."""
    names = _plain(node)
    words = ("interval", "repeat", "rate", "period", "every", "frequency", "poll")
    for n in names:
        low = n.lower()
        flag = node.defaults[n].value in ("true", "false")  # `repeat: true` is a switch, not a period
        if any(w in low for w in words) and "baud" not in low and not low.endswith(("unit", "units")) and not flag:
            unit = next((u for u in (n + "Unit", n + "Units", n + "unit", n + "units") if u in names), "")
            return f" every {{f[{n}]}}" + (f" {{f[{unit}]}}" if unit else "")
    return ""


def _target(node: NodeType, pairs: list[tuple[str, Evidence]]) -> str:
    """` ({f[server]})` when the node's own connection names its server in a field."""
    if not any(not how for how, _ in pairs):
        return ""  # the address is on the config node, which a `what` cannot quote
    names = _plain(node)
    lower = {n.lower(): n for n in names}
    for want in _TARGETS:
        if want in lower:
            return f" ({{f[{lower[want]}]}})"
    found = next((n for n in names if n.lower().endswith(("host", "url", "server"))), "")
    return f" ({{f[{found}]}})" if found else ""


def _port_field(node: NodeType) -> str:
    """The field that most likely holds the port it listens on (`port`, `mqtt_port`, ...)."""
    names = [n for n, d in node.defaults.items() if not d.type and n.lower().endswith("port") and "serial" not in n.lower()]
    return "port" if "port" in names else (names[0] if names else "")


def _roles(node: NodeType, by_name: dict[str, NodeType]) -> _Draft:
    out = _Draft(node)
    own = [("", e) for e in node.evidence]
    through: list[tuple[str, Evidence]] = []
    for d in node.defaults.values():
        if not d.type:
            continue
        cfg = by_name.get(d.type)
        if cfg is None:
            out.review.append(f"its `{d.name}` names a config node of type {d.type}, not in this package: what it connects to is not read here")
            continue
        through.extend((f"config node `{d.name}` ({d.type})", e) for e in cfg.evidence if e.kind in _THROUGH_CONFIG)
    # shared code of the file reaches a node both directly and through its config node: once
    mine = {(e.kind, e.file, e.line) for e in node.evidence}
    through = [(how, e) for how, e in through if (e.kind, e.file, e.line) not in mine]
    both = own + through
    has_in = node.inputs is None or node.inputs > 0
    has_out = node.outputs is None or node.outputs > 0
    # `inputs`/`outputs` in defaults: the editor changes the count with a setting
    for word, field_ in (("input", "inputs"), ("output", "outputs")):
        if field_ in node.defaults and not node.is_config:
            out.review.append(f"its {field_} count is a setting (defaults.{field_}): some settings give it {'an input' if word == 'input' else 'outputs'}: add `when:` conditions on `{field_}`")
    # sources are judged on the editor's default counts; an effect wherever an input may be
    may_in = has_in or "inputs" in node.defaults
    has_out = has_out or "outputs" in node.defaults
    port = _port_field(node)

    # host and session: config nodes too
    hw, server, disk, db = _of("hardware", both), _of("server", own), _of("disk", own), _of("database", both)
    if hw:
        mixed = any(how for how, _ in hw) and _of("client", through)
        note = "its config node also holds a network client: a device only in some settings (add `when: {ref: <field>, then: ...}`)" if mixed else ""
        out.add("host", Claim({"kind": "hardware", "what": f"uses {_words(hw) or 'a device'} of this copy's host"}, hw, note))
    if server:
        what = f"listens on port {{f[{port}]}} of this copy's host" if port else "listens on a port of this copy's host"
        out.add("host", Claim({"kind": "port", "what": what}, server))
    if db:
        out.add("host", Claim({"kind": "disk", "what": "keeps a database file on this copy's disk"}, db))
    if disk:
        out.add("host", Claim({"kind": "disk", "what": "writes files on this copy's disk"}, disk))
    session = _of("session", own)
    if session:
        out.add("session", Claim({"kind": "exclusive", "what": f"holds {_words(session) or 'a session'} that one process at a time can hold"}, session))
    if node.is_config:
        if not out.axes:
            clients = _of("client", own)
            if clients:
                out.review.append("a config node with a client connection its users share: their entries carry it")
        return out

    # source
    if has_out:
        routes = _of("http-route", own)
        sched = _of("scheduler", own)
        timers = _of(("timer", "self-trigger"), own)
        conns = _of(("client", "session"), both)
        if routes:
            out.add("source", Claim({"kind": "load-balanced", "class": "request", "what": "answers HTTP requests (RED.httpNode)"}, routes))
        if sched:
            out.add("source", Claim({"kind": "every-copy", "class": "scheduler", "what": "fires on its schedule"}, sched + timers[:2]))
        period = _period(node)
        if timers and conns:
            what = f"polls over {_words(conns) or 'its connection'}{_target(node, conns)}{period or ' on a timer'}"
            out.add("source", Claim({"kind": "every-copy", "class": "poll", "what": what}, timers + conns))
        elif timers:
            out.add("source", Claim({"kind": "every-copy", "class": "timer", "what": f"sends{period or ' on a timer'}"}, timers))
        if server:
            out.add("source", Claim({"kind": "every-copy", "class": "listener", "what": "receives what arrives at its server"}, server))
        if not has_in and hw:
            out.add("source", Claim({"kind": "every-copy", "class": "listener", "what": f"reads {_words(hw) or 'a device'} of this copy's host"}, hw))
        if not has_in and conns and not timers:
            out.add("source", Claim({"kind": "every-copy", "class": "event-stream", "what": f"receives over {_words(conns) or 'its connection'}{_target(node, conns)}"}, conns))
        if "source" not in out.axes and node.inputs == 0:
            out.review.append(f"no input and {node.outputs} output(s), yet no timer, connection or server found: how does it start messages?")

    # effect
    if may_in:
        conns = _of(("client", "session"), both)
        if conns:
            cls = _effect_class(conns)
            out.add("effect", Claim({"kind": "outbound", "class": cls, "what": f"acts through {_words(conns) or 'its connection'}{_target(node, conns)}"}, conns,
                                    "a read that changes nothing is `{kind: none, class: none}`" if cls in ("command", "write", "call") else ""))
        if hw:
            out.add("effect", Claim({"kind": "outbound", "class": "command", "what": f"drives {_words(hw) or 'a device'} of this copy's host"}, hw))
        if db:
            out.add("effect", Claim({"kind": "state", "class": "database", "what": "writes this copy's local database"}, db))
        if disk:
            out.add("effect", Claim({"kind": "state", "class": "disk", "what": "writes a file on this copy's disk"}, disk))
    return out


# --------------------------------------------------------------------------------------------
# YAML text


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text)


def _flow(entry: dict) -> str:
    return "{" + ", ".join(f"{k}: {_q(v) if k == 'what' else v}" for k, v in entry.items()) + "}"


def _comment(text: str) -> str:
    return " ".join(text.split())


def _evidence_line(how: str, e: Evidence) -> str:
    where = f"{e.where} {e.what}"
    if e.shared:
        where += " (in the file's shared code, not the constructor)"
    if e.via:
        where += f" (in {e.via}, which the node's file requires)"
    return f"{e.kind}: {where}" + (f", through its {how}" if how else "")


def _shown(evidence: list[tuple[str, Evidence]]) -> list[tuple[str, Evidence]]:
    """The evidence in the order a reviewer wants it: the node's own code before shared code,
    files it requires and config nodes; then one of each kind in turn, new code before repeats."""
    ranked = sorted(evidence, key=lambda p: (bool(p[0]) + p[1].shared + bool(p[1].via)))
    by_kind: dict[str, list[tuple[str, Evidence]]] = {}
    for pair in ranked:
        by_kind.setdefault(pair[1].kind, []).append(pair)
    for kind, pairs in by_kind.items():
        fresh, repeats, seen = [], [], set()
        for pair in pairs:
            (repeats if pair[1].what in seen else fresh).append(pair)
            seen.add(pair[1].what)
        by_kind[kind] = fresh + repeats
    out: list[tuple[str, Evidence]] = []
    while any(by_kind.values()):
        for pairs in by_kind.values():
            if pairs:
                out.append(pairs.pop(0))
    return out


def _type_block(d: _Draft, summary: str) -> list[str]:
    node = d.node
    ind = "    "
    lines = [f"  {_q(node.name)}:"]
    reg = f"registered at {node.file}:{node.line}"
    if node.editor_file:
        io = "config node" if node.is_config else f"{_io(node.inputs, 'input')}, {_io(node.outputs, 'output')}"
        reg += f"; editor {node.editor_file}:{node.editor_line} (category {node.category or '?'}, {io})"
    else:
        reg += "; no editor definition found"
    lines.append(f"{ind}# {_comment(reg)}")
    if node.defaults:
        items = list(node.defaults.values())
        shown = ", ".join(x.name + (f" -> {x.type}" if x.type else (f"={x.value}" if x.value not in ("", '""', "''") else "")) for x in items[:_MAX_DEFAULTS])
        more = f", ... and {len(items) - _MAX_DEFAULTS} more" if len(items) > _MAX_DEFAULTS else ""
        lines.append(f"{ind}# defaults: {_comment(shown)}{more}")
    if node.credentials:
        lines.append(f"{ind}# credentials: {', '.join(node.credentials)}")
    for r in d.review:
        lines.append(f"{ind}# REVIEW: {_comment(r)}")
    lines.append(f"{ind}doc: {_q(summary)}")
    used: set[tuple[str, str, int]] = set()
    for axis in ("source", "effect", "passes", "host", "session"):
        claims = d.axes.get(axis)
        if not claims:
            continue
        lines.append(f"{ind}{axis}:")
        for i, claim in enumerate(claims):
            lead = f"{ind}  "
            if i == 1:
                lines.append(f"{lead}# other candidates (only the first entry without `when` applies: add a `when:` or delete):")
            for how, e in _shown(claim.evidence)[:_MAX_SHOWN]:
                lines.append(f"{lead}# {_comment(_evidence_line(how, e))}")
            if len(claim.evidence) > _MAX_SHOWN:
                lines.append(f"{lead}# ... and {len(claim.evidence) - _MAX_SHOWN} more")
            if claim.note:
                lines.append(f"{lead}# note: {_comment(claim.note)}")
            used.update((e.kind, e.file, e.line) for _, e in claim.evidence)
            entry = f"- {_flow(claim.entry)}"
            lines.append(f"{lead}{entry}" if i == 0 else f"{lead}# {entry}")
    if not d.axes:
        lines.append(f"{ind}# no timer, connection, server, file write, device or session found in its code:")
        lines.append(f"{ind}# a transform or a configuration? check, then keep `neutral: true` or write its roles")
        lines.append(f"{ind}neutral: true")
    rest = [e for e in node.evidence if (e.kind, e.file, e.line) not in used]
    if rest:
        lines.append(f"{ind}# found but not used for a claim:")
        for e in rest[:_MAX_SHOWN]:
            lines.append(f"{ind}#   {_comment(_evidence_line('', e))}")
        if len(rest) > _MAX_SHOWN:
            lines.append(f"{ind}#   ... and {len(rest) - _MAX_SHOWN} more")
    return lines


def _io(n: int | None, word: str) -> str:
    if n is None:
        return f"{word}s unknown"
    return f"{n} {word}{'s' if n != 1 else ''}"


def _summary(d: _Draft) -> str:
    node = d.node
    kinds = []
    for how, e in [c for claims in d.axes.values() for claim in claims for c in claim.evidence]:
        word = {
            "timer": "a timer", "self-trigger": "a timer", "scheduler": "a schedule",
            "client": "a client connection", "server": "a server", "http-route": "an HTTP route",
            "disk": "file writes", "database": "a local database", "hardware": "a device of the host",
            "session": "a session", "program": "programs it runs",
        }.get(e.kind, e.kind)
        word += " (through its config node)" if how else ""
        if word not in kinds:
            kinds.append(word)
    what = "config node" if node.is_config else f"{_io(node.inputs, 'input')}, {_io(node.outputs, 'output')}"
    found = "; the code shows " + ", ".join(kinds[:5]) if kinds else "; no effect found in the code"
    return f"DRAFT, not reviewed: {node.name} ({what}){found}. Describe what it does when every copy runs it."


def draft(module: Module, tool: str = "hacheck") -> str:
    """The draft catalogue file for `module`, as YAML text."""
    by_name = {t.name: t for t in module.types}
    version = f" {module.version}" if module.version else ""
    head = [
        f"# DRAFT effect catalogue for {module.name}{version}, written by `{tool} catalogue draft` from",
        "# the module's code: a guess for a person to review, not a checked description. Check every",
        "# claim against the module's source and documentation, add `when:` conditions where a setting",
        "# changes what a node does, write each `doc` in your own words, then set `checked` to what",
        "# you checked. Each claim's evidence (file:line, in the package folder) is the comment above it.",
        "# Format: hacheck/schemas/effects.schema.json (docs/effects.md). For your own nodes, put the",
        "# `types:` mapping under `effects:` in your .hacheck.yaml; for the bundled catalogue, save it",
        "# as rules/effects/<package>.yaml.",
    ]
    for w in module.warnings:
        head.append(f"# WARNING: {_comment(w)}")
    lines = head + [
        f"package: {_q(module.name)}",
        f"checked: {_q(f'DRAFT from {module.name}{version} (npm), read by {tool} catalogue draft: not yet checked by a person')}",
        "types:",
    ]
    for node in module.types:
        d = _roles(node, by_name)
        lines.extend(_type_block(d, _summary(d)))
    return "\n".join(lines) + "\n"


def check_draft(text: str) -> dict:
    """The draft's data, read as YAML and validated as a catalogue file; EffectsError if not."""
    from hacheck.effects.catalogue import EffectsError, validate
    from hacheck.util.yaml_file import safe_yaml

    try:
        data = safe_yaml().load(text)
    except Exception as e:  # noqa: BLE001 - ruamel raises many types; all mean "not valid YAML"
        raise EffectsError(f"the draft is not valid YAML: {e}") from None
    validate(data, "the draft")
    return data
