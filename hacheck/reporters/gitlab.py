"""GitLab Code Quality report: the CodeClimate subset GitLab reads (artifacts:reports:codequality).

Suppressed findings are left out: GitLab has no notion of an accepted finding and would show
them in every merge request. GitLab merges issues with the same fingerprint, so a repeated
fingerprint (two findings of one rule on one node that the check did not tell apart) gets an
occurrence number mixed in.
"""

from __future__ import annotations

import hashlib
import json

from hacheck.reporters.common import clean_json, node_words, one_line, rule_infos

# GitLab knows info, minor, major, critical, blocker. Errors break HA (duplicated or lost
# work), warnings degrade it; "blocker" is left for nothing: hacheck cannot rank that finely.
SEVERITY = {"error": "critical", "warning": "major", "info": "info"}
_CATEGORY = {"security": "Security", "structure": "Bug Risk", "routing": "Bug Risk", "state": "Bug Risk"}


def render(result, stream, color: bool = False) -> None:
    json.dump(clean_json(document(result)), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def document(result) -> list[dict]:
    infos = rule_infos(result)
    issues = []
    seen: dict[str, int] = {}
    for f in result.findings:
        if f.suppressed is not None:
            continue
        fp = f.fingerprint()
        n = seen.get(fp, 0)
        seen[fp] = n + 1
        if n:
            fp = hashlib.sha256(f"{fp}\x1f{n}".encode()).hexdigest()[:32]
        where = node_words(f)
        info = infos.get(f.rule_id)
        issue = {
            "type": "issue",
            "engine_name": "hacheck",
            "check_name": f"{f.rule_id} {f.rule_name}",
            "description": one_line(f.message),
            "content": {"body": _body(f, info, where)},
            "categories": [_CATEGORY.get(info.category if info else "", "Bug Risk")],
            "severity": SEVERITY[str(f.severity)],
            "fingerprint": fp,
            # GitLab needs a line; a file-level finding (unreadable file) points at line 1
            "location": {"path": f.file, "lines": {"begin": f.line or 1}},
        }
        issues.append(issue)
    return issues


def _body(f, info, where: str) -> str:
    parts = []
    if where:
        parts.append(f"Where: {where}.")
    if info is not None and info.use_instead:
        parts.append(f"Use instead: {info.use_instead}")
    if info is not None:
        parts.append(f"Docs: {info.url}")
    return "\n\n".join(parts)
