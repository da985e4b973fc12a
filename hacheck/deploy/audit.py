"""The deploy audit log: one JSON object per line, appended, never a secret.

A record holds: time, who ran it (login and CI commit when known), the flows file and its
sha256, the check summary, the target, each member's rev before and after and what happened
to it, and the outcome. It names environment variables, never their values; every string goes
through the Redactor as well.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import os

from hacheck import __version__

DEFAULT_AUDIT_LOG = ".hacheck-deploy.log"

# commit / run identifiers CI systems set (public values, useful to trace a deploy)
_CI_VARS = ("GITHUB_SHA", "GITHUB_RUN_ID", "CI_COMMIT_SHA", "CI_PIPELINE_ID", "BUILD_SOURCEVERSION", "GIT_COMMIT")


class AuditError(Exception):
    """The audit log cannot be written: exit 2 (before anything changed, if found early)."""


def ensure_writable(path: str) -> None:
    """Open for append once before changing anything, so a deploy never ends unrecorded."""
    try:
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise AuditError(f"audit log {path}: cannot be written: {e.strerror or e}") from None


def append(path: str, record: dict, redact) -> None:
    line = json.dumps(redact.value(record), ensure_ascii=False, sort_keys=False)
    try:
        # a file name that is not UTF-8 must not lose the record after the deploy has run
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as e:
        raise AuditError(f"audit log {path}: cannot be written: {e.strerror or e}") from None


def base_record(target, flows_path: str, sha256: str | None, dry_run: bool) -> dict:
    rec = {
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tool": f"hacheck {__version__}",
        "user": _user(),
        "target": target.name if target is not None else None,
        "kind": target.kind if target is not None else None,
        "flows_file": flows_path,
        "flows_sha256": sha256,
        "dry_run": dry_run,
    }
    ci = {k: os.environ[k] for k in _CI_VARS if os.environ.get(k)}
    if ci:
        rec["ci"] = ci
    return rec


def check_summary(result) -> dict:
    counts = result.counts()
    return {**counts, "suppressed": result.suppressed_count, "fail_on": result.config.fail_on, "failed": result.failed()}


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers: the record still counts
        return None
