"""Machine-readable findings. The shape is versioned: bump VERSION on any breaking change."""

from __future__ import annotations

from hacheck.util import fastjson

VERSION = 1


def finding_dict(f) -> dict:
    d = {
        "file": f.file,
        "rule": f.rule_id,
        "name": f.rule_name,
        "severity": str(f.severity),
        "node": f.node_id,
        "node_type": f.node_type,
        "node_name": f.node_name,
        "tab": f.tab_id,
        "tab_label": f.tab_label,
        "line": f.line,
        "message": f.message,
        "fingerprint": f.fingerprint(),
        "suppressed": None
        if f.suppressed is None
        else {"kind": f.suppressed.kind, "reason": f.suppressed.reason, "source": f.suppressed.source},
    }
    if f.headline:
        d["headline"] = f.headline
    if f.path:
        d["path"] = f.path
    if f.js_line:
        d["js_line"] = f.js_line
    if f.related:
        d["related"] = [
            {"node": r.node_id, "node_type": r.node_type, "node_name": r.node_name, "line": r.line, "message": r.message}
            for r in f.related
        ]
    if f.paths:
        d["input_paths"] = [list(p) for p in f.paths]
    if f.effect_paths:
        d["effect_paths"] = [list(p) for p in f.effect_paths]
    return d


def document(result) -> dict:
    """The report as one dict, its findings made one at a time as they are written (so a
    large report is never held whole)."""
    counts = result.counts()
    return {
        "version": VERSION,
        "tool": {"name": "hacheck", "version": _version()},
        "findings": _Findings(result.findings),
        "summary": {
            "files": len(result.files),
            "error": counts["error"],
            "warning": counts["warning"],
            "info": counts["info"],
            "suppressed": result.suppressed_count,
            "failed": result.failed(),
            "fail_on": result.config.fail_on,
        },
        "files": [{"file": fr.path, "shape": fr.shape, "nodes": fr.nodes, "findings": len(fr.findings)} for fr in result.files],
        "notes": list(result.notes),
    }


def _version() -> str:
    from hacheck import __version__

    return __version__


class _Findings:
    """The finding dicts, made one at a time as the report is written."""

    def __init__(self, findings):
        self.findings = findings

    def __len__(self) -> int:
        return len(self.findings)

    def __iter__(self):
        return map(finding_dict, self.findings)


def render(result, stream, color: bool = False) -> None:
    for chunk in _chunks(document(result)):
        stream.write(chunk)


def _chunks(doc: dict):
    """Indented at the top, one compact finding per line: readable, diff-friendly, and fast.
    (json's indent= switches to the pure-Python encoder, 10x slower on 100k-node flows; each
    line is encoded by orjson where installed, see fastjson.) Written piece by piece."""
    yield "{\n"
    for i, (key, value) in enumerate(doc.items()):
        head = (",\n  " if i else "  ") + _encode(key) + ": "
        if isinstance(value, (list, _Findings)) and len(value):
            yield head + "[\n    "
            for j, item in enumerate(value):
                yield ",\n    " + _encode(item) if j else _encode(item)
            yield "\n  ]"
        else:
            yield head + _encode([] if isinstance(value, _Findings) else value)
    yield "\n}\n"


def _encode(value) -> str:
    text = fastjson.dumps(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # a flow may hold lone surrogates (valid JSON escapes, not encodable as UTF-8)
        from hacheck.reporters.common import clean_json

        text = fastjson.dumps(clean_json(value))
    return text
