"""Python checks for what the declarative `match:` language cannot say.

A rule's YAML names its check with `impl:`; the engine calls `check(ctx, rule)`, which
yields Hits. One module per concern; this table is the whole registry.
"""

from hacheck.checks import structure

CHECKS = {
    "unreadable-flow": structure.unreadable_flow,
    "not-a-flow": structure.not_a_flow,
    "duplicate-node-id": structure.duplicate_node_id,
    "dangling-reference": structure.dangling_reference,
}
