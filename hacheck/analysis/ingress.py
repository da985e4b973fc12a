"""Load-balanced inputs: nodes through which each copy receives only a share of the work.

A stateful node or a context write that these can reach sees only part of the messages.
A plain `mqtt in` is not here: every copy gets every message (HA101 reports that).
"""

from __future__ import annotations

from hacheck.model.flow import FlowFile, Node


# every type is_load_balanced can say yes to: the others are not looked at one by one
TYPES = frozenset({
    "http in", "project link in", "mqtt in", "ff-mqtt-in", "kafkajs-consumer", "kafka-consumer",
    "amqp-in", "amqp-in-manual-ack", "redis-in", "websocket in",
})


def is_load_balanced(node: Node, flow: FlowFile) -> bool:
    t = node.type
    if t == "http in":
        return True
    if t == "project link in":
        return True  # FlowFuse shares these subscriptions between the copies automatically
    if t in ("mqtt in", "ff-mqtt-in"):
        topic = node.get("topic")
        # $share/<group>/ (MQTT 5, Mosquitto also for 3.1.1) and EMQX's $queue/ both spread messages
        return isinstance(topic, str) and topic.startswith(("$share/", "$queue/"))
    if t == "kafkajs-consumer" or t == "kafka-consumer":
        gid = node.get("groupid") or node.get("groupId")
        return isinstance(gid, str) and bool(gid.strip())
    if t in ("amqp-in", "amqp-in-manual-ack"):
        q = node.get("queueName")
        exclusive = node.get("queueExclusive") in (True, "true")
        return isinstance(q, str) and bool(q.strip()) and not exclusive
    if t == "redis-in":
        # node-red-contrib-redis: a popped list/zset item or a stream entry read in a consumer
        # group goes to one client; (p)subscribe delivers every message to every copy
        return node.get("command") in ("blpop", "brpop", "bzpopmin", "bzpopmax", "xreadgroup")
    if t == "websocket in":
        # connections are spread by the load balancer, so each copy serves some clients
        server = flow.by_id.get(node.get("server") or "")
        return server is not None and server.type == "websocket-listener"
    return False


def describe(node: Node, flow: FlowFile | None = None) -> str:
    """A short, human name for an input: 'http in POST /avg', 'mqtt in $share/g/jobs/#'."""
    t = node.type
    if t == "http in":
        return f"http in {str(node.get('method') or 'get').upper()} {node.get('url') or ''}".rstrip()
    if t in ("mqtt in", "ff-mqtt-in", "project link in"):
        return f"{t} {node.get('topic') or ''}".rstrip()
    detail = None
    if t == "websocket in" and flow is not None:
        server = flow.by_id.get(node.get("server") or "")
        detail = server.get("path") if server is not None else None
    elif t in ("kafkajs-consumer", "kafka-consumer"):
        detail = node.get("topic")
    elif t == "redis-in":
        detail = f"{node.get('command') or ''} {node.get('topic') or ''}"
    elif t in ("amqp-in", "amqp-in-manual-ack"):
        q = node.get("queueName")
        detail = f"queue {q}" if isinstance(q, str) and q else None
    if isinstance(detail, str) and detail.strip():
        return f"{t} {detail.strip()}"
    return f"{t} '{node.name}'" if node.name else t
