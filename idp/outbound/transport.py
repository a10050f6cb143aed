"""One request (a GET, or the POST of a form) over one connection to an address already checked,
inside one total deadline.

Built on :mod:`http.client` and :mod:`socket` rather than ``requests``: ``requests`` resolves
names itself (a second lookup after ours could answer differently), follows redirects unless told
not to at every call, and its timeout applies to each read, so a server sending a byte a second
keeps a worker for as long as it likes. Here the socket is connected to the checked address,
TLS is verified against the URL's host name (SNI and certificate), and every receive gets only
what is left of the one deadline.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from dataclasses import dataclass
from email.message import Message

from idp.outbound.addresses import IPAddress
from idp.outbound.errors import BadResponse
from idp.outbound.errors import Timeout
from idp.outbound.errors import TooLarge
from idp.outbound.errors import Unreachable

_CHUNK = 16 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline")
    return left


class _DeadlineReader(io.RawIOBase):
    """The socket's read side, each receive waiting at most until the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """What :class:`http.client.HTTPConnection` uses of a socket, bounded by one deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(_remaining(self._deadline))
        self._sock.sendall(data)

    def makefile(self, mode: str, *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        """Nothing: http.client closes the connection while the response still reads from it;
        :func:`get` closes the real socket when it is done."""


def _connect(addresses: list[IPAddress], port: int, *, host: str, tls: ssl.SSLContext | None,
             deadline: float) -> socket.socket:
    last: OSError | None = None
    for ip in addresses:
        try:
            sock = socket.create_connection((str(ip), port), timeout=_remaining(deadline))
        except TimeoutError:
            raise
        except OSError as exc:
            last = exc
            continue
        if tls is None:
            return sock
        try:
            sock.settimeout(_remaining(deadline))  # CPython's handshake keeps one deadline across its waits
            return tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
    raise Unreachable(f"Nothing answered at {host} port {port}.") from last


def get(*, host: str, port: int, target: str, addresses: list[IPAddress], tls: ssl.SSLContext | None,
        deadline: float, allowed: float, max_bytes: int, accept: str) -> Response:
    """GET ``target`` from ``host`` at one of ``addresses``; the body is read up to ``max_bytes``."""
    return request("GET", host=host, port=port, target=target, addresses=addresses, tls=tls, deadline=deadline,
                   allowed=allowed, max_bytes=max_bytes, accept=accept)


def request(method: str, *, host: str, port: int, target: str, addresses: list[IPAddress],
            tls: ssl.SSLContext | None, deadline: float, allowed: float, max_bytes: int, accept: str,
            body: bytes | None = None, content_type: str | None = None, truncate: bool = False) -> Response:
    """``method`` ``target`` at ``host`` on one of ``addresses``; the answer's body read up to ``max_bytes``.

    :param allowed: the seconds the whole fetch was given (for the message)
    :param body: sent with ``content_type`` and its ``Content-Length`` (a POST)
    :param truncate: keep the first ``max_bytes`` of a longer answer instead of refusing it (a caller
        that needs only the status: the answer to a back-channel logout)
    :raises Timeout: the monotonic ``deadline`` passed at any step
    :raises Unreachable: no connection, or the TLS handshake or certificate check failed
    :raises TooLarge: the body (declared or read) is over ``max_bytes``
    :raises BadResponse: not HTTP
    """
    default_port = 443 if tls is not None else 80
    try:
        raw = _connect(addresses, port, host=host, tls=tls, deadline=deadline)
        conn = http.client.HTTPConnection(host, port)
        conn.sock = _DeadlineSocket(raw, deadline)  # type: ignore[assignment]
        with raw:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            name = f"[{host}]" if ":" in host else host  # an IPv6 literal (RFC 9110 §7.2)
            conn.putheader("Host", name if port == default_port else f"{name}:{port}")
            conn.putheader("Accept", accept)
            conn.putheader("Accept-Encoding", "identity")
            conn.putheader("User-Agent", "idp-outbound/1")
            conn.putheader("Connection", "close")
            if body is not None:
                conn.putheader("Content-Type", content_type or "application/octet-stream")
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            declared = response.getheader("Content-Length")
            if not truncate and declared and declared.strip().isdigit() and int(declared) > max_bytes:
                raise TooLarge(f"The document is {int(declared)} bytes; the limit is {max_bytes}.")
            received = bytearray()
            while chunk := response.read(_CHUNK):
                received += chunk
                if len(received) > max_bytes:
                    if truncate:
                        del received[max_bytes:]
                        break
                    raise TooLarge(f"The document is over the limit of {max_bytes} bytes.")
            return Response(status=response.status, headers=response.msg, body=bytes(received))
    except TimeoutError as exc:
        raise Timeout(f"{host} did not send the whole document within {allowed:g} seconds.") from exc
    except ssl.SSLCertVerificationError as exc:
        raise Unreachable(f"The TLS certificate is not valid for {host}: {exc.verify_message}.") from exc
    except ssl.SSLError as exc:
        raise Unreachable(f"The TLS handshake with {host} failed.") from exc
    except http.client.HTTPException as exc:
        raise BadResponse(f"The answer from {host} is not valid HTTP.") from exc
    except OSError as exc:
        raise Unreachable(f"The connection to {host} port {port} failed.") from exc
