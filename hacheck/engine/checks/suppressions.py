"""HC005 and HC006 in the check pass (their `impl`); the rest of both is in suppress.py."""

from __future__ import annotations

from hacheck.engine.directives import directives
from hacheck.model.findings import Hit


def invalid_suppression(ctx, rule):
    """HC006 from the check pass: directives without a rule or a reason."""
    for d in directives(ctx.flow):
        if d.problem:
            yield Hit(d.host, args={"directive": d.text, "problem": d.problem}, path="/info", detail=d.text)


def unused_suppression(ctx, rule):
    """HC005 is produced by `Suppressor` once every other finding is known; nothing to do here."""
    return iter(())
