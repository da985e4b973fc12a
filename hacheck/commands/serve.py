"""`hacheck serve`: the engine as a local HTTP service, for the Node-RED editor plugin and
anything else that checks flows often (the catalogue and configuration are loaded once).

    POST /check[?name=flows.json]   body: a flow in any shape the loader reads
                                    -> the JSON report, version 1: the bytes `hacheck check
                                       NAME -f json` prints for the same file and configuration
    POST /fix?rule=R&node=N[&name=] body: a flow, as for /check
                                    -> {"edits": [{"node", "field", "value", "rule"}], "notes"}:
                                       what `hacheck fix` would change for that finding, as
                                       values (the editor applies them as one undoable edit);
                                       nothing is written
    GET  /rules                     -> the catalogue, as `hacheck rules -f json`
    GET  /rules/<id or name>        -> {"id", "name", ..., "docs", "markdown"}: `hacheck explain`
    GET  /health                    -> {"status": "ok", "version", "rules"}

The standard library's ThreadingHTTPServer in front of a pool of worker processes
(serve_pool.py), not an ASGI stack: a check is CPU-bound Python, so the cores are used by
processes, not by threads or an event loop; the HTTP side only parses, admits and forwards; and
a linter installed in CI images should not pull a web framework (docs/ARCHITECTURE.md).

Under load: the listen backlog is as deep as the system allows (so a burst of connections is
queued by the kernel, not refused), a thread per connection parses the request, and a check is
admitted only while fewer than `--workers + --queue` are running or waiting; the others get 503
with Retry-After before their body is read (so at most that many bodies are held), and what the
client sent is read and dropped before the connection closes (closing with unread data would
reset it, and the client would see a reset instead of the 503).

Safety: loopback by default; anything else needs a bearer token (read from an environment
variable, never a command-line value that `ps` shows); bodies over the limit get 413 and are
dropped unparsed;
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
from urllib.parse import parse_qs, unquote, urlsplit

from hacheck.commands.serve_pool import CheckFailed, PoolError, WorkerDied, WorkerPool

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
DEFAULT_MAX_BODY_MB = 50.0  # a 100k-node flow is 45 MB pretty-printed
DEFAULT_QUEUE = 32  # checks waiting for a worker; with 5-50 ms checks, well under a second
MAX_NAME = 200
IDLE_TIMEOUT = 30.0  # seconds a connection may sit between reads: a slow or idle client frees its thread
DRAIN_SECONDS = 2.0  # how long an unused body is read and dropped before the connection closes
BACKLOG = 65535  # the listen queue: the kernel caps it at what it allows (Linux: net.core.somaxconn)


class ServeError(Exception):
    """The service cannot start as asked: exit 2."""


class Service:
    """What every request shares: the configuration and the rule catalogue, loaded once, and
    the worker pool that runs the checks."""

    def __init__(self, config, rules, token: str | None, max_body: int, pool):
        self.config, self.rules, self.token, self.max_body, self.pool = config, rules, token, max_body, pool

    def catalogue(self) -> bytes:
        from hacheck.reporters.docs import rule_summary

        return json.dumps([rule_summary(r) for r in self.rules], indent=2).encode()

    def rule(self, key: str) -> bytes | None:
        from hacheck.reporters.docs import find_rule, rule_markdown, rule_summary

        found = find_rule(self.rules, key)
        if found is None:
            return None
        docs = {k: found.docs[k] for k in ("what", "why", "use_instead", "known_limits") if found.docs.get(k)}
        return json.dumps({**rule_summary(found), "fix_title": found.fix.get("title"), "docs": docs,
                           "markdown": rule_markdown(found)}, indent=2).encode()


def make_handler(service: Service, log=None):
    log = log or sys.stderr

    class Handler(BaseHTTPRequestHandler):
        server_version = "hacheck-serve"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        timeout = IDLE_TIMEOUT

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
            return self._problem(404, "no such endpoint: GET /health, /rules, /rules/<id>; POST /check, /fix")

        def do_POST(self):  # noqa: N802
            if not self._authorised():
                return
            url = urlsplit(self.path)
            if url.path not in ("/check", "/fix"):
                return self._problem(404, "no such endpoint: POST /check, /fix")
            query = parse_qs(url.query)
            target = ((query.get("rule") or [""])[0][:MAX_NAME], (query.get("node") or [""])[0][:MAX_NAME])
            if url.path == "/fix" and not all(target):
                return self._problem(400, "POST /fix needs ?rule=<rule id>&node=<node id>")
            length = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or length is None:
                return self._problem(411, "send the flow with a Content-Length")
            try:
                n = int(length)
            except ValueError:
                return self._problem(400, "bad Content-Length")
            if n < 0:
                return self._problem(400, "bad Content-Length")
            self._unread = n
            if n > service.max_body:
                return self._problem(413, f"the flow is larger than the limit of {service.max_body} bytes (--max-body)")
            pool = service.pool
            if not pool.admit():
                return self._problem(503, "busy: every worker is checking and the queue is full; try again later",
                                     {"Retry-After": str(pool.retry_after())})
            try:
                data = self.rfile.read(n)
                self._unread = 0
                if len(data) < n:  # the client went away mid-body: nobody to answer
                    self.close_connection = True
                    return None
                name = (query.get("name") or ["flows.json"])[0][:MAX_NAME] or "flows.json"
                try:
                    body = pool.check(name, data) if url.path == "/check" else pool.fix(name, data, *target)
                except WorkerDied:
                    return self._problem(500, "the worker checking this flow stopped before answering; another replaces it")
                except CheckFailed as e:
                    # the exception's text may quote the flow: its type only
                    return self._problem(500, f"internal error {e} while checking")
                del data
                return self._send(200, body)
            finally:
                pool.release()

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
            pending = self.command == "POST" and getattr(self, "_unread", None) != 0
            if pending:
                # answered before the body was read: what is left of it must not be taken for
                # the next request on this connection
                self.close_connection = True
                headers = {**(headers or {}), "Connection": "close"}
            self._send(status, json.dumps({"error": message, "status": status}).encode(), headers)
            if pending:
                self._discard(_declared_length(self.headers) if self._unread is None else self._unread)

        def _discard(self, n: int) -> None:
            """Read and drop up to n bytes the client is still sending, for DRAIN_SECONDS at most,
            64 KiB at a time: a socket closed with unread data sends a reset, which can reach
            the client before it has read the answer."""
            deadline = time.monotonic() + DRAIN_SECONDS
            try:
                self.wfile.flush()
                while n > 0 and time.monotonic() < deadline:
                    self.connection.settimeout(max(0.01, deadline - time.monotonic()))
                    chunk = self.rfile.read1(min(n, 65536))
                    if not chunk:
                        break
                    n -= len(chunk)
            except OSError:
                pass  # the client went: nothing to protect

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
            self._unread = None  # the body's bytes not read yet (None: not known)
            return super().parse_request()

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = BACKLOG

    def __init__(self, address, handler, pool, log):
        self.pool, self.log = pool, log
        super().__init__(address, handler)

    def server_close(self):
        super().server_close()
        self.pool.stop()

    def handle_error(self, request, client_address):
        # the standard library prints a traceback (a client that hung up mid-answer, under
        # load): one line, naming no part of the request
        exc = sys.exc_info()[1]
        self.log.write(f"hacheck serve: connection dropped ({type(exc).__name__})\n")
        self.log.flush()


def build(host: str, port: int, config_file: str | None, token_env: str | None, max_body_mb: float,
          fail_on: str | None = None, rule_dirs=(), log=None, workers: int | None = None,
          queue: int = DEFAULT_QUEUE) -> Server:
    """A bound server with its workers started (not yet serving); ServeError when it must not
    start. Stop it with server_close(), which stops the workers too."""
    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise ServeError(f"environment variable {token_env} (--token-env) is not set or empty")
    if token is None and not _loopback(host):
        raise ServeError(f"--host {host} is not a loopback address: set --token-env so requests need a token")
    from hacheck.engine.catalog import CatalogError, load_catalog
    from hacheck.config.files import ConfigError, check_rule_refs, load_config
    from hacheck.run.parallel import default_jobs

    try:  # as `hacheck check` configures itself, from the working directory
        config = load_config([], config_file, {"fail_on": fail_on, "rule_packs": tuple(rule_dirs)})
        rules = load_catalog(config.rule_packs)
        check_rule_refs(config, rules)
    except (ConfigError, CatalogError) as e:
        raise ServeError(str(e)) from None
    _raise_open_files_limit()
    pool = WorkerPool(config, rules, workers or default_jobs(), queue, log=log or sys.stderr)
    service = Service(config, rules, token, int(max_body_mb * 1024 * 1024), pool)
    try:
        server = Server((host, port), make_handler(service, log), pool, log or sys.stderr)
    except OSError as e:
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    try:
        pool.start()
    except PoolError as e:
        server.server_close()
        raise ServeError(str(e)) from None
    return server


def _raise_open_files_limit() -> None:
    """Every connection is a file descriptor: take the hard limit, not the (often 1,024) soft one."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20
        if soft != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass  # not allowed here: the soft limit stays


def _declared_length(headers) -> int:
    """The body length a request announces, 0 when it announces none we can trust."""
    if headers.get("Transfer-Encoding"):
        return 0
    try:
        return max(0, int(headers.get("Content-Length", "0")))
    except ValueError:
        return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
