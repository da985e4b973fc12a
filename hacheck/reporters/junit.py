"""JUnit XML for CI test reports (Jenkins, GitLab, Azure DevOps).

One test suite per flow file and one test case per (file, rule) for every rule that ran, so a
clean run still shows its passing tests and test names stay stable as nodes come and go.
A case fails when the rule has unsuppressed findings at or above the fail-on threshold, as the
exit code does; findings below it are listed in the case's system-out. A case whose findings
are all suppressed is skipped, with the reasons. A crashed rule (HC000) is an error: the file
was not fully tested.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hacheck.model.findings import Severity
from hacheck.reporters.common import clean_xml, node_words, one_line, plural, rule_infos

_MESSAGE_LIMIT = 500


def render(result, stream, color: bool = False) -> None:
    root = document(result)
    ET.indent(root, space="  ")
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")


def document(result) -> ET.Element:
    infos = rule_infos(result)
    threshold = None if result.config.fail_on == "never" else Severity.parse(result.config.fail_on)
    ran = [rid for rid in infos if rid != "HC000"]
    root = ET.Element("testsuites", name="hacheck")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for fr in result.files:
        suite = ET.SubElement(root, "testsuite", name=clean_xml(fr.path))
        by_rule: dict[str, list] = {}
        for f in fr.findings:
            by_rule.setdefault(f.rule_id, []).append(f)
        counts = dict.fromkeys(totals, 0)
        for rid in sorted(set(ran) | set(by_rule)):
            outcome = _case(suite, fr.path, infos[rid], by_rule.get(rid, []), threshold)
            counts["tests"] += 1
            if outcome:
                counts[outcome] += 1
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", "0")
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", "0")
    return root


def _case(suite, path: str, info, findings: list, threshold) -> str | None:
    """Add one test case; return its outcome key ("failures", "errors", "skipped") or None."""
    case = ET.SubElement(
        suite,
        "testcase",
        classname=clean_xml(path.rsplit(".", 1)[0] if path.endswith(".json") else path),
        name=clean_xml(f"{info.id} {info.name}"),
        file=clean_xml(path),
        time="0",
    )
    active = [f for f in findings if f.suppressed is None]
    failing = [f for f in active if threshold is not None and f.severity >= threshold]
    below = [f for f in active if f not in failing]
    suppressed = [f for f in findings if f.suppressed is not None]
    if failing:
        kind = "error" if info.id == "HC000" else "failure"
        worst = max(failing, key=lambda f: f.severity)
        el = ET.SubElement(
            case,
            kind,
            message=clean_xml(one_line(f"{plural(len(failing), 'finding')}: {failing[0].message}", _MESSAGE_LIMIT)),
            type=str(worst.severity),
        )
        el.text = clean_xml(_body(failing, info, suppressed))
        outcome = "errors" if kind == "error" else "failures"
    elif suppressed and not below:
        reasons = sorted({f.suppressed.reason for f in suppressed})
        el = ET.SubElement(case, "skipped", message=clean_xml(one_line("suppressed: " + "; ".join(reasons), _MESSAGE_LIMIT)))
        el.text = clean_xml(_lines(suppressed))
        outcome = "skipped"
    else:
        outcome = None
    if below:
        out = ET.SubElement(case, "system-out")
        out.text = clean_xml(f"Below the fail-on threshold:\n{_lines(below)}")
    return outcome


def _lines(findings: list) -> str:
    out = []
    for f in findings:
        loc = f"{f.file}:{f.line}" if f.line else f.file
        where = node_words(f)
        line = f"{loc}: {f.severity}: {one_line(f.message)}" + (f" ({one_line(where)})" if where else "")
        if f.suppressed is not None:
            line += f" [suppressed ({f.suppressed.kind}): {one_line(f.suppressed.reason)}]"
        out.append(line)
    return "\n".join(out) + "\n"


def _body(failing: list, info, suppressed: list) -> str:
    text = _lines(failing)
    if suppressed:
        text += f"\nSuppressed ({len(suppressed)}):\n" + _lines(suppressed)
    if info.use_instead:
        text += f"\nHow to fix: {one_line(info.use_instead)}\n"
    text += f"Docs: {info.url}\n"
    return text
