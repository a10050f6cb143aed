"""Which addresses the IdP may connect to when a client's URL tells it where to go (SSRF).

The rule is applied to the *resolved* address, never to the URL's text: ``getaddrinfo`` turns
``127.1``, ``0x7f.0.0.1``, ``0177.0.0.1`` and ``127.000.000.001`` into ``127.0.0.1``, and a
public-looking name can resolve inward. The caller then connects to exactly the address that
was checked, so a second lookup cannot answer differently (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from idp.outbound.errors import NotAllowed
from idp.outbound.errors import Timeout
from idp.outbound.errors import Unreachable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT: inside someone's network

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def address_problem(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """What kind of non-public address ``ip`` is (``"loopback"``, ``"private"`` …), or ``None``.

    An IPv6 address that carries an IPv4 one (``::ffff:127.0.0.1``, 6to4 ``2002:7f00:1::``) is
    judged by the IPv4 address inside. Multicast is checked apart: Python counts parts of it as
    global. ``allow_loopback`` lets only 127/8 and ``::1`` through, for development and tests.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is not None:
            return address_problem(inner, allow_loopback=allow_loopback and ip.ipv4_mapped is not None)
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    for problem, hit in (("unspecified", ip.is_unspecified), ("link-local", ip.is_link_local),
                         ("multicast", ip.is_multicast), ("shared", ip in SHARED),
                         ("reserved", ip.is_reserved), ("private", ip.is_private)):
        if hit:
            return problem
    return None if ip.is_global else "reserved"


def _lookup(host: str, port: int) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if ip not in found:
            found.append(ip)
    return found


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="idp-resolve")
        return _pool


def resolve(host: str, port: int, *, timeout: float, allow_loopback: bool = False) -> list[IPAddress]:
    """Every address ``host`` resolves to, each one allowed; refused if any one is not.

    A name that resolves to a mix of public and internal addresses is refused whole: which one
    a connection would use is not ours to guess. The lookup runs in a worker thread so that a
    slow resolver (one the registrant may run) counts against ``timeout`` like everything else.

    :raises NotAllowed: an address is not a public one
    :raises Unreachable: the name does not resolve
    :raises Timeout: the lookup took longer than ``timeout``
    """
    future = _executor().submit(_lookup, host, port)
    try:
        addresses = future.result(timeout=max(timeout, 0.001))
    except TimeoutError as exc:
        raise Timeout(f"Looking up the host {host} took too long.") from exc
    except (OSError, UnicodeError, ValueError) as exc:
        raise Unreachable(f"The host {host} could not be found (it does not resolve).") from exc
    if not addresses:
        raise Unreachable(f"The host {host} has no address.")
    for ip in addresses:
        problem = address_problem(ip, allow_loopback=allow_loopback)
        if problem:
            raise NotAllowed(f"The host {host} resolves to a {problem} address; this server fetches only from "
                             "public internet addresses.")
    return addresses
