"""`hacheck deploy`: the gate in front of an HA cluster (gate.py: the steps, and `run`, the command).

A target kind is one module with one `base.Target` subclass, registered here and in
hacheck/schemas/targets.schema.json (its `kind` enum and an if/then block for its keys).
"""

from __future__ import annotations

from hacheck.deploy.flowfuse import FlowFuseTarget
from hacheck.deploy.node_red import NodeRedTarget

KINDS = {
    NodeRedTarget.kind: NodeRedTarget,
    FlowFuseTarget.kind: FlowFuseTarget,
}
