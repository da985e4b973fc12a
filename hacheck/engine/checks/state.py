"""HA201: nodes that remember earlier messages, fed by a load-balanced input.

Each copy of the instance runs its own copy of such a node and sees only the messages that
reached that copy, so its output is computed over part of the traffic. A stateful node that
no load-balanced input reaches (fed by a plain `mqtt in`, which every copy receives in full,
or by a timer) behaves the same on every copy and is not reported here.
"""

from __future__ import annotations

from collections.abc import Iterator

from hacheck.model.findings import Hit
from hacheck.model.flow import Node
from hacheck.analysis.paths import describe_paths, hit_paths, input_paths

# Nodes that make message sequences (msg.parts) out of one message. A node that only
# regroups a sequence (sort, join reduce, switch tail/repair) is fine when the sequence is
# made on the same copy from one incoming message, as an auto-mode join is.
SEQUENCE_MAKERS = frozenset({"split", "csv", "html", "file in", "batch"})

_DELAY_MODES = {
    "rate": "limits the message rate",
    "timed": "releases queued messages on a fixed interval",
    "queue": "queues messages per topic and releases them on an interval",
    "burst": "limits messages in bursts",
}


class Stateful:
    __slots__ = ("effect", "sequence", "state")

    def __init__(self, state: str, effect: str, sequence: bool = False):
        self.state = state  # what it remembers
        self.effect = effect  # what goes wrong with several copies
        self.sequence = sequence  # only regroups msg.parts sequences


def classify(node: Node, contrib: frozenset[str]) -> Stateful | None:
    """Why this node keeps state across messages, or None if it does not."""
    t = node.type

    def g(key: str):
        # hand-written flows put anything in a field; modes and counts are strings here
        v = node.get(key)
        return v if isinstance(v, (str, bool)) or v is None else str(v) if isinstance(v, (int, float)) else ""

    if t == "smooth":
        action = g("action") if isinstance(g("action"), str) and g("action") else "mean"
        count = g("count")
        over = f" of the last {count} values" if count not in (None, "") and action in ("mean", "max", "min", "sd") else ""
        return Stateful(f"a running {action}{over}", f"each copy computes its {action} over only the messages it receives")
    if t == "join":
        mode = g("mode") or "auto"
        if mode == "custom":
            if g("accumulate") is not True and g("count") == "" and g("useparts") is not False:
                # without a count, a custom join completes a msg.parts sequence by its own
                # count (17-split.js), like auto mode: fine when the sequence is made here
                return Stateful("joins a sequence of messages", "each copy joins only the parts of a sequence it receives", sequence=True)
            # a custom join after a `split` on the same path regroups what the split made out
            # of one message on this copy (sequence=True); without a split, or accumulating
            # across groups, it collects messages that arrive at different copies
            return Stateful("collects messages into groups", "each copy joins only the messages it receives, so a group can be split between the copies and be incomplete or late", sequence=g("accumulate") is not True)
        if mode == "reduce":
            return Stateful("reduces a sequence of messages", "each copy reduces only the parts of a sequence it receives", sequence=True)
        return None
    if t == "batch":
        mode = g("mode") or "count"
        what = {"interval": "groups messages by time", "concat": "concatenates sequences"}.get(mode, "groups messages by count")
        return Stateful(what, "each copy batches only the messages it receives, so batches are smaller or incomplete")
    if t == "sort":
        # the runtime sorts a property of one message only when targetType is "msg"
        if g("targetType") == "msg":
            return None
        return Stateful("buffers a sequence of messages to sort it", "each copy sorts only the parts of a sequence it receives", sequence=True)
    if t in ("rbe", "filter"):
        return Stateful("compares each value with the previous one per topic", "each copy compares with the last value it saw itself, so a change can be reported by both copies or by neither")
    if t == "delay":
        mode = g("pauseType") or "delay"
        if mode in _DELAY_MODES:
            return Stateful(_DELAY_MODES[mode], "each copy applies the limit to its own share, so together the copies pass the configured rate once per copy (twice the limit with two copies)")
        return None
    if t == "trigger":
        return Stateful("holds a timer between messages", "each copy has its own timer, and a message on one copy does not reset or extend the timer on the other, so both may fire")
    if t == "switch":
        return _switch(node)
    if t in contrib:
        return Stateful(f"keeps {t} state between messages", "each copy computes it over only the messages it receives")
    return None


def _switch(node: Node) -> Stateful | None:
    rules = node.get("rules")
    rules = [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []
    if any(r.get("vt") == "prev" or r.get("v2t") == "prev" for r in rules):
        return Stateful("compares with the previous value", "each copy compares with the previous value it saw itself, so the copies route the same message differently")
    # head and index look only at msg.parts.index of the message itself: no memory.
    # tail needs the sequence's count and repair rebuilds sequences: both buffer.
    if node.get("repair") is True or any(r.get("t") == "tail" for r in rules):
        return Stateful("buffers a sequence of messages", "each copy buffers only the parts of a sequence it receives", sequence=True)
    return None


def _made_on_this_copy(ctx, node: Node, paths) -> bool:
    """Each path passes through a node that makes sequences before reaching `node`."""
    by_id = ctx.flow.by_id
    for p in paths:
        steps = p.nodes[:-1] if not p.elided else ()
        if not any(by_id[n].type in SEQUENCE_MAKERS for n in steps if n in by_id and n != node.id):
            return False
    return True


def stateful_node(ctx, rule) -> Iterator[Hit]:
    if not ctx.ingress:
        return
    opts = ctx.config.rule_options(rule)
    listed = [*(opts.get("contrib_types") or ()), *(opts.get("extra_types") or ())]
    contrib = frozenset(t for t in listed if isinstance(t, str))
    types = ("smooth", "join", "batch", "sort", "rbe", "filter", "delay", "trigger", "switch", *sorted(contrib))
    flow = ctx.flow
    for node in ctx.nodes(*types):
        why = classify(node, contrib)
        if why is None:
            continue
        paths = input_paths(ctx, node)
        if not paths:
            continue
        if why.sequence and _made_on_this_copy(ctx, node, paths):
            continue
        fed, related = describe_paths(flow, paths, node.id)
        yield Hit(
            node.id,
            args={"state": why.state, "fed": fed, "effect": why.effect},
            detail=node.type,
            related=related,
            paths=hit_paths(paths),
        )
