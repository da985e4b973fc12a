"""What a check can ask about the flow it is looking at. Expensive answers are computed once."""

from __future__ import annotations

from functools import cached_property

from hacheck.model.config import Config
from hacheck.model.flow import FlowFile, Node


class RuleContext:
    def __init__(self, flow: FlowFile, config: Config):
        self.flow = flow
        self.config = config
        self._js: dict[tuple[str, str], object] = {}
        # per-flow results shared between rules (e.g. the context index); they live and die
        # with this context, so nothing keeps a checked flow alive afterwards
        self.shared: dict[str, object] = {}

    def nodes(self, *types: str, running: bool = True):
        """Nodes of the given types (all types if none), in file order."""
        flow = self.flow
        if types:
            found = [n for t in types for n in flow.by_type.get(t, ())]
            found.sort(key=lambda n: n.index)
        else:
            found = list(flow.by_id.values())
        if not running:
            return found
        run = flow.running
        return [n for n in found if n.id in run]

    @cached_property
    def graph(self):
        from hacheck.analysis.graph import FlowGraph

        return FlowGraph(self.flow)

    @cached_property
    def ingress(self) -> list[str]:
        """Graph vertices of the load-balanced inputs: where each copy gets a share of the work."""
        from hacheck.analysis.ingress import TYPES, is_load_balanced

        g, flow = self.graph, self.flow
        found = [n for t in TYPES for n in flow.by_type.get(t, ()) if is_load_balanced(n, flow)]
        return sorted(v for n in found for v in g.vertices_of.get(n.id, ()))

    @cached_property
    def effects(self):
        """What each node does to the world and which effects its messages reach."""
        from hacheck.effects import Effects
        from hacheck.effects.catalogue import merged

        return Effects(self.flow, self.graph, merged(self.config.effects))

    @cached_property
    def trace(self):
        return self.graph.trace(self.ingress)

    def js(self, node: Node, field: str):
        """The JavaScript analysis of one code field of a node (cached per node and field)."""
        key = (node.id, field)
        if key not in self._js:
            from hacheck.analysis import js

            self._js[key] = js.analyze(node.raw.get(field))
        return self._js[key]
