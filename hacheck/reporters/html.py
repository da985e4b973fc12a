"""One self-contained HTML page: the verdict, the counts, a drawing of every tab and subflow
with the flagged nodes highlighted, the findings and the docs of the rules that fired.

Self-contained means it opens offline and from an attachment: the CSS and the script are
inline, the drawings are inline SVG, and a Content-Security-Policy allows nothing else (no
network, no other script: even markup that slipped past escaping could not run).
Everything taken from a flow is escaped here; the script never parses flow text as HTML.
Credentials are never read: a node is drawn from its position, wires, type and name only.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from functools import lru_cache
from html import escape
from importlib import resources

from hacheck.reporters.common import (
    SEVERITIES,
    clean_xml,
    count_words,
    counts_by_rule,
    node_label,
    plural,
    rule_infos,
    verdict,
)

NEEDS_FLOWS = True

# Node-RED's editor geometry (editor-client view.js): minimum node size, port spacing.
NODE_W, NODE_H, PORT, PORT_GAP = 100, 30, 10, 13
PAD = 30
BADGE_H = 18
MAX_COORD = 100_000  # a hostile x/y must not make a drawing millions of pixels wide
MAX_LABEL = 40

_NO_INPUT = frozenset(
    {"inject", "http in", "mqtt in", "ff-mqtt-in", "link in", "catch", "status", "complete", "comment",
     "websocket in", "tcp in", "udp in", "project link in", "kafkajs-consumer", "amqp-in", "watch", "ui_button"}
)
_COLORS = {
    "inject": "#a6bbcf", "debug": "#87a980", "complete": "#c0edc0", "catch": "#e49191", "status": "#94c1d0",
    "comment": "#ffffff", "function": "#fdd0a2", "change": "#e2d96e", "switch": "#e2d96e", "range": "#e2d96e",
    "template": "#ebdb8b", "delay": "#e6e0f8", "trigger": "#e6e0f8", "exec": "#c0c0c0", "rbe": "#e2d96e",
    "split": "#e2d96e", "join": "#e2d96e", "sort": "#e2d96e", "batch": "#e2d96e", "smooth": "#e2d96e",
    "http in": "#e7e7ae", "http response": "#e7e7ae", "http request": "#e7e7ae",
    "mqtt in": "#d8bfd8", "mqtt out": "#d8bfd8", "ff-mqtt-in": "#d8bfd8", "ff-mqtt-out": "#d8bfd8",
    "websocket in": "#dbcbe7", "websocket out": "#dbcbe7", "tcp in": "#c0c0c0", "tcp out": "#c0c0c0",
    "udp in": "#c0c0c0", "udp out": "#c0c0c0", "file": "#bdb7a2", "file in": "#bdb7a2", "watch": "#bdb7a2",
    "link in": "#dddddd", "link out": "#dddddd", "link call": "#dddddd", "json": "#debed7", "csv": "#debed7",
    "xml": "#debed7", "yaml": "#debed7", "html": "#debed7",
}
_LABEL_HIDDEN = frozenset({"link in", "link out", "link call"})
_SUBFLOW_COLOR = "#ddaa99"
NAV_FILES = 8  # past this many files the navigation links to the file table instead
_DEFAULT_COLOR = "#dddddd"
_CSS_COLOR = re.compile(r"^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20})$")
_CODE = re.compile(r"`([^`]+)`")


def render(result, stream, color: bool = False) -> None:
    stream.write(document(result))


# --- assets ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str]:
    base = resources.files("hacheck.reporters").joinpath("html_assets")
    return base.joinpath("report.css").read_text("utf-8"), base.joinpath("report.js").read_text("utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# --- helpers ----------------------------------------------------------------------------------


def e(text) -> str:
    """Escape flow text for HTML text and attribute values (quotes too)."""
    return escape(clean_xml(text), quote=True)


def _prose(text: str) -> str:
    """Rule docs (from rule packs, so escaped too) with `code` spans kept as code."""
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", e(" ".join(str(text).split())))


def _num(v: float) -> str:
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _coord(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)  # an integer past the float range raises OverflowError
    except OverflowError:
        return MAX_COORD if v > 0 else -MAX_COORD
    if not math.isfinite(f):
        return None
    return max(-MAX_COORD, min(MAX_COORD, f))


def _text_width(s: str) -> float:
    # the editor measures rendered text; ~7.5 px per Latin character at 14 px is close enough
    return sum(14.0 if ord(ch) > 0x2E80 else 7.5 for ch in s)


def _short(s: str, limit: int = MAX_LABEL) -> str:
    s = " ".join(clean_xml(s).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _worst(findings) -> str:
    return str(max(f.severity for f in findings))


# --- page -------------------------------------------------------------------------------------


def document(result) -> str:
    from hacheck import __version__

    css, js = _assets()
    state, sentence = verdict(result)
    infos = rule_infos(result)
    files_html, details_html = [], []
    for i, fr in enumerate(result.files):
        body, details = _file_section(i, fr, result.flows.get(fr.path), infos)
        files_html.append(body)
        details_html.extend(details)
    csp = f"default-src 'none'; style-src {_sha256(css)}; script-src {_sha256(js)}; img-src data:; base-uri 'none'; form-action 'none'"
    title = {"failed": "not HA-ready", "passed": "passed with findings", "ha-ready": "HA-ready"}[state]
    nodes = sum(fr.nodes for fr in result.files)
    if len(result.files) <= NAV_FILES:
        nav = "".join(f'<a href="#file-{i}">{e(fr.path)}</a>' for i, fr in enumerate(result.files))
    else:
        nav = f'<a href="#files">{len(result.files)} files</a>'

    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>hacheck report: {title}</title>",
        f"<style>{css}</style>",
        "</head>",
        "<body>",
        f'<header class="verdict {state}" id="verdict" data-state="{state}">',
        "<h1>hacheck report</h1>",
        f"<p>{e(sentence)}</p>",
        f"<p>{plural(len(result.files), 'file')}, {plural(nodes, 'node')} checked: {e(count_words(result))} · fail-on: {e(result.config.fail_on)}</p>",
        "</header>",
        f'<nav><a href="#summary">Summary</a>{nav}<a href="#rules">Rules</a></nav>',
        "<main>",
        _summary(result, infos),
        *files_html,
        _rules_section(result, infos),
        f"<footer>Made by hacheck {e(__version__)}. Hover over a node to see its findings; click it to keep them open and to show the input path.</footer>",
        "</main>",
        '<div id="tip" role="tooltip" hidden></div>',
        '<aside id="panel" aria-live="polite" hidden><button id="panel-close" type="button" aria-label="Close">×</button><div id="panel-body"></div></aside>',
        '<div id="details" hidden>',
        *details_html,
        "</div>",
        f"<script>{js}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(out) + "\n"


def _summary(result, infos) -> str:
    c = result.counts()
    cards = "".join(f'<div class="card {s}"><b>{c[s]}</b>{s}{"s" if c[s] != 1 and s != "info" else ""}</div>' for s in SEVERITIES)
    cards += f'<div class="card"><b>{result.suppressed_count}</b>suppressed</div>'
    cards += f'<div class="card"><b>{len(result.files)}</b>{"file" if len(result.files) == 1 else "files"}</div>'
    out = ['<section id="summary">', "<h2>Summary</h2>", f'<div class="cards">{cards}</div>']
    rows = counts_by_rule(result)
    if rows:
        out.append('<table class="by-rule"><thead><tr><th>Rule</th><th>Name</th><th>Severity</th><th>Findings</th><th>Suppressed</th></tr></thead><tbody>')
        for rid, name, sev, n, sup in rows:
            out.append(
                f'<tr><td><a href="#rule-{e(rid)}">{e(rid)}</a></td><td>{e(name)}</td>'
                f'<td><span class="sev {sev}">{sev}</span></td><td class="num">{n}</td><td class="num">{sup}</td></tr>'
            )
        out.append("</tbody></table>")
    else:
        out.append('<p class="note">No findings: every rule that ran passed on every file.</p>')
    out.append('<table class="files" id="files"><thead><tr><th>File</th><th>Shape</th><th>Nodes</th><th>Findings</th><th>Suppressed</th></tr></thead><tbody>')
    for i, fr in enumerate(result.files):
        n = sum(1 for f in fr.findings if f.suppressed is None)
        sup = len(fr.findings) - n
        out.append(
            f'<tr><td><a href="#file-{i}">{e(fr.path)}</a></td><td>{e(fr.shape)}</td><td class="num">{fr.nodes}</td>'
            f'<td class="num">{n}</td><td class="num">{sup}</td></tr>'
        )
    out.append("</tbody></table>")
    for note in result.notes:
        out.append(f'<p class="note">{e(note)}</p>')
    out.append("</section>")
    return "\n".join(out)


def _rules_section(result, infos) -> str:
    fired = sorted({f.rule_id for f in result.findings})
    out = ['<section id="rules">', "<h2>Rules that found something</h2>"]
    if not fired:
        out.append(f'<p class="note">None. Rules that ran: {e(", ".join(infos))}.</p>')
    for rid in fired:
        info = infos[rid]
        out.append(f'<article class="rule" id="rule-{e(rid)}">')
        out.append(f'<h3>{e(rid)} {e(info.name)}</h3><p class="note"><span class="sev {e(info.severity)}">{e(info.severity)}</span> · {e(info.category)}</p>')
        for title, text in (("What it flags", info.what), ("Why it breaks under HA", info.why), ("Use instead", info.use_instead), ("Known limits", info.known_limits)):
            if text:
                out.append(f"<h4>{title}</h4><p>{_prose(text)}</p>")
        if info.fix_title:
            out.append(f"<h4>Autofix</h4><p><code>hacheck fix</code>: {_prose(info.fix_title)}</p>")
        out.append(f'<p class="note">Examples: <code>hacheck explain {e(rid)}</code></p>')
        out.append("</article>")
    out.append("</section>")
    return "\n".join(out)


# --- one file -----------------------------------------------------------------------------------


def _file_section(i: int, fr, flow, infos) -> tuple[str, list[str]]:
    prefix = f"f{i}"
    by_node: dict[str, list] = {}
    file_level = []
    for f in fr.findings:
        if f.node_id is None:
            file_level.append(f)
        else:
            by_node.setdefault(f.node_id, []).append(f)
    dom = _dom_ids(prefix, flow)
    out = [f'<section class="file" id="file-{i}">', f"<h2>{e(fr.path)}</h2>"]
    n = sum(1 for f in fr.findings if f.suppressed is None)
    out.append(f'<p class="note">{e(fr.shape)} · {plural(fr.nodes, "node")} · {plural(n, "finding")}'
               + (f" · {len(fr.findings) - n} suppressed" if len(fr.findings) > n else "") + "</p>")
    for f in file_level:
        out.append(f'<p><span class="sev {f.severity}">{f.severity}</span> {e(f.rule_id)} {e(f.rule_name)}: {e(f.message)}</p>')
    details = []
    drawn: set[str] = set()
    if flow is None:
        if fr.shape != "unreadable":
            out.append('<p class="note">No drawing: the flows were not kept for this report (run with keep_flows=True).</p>')
    else:
        for key, title, container in _containers(flow):
            svg, ids = _drawing(prefix, key, title, container, flow, by_node, dom)
            out.append(svg)
            drawn |= ids
        for node_id, found in sorted(by_node.items(), key=lambda kv: kv[1][0].sort_key()):
            if node_id in drawn:  # hover and click reach drawn nodes only
                details.append(_detail(dom[node_id], node_id, found, flow, infos))
    out.append(_findings_table(fr, dom, drawn))
    out.append("</section>")
    return "\n".join(out), details


def _dom_ids(prefix: str, flow) -> dict[str, str]:
    """Node id -> a DOM id made of indexes: node ids are flow text and may repeat across files."""
    if flow is None:
        return {}
    return {n.id: f"{prefix}-n{n.index}" for n in flow.by_id.values()}


def _containers(flow):
    """(key, title, container node or None) for each drawing: tabs in file order, then
    subflows, then the nodes that sit on no existing tab (partial exports)."""
    tabs = sorted(flow.tabs.values(), key=lambda n: n.index)
    subs = sorted(flow.subflows.values(), key=lambda n: n.index)
    for t in tabs:
        yield t.id, "Tab: " + node_label(flow, t) + (" (disabled)" if t.get("disabled") is True else ""), t
    for s in subs:
        yield s.id, "Subflow: " + (s.name or s.id), s
    orphans = [n for n in flow.by_id.values() if _drawable(n) and (n.z is None or n.z not in flow.by_id)]
    if orphans:
        yield None, "Nodes on no tab in this file", None


def _drawable(n) -> bool:
    return n.type not in ("tab", "subflow", "group") and not n.is_config


def _members(flow, container) -> list:
    if container is None:
        return [n for n in flow.by_id.values() if _drawable(n) and (n.z is None or n.z not in flow.by_id)]
    return [n for n in flow.children.get(container.id, []) if _drawable(n)]


class _Box:
    __slots__ = ("node", "x", "y", "w", "h", "outputs", "has_input", "label", "hidden", "full_label")

    def __init__(self, node, x, y, w, h, outputs, has_input, label, hidden, full_label):
        self.node, self.x, self.y, self.w, self.h = node, x, y, w, h
        self.outputs, self.has_input, self.label, self.hidden, self.full_label = outputs, has_input, label, hidden, full_label

    def out_port(self, i: int) -> tuple[float, float]:
        y0 = self.h / 2 - ((self.outputs - 1) / 2) * PORT_GAP
        return self.x + self.w / 2 + PORT / 2, self.y - self.h / 2 + y0 + PORT_GAP * i

    def in_port(self) -> tuple[float, float]:
        return self.x - self.w / 2 - PORT / 2, self.y


def _layout(flow, nodes, targets: set[str]) -> dict[str, _Box]:
    boxes = {}
    for n in nodes:
        x, y = _coord(n.get("x")), _coord(n.get("y"))
        if x is None or y is None:
            continue
        if n.type == "junction":
            boxes[n.id] = _Box(n, x, y, 10, 10, max(1, len(n.wires)), True, "", False, "junction")
            continue
        full = _short(node_label(flow, n), 300)  # tooltips show the whole name
        label = _short(full)
        outputs = len(n.wires)
        has_input = n.type not in _NO_INPUT or n.id in targets
        # `l: false` hides the label (the editor's default for link nodes): a square node
        hidden = n.get("l") is False or (n.type in _LABEL_HIDDEN and n.get("l") is not True)
        w = NODE_H if hidden else max(NODE_W, 20 * math.ceil((_text_width(label) + 50 + (7 if has_input else 0)) / 20))
        h = max(NODE_H, outputs * 15)
        boxes[n.id] = _Box(n, x, y, w, h, outputs, has_input, label, hidden, full)
    return boxes


def _wire_path(ox: float, oy: float, dx_: float, dy_: float) -> str:
    """A wire as the Node-RED editor draws it (view.js generateLinkPath)."""
    dy, dx = dy_ - oy, dx_ - ox
    delta = math.hypot(dx, dy)
    scale = 0.75
    if dx > 0:
        if delta < NODE_W:
            scale = 0.75 - 0.75 * ((NODE_W - delta) / NODE_W)
        return f"M {_num(ox)} {_num(oy)} C {_num(ox + NODE_W * scale)} {_num(oy)} {_num(dx_ - NODE_W * scale)} {_num(dy_)} {_num(dx_)} {_num(dy_)}"
    # backwards: leave to the right, loop round between the rows, enter from the left
    scale = 0.4 - 0.2 * max(0.0, (NODE_W - min(abs(dx), abs(dy))) / NODE_W)
    mid_x, mid_y = dx_ - dx / 2, dy_ - dy / 2
    if dy == 0:
        mid_y = dy_ + NODE_H
    cp = NODE_H / 2
    y1 = (dy_ + mid_y) / 2
    top_x = ox + NODE_W * scale
    top_y = min(y1 - dy / 2, oy + cp) if dy > 0 else max(y1 - dy / 2, oy - cp)
    bot_x = dx_ - NODE_W * scale
    bot_y = max(y1, dy_ - cp) if dy > 0 else min(y1, dy_ + cp)
    x1 = (ox + top_x) / 2
    c1 = (top_x, max(oy, top_y - cp) if dy > 0 else min(oy, top_y + cp))
    c2 = (x1, min(mid_y, top_y + cp) if dy > 0 else max(mid_y, top_y - cp))
    c4 = ((dx_ + bot_x) / 2, max(mid_y, bot_y - cp) if dy > 0 else min(mid_y, bot_y + cp))
    pts = [
        ("M", [(ox, oy)]),
        ("C", [(x1, oy), c1, (top_x, top_y)]),
        ("S", [c2, (mid_x, mid_y)]),
        ("S", [c4, (bot_x, bot_y)]),
        ("S", [((dx_ + bot_x) / 2, dy_), (dx_, dy_)]),
    ]
    return " ".join(cmd + " " + " ".join(f"{_num(a)} {_num(b)}" for a, b in ps) for cmd, ps in pts)


def _drawing(prefix, key, title, container, flow, by_node, dom) -> tuple[str, set[str]]:
    """One tab's (or subflow's) picture, and the ids of the nodes drawn in it."""
    nodes = _members(flow, container)
    ids = {n.id for n in nodes}
    targets = {t for n in nodes for port in n.wires for t in port if t in ids}
    boxes = _layout(flow, nodes, targets)
    groups = [n for n in flow.children.get(container.id, []) if n.type == "group"] if container is not None else []
    flagged = sorted({nid for nid in ids if any(f.suppressed is None for f in by_node.get(nid, ()))})
    placed_flagged = [nid for nid in flagged if nid in boxes]
    unplaced = [flow.by_id[nid] for nid in flagged if nid not in boxes]
    dom_key = f"{prefix}-{'t' + str(container.index) if container is not None else 'orphans'}"

    elems: list[tuple[float, float, float, float]] = []  # extents, for the drawing's size
    group_svg, wire_svg, node_svg, port_svg = [], [], [], []
    for g in sorted(groups, key=lambda n: n.index):
        gx, gy, gw, gh = (_coord(g.get(k)) for k in ("x", "y", "w", "h"))
        if None in (gx, gy, gw, gh) or gw <= 0 or gh <= 0:
            continue
        style = g.get("style") if isinstance(g.get("style"), dict) else {}
        fill = style.get("fill") if isinstance(style.get("fill"), str) and _CSS_COLOR.match(style["fill"]) else "#eeeeee"
        stroke = style.get("stroke") if isinstance(style.get("stroke"), str) and _CSS_COLOR.match(style["stroke"]) else "#999999"
        group_svg.append(f'<rect class="group" x="{_num(gx)}" y="{_num(gy)}" width="{_num(gw)}" height="{_num(gh)}" rx="6" fill="{e(fill)}" stroke="{e(stroke)}"/>')
        if g.name and style.get("label", True) is not False:
            group_svg.append(f'<text class="group-label" x="{_num(gx + 8)}" y="{_num(gy + 15)}">{e(_short(g.name, 60))}</text>')
        elems.append((gx, gy, gx + gw, gy + gh))

    for b in boxes.values():
        for port, tgts in enumerate(b.node.wires):
            for t in tgts:
                tb = boxes.get(t)
                if tb is None:
                    continue
                ox, oy = (b.x, b.y) if b.node.type == "junction" else b.out_port(port)
                tx, ty = (tb.x, tb.y) if tb.node.type == "junction" else tb.in_port()
                wire_svg.append(f'<path class="wire" data-from="{dom[b.node.id]}" data-to="{dom[t]}" d="{_wire_path(ox, oy, tx, ty)}"/>')
        if b.node.type == "link out" and b.node.get("mode", "link") != "return":
            links = b.node.get("links") if isinstance(b.node.get("links"), list) else []
            for t in links:
                tb = boxes.get(t) if isinstance(t, str) else None
                if tb is not None and tb.node.type == "link in":
                    ox, oy = b.out_port(0) if b.outputs else (b.x + b.w / 2 + PORT / 2, b.y)
                    tx, ty = tb.in_port()
                    wire_svg.append(f'<path class="wire link" data-from="{dom[b.node.id]}" data-to="{dom[t]}" d="{_wire_path(ox, oy, tx, ty)}"/>')

    if container is not None and container.type == "subflow":
        port_svg.extend(_subflow_ports(container, boxes, dom, wire_svg, elems))

    for b in sorted(boxes.values(), key=lambda b: b.node.index):
        svg, ext = _node_svg(b, by_node.get(b.node.id, []), dom)
        node_svg.append(svg)
        elems.append(ext)

    if elems:
        minx = min(a for a, _, _, _ in elems) - PAD
        miny = min(b_ for _, b_, _, _ in elems) - PAD
        maxx = max(c for _, _, c, _ in elems) + PAD
        maxy = max(d for _, _, _, d in elems) + PAD
    else:
        minx = miny = 0.0
        maxx, maxy = 300.0, 60.0
    width, height = maxx - minx, maxy - miny
    count_cls = "count bad" if flagged else "count"
    summary = f"{plural(len(flagged), 'flagged node')} of {len(boxes)}"
    out = [
        f'<details class="flow" open id="{dom_key}" data-container="{e(key or "")}" data-flagged="{len(placed_flagged)}">',
        f'<summary><h3>{e(title)}</h3><span class="{count_cls}">{summary}</span>'
        f'<span class="tools"><button type="button" class="fit" data-canvas="{dom_key}-c" aria-pressed="false">Fit to width</button></span></summary>',
        f'<div class="canvas" id="{dom_key}-c">',
        f'<svg class="drawing" role="img" aria-label="{e(title)}" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="{_num(minx)} {_num(miny)} {_num(width)} {_num(height)}">',
        f'<g class="groups">{"".join(group_svg)}</g>',
        f'<g class="wires">{"".join(wire_svg)}</g>',
        f'<g class="ports">{"".join(port_svg)}</g>',
        f'<g class="nodes">{"".join(node_svg)}</g>',
        "</svg>",
        "</div>",
    ]
    if not boxes:
        out.append('<p class="note">Nothing to draw: no nodes with a position.</p>')
    if unplaced:
        names = ", ".join(f"{e(node_label(flow, n))} [{e(n.id)}]" for n in unplaced)
        out.append(f'<p class="note">Flagged nodes without a position (not drawn): {names}</p>')
    out.append("</details>")
    return "\n".join(out), set(boxes)


def _subflow_ports(sf, boxes, dom, wire_svg, elems) -> list[str]:
    """The subflow's input and output boxes, wired as in the editor."""
    out = []
    for kind in ("in", "out"):
        ports = sf.get(kind) if isinstance(sf.get(kind), list) else []
        for i, p in enumerate(ports):
            if not isinstance(p, dict):
                continue
            x, y = _coord(p.get("x")), _coord(p.get("y"))
            if x is None or y is None:
                continue
            label = "input" if kind == "in" else f"output {i + 1}"
            out.append(f'<rect class="port-box" x="{_num(x - 20)}" y="{_num(y - 20)}" width="40" height="40" rx="6"/>')
            out.append(f'<text class="port-label" x="{_num(x)}" y="{_num(y + 30)}">{label}</text>')
            elems.append((x - 20, y - 20, x + 20, y + 38))
            wires = p.get("wires") if isinstance(p.get("wires"), list) else []
            for w in wires:
                tid = w.get("id") if isinstance(w, dict) else None
                b = boxes.get(tid) if isinstance(tid, str) else None
                if b is None:
                    continue
                if kind == "in":
                    tx, ty = b.in_port()
                    wire_svg.append(f'<path class="wire" data-to="{dom[tid]}" d="{_wire_path(x + 20, y, tx, ty)}"/>')
                else:
                    port = w.get("port") if isinstance(w.get("port"), int) and not isinstance(w.get("port"), bool) else 0
                    ox, oy = b.out_port(port) if b.outputs else (b.x + b.w / 2, b.y)
                    wire_svg.append(f'<path class="wire" data-from="{dom[tid]}" d="{_wire_path(ox, oy, x - 20, y)}"/>')
    return out


