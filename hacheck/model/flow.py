"""The flow as the Node-RED runtime sees it: tabs, subflows, groups, config nodes, and what runs.

Semantics follow the runtime (see NODE-RED.md, section 1): a node with a position is a flow
node, one without is a config node; `d: true` disables a node, `disabled: true` a tab; the
nodes of a subflow run once per running instance; a config node runs when a running node
uses it (users are found by scanning property values for the config node's id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

STRUCTURAL = frozenset({"tab", "subflow", "group"})
_NEVER_CONFIG = STRUCTURAL | {"junction"}
_NOT_REFERENCES = frozenset({"id", "z", "g", "wires", "type"})  # properties that never name a config node
# a function node's code fields, as the editor's tabs name them
CODE_FIELD_WORDS = {"func": "On Message", "initialize": "On Start", "finalize": "On Stop"}


class Node:
    """One element of the flows array. `z`, `g`, `name`, `disabled` and `is_config` are read
    from `raw` once, here: rules ask for them hundreds of thousands of times on a big flow, and a flow
    is never edited in memory, so they cannot go stale. (A plain class: a dataclass's
    generated __init__ plus __post_init__ cost twice as much per node.)"""

    __slots__ = ("raw", "id", "type", "index", "line", "offset", "z", "g", "name", "disabled", "is_config")

    def __init__(self, raw: dict, id: str, type: str, index: int, line: int | None = None, offset: int | None = None):
        self.raw, self.id, self.type, self.index = raw, id, type, index
        self.line = line
        self.offset = offset  # where the node's JSON object starts in FlowFile.text
        z, g, name = raw.get("z"), raw.get("g"), raw.get("name")
        self.z = z if z.__class__ is str and z else None  # the tab or subflow it sits on
        self.g = g if g.__class__ is str and g else None  # its group
        self.name = name if name.__class__ is str else ""
        self.disabled = raw.get("d") is True  # `d: true`; a tab says `disabled: true` instead
        # the runtime decides by position; hand-written flows often omit x/y but keep wires
        self.is_config = type not in _NEVER_CONFIG and not ("x" in raw or "wires" in raw)

    def __repr__(self) -> str:
        return f"Node(id={self.id!r}, type={self.type!r}, index={self.index}, line={self.line})"

    @property
    def label(self) -> str:
        """How a person recognises the node: its name, else its type."""
        return self.name or self.type

    @property
    def wires(self) -> list[list[str]]:
        """Output ports, each a list of target ids; malformed entries are dropped."""
        w = self.raw.get("wires")
        if not isinstance(w, list):
            return []
        return [[t for t in port if isinstance(t, str)] if isinstance(port, list) else [] for port in w]

    def get(self, key: str, default=None):
        return self.raw.get(key, default)


@dataclass(slots=True)
class LoadProblem:
    """Found while reading the file: becomes an HC00x finding through the engine."""

    rule: str  # "HC001" | "HC002" | "HC003"
    message: str
    node_id: str | None = None
    line: int | None = None


@dataclass(eq=False)
class FlowFile:
    path: str  # as shown in reports (relative, POSIX)
    shape: str  # "array" | "admin-api-v2" | "flowfuse-snapshot" | "unreadable"
    nodes: list[Node] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    credentials: object = None  # top-level `credentials` of an Admin API / snapshot body
    text: str | None = None  # the decoded file, kept for `fix`

    def __post_init__(self) -> None:
        self.by_id: dict[str, Node] = {}
        self.duplicates: list[Node] = []
        for n in self.nodes:
            if n.id in self.by_id:
                self.duplicates.append(n)
            else:
                self.by_id[n.id] = n

    # --- structure -------------------------------------------------------------------------

    @cached_property
    def tabs(self) -> dict[str, Node]:
        return {i: n for i, n in self.by_id.items() if n.type == "tab"}

    @cached_property
    def subflows(self) -> dict[str, Node]:
        return {i: n for i, n in self.by_id.items() if n.type == "subflow"}

    @cached_property
    def by_type(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for n in self.by_id.values():
            out.setdefault(n.type, []).append(n)
        return out

    @cached_property
    def children(self) -> dict[str, list[Node]]:
        """Nodes by the tab or subflow (`z`) they belong to."""
        out: dict[str, list[Node]] = {}
        for n in self.by_id.values():
            z = n.z
            if z is not None:
                out.setdefault(z, []).append(n)
        return out

    @cached_property
    def instances(self) -> dict[str, list[Node]]:
        """Subflow id -> its instance nodes (`subflow:<id>`)."""
        out: dict[str, list[Node]] = {}
        for n in self.by_id.values():
            if n.type.startswith("subflow:"):
                out.setdefault(n.type[8:], []).append(n)
        return out

    def container(self, node: Node) -> Node | None:
        """The tab or subflow definition the node sits on."""
        return self.by_id.get(node.z) if node.z else None

    def tab_label(self, node: Node) -> str | None:
        c = self.container(node) if node.type not in ("tab", "subflow") else node
        if c is None:
            return None
        if c.type == "subflow":
            return f"subflow {c.name or c.id}"
        label = c.raw.get("label")
        return label if isinstance(label, str) and label else c.id

    def group_chain(self, node: Node) -> list[Node]:
        """The groups around a node, innermost first (groups nest through `g`)."""
        out, seen, g = [], set(), node.g
        while g and g not in seen:
            seen.add(g)
            grp = self.by_id.get(g)
            if grp is None or grp.type != "group":
                break
            out.append(grp)
            g = grp.g
        return out

    # --- what runs ---------------------------------------------------------------------------

    @cached_property
    def config_ids(self) -> frozenset[str]:
        return frozenset(i for i, n in self.by_id.items() if n.is_config)

    @cached_property
    def config_users(self) -> dict[str, list[Node]]:
        """Config node id -> nodes that name it in a property (as the runtime finds users)."""
        ids = self.config_ids
        out: dict[str, list[Node]] = {}
        if not ids:
            return out
        skip = _NOT_REFERENCES
        # every property of every node: the membership test comes first, as almost no value
        # is a config id (this loop is the bulk of the model's cost on a big flow)
        for n in self.by_id.values():
            nid = n.id
            for k, v in n.raw.items():
                if isinstance(v, str):
                    if v in ids and v != nid and k not in skip:
                        out.setdefault(v, []).append(n)
                elif isinstance(v, list) and k not in skip:
                    for item in v:
                        if isinstance(item, str) and item in ids and item != nid:
                            out.setdefault(item, []).append(n)
        return out

    @cached_property
    def running(self) -> frozenset[str]:
        """Ids of the flow and config nodes that the runtime would start."""
        active_subflows = self._active_subflows()
        run: set[str] = set()
        by_id = self.by_id
        container_runs: dict[str, bool] = {}  # by the node's z: a flow has few tabs and subflows
        for n in by_id.values():
            if n.is_config or n.disabled or n.type in STRUCTURAL:
                continue
            z = n.z
            if z is None:
                run.add(n.id)  # no container: a partial export without its tab
                continue
            ok = container_runs.get(z)
            if ok is None:
                ok = container_runs[z] = self._container_runs(n, active_subflows)
            if ok:
                run.add(n.id)
        # config nodes run when a running node (or a running config node) uses them
        users = self.config_users
        pending = [c for c in self.config_ids]
        changed = True
        while changed:
            changed = False
            rest = []
            for cid in pending:
                c = self.by_id[cid]
                if c.disabled or not self._container_runs(c, active_subflows):
                    continue
                if any(u.id in run for u in users.get(cid, ())):
                    run.add(cid)
                    changed = True
                else:
                    rest.append(cid)
            pending = rest
        return frozenset(run)

    def runs(self, node: Node | str) -> bool:
        return (node if isinstance(node, str) else node.id) in self.running

    def _container_runs(self, n: Node, active_subflows: set[str]) -> bool:
        c = self.container(n)
        if c is None:
            return True  # global config node, or a partial export without its tab
        if c.type == "tab":
            return c.raw.get("disabled") is not True
        if c.type == "subflow":
            return c.id in active_subflows
        return True

    def _active_subflows(self) -> set[str]:
        """Subflows with at least one instance that runs (instances may sit in other subflows)."""
        active: set[str] = set()
        changed = True
        while changed:
            changed = False
            for sid, insts in self.instances.items():
                if sid in active or sid not in self.subflows:
                    continue
                for inst in insts:
                    if inst.disabled:
                        continue
                    c = self.container(inst)
                    if c is None or (c.type == "tab" and c.raw.get("disabled") is not True) or (
                        c.type == "subflow" and c.id in active
                    ):
                        active.add(sid)
                        changed = True
                        break
        return active
