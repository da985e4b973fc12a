"""What a deploy would change on one replica: nodes added, removed and changed, by id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class FlowDiff:
    added: int
    removed: int
    changed: int
    unchanged: int

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def __str__(self) -> str:
        return f"{self.added} added, {self.removed} removed, {self.changed} changed, {self.unchanged} unchanged"


def comparable(node: dict) -> dict:
    # The Admin API never returns credentials, so they cannot count as a difference.
    return {k: v for k, v in node.items() if k != "credentials"}


def diff_flows(current: list, new: list) -> FlowDiff:
    cur = {n["id"]: comparable(n) for n in current if isinstance(n, dict) and isinstance(n.get("id"), str)}
    nxt = {n["id"]: comparable(n) for n in new if isinstance(n, dict) and isinstance(n.get("id"), str)}
    added = sum(1 for i in nxt if i not in cur)
    removed = sum(1 for i in cur if i not in nxt)
    changed = sum(1 for i in nxt if i in cur and cur[i] != nxt[i])
    return FlowDiff(added, removed, changed, len(nxt) - added - changed)


def same_flows(current: list, new: list) -> bool:
    """Same nodes in the same order (Node-RED's rev hashes the list, so order matters to it)."""
    return [comparable(n) if isinstance(n, dict) else n for n in current] == [
        comparable(n) if isinstance(n, dict) else n for n in new]


def predict_rev(flows: list) -> str:
    """The rev Node-RED will report for these flows: sha256 of JSON.stringify(flows) once the
    credentials are taken out (runtime/lib/storage/index.js). Python's compact JSON matches
    JSON.stringify except for floats, so integral floats are written as integers as JS does;
    a flow with exotic floats (1e-7) may be predicted wrong, which only shows in --dry-run."""
    text = json.dumps([_js_numbers(comparable(n)) if isinstance(n, dict) else _js_numbers(n) for n in flows],
                      separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _js_numbers(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    if isinstance(v, dict):
        return {k: _js_numbers(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_js_numbers(x) for x in v]
    return v