def _node_svg(b: _Box, findings: list, dom) -> tuple[str, tuple[float, float, float, float]]:
    n = b.node
    active = [f for f in findings if f.suppressed is None]
    cls = ["node"]
    if n.type == "junction":
        cls.append("junction")
    if n.type == "comment":
        cls.append("comment")
    if n.disabled:
        cls.append("disabled")
    if active:
        cls += ["flagged", f"sev-{_worst(active)}"]
    left, top = b.x - b.w / 2, b.y - b.h / 2
    attrs = (
        f'class="{" ".join(cls)}" id="{dom[n.id]}" transform="translate({_num(left)},{_num(top)})" tabindex="0" '
        f'data-node-id="{e(n.id)}" data-type="{e(n.type)}" data-label="{e(b.full_label or n.type)}"'
    )
    if findings:
        attrs += f' data-detail="d-{dom[n.id]}"'
    paths = sorted({" ".join(dom[s] for s in p if s in dom) for f in active for p in (*f.paths, *f.effect_paths)})
    if paths:
        attrs += f' data-paths="{";".join(paths)}"'
    title = f"{b.full_label or n.type} ({n.type})" + "".join(f"\n{f.rule_id} {f.rule_name}" for f in active)
    parts = [f"<g {attrs}>", f"<title>{e(title)}</title>"]
    if n.type == "junction":
        parts.append(f'<rect class="body" width="{_num(b.w)}" height="{_num(b.h)}" rx="3"/>')
    else:
        color = _SUBFLOW_COLOR if n.type.startswith("subflow:") else _COLORS.get(n.type, _DEFAULT_COLOR)
        parts.append(f'<rect class="body" width="{_num(b.w)}" height="{_num(b.h)}" rx="5" fill="{color}"/>')
        if n.type != "comment":
            parts.append(f'<rect class="icon" width="30" height="{_num(b.h)}" rx="5"/>')
        if not b.hidden:
            text_x = 38 if n.type != "comment" else 10
            parts.append(f'<text class="label" x="{text_x}" y="{_num(b.h / 2)}">{e(b.label)}</text>')
        if b.has_input and n.type != "comment":
            parts.append(f'<rect class="port" x="{-PORT / 2:g}" y="{_num(b.h / 2 - PORT / 2)}" width="{PORT}" height="{PORT}" rx="3"/>')
        for i in range(b.outputs):
            _, py = b.out_port(i)
            parts.append(f'<rect class="port" x="{_num(b.w - PORT / 2)}" y="{_num(py - top - PORT / 2)}" width="{PORT}" height="{PORT}" rx="3"/>')
    top_ext = top
    shown_ids = sorted({f.rule_id for f in active})
    quiet_ids = sorted({f.rule_id for f in findings if f.suppressed is not None} - set(shown_ids))
    if shown_ids or quiet_ids:
        text = " · ".join(shown_ids) if shown_ids else " · ".join(quiet_ids) + " (suppressed)"
        bw = len(text) * 7.2 + 12  # 11 px bold capitals and digits
        bcls = f"badge sev-{_worst(active)}" if shown_ids else "badge suppressed"
        parts.append(
            f'<g class="{bcls}" transform="translate(0,{-BADGE_H - 4})"><rect width="{_num(bw)}" height="{BADGE_H}" rx="4"/>'
            f'<text x="6" y="{BADGE_H / 2:g}">{e(text)}</text></g>'
        )
        top_ext = top - BADGE_H - 4
    parts.append("</g>")
    return "".join(parts), (left - PORT, top_ext, left + b.w + PORT, top + b.h)


