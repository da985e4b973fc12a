"""Node-RED Admin API behaviour that a replica-by-replica deploy gate relies on, on the real
two-replica cluster: auth, rev hashing, 409 on a stale rev, the load balancer reaching one
replica only, and a restarted replica coming back with its stored flows."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration


def inject_flow(label: str) -> list[dict]:
    """A tab with one idle inject node: harmless, and the label makes versions tell apart."""
    sfx = uuid.uuid4().hex[:8]
    tab = f"tab-{sfx}"
    return [
        {"id": tab, "type": "tab", "label": label, "disabled": False, "info": "", "env": []},
        {"id": f"inj-{sfx}", "type": "inject", "z": tab, "name": "", "props": [],
         "repeat": "", "crontab": "", "once": False, "onceDelay": 0.1, "topic": "",
         "x": 120, "y": 80, "wires": [[]]},
    ]


def labels(cluster, url: str) -> list[str]:
    return [n["label"] for n in cluster.get_flows(url)["flows"] if n["type"] == "tab"]


def test_auth_is_required_and_checked(node_red_cluster):
    url = node_red_cluster.replicas[0]
    assert httpx.get(f"{url}/flows", trust_env=False).status_code == 401
    r = httpx.post(f"{url}/auth/token", trust_env=False, data={
        "client_id": "node-red-admin", "grant_type": "password", "scope": "*",
        "username": node_red_cluster.username, "password": "wrong"})
    assert r.status_code == 403
    assert node_red_cluster.token(url)  # the right password works


def test_same_flows_same_rev_and_stale_rev_is_rejected(node_red_cluster):
    c = node_red_cluster
    v1 = inject_flow("v1")
    revs = c.deploy_all(v1)
    assert revs[0] == revs[1]  # rev = sha256 of the flows: equal content, equal rev
    url = c.replicas[0]
    assert c.get_flows(url)["rev"] == revs[0]

    rev2 = c.deploy(url, inject_flow("v2"), rev=revs[0])  # the right rev: accepted
    r = c.post_flows(url, inject_flow("v3"), rev=revs[0])  # now stale
    assert r.status_code == 409 and r.json()["code"] == "version_mismatch", r.text
    assert c.get_flows(url)["rev"] == rev2 and labels(c, url) == ["v2"]  # unchanged


def test_deploy_through_the_load_balancer_reaches_one_replica_only(node_red_cluster, nginx_lb):
    c = node_red_cluster
    c.deploy_all(inject_flow("before"))
    token = {"Authorization": f"Bearer {c.static_token}"}  # valid on both replicas
    r = c.post_flows(nginx_lb.url, inject_flow("through-lb"), headers=token)
    assert r.status_code == 200, r.text
    assert sorted(labels(c, u) for u in c.replicas) == [["before"], ["through-lb"]]


def test_restarted_replica_comes_back_with_its_stored_flows(node_red_cluster, nginx_lb):
    c = node_red_cluster
    revs = c.deploy_all(inject_flow("persisted"))
    c.stop_replica(1)
    try:
        assert not c.is_running(1)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{c.replicas[1]}/auth/login", trust_env=False)
        # the load balancer routes around the dead replica
        for _ in range(4):
            assert httpx.get(f"{nginx_lb.url}/auth/login", trust_env=False).status_code == 200
    finally:
        c.start_replica(1)
    assert c.flows_state(c.replicas[1]) == "start"
    assert c.get_flows(c.replicas[1])["rev"] == revs[1]
    assert labels(c, c.replicas[1]) == ["persisted"]
