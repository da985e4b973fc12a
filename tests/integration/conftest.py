"""Session-wide fixtures that run REAL components (see cluster.py).

A missing component FAILS the test with the install command: a skipped integration test would
let CI go green without showing anything real.
"""

from __future__ import annotations

import time

import pytest

from .cluster import ComponentFailed, ComponentMissing, Mosquitto, NginxLB, NodeRedCluster


def _start(factory, what: str):
    try:
        return factory()
    except (ComponentMissing, ComponentFailed) as e:
        message = f"{what}: {e}"
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback noise


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory):
    """A Mosquitto broker on a free loopback port: .host, .port, .log_text() (its stderr log,
    with connection and 'already connected' takeover lines), .log_path."""
    broker = _start(lambda: Mosquitto(tmp_path_factory.mktemp("mosquitto")).start(), "mosquitto")
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def node_red_cluster(tmp_path_factory):
    """Two Node-RED 4.1.15 replicas, started once per session (start-up is slow).

    .replicas: admin base URLs, one per replica; .username/.password (adminAuth);
    .static_token (bearer token valid on every replica); .token(url), .auth(url) -> headers;
    .get_flows(url) -> {flows, rev}; .deploy(url, flows, rev=None) -> rev;
    .post_flows(...) -> raw response; .deploy_all(flows); .flows_state(url);
    .get_context(url, "flow/<tab>/<key>"); .stop_replica(i) / .start_replica(i) / .is_running(i);
    .log_paths, .log_text(i); .ports; .user_dirs; .http (an httpx.Client); .startup_seconds.
    Each replica process has env HACHECK_REPLICA=<index> (flows can read env.get()).
    Tests redeploy instead of restarting; use fresh node ids, since flow context outlives a
    redeploy of the same tab id.
    """
    t0 = time.monotonic()
    cluster = _start(lambda: NodeRedCluster(tmp_path_factory.mktemp("node-red")), "node_red_cluster")
    try:
        _start(cluster.start, "node_red_cluster")
        cluster.startup_seconds = time.monotonic() - t0
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def nginx_lb(node_red_cluster, tmp_path_factory):
    """nginx round-robin over the replicas: .url (base URL), .port, .access_log() (one line per
    request, with upstream=<replica addr>)."""
    lb = _start(lambda: NginxLB(tmp_path_factory.mktemp("nginx"), node_red_cluster.ports).start(), "nginx")
    yield lb
    lb.stop()
