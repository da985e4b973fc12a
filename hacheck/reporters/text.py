"""For people at a terminal: one block per file, a summary line, colour only on a terminal."""

from __future__ import annotations

import re

from hacheck.reporters.common import clean

# names and messages come from the flow: never let them move the cursor or recolour the terminal
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _safe(text) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", clean(text))


_COLORS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m", "dim": "\033[2m", "bold": "\033[1m"}
_RESET = "\033[0m"


def node_label(f) -> str:
    """The finding's node as the text formats name it: its quoted name, else its type."""
    return f"'{_safe(f.node_name)}'" if f.node_name else _safe(f.node_type)


def colourer(color: bool):
    def c(kind: str, text: str) -> str:
        return f"{_COLORS[kind]}{text}{_RESET}" if color else text

    return c


def render(result, stream, color: bool = False) -> None:
    c = colourer(color)

    for fr in result.files:
        shown = [f for f in fr.findings if f.suppressed is None]
        if not shown:
            continue
        stream.write(c("bold", _safe(fr.path)) + "\n")
        for f in shown:
            sev = str(f.severity)
            path = _safe(fr.path)
            loc = f"{path}:{f.line}" if f.line else path
            where = []
            if f.tab_label:
                where.append(f"tab '{_safe(f.tab_label)}'")
            if f.node_id:
                where.append(f"{node_label(f)} [{_safe(f.node_id)}]")
            head = f"  {loc}: {c(sev, sev)} {f.rule_id} {f.rule_name}"
            stream.write(head + (c("dim", "  " + ", ".join(where)) if where else "") + "\n")
            stream.write(f"    {_safe(f.message)}\n")
        stream.write("\n")
    summary(result, stream, c)


def summary(result, stream, c) -> None:
    """The notes and the closing line: counts and the verdict (also the concise format's)."""
    counts = result.counts()
    total = sum(counts.values())
    parts = [f"{counts[k]} {k}{'s' if counts[k] != 1 and k != 'info' else ''}" for k in ("error", "warning", "info")]
    sup = result.suppressed_count
    files = len(result.files)
    line = f"{files} file{'s' if files != 1 else ''} checked: " + ", ".join(parts)
    if sup:
        line += f" ({sup} suppressed)"
    for note in result.notes:
        stream.write(_safe(note) + "\n")
    if result.failed():
        verdict = c("error", f"FAILED (fail-on: {result.config.fail_on})")
    elif total:
        verdict = c("warning", f"passed (fail-on: {result.config.fail_on})")
    else:
        verdict = c("bold", "HA-ready: no findings")
    stream.write(f"{line}. {verdict}\n")
