"""`--changed-since REF`: keep the flow files that git says changed since REF.

For big monorepos of flows, a CI job checks only what a branch touched: files that differ
between REF and the working tree (`git diff --name-only REF`, so committed, staged and unstaged
changes all count) plus untracked files that are not ignored. A file outside any git working
tree, or a machine without git, cannot be filtered: those files are all checked, and a note
says why (checking more is safe; checking nothing would let a gate pass unseen files).
"""

from __future__ import annotations

import os
import shutil
import subprocess

from hacheck.load.loader import Source, UsageError

GIT_TIMEOUT = 120  # seconds; a huge repository can take a while, a hung git must not hang CI


def filter_changed(sources: list[Source], ref: str) -> tuple[list[Source], list[str]]:
    """(the sources changed since `ref`, notes for standard error). An unknown ref is a usage
    error: a typo must not silently check nothing (or everything)."""
    if not ref or ref.startswith("-"):
        raise UsageError(f"--changed-since '{ref}': not a git revision")  # never pass an option to git
    git = shutil.which("git")
    if git is None:
        return sources, ["--changed-since: git is not installed; checking all files"]
    tops: dict[str, str | None] = {}
    changed: dict[str, set[str] | None] = {}
    notes: list[str] = []
    kept: list[Source] = []
    outside: list[str] = []
    for src in sources:
        if src.fs_path is None:  # standard input was asked for explicitly
            kept.append(src)
            continue
        real = os.path.realpath(src.fs_path)
        top = _work_tree(os.path.dirname(real), tops)
        if top is None:
            outside.append(src.path)
            kept.append(src)
            continue
        if top not in changed:
            changed[top] = _changed_files(git, top, ref, notes)
        if changed[top] is None or real in changed[top]:
            kept.append(src)
    if outside:
        more = f" and {len(outside) - 1} more" if len(outside) > 1 else ""
        notes.append(f"--changed-since: {outside[0]}{more} {'are' if more else 'is'} not in a git working tree: checked without filtering")
    return kept, notes


def _work_tree(directory: str, cache: dict[str, str | None]) -> str | None:
    """The top of the git working tree holding `directory` (where `.git` is), or None."""
    seen = []
    d = directory
    while True:
        if d in cache:
            top = cache[d]
            break
        seen.append(d)
        if os.path.exists(os.path.join(d, ".git")):  # a folder, or a file in worktrees/submodules
            top = d
            break
        parent = os.path.dirname(d)
        if parent == d:
            top = None
            break
        d = parent
    for s in seen:
        cache[s] = top
    return top


def _changed_files(git: str, top: str, ref: str, notes: list[str]) -> set[str] | None:
    """Real paths of the files changed since `ref` in the working tree at `top`; None (and a
    note) when git cannot read that repository (e.g. "dubious ownership" in a CI container)."""
    verify = _git(git, top, "rev-parse", "--verify", "--quiet", ref + "^{commit}")
    why = _first_line(verify.stderr)
    if verify.returncode != 0 and why:
        notes.append(f"--changed-since: git cannot read the repository at {top} ({why}); checking its files")
        return None
    if verify.returncode != 0:
        raise UsageError(f"--changed-since {ref}: not a revision of the git repository at {top} (in a shallow CI clone, fetch it first)")
    diff = _git(git, top, "diff", "--name-only", "-z", verify.stdout.decode().strip(), "--")
    untracked = _git(git, top, "ls-files", "--others", "--exclude-standard", "-z", "--full-name")
    for proc, what in ((diff, "git diff"), (untracked, "git ls-files")):
        if proc.returncode != 0:
            raise UsageError(f"--changed-since {ref}: {what} failed in {top}: {_first_line(proc.stderr) or proc.returncode}")
    names = (diff.stdout + untracked.stdout).split(b"\0")
    return {os.path.realpath(os.path.join(top, os.fsdecode(n))) for n in names if n}


def _git(git: str, top: str, *args: str) -> subprocess.CompletedProcess:
    try:
        # core.quotepath is irrelevant with -z; LC_ALL keeps git's messages parseable
        return subprocess.run([git, "-C", top, *args], capture_output=True, timeout=GIT_TIMEOUT, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UsageError(f"--changed-since: git failed in {top}: {e}") from None


def _first_line(data: bytes) -> str:
    lines = data.decode("utf-8", "replace").strip().splitlines()
    return lines[0][:200] if lines else ""
