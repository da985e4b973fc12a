"""What a split is made of: the two parts, a bridge, a moved group, a node kept in HA, the result."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit


HA, SINGLE = "ha", "singleton"


PARTS = (HA, SINGLE)


class SplitError(Exception):
    """The input cannot be split (exit 2, one line)."""


@dataclass
class Broker:
    host: str
    port: int
    tls: bool
    url: str


def parse_broker(url: str) -> Broker:
    """mqtt://host[:port] or mqtts://host[:port]; credentials in the URL are refused (they
    would be written into both parts)."""
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError as e:
        raise SplitError(f"--broker {url!r}: not a broker URL ({e})") from None
    if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not u.hostname:
        raise SplitError(f"--broker {url!r}: expected mqtt://host:port or mqtts://host:port")
    if u.username or u.password:
        raise SplitError("--broker: the URL holds a user or password; give the broker's credentials in the Node-RED instances, never in the flow")
    if u.path not in ("", "/") or u.query:
        raise SplitError(f"--broker {url!r}: a broker URL has no path or query")
    tls = u.scheme in ("mqtts", "ssl")
    return Broker(u.hostname, port or (8883 if tls else 1883), tls, f"{u.scheme}://{u.hostname}:{port or (8883 if tls else 1883)}")


@dataclass
class Bridge:
    id: str
    direction: str  # "singleton-to-ha" | "ha-to-singleton"
    source: str  # node id whose output crosses
    port: int | None  # its output port; None for a link out
    targets: list[str]
    topic: str
    nodes: dict[str, list[str]] = field(default_factory=dict)  # part -> ids of the bridge's nodes
    every_copy: bool = False  # to HA, received by every copy (a broadcast to each copy's clients)
    call: bool = False  # a link call made a project link call: the answer comes back

    @property
    def sender(self) -> str:
        return SINGLE if self.direction == "singleton-to-ha" else HA


@dataclass
class Group:
    seeds: list[str]
    nodes: list[str]
    rules: dict[str, list[str]]  # seed id -> rule ids
    resolves: list[dict]
    after: dict[str, list[str]] = field(default_factory=dict)  # seed id -> rules found after a round
    bridges: list[str] = field(default_factory=list)


@dataclass
class Kept:
    node: str
    rules: list[str]
    why: str


@dataclass
class Split:
    parts: dict[str, list[dict]]
    home: dict[str, set[str]]  # node id -> the parts it is in
    groups: list[Group]
    bridges: list[Bridge]
    kept: list[Kept]
    context: list[dict]
    notes: list[str]
    changed: dict[str, list[str]]  # part -> ids of original nodes whose fields the split changed
    rounds: int = 1


def new_id(*parts: str) -> str:
    """A Node-RED-shaped id (16 hex digits), the same on every run for the same input."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def other_part(part: str) -> str:
    return SINGLE if part == HA else HA


def as_number(v) -> float:
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else 0
