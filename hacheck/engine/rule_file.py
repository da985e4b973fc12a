"""One rule file: read its YAML, validate it against the rule schema, build the `Rule`.

The catalogue (catalog.py) is built from these, and so is its cache (catalog_cache.py); both
import this module, and it imports neither.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from hacheck.model.findings import Severity
from hacheck.analysis.match import TypeSelector
from hacheck.util.yaml_file import read_yaml
from hacheck.util.yaml_file import (
    safe_yaml as _yaml,  # catalog_cache reads with the same loader
)

SCHEMA_FILE = "rule.schema.json"


class CatalogError(Exception):
    """A rule file is invalid: exit 2, message names the file and what is wrong."""


@dataclass(frozen=True, eq=False)
class Rule:
    id: str
    name: str
    severity: Severity
    category: str
    status: str
    message: str
    docs: dict
    fix: dict
    source: str  # file it came from
    match: dict | None = None
    impl: str | None = None
    options: dict = field(default_factory=dict)
    uses: dict = field(default_factory=dict)  # effect-catalogue roles a Python check looks at
    selector: TypeSelector | None = None
    # one line of what breaks, without the node's name (shown beside it): short report entries,
    # the editor's list, SARIF's first sentence. Optional for rule packs.
    headline: str = ""

    @property
    def fixable(self) -> bool:
        return bool(self.fix.get("available"))

    @property
    def doc_anchor(self) -> str:
        return f"{self.id.lower()}-{self.name}"


@lru_cache(maxsize=1)
def rule_schema() -> dict:
    return json.loads(resources.files("hacheck.schemas").joinpath(SCHEMA_FILE).read_text("utf-8"))


def load_rule_file(path: Path, yaml=None) -> Rule:
    return rule_from_data(read_rule_data(path, yaml), str(path))


def read_rule_data(path: Path, yaml=None) -> object:
    """The parsed YAML of one rule file, not yet validated."""
    return read_yaml(path, CatalogError, yaml)


def rule_from_data(data: object, source: str, validated: bool = False) -> Rule:
    """`validated`: the data passed the schema already (the bundled catalogue's cache)."""
    if not validated:
        _validate(data, source)
    assert isinstance(data, dict)
    stem = Path(source).name
    if Path(source).suffix in (".yaml", ".yml") and not stem.startswith(data["id"]):
        raise CatalogError(f"{source}: the file name must start with the rule id {data['id']}")
    from hacheck.engine.checks import CHECKS

    if "impl" in data and data["impl"] not in CHECKS:
        known = ", ".join(sorted(CHECKS))
        raise CatalogError(f"{source}: impl '{data['impl']}' is not a registered check (known: {known})")
    match = data.get("match")
    return Rule(
        id=data["id"],
        name=data["name"],
        severity=Severity.parse(data["severity"]),
        category=data["category"],
        status=data["status"],
        message=data["message"],
        docs=dict(data["docs"]),
        fix=dict(data["fix"]),
        source=source,
        match=match,
        impl=data.get("impl"),
        options=dict(data.get("options") or {}),
        uses=dict(data.get("uses") or {}),
        selector=TypeSelector(match["type"]) if match and "type" in match else None,
        headline=data.get("headline", ""),
    )


def _validate(data: object, source: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(rule_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.path), list(map(str, e.path))))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors)
    where = "/".join(map(str, err.absolute_path)) or "(top level)"
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        raise CatalogError(f"{source}: unknown key {', '.join(map(repr, extra))} at {where}; allowed: {', '.join(sorted(err.schema.get('properties', {})))}")
    if err.validator == "oneOf" and where == "(top level)":
        raise CatalogError(f"{source}: a rule needs exactly one of 'match' or 'impl'")
    raise CatalogError(f"{source}: {where}: {err.message}")


def load_dir(directory: Path) -> list[Rule]:
    if not directory.is_dir():
        raise CatalogError(f"{directory}: rule pack directory not found")
    yaml = _yaml()
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [load_rule_file(p, yaml) for p in files]
