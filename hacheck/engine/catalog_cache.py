"""A cache of the bundled rule catalogue, parsed and validated, for a fast start.

Reading ~40 YAML rule files with ruamel (pure Python) and validating them with jsonschema
costs more than checking a small flow, and a pre-commit hook runs on every commit. The
bundled rules only change with hacheck itself, so their parsed data is kept in one JSON file
under the user's cache folder, keyed by the hacheck version, the rules folder, and the name,
size and modification time of every rule file, of the rule schema and of the catalogue code.
Any change, a corrupt file or an unwritable folder means the rules are read and validated
again, as without a cache. User rule packs (--rules) are never cached: always validated.

HACHECK_CACHE_DIR moves the cache; set it empty to turn it off.
"""

from __future__ import annotations

from pathlib import Path

from hacheck import PACKAGE_DIR
from hacheck.util import cache

FORMAT = 2  # bump when the layout of the cache file changes


def rule_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _key(directory: Path, files: list[Path]) -> dict:
    from hacheck.engine import rule_file

    here = Path(rule_file.__file__).resolve().parent
    code = [here / "rule_file.py", here / "catalog.py", here / "catalog_cache.py", PACKAGE_DIR / "schemas" / rule_file.SCHEMA_FILE]
    return cache.stamp_key(FORMAT, directory, files, code)


def load_bundled(directory: Path):
    """The rules of `directory`, from the cache when it is current, else read and validated."""
    from hacheck.engine.rule_file import (
        CatalogError,
        _yaml,
        load_dir,
        read_rule_data,
        rule_from_data,
    )

    if not directory.is_dir():
        raise CatalogError(f"{directory}: rule pack directory not found")
    try:
        files = rule_files(directory)
        key = _key(directory, files)
    except OSError:
        return load_dir(directory)
    # one file per rules folder, overwritten when the rules change: the cache never grows
    target = cache.file_for("rules", directory)
    cached = cache.read(target, key) if target is not None else None
    if isinstance(cached, list):
        try:
            return [rule_from_data(data, source, validated=True) for source, data in cached]
        except Exception:  # noqa: BLE001 - a cache that does not fit is only a cache miss:
            pass  # reading the files again gives the real error, if there is one
    yaml = _yaml()
    entries, rules = [], []
    for p in files:  # file by file, so the first bad file is the one reported, as load_dir does
        data = read_rule_data(p, yaml)
        rules.append(rule_from_data(data, str(p)))
        entries.append([str(p), data])
    if target is not None:
        # a rule with YAML-only values (dates, non-string keys) is simply not cached
        cache.write(target, key, entries, ".rules-")
    return rules
