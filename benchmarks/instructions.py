"""Instructions executed by one check: compare versions of hacheck on a noisy machine.

    python -m benchmarks.instructions                   # the working tree, 10k-node flow
    python -m benchmarks.instructions 4cb0281 HEAD      # commits side by side
    python -m benchmarks.instructions --size 1000 HEAD .

Wall time on a shared VM drifts by up to 30% from one minute to the next, so a change worth 3%
cannot be seen in it. valgrind's callgrind counts the instructions a process executes, and for
the same code, input and hash seed that count repeats to within a few parts per million,
whatever else the machine is doing. It runs the check about 50 times slower, so a mid-size flow
is the default. Instructions are not seconds: cache misses, page faults and system time are
not in them. Confirm a gain that matters with `python -m benchmarks.run`.

Each revision other than `.` (the working tree) is checked out into a temporary git worktree.
Every tree gets one plain run first, which compiles its bytecode and fills the catalogue cache,
so the counted run does the work a user's second run does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.run import REPO, data_dir, flow_file

_COLLECTED = re.compile(r"^==\d+== Collected : (\d+)$", re.MULTILINE)


@dataclass
class Count:
    label: str  # as asked: "." or a revision
    commit: str  # what it resolved to ("working tree" for ".")
    startup: int  # `python -m hacheck --version`
    total: int  # `python -m hacheck check --preview -j 1 -f json ... FLOW`
    findings: int

    @property
    def check(self) -> int:
        return self.total - self.startup


class Failed(Exception):
    pass


def collected(stderr: str) -> int:
    """The total that callgrind prints when the process ends."""
    m = _COLLECTED.search(stderr)
    if m is None:
        raise Failed("callgrind printed no instruction count:\n" + stderr[-2000:])
    return int(m.group(1))


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"  # string hashes decide set and dict layouts, and so the count
    env["PYTHONPATH"] = str(tree)  # this tree's hacheck, not the installed one
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(cmd: list[str], tree: Path, counted: bool) -> subprocess.CompletedProcess:
    if counted:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd]
    p = subprocess.run(cmd, cwd=tree, env=_env(tree), capture_output=True, text=True, check=False)
    if p.returncode not in (0, 1):  # 1: the flow has findings, as the generated ones do
        raise Failed(f"{' '.join(cmd)} exited with {p.returncode}:\n{p.stderr[-2000:]}")
    return p


def count(tree: Path, label: str, commit: str, flow: Path, out: Path) -> Count:
    version = [sys.executable, "-m", "hacheck", "--version"]
    check = [sys.executable, "-m", "hacheck", "check", "--preview", "-j", "1", "-f", "json", "-o", str(out), str(flow)]
    _run(check, tree, counted=False)  # compile bytecode, fill the catalogue cache
    startup = collected(_run(version, tree, counted=True).stderr)
    total = collected(_run(check, tree, counted=True).stderr)
    findings = len(json.loads(out.read_text("utf-8"))["findings"])
    return Count(label, commit, startup, total, findings)


def _resolve(rev: str) -> str:
    p = subprocess.run(["git", "rev-parse", "--short", f"{rev}^{{commit}}"], cwd=REPO, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise Failed(f"{rev}: not a revision of this repository")
    return p.stdout.strip()


def measure(revs: list[str], flow: Path) -> list[Count]:
    out: list[Count] = []
    with tempfile.TemporaryDirectory(prefix="hacheck-instr-") as tmp:
        report = Path(tmp) / "report.json"
        for i, rev in enumerate(revs):
            if rev == ".":
                out.append(count(REPO, rev, "working tree", flow, report))
                continue
            commit = _resolve(rev)
            tree = Path(tmp) / f"tree{i}"
            # no post-checkout hook of the user's: this checkout is ours, not theirs
            subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "-q", str(tree), commit], cwd=REPO, check=True)
            try:
                out.append(count(tree, rev, commit, flow, report))
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False)
    return out


def table(counts: list[Count]) -> str:
    first = counts[0]
    lines = [
        f"{'revision':<14} {'commit':<13} {'startup':>10} {'check':>14} {'change':>8} {'findings':>9}",
    ]
    for c in counts:
        change = round((c.check - first.check) / first.check * 100, 2) + 0.0 if first.check else 0.0  # no -0.00%
        lines.append(f"{c.label:<14} {c.commit:<13} {c.startup / 1e6:>9,.1f}M {c.check / 1e6:>13,.1f}M {change:>+7.2f}% {c.findings:>9,}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__.split("\n")[0])
    ap.add_argument("revs", nargs="*", default=["."], help="git revisions, or . for the working tree [default: .]")
    ap.add_argument("--size", type=int, default=10_000, help="nodes in the generated flow [default: 10000]")
    ap.add_argument("--data", help="where generated flows are kept [default: <user cache>/hacheck/bench]")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("benchmarks.instructions: valgrind not found (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    flow = flow_file(data_dir(args.data), args.size)
    print(f"instructions of `hacheck check --preview -j 1 -f json` on {flow.name} (startup: `hacheck --version`)", flush=True)
    try:
        counts = measure(args.revs, flow)
    except Failed as e:
        print(f"benchmarks.instructions: {e}", file=sys.stderr)
        return 2
    print(table(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
