"""The worker processes behind `hacheck serve`: checks on every core, a bounded wait, no orphan.

A check is CPU-bound Python, so one process serves one core whatever its threads do. The pool
starts `workers` processes once, each holding the configuration and catalogue it was given
(sent over its pipe at start, so every worker checks with exactly what the
service loaded, even if the files change later) and its own caches (function-node analyses). A request takes an idle
worker, sends it the flow over a pipe and gets the report's bytes back.

Admission is decided before a body is read: at most `workers + queue` checks are admitted at
once (running or waiting for a worker), so at most that many bodies are held in memory; the
rest are told to come back (`retry_after`, from the recent check time).

A worker that dies is replaced by a watcher thread; the request it was running gets an error
(`WorkerDied`), the others go on. Workers ignore Ctrl-C (the terminal sends it to the whole
process group): the service stops them itself (`stop`), and a worker whose service is gone
for any reason (even SIGKILL) reads the end of its pipe and exits, so none is left behind.
Spawned, not forked: the service has threads by the time a worker is replaced, and a fork
copies their locks but not their owners.
"""

from __future__ import annotations

import math
import queue as queue_mod
import signal
import threading
import time

READY_TIMEOUT = 120.0  # seconds a new worker may take to import hacheck and say it is ready
STOP_GRACE = 5.0  # seconds workers get to exit after SIGTERM before SIGKILL


class PoolError(Exception):
    """The pool cannot start (a worker did not come up)."""


class WorkerDied(Exception):
    """The worker running this check stopped before answering (killed, out of memory)."""


class CheckFailed(Exception):
    """The check raised in the worker; the message is the exception's type only (its text may
    quote the flow)."""


def check_bytes(config, rules, name: str, data: bytes) -> bytes:
    """The JSON report of one posted flow: the bytes `hacheck check NAME -f json` prints."""
    from io import StringIO

    from hacheck.load.loader import parse_bytes
    from hacheck.reporters import json_report
    from hacheck.run.runner import RunResult, check_one, unknown_types_notes

    flow = parse_bytes(name, data)
    one = check_one(flow, rules, config)
    result = RunResult([one], rules, config, notes=unknown_types_notes([one]))
    out = StringIO()
    json_report.render(result, out)
    return out.getvalue().encode("utf-8", "backslashreplace")


def fix_bytes(config, rules, name: str, data: bytes, rule_id: str, node_id: str) -> bytes:
    """{"edits": [{node, field, value, rule}], "notes": [...]}: what `hacheck fix` would change
    in the posted flow for one finding, as values for the editor to set; nothing is written."""
    import json

    from hacheck.commands.fix import FixError, edits_for
    from hacheck.load.loader import parse_bytes

    flow = parse_bytes(name, data)
    try:
        edits, notes = edits_for(flow, config, rules, rule_id, node_id)
    except FixError as e:
        edits, notes = [], [f"not fixed: {e}"]
    doc = {"edits": [{"node": e.node_id, "field": e.field, "value": e.value, "rule": e.rule_id} for e in edits], "notes": notes}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "backslashreplace")


JOBS = {"check": check_bytes, "fix": fix_bytes}


def _worker_main(conn) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when its workers stop
    try:
        config, rules = conn.recv()  # from the service, over this pipe only
    except (EOFError, OSError):
        return
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the service is gone
        if job is None:
            return
        kind, args = job
        try:
            answer = ("ok", JOBS[kind](config, rules, *args))
        except Exception as e:  # noqa: BLE001 - one bad flow must not stop the worker
            answer = ("error", type(e).__name__)
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return


class _Worker:
    def __init__(self, ctx, setup: tuple):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child,), name="hacheck-serve-worker", daemon=True)
        self.process.start()
        child.close()  # only the worker holds its end: when the worker dies, recv here sees EOF
        try:
            # over the pipe, not as the process's arguments: multiprocessing writes those to a
            # pipe whose reading end it keeps open until done, so a worker that died while
            # starting would block that write (and the service) forever
            self.conn.send(setup)
        except OSError:
            self.kill()
            raise PoolError(f"a worker exited while starting (exit code {self.process.exitcode})") from None
        if not self.conn.poll(READY_TIMEOUT):
            self.kill()
            raise PoolError(f"a worker did not start within {READY_TIMEOUT:.0f} s")
        try:
            self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise PoolError(f"a worker exited while starting (exit code {self.process.exitcode})") from None

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(STOP_GRACE)
        self.conn.close()


