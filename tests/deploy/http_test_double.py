"""TEST DOUBLE: a scripted HTTP server on loopback, for the retry and backoff tests.

It answers each request with the next scripted reply (status, JSON body, optional delay before
answering) and records what it received. Not a model of any real server.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.http_json import send_json


@dataclass
class Reply:
    status: int = 200
    body: object = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (to provoke a client read timeout)


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes


class ScriptedServer:
    """`with ScriptedServer([Reply(503), Reply(200, {...})]) as srv: srv.url ...`; after the
    script runs out, the last reply repeats."""

    def __init__(self, replies: list[Reply]):
        self.replies = list(replies)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer._lock:
                    outer.received.append(Received(self.command, self.path, dict(self.headers), body))
                    reply = outer.replies.pop(0) if len(outer.replies) > 1 else outer.replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    send_json(self, reply.status, reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
