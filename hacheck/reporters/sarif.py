"""SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps, IDE viewers).

A finding points at the node's line in the flow file (physical) and at "tab/node" (logical).
Input paths of state findings become a codeFlow each, so a viewer can step from the
load-balanced input to the node; effect paths of duplicated-work findings too, from the
source to what it reaches. Suppressed findings stay in, with a `suppressions` entry;
every other result has an empty list, which SARIF reads as "checked, not suppressed".
No timestamps: the same flows give the same bytes.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from urllib.parse import quote

from hacheck.util.project import home_url
from hacheck.reporters.common import clean_json, node_label, rule_infos

NEEDS_FLOWS = True  # to name and place the nodes on an input path (findings carry only ids)

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "hacheck/v1"
SRCROOT = "SRCROOT"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_SUPPRESSION_KIND = {"inline": "inSource"}  # config ignores and baselines live outside the flow


def render(result, stream, color: bool = False) -> None:
    json.dump(clean_json(document(result)), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def document(result) -> dict:
    from hacheck import __version__

    infos = rule_infos(result)
    rule_index = {rid: i for i, rid in enumerate(infos)}
    artifacts, artifact_index = _artifacts(result)
    results = [_result(f, result, rule_index, artifact_index) for f in result.findings]
    crashed = any(f.rule_id == "HC000" for f in result.findings)
    notes = [{"level": "note", "message": {"text": n}} for n in result.notes]
    notes += [
        {"level": "error", "message": {"text": f"{f.file}: {f.message}"}, "descriptor": {"id": "HC000"}}
        for f in result.findings
        if f.rule_id == "HC000"
    ]
    invocation = {
        # a crashed rule means some file was not fully checked: the run did not succeed
        "executionSuccessful": not crashed,
        "properties": {"failOn": result.config.fail_on, "failed": result.failed()},
    }
    if notes:
        invocation["toolExecutionNotifications"] = notes
    driver = {"name": "hacheck", "version": __version__, "semanticVersion": __version__}
    if home_url():  # a copy whose metadata lost [project.urls] still writes valid SARIF
        driver["informationUri"] = home_url()
    driver["rules"] = [_descriptor(info) for info in infos.values()]
    run = {
        "tool": {"driver": driver},
        "invocations": [invocation],
        "originalUriBaseIds": {SRCROOT: {"description": {"text": "The directory hacheck was run from."}}},
        "artifacts": artifacts,
        "results": results,
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _descriptor(info) -> dict:
    help_text = f"Why it breaks under HA: {info.why}\n\nUse instead: {info.use_instead}".strip()
    help_md = f"**Why it breaks under HA**\n\n{info.why}\n\n**Use instead**\n\n{info.use_instead}"
    if info.fix_title:
        help_text += f"\n\nAutofix (hacheck fix): {info.fix_title}"
        help_md += f"\n\n**Autofix** (`hacheck fix`): {info.fix_title}"
    if info.known_limits:
        help_text += f"\n\nKnown limits: {info.known_limits}"
        help_md += f"\n\n**Known limits**\n\n{info.known_limits}"
    help_md += f"\n\n[Full documentation]({info.url})"
    return {
        "id": info.id,
        "name": info.name,
        "shortDescription": {"text": _first_sentence(info.what) or info.name},
        "fullDescription": {"text": info.what or info.name},
        "help": {"text": help_text, "markdown": help_md},
        "helpUri": info.url,
        "defaultConfiguration": {"level": _LEVEL[info.severity]},
        "properties": {"category": info.category, "tags": ["hacheck", info.category]},
    }


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    for i, ch in enumerate(text):
        # ". " ends a sentence; a dot inside `code` or a file name does not
        if ch == "." and (i + 1 == len(text) or text[i + 1] == " "):
            return text[: i + 1]
    return text


def _uri(path: str) -> tuple[str, str | None]:
    """(uri, uriBaseId): relative paths against SRCROOT, absolute ones as file: URIs."""
    p = PurePosixPath(path)
    # a file name that is not UTF-8 arrives with surrogate escapes: percent-encode its bytes
    raw = str(p).encode("utf-8", "surrogateescape")
    if p.is_absolute():
        return "file://" + quote(raw, safe="/"), None
    return quote(raw, safe="/"), SRCROOT


def _artifacts(result) -> tuple[list[dict], dict[str, int]]:
    artifacts, index = [], {}
    for fr in result.files:
        if fr.path == "<stdin>":
            continue  # no URI names standard input; its results carry logical locations only
        uri, base = _uri(fr.path)
        loc = {"uri": uri}
        if base:
            loc["uriBaseId"] = base
        index[fr.path] = len(artifacts)
        artifacts.append({"location": loc, "roles": ["analysisTarget"], "mimeType": "application/json"})
    return artifacts, index


def _physical(file: str, line: int | None, artifact_index: dict[str, int]) -> dict | None:
    if file not in artifact_index:
        return None
    uri, base = _uri(file)
    loc = {"uri": uri, "index": artifact_index[file]}
    if base:
        loc["uriBaseId"] = base
    phys = {"artifactLocation": loc}
    if line:
        phys["region"] = {"startLine": line}
    return phys


def _logical(node_id, node_type, node_name, tab_label) -> list[dict]:
    if not node_id:
        return []
    label = node_name or node_type or node_id
    if node_type == "tab":
        kind, fqn = "namespace", tab_label or label
    elif node_type == "subflow":
        kind, fqn = "type", tab_label or label  # a subflow is a template, instantiated per use
    else:
        kind, fqn = "object", f"{tab_label}/{label}" if tab_label else label
    return [{"name": label, "fullyQualifiedName": fqn, "kind": kind, "properties": {k: v for k, v in (("nodeId", node_id), ("nodeType", node_type)) if v}}]


def _location(file, line, node_id, node_type, node_name, tab_label, artifact_index, message=None) -> dict:
    loc: dict = {}
    phys = _physical(file, line, artifact_index)
    if phys:
        loc["physicalLocation"] = phys
    logical = _logical(node_id, node_type, node_name, tab_label)
    if logical:
        loc["logicalLocations"] = logical
    if message:
        loc["message"] = {"text": message}
    return loc


def _node_location(flow, node_id: str, file: str, artifact_index, message=None) -> dict:
    node = flow.by_id.get(node_id) if flow is not None else None
    if node is None:
        return _location(file, None, node_id, None, None, None, artifact_index, message)
    return _location(file, node.line, node.id, node.type, node_label(flow, node), flow.tab_label(node), artifact_index, message)


def _step_text(flow, node_id: str) -> str:
    from hacheck.analysis.ingress import describe, is_load_balanced

    node = flow.by_id.get(node_id) if flow is not None else None
    if node is None:
        return node_id
    if not node.name and is_load_balanced(node, flow):
        return describe(node)  # "http in POST /avg": the route says more than the type
    kind = "subflow" if node.type.startswith("subflow:") else node.type
    return f"{kind} '{node_label(flow, node)}'"


def _message(f) -> str:
    """The headline as the message's first sentence: SARIF viewers show only the first sentence
    where space is short (the schema's description of result.message)."""
    if not f.headline or f.message.lower().startswith(f.headline.lower().rstrip(".\u2026")):
        return f.message  # the message already begins with it (HC001: "The file is not valid JSON...")
    return f"{f.headline[0].upper()}{f.headline[1:]}. {f.message}"


def _result(f, result, rule_index: dict[str, int], artifact_index: dict[str, int]) -> dict:
    flow = result.flows.get(f.file)
    res: dict = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index[f.rule_id],
        "level": _LEVEL[str(f.severity)],
        "message": {"text": _message(f)},
        "locations": [
            _location(f.file, f.line, f.node_id, f.node_type, f.node_name, f.tab_label, artifact_index)
        ],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint()},
    }
    if not res["locations"][0]:
        del res["locations"]  # standard input, no node: nothing to point at
    related: list[dict] = []
    seen: set[str] = set()
    for r in f.related:
        node = flow.by_id.get(r.node_id) if flow is not None else None
        name = node_label(flow, node) if node is not None else r.node_name
        loc = _location(f.file, r.line, r.node_id, r.node_type, name, _tab_label(flow, r), artifact_index, r.message)
        loc["id"] = len(related) + 1
        related.append(loc)
        seen.add(r.node_id)
    for path in f.paths:
        for step in path[:-1]:  # the last step is the finding's own node
            if step not in seen:
                seen.add(step)
                loc = _node_location(flow, step, f.file, artifact_index, f"on an input path: {_step_text(flow, step)}")
                loc["id"] = len(related) + 1
                related.append(loc)
    for path in f.effect_paths:
        for step in path[1:]:  # the first step is the finding's own node
            if step not in seen:
                seen.add(step)
                loc = _node_location(flow, step, f.file, artifact_index, f"on the way to an effect: {_step_text(flow, step)}")
                loc["id"] = len(related) + 1
                related.append(loc)
    if related:
        res["relatedLocations"] = related
    if f.paths or f.effect_paths:
        res["codeFlows"] = [_code_flow(flow, path, f.file, artifact_index) for path in f.paths]
        res["codeFlows"] += [_code_flow(flow, path, f.file, artifact_index, "reaches ") for path in f.effect_paths]
    if f.suppressed is not None:
        s = f.suppressed
        sup = {"kind": _SUPPRESSION_KIND.get(s.kind, "external"), "status": "accepted", "justification": s.reason}
        sup["properties"] = {"hacheckKind": s.kind, **({"source": s.source} if s.source else {})}
        res["suppressions"] = [sup]
    else:
        res["suppressions"] = []
    props = {}
    if f.path:
        props["jsonPointer"] = f.path
    if f.js_line:
        props["jsLine"] = f.js_line
    if props:
        res["properties"] = props
    return res


def _tab_label(flow, r) -> str | None:
    if flow is None:
        return None
    node = flow.by_id.get(r.node_id)
    return flow.tab_label(node) if node is not None else None


def _code_flow(flow, path, file, artifact_index, words: str = "fed by ") -> dict:
    """A path as a codeFlow: an input path is named by where it starts ("fed by ..."), an
    effect path by where it ends ("reaches ...")."""
    steps = [
        {"location": _node_location(flow, step, file, artifact_index, _step_text(flow, step)), "executionOrder": i + 1}
        for i, step in enumerate(path)
    ]
    return {
        "message": {"text": words + _step_text(flow, path[0] if words == "fed by " else path[-1])},
        "threadFlows": [{"locations": steps}],
    }
