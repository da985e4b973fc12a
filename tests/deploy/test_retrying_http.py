"""Retries with exponential backoff for transient failures only, against a scripted loopback
server (http_test_double.py, a TEST DOUBLE): what is retried, how often, how long between."""

from __future__ import annotations

import socket
import ssl

import pytest

from hacheck.deploy.base import ConfigurationError, StepFailed
from hacheck.deploy.retrying_http import MAX_DELAY, RetryingHttp, tls_verify

from .http_test_double import Reply, ScriptedServer


def client(retries=3, backoff=0.5, timeout=5.0):
    sleeps: list[float] = []
    return RetryingHttp(timeout=timeout, retries=retries, backoff=backoff, sleep=sleeps.append), sleeps


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_5xx_is_retried_with_doubling_delays_until_it_succeeds():
    http, sleeps = client()
    with ScriptedServer([Reply(503), Reply(502), Reply(200, {"ok": True})]) as srv:
        r = http.request("GET", f"{srv.url}/flows")
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert len(srv.received) == 3
    assert sleeps == [0.5, 1.0]
    assert http.last_attempts == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
def test_4xx_is_never_retried(status):
    http, sleeps = client()
    with ScriptedServer([Reply(status, {"code": "x"}), Reply(200)]) as srv:
        r = http.request("POST", f"{srv.url}/flows", json={"flows": []})
    assert r.status_code == status
    assert len(srv.received) == 1 and sleeps == []


def test_429_is_the_one_4xx_that_is_retried():
    http, sleeps = client()
    with ScriptedServer([Reply(429), Reply(200)]) as srv:
        assert http.request("GET", f"{srv.url}/x").status_code == 200
    assert len(srv.received) == 2 and sleeps == [0.5]


def test_persistent_5xx_returns_the_last_answer_after_all_attempts():
    http, sleeps = client(retries=2, backoff=0.1)
    with ScriptedServer([Reply(500, {"error": "still broken"})]) as srv:
        r = http.request("GET", f"{srv.url}/x")
    assert r.status_code == 500 and len(srv.received) == 3
    assert sleeps == [0.1, 0.2]


def test_retries_zero_means_one_attempt():
    http, sleeps = client(retries=0)
    with ScriptedServer([Reply(503), Reply(200)]) as srv:
        assert http.request("GET", f"{srv.url}/x").status_code == 503
    assert len(srv.received) == 1 and sleeps == []


def test_refused_connection_fails_as_unreachable_and_certainly_not_applied():
    http, sleeps = client(retries=2)
    with pytest.raises(StepFailed) as e:
        http.request("POST", f"http://127.0.0.1:{closed_port()}/flows", json={})
    assert e.value.reason == "unreachable"
    assert e.value.applied is False  # the request never left: nothing can have changed
    assert "after 3 attempt(s)" in e.value.message
    assert sleeps == [0.5, 1.0]


def test_read_timeout_is_retried_and_may_have_been_applied():
    http, sleeps = client(retries=1, timeout=0.3)
    with ScriptedServer([Reply(200, delay=1.5)]) as srv:
        with pytest.raises(StepFailed) as e:
            http.request("POST", f"{srv.url}/flows", json={})
    assert e.value.reason == "timeout"
    assert e.value.applied is True  # the server got it: it may have acted on it
    assert len(srv.received) == 2 and sleeps == [0.5]


def test_backoff_is_capped():
    http, sleeps = client(retries=4, backoff=20)
    with pytest.raises(StepFailed):
        http.request("GET", f"http://127.0.0.1:{closed_port()}/x")
    assert sleeps == [20, MAX_DELAY, MAX_DELAY, MAX_DELAY]


def test_redirects_are_not_followed():
    # following one could carry the Authorization header to another host
    http, _ = client()
    with ScriptedServer([Reply(302)]) as srv:
        assert http.request("GET", f"{srv.url}/x", headers={"Authorization": "Bearer t"}).status_code == 302
    assert len(srv.received) == 1


def test_tls_verification_is_on_by_default(tmp_path):
    assert tls_verify() is True
    assert tls_verify(verify_tls=False) is False
    with pytest.raises(ConfigurationError, match="ca_file"):
        tls_verify(ca_file=str(tmp_path / "missing.pem"))
    http = RetryingHttp()
    # httpx keeps the SSL context it was given; verification on means CERT_REQUIRED
    ctx = http.client._transport._pool._ssl_context
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
