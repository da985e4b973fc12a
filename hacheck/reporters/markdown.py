"""A compact summary for a pull-request comment or a CI job summary ($GITHUB_STEP_SUMMARY).

The verdict and the counts come first, then a table of the most severe findings, then every
finding in a collapsed section. Comment bodies are capped (GitHub: 65536 characters), so the
lists are cut with a count of what was left out. Flow text is escaped for Markdown and HTML:
a node name must not become a link, an image, a table column or an @-mention.
"""

from __future__ import annotations

import html
import re

from hacheck.reporters.common import count_words, node_words, one_line, plural, rule_infos, shown, verdict, worst_first

TOP = 10
MAX_LISTED = 100
MAX_TEXT = 300
_ICON = {"error": "🔴", "warning": "🟠", "info": "🔵"}
_HEADLINE = {"failed": "❌ hacheck: not HA-ready", "passed": "⚠️ hacheck: passed, with findings", "ha-ready": "✅ hacheck: HA-ready"}
# with [ and ] escaped no link or image can form, so ( ) ! need no escape; < > & are entities
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")


def md(text, limit: int = MAX_TEXT) -> str:
    """Flow text as inert Markdown on one line."""
    s = html.escape(one_line(text, limit), quote=False)
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return s.replace("@", "@\u2060")  # a word joiner after @ keeps GitHub from notifying anyone


def render(result, stream, color: bool = False) -> None:
    stream.write(document(result))


def document(result) -> str:
    state, sentence = verdict(result)
    infos = rule_infos(result)
    files = len(result.files)
    out = [
        f"### {_HEADLINE[state]}",
        "",
        f"{sentence} {plural(files, 'file')} checked: {count_words(result)}. Fail-on: `{result.config.fail_on}`.",
    ]
    rows = _rule_rows(result, infos)
    if rows:
        out += ["", "| Rule | Severity | Findings |", "|---|---|---:|", *rows]
    active = worst_first(shown(result))
    if active:
        out += ["", "| | Location | Rule | Node | Message |", "|---|---|---|---|---|"]
        for f in active[:TOP]:
            out.append(
                f"| {_ICON[str(f.severity)]} | {_loc(f)} | {f.rule_id} | {md(_node(f), 80)} | {md(f.message)} |"
            )
        if len(active) > TOP:
            out.append(f"\n{len(active) - TOP} more below.")
    listed = sorted(result.findings, key=lambda f: f.sort_key())
    if listed:
        sup = result.suppressed_count
        summary = f"All {plural(len(listed) - sup, 'finding')}" + (f", and {sup} suppressed" if sup else "")
        out += ["", "<details>", f"<summary>{summary}</summary>", ""]
        current = None
        for f in listed[:MAX_LISTED]:
            if f.file != current:
                out += ([""] if current is not None else []) + [f"**{md(f.file)}**", ""]
                current = f.file
            line = f"- {_loc(f)} {_ICON[str(f.severity)]} **{f.rule_id}** {f.rule_name}: {md(f.message)}"
            where = node_words(f)
            if where:
                line += f" ({md(where)})"
            if f.suppressed is not None:
                line = f"- ~~{line[2:]}~~ suppressed ({f.suppressed.kind}): {md(f.suppressed.reason)}"
            out.append(line)
        if len(listed) > MAX_LISTED:
            out += ["", f"… and {len(listed) - MAX_LISTED} more: run `hacheck check` or open the HTML report for all of them."]
        out += ["", "</details>"]
    for note in result.notes:
        out += ["", f"> {md(note)}"]
    return "\n".join(out) + "\n"


def _rule_rows(result, infos) -> list[str]:
    per: dict[str, list[int]] = {}
    for f in result.findings:
        c = per.setdefault(f.rule_id, [0, 0])
        c[0 if f.suppressed is None else 1] += 1
    rows = []
    for rid in sorted(per):
        info = infos[rid]
        n, sup = per[rid]
        count = str(n) + (f" (+{sup} suppressed)" if sup else "")
        sev = max((str(f.severity) for f in result.findings if f.rule_id == rid), key=_RANK.__getitem__)
        rows.append(f"| [{rid}]({info.url}) {info.name} | {sev} | {count} |")
    return rows


_RANK = {"info": 1, "warning": 2, "error": 3}


def _loc(f) -> str:
    loc = one_line(f"{f.file}:{f.line}" if f.line else f.file, 200)
    # a code span keeps a path literal; a pipe would still end a table cell, a backtick the span
    return "`" + loc.replace("`", "'").replace("|", "\\|") + "`"


def _node(f) -> str:
    if not f.node_id:
        return "(file)"
    label = f.node_name or f.node_type or f.node_id
    return f"{f.tab_label} / {label}" if f.tab_label and f.node_type not in ("tab", "subflow") else label
