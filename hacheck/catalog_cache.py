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

import hashlib
import json
import os
import sys
from pathlib import Path

FORMAT = 1  # bump when the layout of the cache file changes


def cache_dir() -> Path | None:
    env = os.environ.get("HACHECK_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) / "hacheck" / "Cache" if base else None
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return Path(home) / "Library" / "Caches" / "hacheck"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path(home) / ".cache"
    return base / "hacheck"


def rule_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _key(directory: Path, files: list[Path]) -> dict:
    from hacheck import __version__, rule_file

    pkg = Path(rule_file.__file__).resolve().parent

    def stamp(p: Path) -> list:
        st = p.stat()
        return [p.name, st.st_size, st.st_mtime_ns]

    code = [pkg / "rule_file.py", pkg / "catalog.py", pkg / "catalog_cache.py", pkg / "schemas" / rule_file.SCHEMA_FILE]
    return {
        "format": FORMAT,
        "version": __version__,
        "dir": str(directory.resolve()),
        "files": [stamp(p) for p in files],
        "code": [stamp(p) for p in code],
    }


def _cache_file(directory: Path) -> Path | None:
    d = cache_dir()
    if d is None:
        return None
    # one file per rules folder, overwritten when the rules change: the cache never grows
    name = hashlib.sha256(str(directory.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return d / f"rules-{name}.json"


def load_bundled(directory: Path):
    """The rules of `directory`, from the cache when it is current, else read and validated."""
    from hacheck.rule_file import CatalogError, _yaml, load_dir, read_rule_data, rule_from_data

    if not directory.is_dir():
        raise CatalogError(f"{directory}: rule pack directory not found")
    try:
        files = rule_files(directory)
        key = _key(directory, files)
    except OSError:
        return load_dir(directory)
    target = _cache_file(directory)
    cached = _read(target, key) if target is not None else None
    if cached is not None:
        try:
            return [rule_from_data(data, source, validated=True) for source, data in cached]
        except Exception:  # noqa: BLE001 - a cache that does not fit is only a cache miss:
            pass  # reading the files again gives the real error, if there is one
    yaml = _yaml()
    entries, rules = [], []
    for p in files:  # file by file, so the first bad file is the one reported, as load_dir does
        data = read_rule_data(p, yaml)
        rules.append(rule_from_data(data, str(p)))
        entries.append((str(p), data))
    if target is not None:
        _write(target, key, entries)
    return rules


def _read(target: Path, key: dict):
    try:
        doc = json.loads(target.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key or not isinstance(doc.get("rules"), list):
        return None
    return doc["rules"]


def _write(target: Path, key: dict, entries: list) -> None:
    try:
        text = json.dumps({"key": key, "rules": entries}, ensure_ascii=False)
    except (TypeError, ValueError):
        return  # a rule with YAML-only values (dates, non-string keys) is simply not cached
    if json.loads(text)["rules"] != [list(e) for e in entries]:
        return  # JSON would change a value (e.g. an integer key): reading it back must give the same rules
    write_cache_file(target, text, ".rules-")


def write_cache_file(target: Path, text: str, prefix: str) -> None:
    """Write a cache file atomically (a parallel run reads the old or the new one); a cache
    that cannot be written (a read-only home on some CI runners) is simply not kept."""
    from hacheck.atomic import replace_file

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_file(str(target), text.encode("utf-8"), mode=0o600, prefix=prefix)
    except OSError:
        pass
