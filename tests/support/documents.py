"""A local server on 127.0.0.1 that serves whatever a test puts at a path: JWK Sets, sector
documents, redirects, wrong content types, oversized bodies, and answers that drip one byte at a
time. The outside world the fetcher talks to, faked at its boundary (a real socket)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Route:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    drip: float | None = None  # seconds between bytes, from the status line on
    delay: float = 0.0  # before answering


class DocumentServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with server._lock:
                    server.hits[path] += 1
                route = server.routes.get(path, Route(status=404, headers=(("Content-Type", "text/plain"),)))
                if route.delay:
                    time.sleep(route.delay)
                head = f"HTTP/1.1 {route.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in route.headers)
                if not any(k.lower() == "content-length" for k, _ in route.headers):
                    head += f"Content-Length: {len(route.body)}\r\n"
                raw = (head + "Connection: close\r\n\r\n").encode() + route.body
                try:
                    if route.drip is None:
                        self.wfile.write(raw)
                        return
                    for i in range(len(raw)):
                        if server._stop.wait(route.drip):
                            return
                        self.wfile.write(raw[i:i + 1])
                        self.wfile.flush()
                except OSError:
                    return  # the fetcher hung up, as it should

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def put(self, path: str, document: Any = None, *, status: int = 200, content_type: str = "application/json",
            body: bytes | None = None, headers: dict[str, str] | None = None, **route: Any) -> str:
        """Serve ``document`` as JSON (or ``body`` as it is) at ``path``; returns its loopback URL."""
        data = body if body is not None else json.dumps(document).encode()
        all_headers = (("Content-Type", content_type), *(headers or {}).items())
        self.routes[path] = Route(status=status, headers=all_headers, body=data, **route)
        return self.url(path)

    def start(self) -> DocumentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


@contextmanager
def serve_documents(tls: ssl.SSLContext | None = None) -> Iterator[DocumentServer]:
    server = DocumentServer(tls).start()
    try:
        yield server
    finally:
        server.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tls_pair(tmp: Path, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for ``host``, and a client context trusting only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / f"{host}.crt", tmp / f"{host}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client
