"""One line per finding, as ruff's concise output: place, severity, rule, node and the rule's
headline (what breaks); `hacheck explain RULE` or the text format give the whole story."""

from __future__ import annotations

from hacheck.reporters.text import _safe, colourer, node_label, summary


def render(result, stream, color: bool = False) -> None:
    c = colourer(color)
    for fr in result.files:
        for f in fr.findings:
            if f.suppressed is not None:
                continue
            sev = str(f.severity)
            path = _safe(fr.path)
            loc = f"{path}:{f.line}" if f.line else path
            node = f" {node_label(f)}" if f.node_id else ""
            # a rule pack's rule without a headline: its whole message, still on one line
            what = _safe(" ".join((f.headline or f.message).split()))
            stream.write(f"{loc}: {c(sev, sev)} {f.rule_id}{node}: {what}\n")
    summary(result, stream, c)
