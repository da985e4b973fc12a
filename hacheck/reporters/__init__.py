"""One reporter per module; each has `render(result, stream, color=False)`.

Imported by name on use, so `hacheck check` pays only for the format it prints.
"""

from __future__ import annotations

import importlib

REPORTERS = {
    "text": "hacheck.reporters.text",
    "concise": "hacheck.reporters.concise",
    "json": "hacheck.reporters.json_report",
    "sarif": "hacheck.reporters.sarif",
    "junit": "hacheck.reporters.junit",
    "gitlab": "hacheck.reporters.gitlab",
    "github": "hacheck.reporters.github",
    "markdown": "hacheck.reporters.markdown",
    "html": "hacheck.reporters.html",
}


def get(name: str):
    return importlib.import_module(REPORTERS[name])


def needs_flows(names) -> bool:
    """Whether any of these formats draws or locates nodes beyond what a Finding carries
    (the runner then keeps the parsed flows: `check_sources(..., keep_flows=True)`)."""
    return any(getattr(get(n), "NEEDS_FLOWS", False) for n in names if n in REPORTERS)
