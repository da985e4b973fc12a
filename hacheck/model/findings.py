"""What a check produces (Hit) and what the engine turns it into (Finding)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import IntEnum


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, name: str) -> "Severity":
        return cls[name.upper()]

    def __str__(self) -> str:
        return self.name.lower()


# Not frozen, but hashed by value as if it were: a frozen dataclass sets each field through
# object.__setattr__ (1.2 us against 0.23 us per object here), and a 100k-node flow makes
# ~150k of these. Nothing changes one after it is made. Hit, Finding, paths.InputPath and
# context_state.Access are made the same way, for the same reason (Finding: 2.3 us -> 0.6 us).
@dataclass(slots=True, unsafe_hash=True)
class Related:
    """Another place that explains a finding: a step on the input path, a reader of the same key."""

    node_id: str
    message: str
    node_type: str | None = None
    node_name: str | None = None
    line: int | None = None
    tab_id: str | None = None


@dataclass(slots=True, unsafe_hash=True)  # as if frozen: see Related
class Hit:
    """A check's answer: which node and why. The engine adds the rule's metadata."""

    node_id: str | None
    args: dict = field(default_factory=dict)
    path: str | None = None  # JSON Pointer inside the node, e.g. "/func"
    js_line: int | None = None
    detail: str = ""  # stable discriminator for the fingerprint (e.g. a context key)
    related: tuple[Related, ...] = ()
    # input paths: each a list of node ids, from a load-balanced input to the node
    paths: tuple[tuple[str, ...], ...] = ()
    # why this finding's fix, safe for the rule in general, is not safe here ('' when it is)
    fix_unsafe: str = ""
    # effect paths: each a list of node ids, from the node to an effect its messages reach
    effect_paths: tuple[tuple[str, ...], ...] = ()
    # the severity of this one finding where the rule's rests on a stated assumption (HA123
    # under localhost_services: per-copy); a severity the configuration sets still wins
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class Suppression:
    kind: str  # "inline" | "config" | "baseline"
    reason: str
    source: str = ""  # where the directive lives (node id, config file)


@dataclass(slots=True, unsafe_hash=True)  # as if frozen: see Related
class Finding:
    rule_id: str
    rule_name: str
    severity: Severity
    message: str
    file: str
    node_id: str | None = None
    node_type: str | None = None
    node_name: str | None = None
    tab_id: str | None = None
    tab_label: str | None = None
    line: int | None = None
    path: str | None = None
    js_line: int | None = None
    detail: str = ""
    related: tuple[Related, ...] = ()
    paths: tuple[tuple[str, ...], ...] = ()
    suppressed: Suppression | None = None
    fix_unsafe: str = ""  # why the rule's safe fix is unsafe for this finding
    effect_paths: tuple[tuple[str, ...], ...] = ()  # from the node to each effect it reaches
    headline: str = ""  # one line of what breaks, from the rule's `headline` ('' if it has none)

    def fingerprint(self) -> str:
        """Stable across runs and edits that move nodes: no line numbers, no message text."""
        key = "\x1f".join((self.rule_id, self.file, self.node_id or "", self.path or "", self.detail))
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def sort_key(self) -> tuple:
        return (self.file, self.line or 0, self.node_id or "", self.rule_id, self.path or "", self.detail, self.message)

    def with_suppression(self, s: Suppression) -> "Finding":
        return replace(self, suppressed=s)
