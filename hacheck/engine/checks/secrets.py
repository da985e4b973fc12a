"""SEC301: secrets written into the flow file itself.

Only the names of the credential fields are ever put into a finding: its message, args,
detail and related locations never contain a value (the values are what must not leak).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from hacheck.model.findings import Hit
from hacheck.model.flow import FlowFile, Node

_PLACEHOLDER = "__PWRD__"  # what the editor sends for a password it did not change
_ENV_REF = re.compile(r"^\s*\$\{[^{}]+\}\s*$")  # a whole-value ${VAR} is resolved at start-up


def _has_value(v, depth: int = 0) -> bool:
    """A value that is (or holds) a secret; empty strings, flags and ${ENV} references are not."""
    if isinstance(v, bool) or v is None:
        return False
    if isinstance(v, str):
        s = v.strip()
        return bool(s) and s != _PLACEHOLDER and not _ENV_REF.match(s)
    if isinstance(v, (int, float)):
        return True
    if depth < 4 and isinstance(v, dict):
        return any(_has_value(x, depth + 1) for x in v.values())
    if depth < 4 and isinstance(v, list):
        return any(_has_value(x, depth + 1) for x in v)
    return False


def _fields(creds: dict) -> list[str]:
    return sorted(str(k) for k, v in creds.items() if _has_value(v))


def _holder(node: Node) -> str:
    return f"{node.type} '{node.name}'" if node.name else f"{node.type} {node.id}"


def _names(fields: list[str]) -> str:
    quoted = [f"'{f}'" for f in fields]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return f"the credential field{'s' if len(quoted) > 1 else ''} {listed}"


def credentials_in_flow(ctx, rule) -> Iterator[Hit]:
    flow = ctx.flow
    # every node, running or not: a secret in the file leaks whether the node runs or not
    for node in flow.nodes:
        creds = node.raw.get("credentials")
        if isinstance(creds, dict):
            fields = _fields(creds)
            if fields:
                yield Hit(
                    node.id,
                    args={"holder": _holder(node), "fields": _names(fields), "where": "inline in the node"},
                    path="/credentials",
                    detail="credentials:" + ",".join(fields),
                )
        env = node.raw.get("env")
        if isinstance(env, list):
            for i, e in enumerate(env):
                if isinstance(e, dict) and e.get("type") == "cred" and _has_value(e.get("value")):
                    name = e.get("name") if isinstance(e.get("name"), str) else str(i)
                    yield Hit(
                        node.id,
                        args={"holder": _holder(node), "fields": f"the environment variable '{name}'", "where": "(type credential)"},
                        path=f"/env/{i}/value",
                        detail=f"env:{name}",
                    )
    yield from _top_level(flow)


def _top_level(flow: FlowFile) -> Iterator[Hit]:
    creds = flow.credentials
    if not isinstance(creds, dict) or not creds:
        return
    if "$" in creds and isinstance(creds["$"], str):
        return  # encrypted with the instance's credentialSecret
    where = "in the top-level credentials of this " + (
        "FlowFuse snapshot" if flow.shape == "flowfuse-snapshot" else "Admin API body"
    )
    line = _credentials_line(flow)
    for nid, entry in creds.items():
        if not isinstance(entry, dict):
            continue
        fields = _fields(entry)
        if not fields:
            continue
        node = flow.by_id.get(nid)
        yield Hit(
            node.id if node is not None else None,
            args={
                "holder": _holder(node) if node is not None else f"node {nid} (not in this file)",
                "fields": _names(fields),
                "where": where,
                "_line": line,
            },
            detail=f"top:{nid}:" + ",".join(fields),
        )


def _credentials_line(flow: FlowFile) -> int | None:
    text = flow.text
    if not text:
        return None
    at = text.rfind('"credentials"')
    return text.count("\n", 0, at) + 1 if at >= 0 else None
