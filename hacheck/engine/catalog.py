"""The rule catalogue: every rule is a YAML file, bundled in rules/ or in a user's rule pack.

Reading and validating one rule file is rule_file.py; its names are re-exported here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from hacheck import PACKAGE_DIR
from hacheck.engine.rule_file import (
    SCHEMA_FILE,
    CatalogError,
    Rule,
    load_dir,
    load_rule_file,
    read_rule_data,
    rule_from_data,
    rule_schema,
)

__all__ = [
    "SCHEMA_FILE",
    "CatalogError",
    "Rule",
    "bundled_rules_dir",
    "load_catalog",
    "load_dir",
    "load_rule_file",
    "read_rule_data",
    "rule_from_data",
    "rule_schema",
]


def bundled_rules_dir() -> Path:
    """Inside an installed wheel the rules live in hacheck/_rules; in a checkout, in rules/."""
    inside = PACKAGE_DIR / "_rules"
    if inside.is_dir():
        return inside
    return PACKAGE_DIR.parent / "rules"


def load_catalog(extra_dirs: list[str] | tuple[str, ...] = ()) -> list[Rule]:
    rules = _bundled()
    for d in extra_dirs:
        rules = rules + load_dir(Path(d))
    seen: dict[str, str] = {}
    names: dict[str, str] = {}
    for r in rules:
        if r.id in seen:
            raise CatalogError(f"{r.source}: rule id {r.id} is already used by {seen[r.id]}")
        if r.name in names:
            raise CatalogError(f"{r.source}: rule name {r.name} is already used by {names[r.name]}")
        seen[r.id] = r.source
        names[r.name] = r.source
    return sorted(rules, key=lambda r: r.id)


@lru_cache(maxsize=1)
def _bundled_cached() -> tuple[Rule, ...]:
    from hacheck.engine.catalog_cache import load_bundled

    return tuple(load_bundled(bundled_rules_dir()))


def _bundled() -> list[Rule]:
    return list(_bundled_cached())
