"""Keep secrets out of every line hacheck deploy prints or writes to the audit log.

The code never formats a secret on purpose; this is the second line of defence against a
server that echoes a request back in an error message. Values shorter than MIN_LEN are not
replaced (masking every "1" or "on" would garble the output and hide nothing).
"""

from __future__ import annotations

MIN_LEN = 4
MASK = "***"


class Redactor:
    def __init__(self, secrets=()):
        self._secrets: set[str] = set()
        self._sources: list = []
        self.add(*secrets)

    def add(self, *values) -> None:
        for v in values:
            if isinstance(v, str) and len(v) >= MIN_LEN:
                self._secrets.add(v)

    def watch(self, source) -> None:
        """`source()` returns secrets that may appear later (an access token obtained mid-run);
        it is asked again before every use."""
        self._sources.append(source)

    def __call__(self, text: str) -> str:
        for source in self._sources:
            self.add(*source())
        # longest first, so a secret that contains another is masked whole
        for s in sorted(self._secrets, key=len, reverse=True):
            if s in text:
                text = text.replace(s, MASK)
        return text

    def value(self, obj):
        """The same, through a JSON-like structure (for the audit record)."""
        if isinstance(obj, str):
            return self(obj)
        if isinstance(obj, dict):
            return {k: self.value(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        return obj


def credential_values(flows: list, credentials: object = None) -> list[str]:
    """Every string inside per-node `credentials`, a top-level `credentials` object, and the
    values of `env` entries of type cred (tabs, subflows, groups, subflow instances)."""
    out: list[str] = []

    def walk(v) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for node in flows:
        if not isinstance(node, dict):
            continue
        if "credentials" in node:
            walk(node["credentials"])
        env = node.get("env")
        if isinstance(env, list):
            for entry in env:
                if isinstance(entry, dict) and entry.get("type") == "cred":
                    walk(entry.get("value"))
    walk(credentials)
    return out
