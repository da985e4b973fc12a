"""Read `hacheck-targets.yaml`: where `hacheck deploy` may deploy, validated by a JSON Schema.

Every problem is a TargetsError (exit 2) naming the file, the line when known, the key path and
what is allowed there. Secrets never live in this file: auth keys name environment variables.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

DEFAULT_TARGETS_FILE = "hacheck-targets.yaml"
SCHEMA_FILE = "targets.schema.json"
MAX_ERRORS = 8


class TargetsError(Exception):
    """The targets file (or the target asked for) is unusable: exit 2."""


@dataclass(frozen=True)
class TargetSpec:
    name: str
    kind: str
    settings: dict  # validated, plain dicts and lists
    file: str  # the targets file, for messages
    base_dir: str  # relative paths in the file are relative to the file itself

    def path(self, value: str) -> str:
        return value if os.path.isabs(value) else os.path.normpath(os.path.join(self.base_dir, value))


@dataclass(frozen=True)
class TargetsFile:
    path: str
    targets: dict  # name -> validated settings
    audit_log: str | None

    def target(self, name: str) -> TargetSpec:
        if name not in self.targets:
            known = ", ".join(sorted(self.targets)) or "(none)"
            raise TargetsError(f"{self.path}: no target '{name}'; the targets are: {known}")
        settings = self.targets[name]
        return TargetSpec(name, settings["kind"], settings, self.path, os.path.dirname(os.path.abspath(self.path)))


@lru_cache(maxsize=1)
def targets_schema() -> dict:
    return json.loads(resources.files("hacheck.schemas").joinpath(SCHEMA_FILE).read_text("utf-8"))


def load_targets(path: str) -> TargetsFile:
    doc = _read_yaml(path)
    problems = validate(doc)
    if problems:
        shown = [f"{path}{_line_suffix(doc, at)}: {where or '(top level)'}: {what}" for at, where, what in problems[:MAX_ERRORS]]
        more = f"\n  ... and {len(problems) - MAX_ERRORS} more" if len(problems) > MAX_ERRORS else ""
        raise TargetsError("invalid targets file:\n  " + "\n  ".join(shown) + more)
    plain = _plain(doc)
    return TargetsFile(path, plain["targets"], plain.get("audit_log"))


def validate(doc: object) -> list[tuple[tuple, str, str]]:
    """Schema problems as (where to point, dotted key path, what is wrong and what is allowed),
    in file order. An unknown key or a bad target name is pointed at itself, not at its parent."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(targets_schema())
    out: list[tuple[tuple, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for err in sorted(validator.iter_errors(_plain(doc)), key=lambda e: [str(p) for p in e.absolute_path]):
        # a failed oneOf is reported as itself: its description says what is allowed better
        # than the errors of each alternative would
        path = tuple(err.absolute_path)
        item = (_dotted(path), _explain(err))
        if item not in seen:
            seen.add(item)
            out.append((path + _offender(err), *item))
    return sorted(out, key=lambda p: [str(x) for x in p[0]])


def _offender(err) -> tuple:
    if "propertyNames" in err.schema_path:
        return (err.instance,)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        extra = [k for k in err.instance if k not in (err.schema.get("properties") or {})]
        return (extra[0],) if extra else ()
    return ()


def _explain(err) -> str:
    schema = err.schema if isinstance(err.schema, dict) else {}
    desc = schema.get("description")
    v = err.validator
    if v == "additionalProperties":
        allowed = ", ".join(schema.get("properties", {})) or "none"
        extra = sorted(set(err.instance) - set(schema.get("properties", {}))) if isinstance(err.instance, dict) else []
        names = ", ".join(f"'{k}'" for k in extra)
        return f"unknown key {names}; allowed keys: {allowed}"
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return f"missing key '{missing}'" + (f" ({desc})" if desc else "")
    if "propertyNames" in err.schema_path:
        return f"target name {err.instance!r} is not allowed; allowed: {desc}" if desc else err.message
    if v in ("const", "enum"):
        allowed = schema.get("enum") or [schema.get("const")]
        return f"{_short(err.instance)} is not allowed; allowed: {', '.join(map(str, allowed))}"
    if v in ("oneOf", "anyOf", "not"):
        return f"{_short(err.instance)} is not allowed; allowed: {desc or 'see the documentation'}"
    if v == "type":
        return f"expected {_type_words(err.validator_value)}, got {_kind(err.instance)}" + (f" ({desc})" if desc else "")
    if v in ("pattern", "minLength", "minItems", "minProperties", "uniqueItems", "minimum", "maximum", "exclusiveMinimum"):
        return f"{_short(err.instance)} is not allowed" + (f"; allowed: {desc}" if desc else f": {err.message}")
    return err.message + (f"; allowed: {desc}" if desc else "")


def _type_words(t) -> str:
    words = {"object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
             "integer": "an integer", "boolean": "true or false"}
    if isinstance(t, list):
        return " or ".join(words.get(x, x) for x in t)
    return words.get(t, t)


def _kind(value) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"the string {_short(value)}"


def _short(value) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _line_suffix(doc, path: tuple) -> str:
    """':<line>' of the deepest key on the path that ruamel recorded a position for."""
    line = None
    node = doc
    for p in path:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(p, int):
                pos = lc.item(p) if lc is not None else None
                node = node[p]
            else:
                pos = lc.key(p) if lc is not None else None
                node = node[p]
        except (KeyError, IndexError, TypeError, AttributeError):
            break
        if pos:
            line = pos[0] + 1
    return f":{line}" if line else ""


def _read_yaml(path: str):
    from ruamel.yaml import YAML

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise TargetsError(f"{path}: no such targets file (name one with --targets FILE)") from None
    except IsADirectoryError:
        raise TargetsError(f"{path}: is a directory, not a targets file") from None
    except UnicodeDecodeError as e:
        raise TargetsError(f"{path}: is not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise TargetsError(f"{path}: cannot be read: {e.strerror or e}") from None
    yaml = YAML(typ="rt", pure=True)
    try:
        doc = yaml.load(text)
    except Exception as e:  # ruamel raises many types (scanner, parser, duplicate key...): all mean "not valid YAML"
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise TargetsError(f"{path}{where}: not valid YAML: {problem}") from None
    if doc is None:
        raise TargetsError(f"{path}: is empty; it needs a 'targets:' mapping")
    return doc


def _plain(value):
    """ruamel's round-trip containers and scalar subclasses -> plain dict/list/str/int/float/bool."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, (str, int, float, bool)) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return str(value)  # dates and other YAML types: a string the schema will reject where it matters
