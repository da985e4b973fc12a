"""For people at a terminal: one block per file, a summary line, colour only on a terminal."""

from __future__ import annotations

_COLORS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m", "dim": "\033[2m", "bold": "\033[1m"}
_RESET = "\033[0m"


def render(result, stream, color: bool = False) -> None:
    def c(kind: str, text: str) -> str:
        return f"{_COLORS[kind]}{text}{_RESET}" if color else text

    for fr in result.files:
        shown = [f for f in fr.findings if f.suppressed is None]
        if not shown:
            continue
        stream.write(c("bold", fr.path) + "\n")
        for f in shown:
            sev = str(f.severity)
            loc = f"{fr.path}:{f.line}" if f.line else fr.path
            where = []
            if f.tab_label:
                where.append(f"tab '{f.tab_label}'")
            if f.node_id:
                label = f"'{f.node_name}'" if f.node_name else f.node_type
                where.append(f"{label} [{f.node_id}]")
            head = f"  {loc}: {c(sev, sev)} {f.rule_id} {f.rule_name}"
            stream.write(head + (c("dim", "  " + ", ".join(where)) if where else "") + "\n")
            stream.write(f"    {f.message}\n")
        stream.write("\n")
    counts = result.counts()
    total = sum(counts.values())
    parts = [f"{counts[k]} {k}{'s' if counts[k] != 1 else ''}" for k in ("error", "warning", "info")]
    sup = result.suppressed_count
    files = len(result.files)
    line = f"{files} file{'s' if files != 1 else ''} checked: " + ", ".join(parts)
    if sup:
        line += f" ({sup} suppressed)"
    for note in result.notes:
        stream.write(note + "\n")
    if result.failed():
        verdict = c("error", f"FAILED (fail-on: {result.config.fail_on})")
    elif total:
        verdict = c("warning", f"passed (fail-on: {result.config.fail_on})")
    else:
        verdict = c("bold", "HA-ready: no findings")
    stream.write(f"{line}. {verdict}\n")
