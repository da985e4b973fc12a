"""Python checks for what the declarative `match:` language cannot say.

A rule's YAML names its check with `impl:`; the engine calls `check(ctx, rule)`, which
yields Hits. One module per concern; this table is the whole registry.
"""

from hacheck.engine.checks import (
    context_state,
    host,
    routing,
    secrets,
    state,
    structure,
    suppressions,
)

CHECKS = {
    "unreadable-flow": structure.unreadable_flow,
    "not-a-flow": structure.not_a_flow,
    "duplicate-node-id": structure.duplicate_node_id,
    "dangling-reference": structure.dangling_reference,
    "unused-suppression": suppressions.unused_suppression,
    "invalid-suppression": suppressions.invalid_suppression,
    "mqtt-fixed-client-id": routing.fixed_client_id,
    "mqtt-announcement-per-replica": routing.announcement_per_replica,
    "timer-per-replica": routing.timer_per_replica,
    "listener-per-replica": routing.listener_per_replica,
    "websocket-broadcast-partial": routing.websocket_broadcast_partial,
    "amqp-queue-per-replica": routing.amqp_queue_per_replica,
    "dashboard-in-ha": routing.dashboard_in_ha,
    "http-in-without-response": routing.http_in_without_response,
    "stateful-node": state.stateful_node,
    "context-state": context_state.context_state,
    "persistent-context-not-synchronised": context_state.persistent_context,
    "context-mutated-in-place": context_state.context_mutated_in_place,
    "local-disk-state": host.local_disk_state,
    "host-bound-output": host.host_bound_output,
    "localhost-service": host.localhost_service,
    "exclusive-session": host.exclusive_session,
    "unparsable-function-code": context_state.unparsable_function,
    "credentials-in-flow": secrets.credentials_in_flow,
}
