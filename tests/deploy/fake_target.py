"""TEST DOUBLE: an in-memory target for the gate's orchestration tests.

Each member holds a rev and flows. `fail[(step, member)]` scripts a failure: an exception to
raise, or a callable run first (e.g. to change state, as a deploy that lands and then times
out would) that may raise itself. A member in `down` answers nothing (every step on it fails
as unreachable) until a test takes it out, e.g. from a FakeClock's `at` schedule.
"""

from __future__ import annotations

import copy

from hacheck.deploy.base import Payload, Snapshot, StepFailed, Target

OLD_FLOWS = [{"id": "old-tab", "type": "tab", "label": "Old"}]


class FakeTarget(Target):
    kind = "node-red"
    recoverable = True

    def __init__(self, name: str = "prod", members=("r1", "r2"), fail=None, secret: str = "tok-SECRET-9f8e7d"):
        super().__init__(name)
        self._members = list(members)
        self.state = {m: {"rev": "rev-old", "flows": copy.deepcopy(OLD_FLOWS)} for m in self._members}
        self.fail = dict(fail or {})
        self.calls: list[tuple[str, str]] = []
        self.secret = secret
        self.closed = False
        self.down: set[str] = set()

    def _step(self, step: str, member: str) -> None:
        self.calls.append((step, member))
        if member in self.down:
            raise StepFailed("unreachable", f"{step} {member}: cannot connect", applied=False)
        action = self.fail.get((step, member))
        if action is None:
            return
        if isinstance(action, BaseException):
            raise action
        action(self)

    def members(self) -> list[str]:
        return list(self._members)

    def preflight(self, member: str, payload: Payload) -> Snapshot:
        self._step("preflight", member)
        return self.snapshot(member)

    def snapshot(self, member: str) -> Snapshot:
        self._step("snapshot", member)
        s = self.state[member]
        return Snapshot(member, s["rev"], copy.deepcopy(s["flows"]))

    def deploy(self, member: str, payload: Payload, before: Snapshot) -> str:
        self._step("deploy", member)
        if self.state[member]["rev"] != before.rev:
            raise StepFailed("conflict", "HTTP 409 version_mismatch", applied=False)
        self.state[member] = {"rev": "rev-new", "flows": copy.deepcopy(payload.flows)}
        return "rev-new"

    def verify(self, member: str, rev: str) -> None:
        self._step("verify", member)

    def rollback(self, member: str, before: Snapshot) -> str:
        self._step("rollback", member)
        self.state[member] = {"rev": before.rev, "flows": copy.deepcopy(before.flows)}
        return before.rev

    def unchanged(self, before: Snapshot, payload: Payload) -> bool:
        return before.flows == payload.flows

    def runs_flows(self, now: Snapshot, payload: Payload) -> bool:
        return now.flows == payload.flows

    def reconnect(self, member: str) -> None:
        self._step("reconnect", member)

    def secrets(self) -> list[str]:
        return [self.secret]

    def close(self) -> None:
        self.closed = True

    def revs(self) -> dict[str, str]:
        return {m: s["rev"] for m, s in self.state.items()}


class FakeClock:
    """TEST DOUBLE for time: `sleep` moves the clock on at once, and runs what `at` schedules
    (seconds -> callable) once the clock passes it: a replica coming back after 40 s."""

    def __init__(self):
        self.now = 0.0
        self.at: dict[float, object] = {}
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds
        for t in sorted(self.at):
            if t <= self.now:
                self.at.pop(t)()
