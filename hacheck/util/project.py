"""The project's own addresses, from one place: `[project.urls]` in pyproject.toml, as the
installed package's metadata carries it (a release sets them once; nothing else in the code
names a URL of ours).

Read on first use and cached: most runs print no link at all.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from hacheck import PACKAGE_DIR

DIST = "nodered-hacheck"  # the distribution's name; the command and the package are `hacheck`


@cache
def urls() -> dict[str, str]:
    """Label -> URL (Homepage, Documentation, Repository, Issues, Changelog)."""
    from importlib import metadata

    try:
        entries = metadata.metadata(DIST).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return _from_pyproject(PACKAGE_DIR.parent / "pyproject.toml")
    out = {}
    for entry in entries:
        label, _, url = entry.partition(",")
        out[label.strip()] = url.strip()
    return out


def home_url() -> str | None:
    return urls().get("Homepage")


def docs_url() -> str | None:
    """The rules' documentation page (docs/rules.md as published)."""
    return urls().get("Documentation")


def _from_pyproject(path: Path) -> dict[str, str]:
    """A checkout run without installing (PYTHONPATH): the same table, from the source."""
    try:
        text = path.read_text("utf-8")
    except OSError:
        return {}
    m = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    if not m:
        return {}
    return dict(re.findall(r'^\s*([A-Za-z][\w .-]*?)\s*=\s*"([^"]+)"', m.group(1), re.MULTILINE))
