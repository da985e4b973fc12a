"""What a target kind implements, and the values the gate passes around.

A target is a list of members changed one at a time: a Node-RED replica, or a FlowFuse instance
(whose pipeline restarts its replicas itself). Each kind is one module with one Target subclass.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field


class ConfigurationError(Exception):
    """The target cannot even be tried (an unset environment variable, an unreadable CA file):
    exit 2, nothing contacted."""


class StepFailed(Exception):
    """One step on one member failed. `reason` is a short stable code for the audit log:
    unreachable, tls, auth, conflict, timeout, not-started, missing-types, http-error, rejected.

    `applied` says whether the failed request may have changed the member: False only when it
    certainly did not (refused connection, 4xx); the gate then need not look or roll back."""

    def __init__(self, reason: str, message: str, applied: bool = True):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.applied = applied


class Interrupted(Exception):
    """SIGTERM or Ctrl-C during the deploy: treated as a failure, so the gate rolls back."""


def describe(e: BaseException) -> tuple[str, str]:
    """(reason code, one line) for a failure, naming our code's exception, never a traceback."""
    if isinstance(e, StepFailed):
        return e.reason, e.message
    if isinstance(e, (Interrupted, KeyboardInterrupt)):
        return "interrupted", "interrupted (SIGTERM or Ctrl-C) during the deploy"
    first = str(e).splitlines()[0][:200] if str(e) else ""
    return "internal-error", f"internal error {type(e).__name__}: {first}"


@contextmanager
def on_sigterm(handler):
    """SIGTERM goes to `handler` (a function, or signal.SIG_IGN) inside the block, and to what
    it went to before after it. Outside the main thread nothing can be installed: a no-op."""
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


@dataclass
class Payload:
    """The flows being deployed, exactly as checked."""

    path: str
    sha256: str  # of the file's bytes
    flows: list  # node objects; may hold per-node `credentials` (deployed, never printed)
    credentials: dict | None = None  # top-level `credentials` of an Admin API / snapshot body
    snapshot_id: str | None = None  # the `id` of a FlowFuse snapshot export, if that is the file


@dataclass
class Snapshot:
    """A member's state before the deploy: the rollback copy."""

    member: str
    rev: str | None
    flows: list | None = None  # Node-RED: the running flows (credentials are not readable back)
    extra: dict = field(default_factory=dict)  # kind-specific facts (e.g. FlowFuse snapshot ids)
    notes: list[str] = field(default_factory=list)  # e.g. "runtime state not available"


class Target(ABC):
    """One target kind. Every method raises StepFailed on failure and never prints."""

    kind: str = ""
    noun: str = "member"  # what a member is called in reports: "replica", "instance"
    # `deploy --recover` can put members back from another member's flows (Node-RED); a
    # FlowFuse instance is rolled back to a snapshot in FlowFuse instead
    recoverable: bool = False

    def __init__(self, name: str):
        self.name = name

    @abstractmethod
    def members(self) -> list[str]:
        """What is changed one at a time, as shown in reports (a URL or an instance id)."""

    @abstractmethod
    def preflight(self, member: str, payload: Payload) -> Snapshot:
        """Reachable, authenticated, running, able to run `payload`; returns the rollback copy."""

    @abstractmethod
    def snapshot(self, member: str) -> Snapshot:
        """The member's current state (used by preflight, and to check a rollback)."""

    @abstractmethod
    def deploy(self, member: str, payload: Payload, before: Snapshot) -> str:
        """Change the member; returns the new rev. Must fail (reason 'conflict') if the member
        changed since `before` was taken."""

    @abstractmethod
    def verify(self, member: str, rev: str) -> None:
        """Wait until the member runs `rev` and is healthy, or raise StepFailed."""

    @abstractmethod
    def rollback(self, member: str, before: Snapshot) -> str:
        """Put the member back to `before`; returns the rev it then reports."""

    def plan(self, before: Snapshot, payload: Payload) -> str:
        """One line for --dry-run: what deploying `payload` would change on this member."""
        return f"rev {short(before.rev)} -> new rev"

    def unchanged(self, before: Snapshot, payload: Payload) -> bool:
        """True when the member already runs exactly `payload` (the deploy can be skipped)."""
        return False

    def runs_flows(self, now: Snapshot, payload: Payload) -> bool:
        """True when the member's current state is `payload`'s flows (a member that came back
        after a failed deploy: did the deploy land?). Kinds that cannot tell say False."""
        return False

    def expected_rev(self, payload: Payload) -> str | None:
        """The rev a member will report once it runs `payload`, if the kind can know it in
        advance (recorded for `deploy --recover`, which has no flows file to compare)."""
        return None

    def reconnect(self, member: str) -> None:
        """Log in again to a member that was away (its restart may have dropped our session)."""

    def secrets(self) -> list[str]:
        """Values that must never be printed (tokens, passwords, exchanged access tokens)."""
        return []

    def close(self) -> None:
        """Release connections."""


def short(rev: str | None) -> str:
    if not rev:
        return "(none)"
    return rev[:12] if len(rev) > 16 else rev
