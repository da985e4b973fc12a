"""Finish a rollback on members that were away: wait for them, then put each back.

A replica killed while it took the new flows comes back (Kubernetes restarts it within seconds
to a minute) running what it had stored: the new flows, or the old if the deploy never landed.
Giving up at once would leave the cluster split until a person acts; so the gate, and
`hacheck deploy --recover` later, keep trying each such member for a bounded time (the
target's `recover_timeout`) and, when it answers, look at what it runs:

- its recorded (old) rev: nothing to do;
- the new flows: roll it back to the recorded flows, and verify;
- anything else: someone else changed it; it is left alone and the outcome stays a failure.

A SIGTERM while waiting stops the wait (a cancelled job must end), never a rollback under way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hacheck.deploy.base import Payload, Snapshot, Target, describe, on_sigterm, short

DEFAULT_RECOVER_TIMEOUT = 180.0
FIRST_DELAY, MAX_DELAY = 1.0, 15.0
_TICK = 0.2  # the wait is cut into ticks so a SIGTERM ends it promptly

# statuses of a member that may run flows other than its recorded ones
UNSETTLED = ("rollback-failed", "unknown")


@dataclass
class Expected:
    """What the members may legitimately run: their recorded flows, or the new ones."""

    new_revs: set[str] = field(default_factory=set)
    payload: Payload | None = None  # the new flows, when this process has them

    def is_new(self, target: Target, now: Snapshot) -> bool:
        if now.rev is not None and now.rev in self.new_revs:
            return True
        return self.payload is not None and target.runs_flows(now, self.payload)


class Reconciler:
    """Puts members back on their recorded flows; `say` prints (through the redactor)."""

    def __init__(self, target: Target, say, timeout: float, *, clock=time.monotonic, sleep=time.sleep):
        self.t, self.say, self.timeout = target, say, timeout
        self.clock, self.sleep = clock, sleep
        self.stopped = False  # a SIGTERM arrived while waiting

    def settle(self, r, before: Snapshot, expected: Expected) -> bool:
        """One try on member result `r`: True when its fate is decided (back on its recorded
        flows, or found running someone else's), False when it should be tried again."""
        try:
            self.t.reconnect(r.member)
            now = self.t.snapshot(r.member)
        except Exception as e:  # noqa: BLE001 - still away (or worse): try again later
            r.last_problem = _why(e)
            return False
        if now.rev == before.rev:
            # "unknown": away since before anyone could tell whether the deploy landed; it had not
            r.status, r.rev_after = ("unchanged" if r.status == "unknown" else "rolled-back"), now.rev
            self.say(f"  ok    {r.member}: back, running its recorded flows (rev {short(now.rev)})")
            return True
        if not expected.is_new(self.t, now):
            found = (f"runs rev {short(now.rev)}, neither its recorded nor the new flows: someone else changed it, "
                     "so it is left as it is")
            r.status, r.rev_after, r.detail = "rollback-failed", now.rev, _join(r.detail, found)
            self.say(f"  FAIL  {r.member}: back, but {found}")
            return True
        try:
            rev = self.t.rollback(r.member, before)
        except Exception as e:  # noqa: BLE001 - it may go away again: try again later
            r.last_problem = f"the rollback failed: {_why(e)}"
            self.say(f"  ...   {r.member}: on the new flows, but {r.last_problem}")
            return False
        r.status, r.rev_after = "rolled-back", rev
        self.say(f"  ok    {r.member}: was on the new flows; rolled back to rev {short(rev)}")
        return True

    def wait_for(self, pending: list, before: dict[str, Snapshot], expected: Expected) -> list:
        """Try each pending member with growing pauses until all are settled, the timeout
        passes or a SIGTERM arrives; returns the members still unsettled."""
        return self.retry(pending, lambda r: self.settle(r, before[r.member], expected), "to finish the rollback")

    def retry(self, pending: list, attempt, purpose: str) -> list:
        """Call `attempt(r)` on each pending member result until it says True, pausing 1, 2, 4
        ... 15 s between rounds, for at most the timeout; returns the ones it never did."""
        if not pending or self.timeout <= 0:
            return list(pending)
        names = ", ".join(r.member for r in pending)
        self.say(f"waiting up to {self.timeout:g}s (recover_timeout) for {names} to come back, {purpose}")
        deadline = self.clock() + self.timeout
        delay = FIRST_DELAY
        left_over = list(pending)
        with self.stop_on_term():
            while left_over and not self.stopped:
                left_over = [r for r in left_over if not attempt(r)]
                remaining = deadline - self.clock()
                if not left_over or self.stopped or remaining <= 0:
                    break
                pause = min(delay, remaining)
                for r in left_over:
                    self.say(f"  ...   {r.member}: {r.last_problem or 'not back yet'}; "
                             f"trying again in {pause:.0f}s ({remaining:.0f}s left)")
                self._pause(pause)
                delay = min(delay * 2, MAX_DELAY)
        why = "the wait was stopped (SIGTERM)" if self.stopped else f"still away after {self.timeout:g}s"
        for r in left_over:
            r.detail = _join(r.detail, f"{why}: {r.last_problem or 'not back'}")
        return left_over

    def stop_on_term(self):
        """While active a SIGTERM only sets `stopped`: a wait ends at its next tick, and a
        rollback under way (which a handler that raised would cut in half) finishes."""
        return on_sigterm(self._stop)

    def _stop(self, signum, frame) -> None:
        self.stopped = True

    def _pause(self, seconds: float) -> None:
        end = self.clock() + seconds
        while not self.stopped:
            left = end - self.clock()
            if left <= 0:
                return
            self.sleep(min(_TICK, left))


def _why(e: BaseException) -> str:
    return describe(e)[1]


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b
