"""The effect catalogue: what each node type does to the world, read from rules/effects/*.yaml.

One YAML file per npm package, validated by schemas/effects.schema.json. A config file's
`effects:` key adds types or replaces whole entries of the bundled ones (a team's own nodes).
The bundled files are parsed and validated once and cached like the rule catalogue (reading
them with ruamel and jsonschema costs more than checking a small flow).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from hacheck import PACKAGE_DIR

SCHEMA_FILE = "effects.schema.json"
FORMAT = 1  # bump when the cached layout changes


class EffectsError(Exception):
    """An effect file or a config's `effects:` is invalid: exit 2, the message says where."""


def bundled_dir() -> Path:
    """rules/effects in a checkout; hacheck/_rules/effects inside an installed wheel."""
    inside = PACKAGE_DIR / "_rules" / "effects"
    return inside if inside.is_dir() else PACKAGE_DIR.parent / "rules" / "effects"


@lru_cache(maxsize=1)
def _validator():
    import jsonschema
    from referencing import Registry, Resource

    schemas = resources.files("hacheck.schemas")
    mine = json.loads(schemas.joinpath(SCHEMA_FILE).read_text("utf-8"))
    rule = json.loads(schemas.joinpath("rule.schema.json").read_text("utf-8"))
    registry = Registry().with_resource(rule["$id"], Resource.from_contents(rule))
    return jsonschema.Draft202012Validator(mine, registry=registry)


def validate_types(types: object, where: str) -> None:
    """Check a `types` mapping (a config's `effects:`) against the schema."""
    _check({"package": "config", "checked": "config", "types": types}, where, prefix="effects")


def validate(data: object, where: str) -> None:
    """Check a whole effect file's data (package, checked, types) against the schema."""
    _check(data, where)


def _check(data: object, where: str, prefix: str = "") -> None:
    import jsonschema

    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors)
    parts = [str(p) for p in err.absolute_path]
    if prefix and parts[:1] == ["types"]:
        parts = [prefix, *parts[1:]]
    at = "/".join(parts) or "(top level)"
    raise EffectsError(f"{where}: {at}: {err.message}")


def _read(path: Path) -> dict:
    from hacheck.util.yaml_file import read_yaml

    data = read_yaml(path, EffectsError)
    _check(data, str(path))
    return data


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def load_dir(directory: Path) -> dict[str, dict]:
    """Type -> entry, with `package` added to each; a type in two files is an error."""
    out: dict[str, dict] = {}
    seen: dict[str, str] = {}
    for path in _files(directory):
        data = _read(path)
        for t, entry in data["types"].items():
            if t in seen:
                raise EffectsError(f"{path}: type '{t}' is already described in {seen[t]}")
            seen[t] = path.name
            out[t] = {**entry, "package": data["package"]}
    return out


@lru_cache(maxsize=1)
def bundled() -> dict[str, dict]:
    """The bundled catalogue, from the cache when it is current."""
    directory = bundled_dir()
    if not directory.is_dir():
        raise EffectsError(f"{directory}: the effect catalogue is missing")
    from hacheck.util import cache

    try:
        key = cache.stamp_key(FORMAT, directory, _files(directory), [Path(__file__), _schema_path()])
    except OSError:
        return load_dir(directory)
    target = cache.file_for("effects", directory)
    cached = cache.read(target, key) if target is not None else None
    if isinstance(cached, dict):
        return cached
    types = load_dir(directory)
    if target is not None:
        cache.write(target, key, types, ".effects-")
    return types


def _schema_path() -> Path:
    return PACKAGE_DIR / "schemas" / SCHEMA_FILE


def merged(overrides: dict | None) -> dict[str, dict]:
    """The bundled catalogue with a config's entries on top (whole entries replace)."""
    base = bundled()
    if not overrides:
        return base
    return {**base, **{t: {**e, "package": "config"} for t, e in overrides.items()}}