def _path_words(flow, path) -> str:
    names = []
    for nid in path:
        n = flow.by_id.get(nid)
        names.append(node_label(flow, n) if n is not None else nid)
    return " → ".join(names)


def _detail(dom_id, node_id, findings, flow, infos) -> str:
    n = flow.by_id.get(node_id)
    label = node_label(flow, n) if n is not None else node_id
    meta = [n.type if n is not None else "", f"id {node_id}"]
    if n is not None and n.line:
        meta.append(f"line {n.line}")
    tab = findings[0].tab_label
    if tab and (n is None or n.type not in ("tab", "subflow")):
        meta.insert(0, tab)
    out = [f'<div class="detail" id="d-{dom_id}">', f'<h4>{e(label)} <span class="meta">{e(" · ".join(m for m in meta if m))}</span></h4>', "<ul>"]
    for f in sorted(findings, key=lambda f: (f.suppressed is not None, -int(f.severity), f.rule_id)):
        info = infos.get(f.rule_id)
        cls = ' class="suppressed"' if f.suppressed is not None else ""
        out.append(f'<li{cls}><b>{e(f.rule_id)} {e(f.rule_name)}</b> <span class="sev {f.severity}">{f.severity}</span>')
        out.append(f'<p class="msg">{e(f.message)}</p>')
        for p in f.paths:
            out.append(f'<p class="path">Fed by: {e(_path_words(flow, p))}</p>')
        for p in f.effect_paths:
            out.append(f'<p class="path">Reaches: {e(_path_words(flow, p))}</p>')
        if f.suppressed is not None:
            out.append(f"<p>Suppressed ({e(f.suppressed.kind)}): {e(f.suppressed.reason)}</p>")
        elif info is not None and info.use_instead:
            out.append(f'<p class="fix"><b>Fix:</b> {_prose(info.use_instead)}</p>')
        out.append("</li>")
    out.append("</ul></div>")
    return "".join(out)


