"""The baseline: the findings a team accepted when it turned hacheck on, so CI fails only on new ones.

An entry is matched by fingerprint only (rule, file, node id, place in the node, detail; never a
line number or the position of the node in the file), so moving nodes around or re-exporting the
flow keeps it matching. File paths are taken relative to the baseline file, so the same baseline
works whichever folder hacheck is run from. Matching counts: two identical findings need two
entries, so a second copy of an accepted problem is reported as new.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, replace
from importlib import resources

from hacheck.model.findings import Finding, Suppression
from hacheck.config.suppress import NEVER_SUPPRESSED

DEFAULT_NAME = ".hacheck-baseline.json"
VERSION = 1
SCHEMA_FILE = "baseline.schema.json"
MAX_NOTES = 20


class BaselineError(Exception):
    """The baseline file is missing or invalid: exit 2."""


@dataclass
class Baseline:
    path: str  # as given by the user
    entries: list[dict]

    @property
    def base_dir(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))


def relative_file(file: str, base_dir: str) -> str:
    if file.startswith("<"):  # <stdin> has no place on disk
        return file
    try:
        rel = os.path.relpath(os.path.abspath(file), base_dir)
    except ValueError:  # another drive on Windows
        rel = os.path.abspath(file)
    return rel.replace(os.sep, "/")


def fingerprint(f: Finding, base_dir: str) -> str:
    return replace(f, file=relative_file(f.file, base_dir)).fingerprint()


def _baselinable(f: Finding) -> bool:
    return f.suppressed is None and f.rule_id not in NEVER_SUPPRESSED


# --- writing ----------------------------------------------------------------------------------


def entries(result, base_dir: str) -> list[dict]:
    out = []
    for f in result.findings:
        if not _baselinable(f):
            continue
        e = {"rule": f.rule_id, "name": f.rule_name, "file": relative_file(f.file, base_dir), "node": f.node_id}
        if f.node_name:
            e["node_name"] = f.node_name
        e["message"] = f.message
        e["fingerprint"] = fingerprint(f, base_dir)
        out.append(e)
    # sorted so that regenerating an unchanged baseline gives the same bytes (clean diffs)
    out.sort(key=lambda e: (e["file"], e["rule"], e["node"] or "", e["fingerprint"], e["message"]))
    return out


def dumps(result, path: str) -> str:
    doc = {"version": VERSION, "findings": entries(result, os.path.dirname(os.path.abspath(path)))}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def unbaselined(result) -> list[Finding]:
    """Findings that a baseline never holds (unreadable files, crashes): the caller warns."""
    return [f for f in result.findings if f.suppressed is None and f.rule_id in NEVER_SUPPRESSED]


# --- reading ----------------------------------------------------------------------------------


def load(path: str) -> Baseline:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found (write one with `hacheck baseline`)") from None
    except IsADirectoryError:
        raise BaselineError(f"{path}: is a folder, not a baseline file") from None
    except OSError as e:
        raise BaselineError(f"{path}: cannot be read: {e.strerror or e}") from None
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BaselineError(f"{path}: is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise BaselineError(f"{path}:{e.lineno}: not valid JSON: {e.msg} (column {e.colno})") from None
    _validate(doc, path)
    return Baseline(path, list(doc["findings"]))


def _validate(doc, path: str) -> None:
    import jsonschema

    from hacheck.config.files import key_path

    schema = json.loads(resources.files("hacheck.schemas").joinpath(SCHEMA_FILE).read_text("utf-8"))
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors)
    where = key_path(list(err.absolute_path)) or "(top level)"
    if err.validator == "const" and where == "version":
        problem = f"{err.instance!r} is not a version this hacheck reads (it reads {VERSION}); regenerate it with `hacheck baseline`"
    elif err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        problem = f"unknown key {', '.join(map(repr, extra))}; allowed: {', '.join(sorted(err.schema.get('properties', {})))}"
    elif err.validator == "required":
        problem = err.message.replace("is a required property", "is missing")
    else:
        problem = f"{json.dumps(err.instance)[:60]} is not allowed; expected {err.schema.get('description', err.message)}"
    raise BaselineError(f"{path}: {where}: {problem}")


# --- applying ---------------------------------------------------------------------------------


def apply(result, baseline: Baseline) -> None:
    """Mark findings that are in the baseline as suppressed (kind "baseline") and add a note for
    entries that no longer occur, so the baseline can only shrink."""
    base_dir = baseline.base_dir
    remaining = Counter(e["fingerprint"] for e in baseline.entries)
    mark = Suppression("baseline", "accepted in the baseline", baseline.path)
    for fr in result.files:
        marked = []
        for f in fr.findings:
            if _baselinable(f):
                fp = fingerprint(f, base_dir)
                if remaining[fp] > 0:
                    remaining[fp] -= 1
                    f = f.with_suppression(mark)
            marked.append(f)
        fr.findings = marked
    # only entries this run could have seen: a file not checked (pre-commit passes a few) or not
    # readable, or a rule not selected, says nothing about whether the entry is still needed
    checked = {relative_file(fr.path, base_dir) for fr in result.files if fr.shape != "unreadable"}
    active = {r.id for r in result.rules if result.config.selects(r)}
    gone = []
    for e in baseline.entries:
        if remaining[e["fingerprint"]] > 0 and e["file"] in checked and e["rule"] in active:
            remaining[e["fingerprint"]] -= 1
            gone.append(e)
    if not gone:
        return
    n = len(gone)
    result.notes.append(
        f"baseline {baseline.path}: {n} entr{'y no longer occurs' if n == 1 else 'ies no longer occur'} "
        f"(fixed, or the node is gone); run `hacheck baseline` to shrink it:"
    )
    for e in gone[:MAX_NOTES]:
        node = f" node {e['node']}" if e.get("node") else ""
        result.notes.append(f"  {e['rule']} {e['file']}{node}: {e.get('message', '')}".rstrip())
    if n > MAX_NOTES:
        result.notes.append(f"  ... and {n - MAX_NOTES} more")