class WorkerPool:
    def __init__(self, config, rules, workers: int, queue: int, log=None):
        import multiprocessing

        self._ctx = multiprocessing.get_context("spawn")
        self._setup, self._log = (config, rules), log
        self.workers, self.queue = workers, queue
        self._idle: queue_mod.LifoQueue[_Worker] = queue_mod.LifoQueue()  # the last worker used has the warmest caches
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._admitted = 0
        self._mean_s = 0.05  # recent check time, for Retry-After
        self._stopping = threading.Event()
        self.replaced = 0

    def start(self) -> None:
        try:
            for _ in range(self.workers):
                w = _Worker(self._ctx, self._setup)
                self._all.append(w)
                self._idle.put(w)
        except BaseException:
            self.stop()
            raise
        threading.Thread(target=self._watch, name="hacheck-serve-watcher", daemon=True).start()

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._all if w.pid is not None]

    # admission: how many checks (and so bodies) the service holds at once

    def admit(self) -> bool:
        with self._lock:
            if self._admitted >= self.workers + self.queue:
                return False
            self._admitted += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def retry_after(self) -> int:
        """Seconds until the checks admitted now are likely done (at least 1)."""
        with self._lock:
            return max(1, math.ceil(self._admitted * self._mean_s / self.workers))

    def check(self, name: str, data: bytes) -> bytes:
        """Run one admitted check on the next idle worker."""
        return self.run("check", name, data)

    def fix(self, name: str, data: bytes, rule_id: str, node_id: str) -> bytes:
        """The edits that fix one finding of the posted flow (an admitted job, like a check)."""
        return self.run("fix", name, data, rule_id, node_id)

    def run(self, kind: str, *args) -> bytes:
        while True:
            w = self._idle.get()
            try:
                w.conn.send((kind, args))
            except (OSError, ValueError):
                continue  # it died while idle (nothing of this check was run): the watcher replaces it
            t0 = time.perf_counter()
            try:
                status, value = w.conn.recv()
            except (EOFError, OSError, ValueError):
                raise WorkerDied from None  # not put back: the watcher replaces it
            self._idle.put(w)
            took = time.perf_counter() - t0
            with self._lock:
                self._mean_s = 0.8 * self._mean_s + 0.2 * took
            if status == "ok":
                return value
            raise CheckFailed(value)

    def _watch(self) -> None:
        from multiprocessing.connection import wait

        while not self._stopping.is_set():
            with self._lock:
                by_sentinel = {w.process.sentinel: w for w in self._all}
            for sentinel in wait(list(by_sentinel), timeout=0.5):
                if self._stopping.is_set():
                    return
                self._replace(by_sentinel[sentinel])

    def _replace(self, dead: _Worker) -> None:
        dead.process.join(STOP_GRACE)
        code = dead.process.exitcode
        try:
            new = _Worker(self._ctx, self._setup)
        except PoolError as e:
            self._say(f"worker {dead.pid} stopped (exit code {code}) and its replacement did not start: {e}")
            time.sleep(1.0)  # the dead one's sentinel stays ready: try again after a pause
            return
        with self._lock:
            if self._stopping.is_set():
                new.kill()
                return
            self._all[self._all.index(dead)] = new
            self.replaced += 1
        dead.conn.close()
        self._idle.put(new)
        self._say(f"worker {dead.pid} stopped (exit code {code}); worker {new.pid} replaces it")

    def stop(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after a grace period) and wait for them."""
        self._stopping.set()
        with self._lock:
            workers = list(self._all)
        for w in workers:
            if w.process.is_alive():
                w.process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            w.kill()

    def _say(self, line: str) -> None:
        if self._log is not None:
            self._log.write(f"hacheck serve: {line}\n")
            self._log.flush()
