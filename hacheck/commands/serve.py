"""`hacheck serve`: the engine as a local HTTP service, for the Node-RED editor plugin and
anything else that checks flows often (the catalogue and configuration are loaded once).

    POST /check[?name=flows.json]   body: a flow in any shape the loader reads
                                    -> the JSON report, version 1: the bytes `hacheck check
                                       NAME -f json` prints for the same file and configuration
    GET  /rules                     -> the catalogue, as `hacheck rules -f json`
    GET  /rules/<id or name>        -> {"id", "name", ..., "markdown"}: `hacheck explain`
    GET  /health                    -> {"status": "ok", "version", "rules"}

The standard library's ThreadingHTTPServer, not an ASGI stack: a check is CPU-bound Python
(threads or an event loop give the same throughput under the GIL), the service is local and
small, and it adds no dependency to a linter installed in CI images (docs/ARCHITECTURE.md).

Safety: loopback by default; anything else needs a bearer token (read from an environment
variable, never a command-line value that `ps` shows); bodies over the limit get 413 unread;
a posted flow is never written to disk or logged (the log line is method, path, status, size,
time), and a report quotes no credential (the same reporters as the CLI).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
DEFAULT_MAX_BODY_MB = 50.0  # a 100k-node flow is 45 MB pretty-printed
MAX_NAME = 200


class ServeError(Exception):
    """The service cannot start as asked: exit 2."""


class Service:
    """What every request shares: the configuration and the rule catalogue, loaded once."""

    def __init__(self, config, rules, token: str | None, max_body: int):
        self.config, self.rules, self.token, self.max_body = config, rules, token, max_body

    def check(self, name: str, data: bytes) -> bytes:
        from hacheck.load.loader import parse_bytes
        from hacheck.reporters import json_report
        from hacheck.run.runner import RunResult, check_one

        flow = parse_bytes(name, data)
        result = RunResult([check_one(flow, self.rules, self.config)], self.rules, self.config)
        out = StringIO()
        json_report.render(result, out)
        return out.getvalue().encode("utf-8", "backslashreplace")

    def catalogue(self) -> bytes:
        from hacheck.reporters.docs import rule_summary

        return json.dumps([rule_summary(r) for r in self.rules], indent=2).encode()

    def rule(self, key: str) -> bytes | None:
        from hacheck.reporters.docs import find_rule, rule_markdown, rule_summary

        found = find_rule(self.rules, key)
        if found is None:
            return None
        return json.dumps({**rule_summary(found), "markdown": rule_markdown(found)}, indent=2).encode()


def make_handler(service: Service, log=None):
    log = log or sys.stderr

    class Handler(BaseHTTPRequestHandler):
        server_version = "hacheck-serve"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - the stdlib's naming
            if not self._authorised():
                return
            path = urlsplit(self.path).path
            if path == "/health":
                from hacheck import __version__

                return self._send(200, json.dumps({"status": "ok", "version": __version__, "rules": len(service.rules)}).encode())
            if path == "/rules":
                return self._send(200, service.catalogue())
            if path.startswith("/rules/"):
                body = service.rule(unquote(path[len("/rules/"):]))
                return self._send(200, body) if body else self._problem(404, "no such rule")
            return self._problem(404, "no such endpoint: GET /health, /rules, /rules/<id>; POST /check")

        def do_POST(self):  # noqa: N802
            if not self._authorised():
                return
            url = urlsplit(self.path)
            if url.path != "/check":
                return self._problem(404, "no such endpoint: POST /check")
            length = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or length is None:
                return self._problem(411, "send the flow with a Content-Length")
            try:
                n = int(length)
            except ValueError:
                return self._problem(400, "bad Content-Length")
            if n < 0:
                return self._problem(400, "bad Content-Length")
            if n > service.max_body:
                return self._problem(413, f"the flow is larger than the limit of {service.max_body} bytes (--max-body)")
            data = self.rfile.read(n)
            self._body_read = True
            name = (parse_qs(url.query).get("name") or ["flows.json"])[0][:MAX_NAME] or "flows.json"
            try:
                body = service.check(name, data)
            except Exception as e:  # noqa: BLE001 - one bad request must not stop the service
                # the exception's text may quote the flow: name the type only
                return self._problem(500, f"internal error {type(e).__name__} while checking")
            return self._send(200, body)

        def _authorised(self) -> bool:
            if service.token is None:
                return True
            given = self.headers.get("Authorization", "")
            expected = f"Bearer {service.token}"
            if hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
                return True
            self._problem(401, "missing or wrong bearer token", {"WWW-Authenticate": 'Bearer realm="hacheck"'})
            return False

        def _problem(self, status: int, message: str, headers: dict | None = None) -> None:
            if self.command == "POST" and not getattr(self, "_body_read", False):
                # answered before the body was read: what is left of it must not be taken for
                # the next request on this connection
                self.close_connection = True
                headers = {**(headers or {}), "Connection": "close"}
            self._send(status, json.dumps({"error": message, "status": status}).encode(), headers)

        def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_request(self, code="-", size="-"):
            # method and path only (never the body, never a header: the token is one)
            path = urlsplit(self.path).path if isinstance(self.path, str) else "?"
            took = time.perf_counter() - getattr(self, "_t0", time.perf_counter())
            log.write(f"hacheck serve: {self.command} {path} {code} ({took * 1000:.0f} ms)\n")
            log.flush()

        def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
            pass  # errors the server logs itself could quote a request line: log_request is enough

        def parse_request(self):
            self._t0 = time.perf_counter()
            self._body_read = False
            return super().parse_request()

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def build(host: str, port: int, config_file: str | None, token_env: str | None, max_body_mb: float,
          fail_on: str | None = None, rule_dirs=(), log=None) -> Server:
    """A bound server (not yet serving); ServeError when it must not start."""
    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise ServeError(f"environment variable {token_env} (--token-env) is not set or empty")
    if token is None and not _loopback(host):
        raise ServeError(f"--host {host} is not a loopback address: set --token-env so requests need a token")
    from hacheck.engine.catalog import CatalogError, load_catalog
    from hacheck.config.files import ConfigError, check_rule_refs, load_config

    try:  # as `hacheck check` configures itself, from the working directory
        config = load_config([], config_file, {"fail_on": fail_on, "rule_packs": tuple(rule_dirs)})
        rules = load_catalog(config.rule_packs)
        check_rule_refs(config, rules)
    except (ConfigError, CatalogError) as e:
        raise ServeError(str(e)) from None
    service = Service(config, rules, token, int(max_body_mb * 1024 * 1024))
    try:
        return Server((host, port), make_handler(service, log))
    except OSError as e:
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