def _findings_table(fr, dom, drawn) -> str:
    if not fr.findings:
        return '<p class="note">No findings in this file.</p>'
    out = [
        '<table class="findings"><thead><tr><th>Severity</th><th>Rule</th><th>Line</th><th>Where</th><th>Node</th><th>Message</th></tr></thead><tbody>'
    ]
    for f in fr.findings:
        cls = ' class="suppressed"' if f.suppressed is not None else ""
        node = ""
        if f.node_id:
            label = e(f.node_name or f.node_type or f.node_id)
            node = f'<a class="goto" href="#{dom[f.node_id]}">{label}</a>' if f.node_id in drawn else label
            node += f' <span class="note">{e(f.node_type or "")} [{e(f.node_id)}]</span>'
        msg = e(f.message)
        if f.suppressed is not None:
            msg += f'<br><span class="note">suppressed ({e(f.suppressed.kind)}): {e(f.suppressed.reason)}</span>'
        where = e(f.tab_label or "") if f.node_type not in ("tab", "subflow") else ""
        out.append(
            f'<tr{cls}><td><span class="sev {f.severity}">{f.severity}</span></td><td><a href="#rule-{e(f.rule_id)}">{e(f.rule_id)}</a> {e(f.rule_name)}</td>'
            f'<td class="num">{f.line or ""}</td><td>{where}</td><td>{node}</td><td class="msg">{msg}</td></tr>'
        )
    out.append("</tbody></table>")
    return "\n".join(out)
