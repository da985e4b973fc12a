"""Cache files of parsed, validated data (the bundled catalogues), in the user's cache folder.

A cache entry is one JSON file holding a key and a value; the key stamps every input by name,
size and modification time, so any change, a corrupt file or an unwritable folder only means
the data is read and validated again. HACHECK_CACHE_DIR moves the cache; empty turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path


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


def stamp_key(fmt: int, directory: Path, files: list[Path], code: list[Path]) -> dict:
    """What the cached value depends on: the data files and the code that reads them."""
    from hacheck import __version__

    def stamp(p: Path) -> list:
        st = p.stat()
        return [p.name, st.st_size, st.st_mtime_ns]

    return {
        "format": fmt,
        "version": __version__,
        "dir": str(directory.resolve()),
        "files": [stamp(p) for p in files],
        "code": [stamp(p) for p in code],
    }


def file_for(kind: str, directory: Path) -> Path | None:
    """One file per kind and folder, overwritten when its inputs change: the cache never grows."""
    d = cache_dir()
    if d is None:
        return None
    name = hashlib.sha256(str(directory.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return d / f"{kind}-{name}.json"


def read(target: Path, key: dict):
    """The cached value, or None when there is none or its key differs."""
    try:
        doc = json.loads(target.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key or "value" not in doc:
        return None
    return doc["value"]


def write(target: Path, key: dict, value, prefix: str) -> None:
    """Keep the value only if JSON gives it back unchanged (YAML has dates, non-string keys)."""
    try:
        text = json.dumps({"key": key, "value": value}, ensure_ascii=False)
    except (TypeError, ValueError):
        return
    if json.loads(text)["value"] != value:
        return
    write_file(target, text, prefix)


def write_file(target: Path, text: str, prefix: str) -> None:
    """Atomically (a parallel run reads the old or the new file); a cache that cannot be
    written (a read-only home on some CI runners) is simply not kept."""
    from hacheck.util.atomic import replace_file

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_file(str(target), text.encode("utf-8"), mode=0o600, prefix=prefix)
    except OSError:
        pass
