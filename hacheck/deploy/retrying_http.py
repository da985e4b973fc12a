"""HTTP with timeouts and retries for the transient failures only.

Retried: connection errors, timeouts, HTTP 5xx, and 429 (the one 4xx that means "try again
later"). Never retried: any other 4xx (a wrong token or a 409 conflict does not get better by
asking again) and TLS certificate failures (a wrong certificate does not either). The delay
doubles from `backoff` seconds. After the last attempt a transport failure becomes StepFailed;
an HTTP error status is returned to the caller, which knows what it means.
"""

from __future__ import annotations

import ssl
import time

import httpx

from hacheck.deploy.base import ConfigurationError, StepFailed

MAX_DELAY = 30.0


def tls_verify(verify_tls: bool = True, ca_file: str | None = None):
    """The `verify` argument for httpx: on by default, a CA bundle, or off when asked."""
    if ca_file:
        try:
            return ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as e:
            raise ConfigurationError(f"ca_file {ca_file}: cannot be loaded: {getattr(e, 'strerror', None) or e}") from None
    return bool(verify_tls)


class RetryingHttp:
    def __init__(self, *, timeout: float = 30.0, retries: int = 3, backoff: float = 0.5, verify=True,
                 sleep=time.sleep, transport: httpx.BaseTransport | None = None):
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.last_attempts = 0  # attempts the last request took (a retried POST may have landed)
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=verify,
            transport=transport,
            follow_redirects=False,  # a redirect could send the Authorization header elsewhere
            trust_env=True,  # CI runners behind a proxy set HTTPS_PROXY / NO_PROXY
            headers={"User-Agent": "hacheck-deploy"},
        )

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        attempts = self.retries + 1
        maybe_sent = False  # did any attempt possibly reach the server?
        for attempt in range(1, attempts + 1):
            self.last_attempts = attempt
            last = attempt == attempts
            try:
                response = self.client.request(method, url, **kw)
            except httpx.TimeoutException as e:
                maybe_sent = maybe_sent or not isinstance(e, (httpx.ConnectTimeout, httpx.PoolTimeout))
                if last:
                    raise StepFailed("timeout", f"{method} {url}: no answer in time ({_what(e)}) after {attempt} attempt(s)",
                                     applied=maybe_sent) from None
            except httpx.TransportError as e:
                if _is_certificate_error(e):
                    raise StepFailed("tls", f"{method} {url}: TLS certificate not trusted ({_what(e)}); "
                                            "set ca_file in the target (or verify_tls: false for a test system)",
                                     applied=maybe_sent) from None
                maybe_sent = maybe_sent or not isinstance(e, httpx.ConnectError)
                if last:
                    raise StepFailed("unreachable", f"{method} {url}: cannot connect ({_what(e)}) after {attempt} attempt(s)",
                                     applied=maybe_sent) from None
            else:
                if not (response.status_code >= 500 or response.status_code == 429) or last:
                    return response
                maybe_sent = maybe_sent or response.status_code >= 500
            self.sleep(min(self.backoff * (2 ** (attempt - 1)), MAX_DELAY))
        raise AssertionError("unreachable")  # the loop always returns or raises

    def close(self) -> None:
        self.client.close()


def _what(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:200]


def _is_certificate_error(e: BaseException) -> bool:
    seen = 0
    cur: BaseException | None = e
    while cur is not None and seen < 10:
        if isinstance(cur, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(cur):
            return True
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return False
