"""One reporter per module; each has `render(result, stream, color=False)`.

Imported by name on use, so `hacheck check` pays only for the format it prints.
"""

from __future__ import annotations

import importlib

REPORTERS = {
    "text": "hacheck.reporters.text",
    "json": "hacheck.reporters.json_report",
}


def get(name: str):
    return importlib.import_module(REPORTERS[name])
