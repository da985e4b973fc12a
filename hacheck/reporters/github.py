"""GitHub Actions workflow commands: each finding becomes an annotation on the flow file's line.

`auto` picks this format when GITHUB_ACTIONS=true. Text from a flow is escaped as the
Actions toolkit does it, so a node name cannot end the command early or start another one
(a newline in a name would otherwise begin a line of its own, such as `::add-mask::`).
"""

from __future__ import annotations

from hacheck.reporters.common import clean, count_words, node_words, one_line, rule_infos, verdict

LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return clean(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **props) -> str:
    """`::name k=v,k=v::message` with every part escaped; properties with None are left out."""
    items = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None)
    return f"::{name}{' ' + items if items else ''}::{escape_data(message)}"


def render(result, stream, color: bool = False) -> None:
    infos = rule_infos(result)
    for f in result.findings:
        if f.suppressed is not None:
            continue
        info = infos.get(f.rule_id)
        lines = [one_line(f.message)]
        where = node_words(f)
        if where:
            lines.append(f"Where: {one_line(where)}")
        if info is not None and info.use_instead:
            lines.append(f"Use instead: {one_line(info.use_instead)}")
        props = {"file": f.file if f.file != "<stdin>" else None, "line": f.line, "title": f"{f.rule_id} {f.headline or f.rule_name}"}
        stream.write(command(LEVEL[str(f.severity)], "\n".join(lines), **props) + "\n")
    for note in result.notes:
        stream.write(command("notice", note, title="hacheck") + "\n")
    files = len(result.files)
    _, sentence = verdict(result)
    # plain text, no flow data: this line can never be read as a command
    stream.write(f"hacheck: {files} file{'s' if files != 1 else ''} checked: {count_words(result)}. {sentence}\n")
