"""Check many flow files on several processes, with the same result as one process.

A fleet of flow files (a monorepo of Node-RED projects) is checked file by file, and the files
are independent, so they are spread over a process pool. Each worker takes a contiguous run of
the files (in the order given), checks them exactly as the serial loop does, and sends back
its results and the state of its own `Suppressor`; the parent merges the states in file order,
so HC005 (a config suppression that matched nothing) is judged on every file, as in a serial
run. The results are sorted by path afterwards, whatever finished first.

A pool costs tens of milliseconds to start, so a single file, a few files, or standard input
are checked in this process (`worth_it`).
"""

from __future__ import annotations

import dataclasses
import os
import sys

MIN_FILES = 4  # fewer files are checked serially: the pool's start-up would dominate
MIN_BYTES = 256 * 1024  # ...and so is a set of small files that one process checks in a blink
CHUNKS_PER_JOB = 4  # several runs per worker even out files of different sizes

_state: dict = {}  # the worker's config, rules and options, set once by _init


def default_jobs() -> int:
    """The CPUs this process may run on (its affinity: taskset, a cpuset), else all of them."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worth_it(sources, jobs: int) -> bool:
    if jobs < 2 or len(sources) < MIN_FILES:
        return False
    if any(s.fs_path is None for s in sources):
        return False  # standard input can only be read by this process
    return sum(_size(s) for s in sources) >= MIN_BYTES


def _size(src) -> int:
    try:
        return os.stat(src.fs_path).st_size
    except OSError:
        return 0


def chunks(sources, n: int) -> list[list]:
    """Up to `n` contiguous runs of the sources with about the same number of bytes each."""
    sizes = [_size(s) + 4096 for s in sources]  # a small file still costs an open and a parse
    target = sum(sizes) / max(1, n)
    out: list[list] = [[]]
    acc = 0.0
    for src, size in zip(sources, sizes):
        if out[-1] and acc + size / 2 > target and len(out) < n:
            out.append([])
            acc = 0.0
        out[-1].append(src)
        acc += size
    return out


def check_in_pool(sources, config, rules, suppressor, jobs: int, skip_non_flows: bool = False) -> list:
    """FileResults of all sources (in no particular order); merges each worker's suppression
    state into `suppressor`, in file order."""
    workers = min(jobs, len(sources))
    runs = chunks(sources, workers * CHUNKS_PER_JOB)
    # fork shares the loaded catalogue with the workers for free; elsewhere (macOS, Windows)
    # fork is unsafe or missing, and spawn pickles the config and rules once per worker
    import multiprocessing  # only here: importing it costs more than checking a small flow

    method = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(workers, initializer=_init, initargs=(config, rules, skip_non_flows)) as pool:
        outputs = pool.map(_work, runs, chunksize=1)
    results = []
    for file_results, state in outputs:
        results.extend(file_results)
        merge_suppressor(suppressor, state)
    return results


def _init(config, rules, skip_non_flows) -> None:
    _state.update(config=config, rules=rules, skip_non_flows=skip_non_flows)


def _work(run):
    from hacheck.run.check_file import check_serial
    from hacheck.config.suppress import Suppressor

    config, rules = _state["config"], _state["rules"]
    suppressor = Suppressor(rules, config)
    results, _ = check_serial(run, config, rules, suppressor, skip_non_flows=_state["skip_non_flows"])
    return results, suppressor_state(suppressor)


def suppressor_state(suppressor) -> tuple[list[dict], list[str]]:
    """Every field of every config entry (flags and where its scope was first seen)."""
    entries = [{f.name: getattr(e, f.name) for f in dataclasses.fields(e)} for e in suppressor.entries]
    return entries, list(suppressor.notes)


def merge_suppressor(suppressor, state) -> None:
    """Fold a worker's view into the run's: a flag (used, seen) is true if any file set it; a
    value first found in a file (where an entry's scope is) is kept from the earliest file."""
    entries, notes = state
    for mine, theirs in zip(suppressor.entries, entries):
        for name, value in theirs.items():
            current = getattr(mine, name)
            if isinstance(value, bool):
                setattr(mine, name, current or value)
            elif current is None and value is not None:
                setattr(mine, name, value)
    suppressor.notes.extend(n for n in notes if n not in suppressor.notes)
