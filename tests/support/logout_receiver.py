"""A tiny e-Service back end on 127.0.0.1 that receives back-channel logout tokens.

It records every POST (path, content type, form) and answers with the statuses a test queues per
path (then 200), optionally after a delay: the e-Service side of the wire, as a real socket.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Received:
    path: str
    content_type: str
    form: dict[str, list[str]]

    @property
    def logout_token(self) -> str:
        [token] = self.form["logout_token"]
        return token


class LogoutReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: dict[str, list[int]] = defaultdict(list)
        self.delay = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("ascii", "replace")
                path = self.path.split("?")[0]
                with receiver._lock:
                    receiver.received.append(Received(path, self.headers.get("Content-Type", ""), parse_qs(body)))
                    queued = receiver.statuses[path]
                    status = queued.pop(0) if queued else 200
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]


@contextmanager
def logout_receiver() -> Iterator[LogoutReceiver]:
    receiver = LogoutReceiver()
    receiver._thread.start()
    try:
        yield receiver
    finally:
        receiver.httpd.shutdown()
        receiver.httpd.server_close()
        receiver._thread.join(5)
