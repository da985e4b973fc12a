"""In-memory flow context is per replica: behind a round-robin load balancer, a counter kept
in `flow` context diverges across the two copies of the same flow (the fact behind the
HA rules on context and stateful nodes)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from .cluster import wait_http

pytestmark = pytest.mark.integration

REQUESTS = 20

COUNTER_FUNC = (
    "let c = (flow.get('count')||0)+1;\n"
    "flow.set('count', c);\n"
    # replica: which copy answered (HACHECK_REPLICA is set per process by the fixture)
    "msg.payload = {count: c, replica: env.get('HACHECK_REPLICA')};\n"
    "return msg;"
)


def counter_flow() -> tuple[str, list[dict]]:
    """http in GET /count -> function (flow-context counter) -> http response, plus a
    stateless GET /count-ready route to see that the deployed flow is serving.
    Fresh ids on every call: flow context outlives a redeploy of the same tab id."""
    sfx = uuid.uuid4().hex[:8]
    tab = f"tab-{sfx}"
    ids = {k: f"{k}-{sfx}" for k in ("in", "fn", "out", "rin", "rout")}
    return tab, [
        {"id": tab, "type": "tab", "label": "counter", "disabled": False, "info": "", "env": []},
        {"id": ids["in"], "type": "http in", "z": tab, "name": "", "url": "/count", "method": "get",
         "upload": False, "swaggerDoc": "", "x": 120, "y": 80, "wires": [[ids["fn"]]]},
        {"id": ids["fn"], "type": "function", "z": tab, "name": "count", "func": COUNTER_FUNC,
         "outputs": 1, "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [],
         "x": 300, "y": 80, "wires": [[ids["out"]]]},
        {"id": ids["out"], "type": "http response", "z": tab, "name": "", "statusCode": "",
         "headers": {}, "x": 480, "y": 80, "wires": []},
        {"id": ids["rin"], "type": "http in", "z": tab, "name": "", "url": "/count-ready",
         "method": "get", "upload": False, "swaggerDoc": "", "x": 120, "y": 160,
         "wires": [[ids["rout"]]]},
        {"id": ids["rout"], "type": "http response", "z": tab, "name": "", "statusCode": "204",
         "headers": {}, "x": 300, "y": 160, "wires": []},
    ]


def wait_serving(url: str, timeout: float = 120.0) -> None:
    """POST /flows answers before the new flows run: poll the stateless route."""
    wait_http(f"{url}/count-ready", 204, timeout, "the deployed flow")


def test_flow_context_counter_diverges_across_replicas(node_red_cluster, nginx_lb):
    cluster = node_red_cluster
    tab, flows = counter_flow()
    revs = cluster.deploy_all(flows)
    assert revs[0] == revs[1], "the same flows should hash to the same rev on every replica"
    for url in cluster.replicas:
        wait_serving(url)

    seen: dict[str, list[int]] = {}
    with httpx.Client(timeout=30, trust_env=False) as client:
        for _ in range(REQUESTS):
            r = client.get(f"{nginx_lb.url}/count")
            assert r.status_code == 200, r.text
            body = r.json()
            seen.setdefault(body["replica"], []).append(body["count"])

    # Round-robin: each copy served half, and each counted only its own half.
    assert sorted(seen) == ["0", "1"], seen
    for replica, counts in seen.items():
        assert counts == list(range(1, REQUESTS // 2 + 1)), (replica, counts)
    assert max(c for counts in seen.values() for c in counts) == REQUESTS // 2  # never 20

    # Read each replica's own context by its own port: two different truths, 10 and 10.
    for url in cluster.replicas:
        ctx = cluster.get_context(url, f"flow/{tab}/count")
        assert ctx == {"msg": str(REQUESTS // 2), "format": "number"}, (url, ctx)
