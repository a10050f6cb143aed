"""The one way the IdP fetches a document from a URL that a client registered.

``jwks_uri`` and ``sector_identifier_uri`` (and the POST of a back-channel logout token to a
``backchannel_logout_uri``, :meth:`Fetcher.post_form`), anything added later: the URL, the resolved
address, the time, the size, the status, the content type and the JSON are checked here once,
and the answer is cached, so no caller can forget a rule and no unauthenticated request can make
the IdP fetch more than the caches allow.
"""

from __future__ import annotations

import ipaddress
import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

from idp import clock
from idp.outbound import transport
from idp.outbound.addresses import IPAddress
from idp.outbound.addresses import resolve
from idp.outbound.errors import BadResponse
from idp.outbound.errors import FetchError
from idp.outbound.errors import NotAllowed
from idp.outbound.errors import Timeout

JSON = ("application/json",)
JWK_SET = ("application/jwk-set+json", "application/json")  # RFC 7517 §8.5.1, and what most servers send

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,12})", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-store|no-cache)(?:$|[,\s=])", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """Bounds on one fetch and on how long its answer is kept (the ``OUTBOUND_*`` settings)."""

    deadline: float = 3.0  # seconds for resolving, connecting, TLS, headers and body together
    max_bytes: int = 64 * 1024
    min_ttl: float = 60.0  # a success is kept at least this long, whatever Cache-Control says …
    max_ttl: float = 24 * 3600.0  # … and at most this long
    default_ttl: float = 300.0  # without max-age
    failure_ttl: float = 30.0


@dataclass(frozen=True)
class _Target:
    host: str  # ASCII (IDNA): sent as Host and SNI, and what the certificate must name
    port: int
    path: str
    tls: bool


def _is_loopback(ip: IPAddress) -> bool:
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


@dataclass(frozen=True)
class _Entry:
    value: Any
    error: FetchError | None
    expires: float
    fetched: float  # monotonic: lets a caller that waited for the lock see this fetch is newer than its call

    def result(self) -> Any:
        if self.error is not None:
            raise type(self.error)(str(self.error))  # a fresh exception: re-raising one instance grows its traceback
        return self.value


def ttl_of(cache_control: str | None, limits: Limits) -> float:
    """Seconds to keep a success: ``max-age`` within the bounds, ``no-store``/``no-cache`` the least."""
    header = cache_control or ""
    match = _MAX_AGE.search(header)
    if _NO_CACHE.search(header):
        seconds = 0.0
    elif match:
        seconds = float(match.group(1))
    else:
        seconds = limits.default_ttl
    return min(max(seconds, limits.min_ttl), limits.max_ttl)


def parse_target(url: str, *, allow_loopback: bool) -> _Target:
    """The host (IDNA), port, path and scheme of ``url``, if its form is one this server fetches."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise NotAllowed(f"{url!r} is not a valid URL.") from exc
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise NotAllowed(f"{url!r} has no host.")
    if parts.username is not None or parts.password is not None:
        raise NotAllowed(f"{url!r} must not carry a user name or password.")
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_loopback):
        raise NotAllowed(f"{url!r} must use https.")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise NotAllowed(f"The host of {url!r} is not a valid name.") from exc
    tls = parts.scheme == "https"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(host=host, port=port or (443 if tls else 80), path=path, tls=tls)


def check_url(url: str, *, allow_loopback: bool, timeout: float) -> tuple[_Target, list[IPAddress]]:
    """Apply the URL and address rules; the target and the addresses to connect to (resolved once).

    :raises NotAllowed: the scheme, form or a resolved address is not allowed
    :raises Unreachable: the host does not resolve
    :raises Timeout: the lookup took longer than ``timeout``
    """
    target = parse_target(url, allow_loopback=allow_loopback)
    addresses = resolve(target.host, target.port, timeout=timeout, allow_loopback=allow_loopback)
    if not target.tls and not all(_is_loopback(ip) for ip in addresses):
        raise NotAllowed(f"{url!r} must use https (http only for this computer, in development).")
    return target, addresses


class Fetcher:
    """Fetches JSON from client-controlled URLs within :class:`Limits`; one per application.

    Results are cached per URL: a success for as long as its ``Cache-Control`` says (within the
    bounds), a failure for ``failure_ttl``. At most one fetch per URL is in flight in this process:
    others wait for its result (bounded by the same deadline) instead of fetching again.

    :param allow_loopback: let ``http`` and loopback addresses through, only for an IdP whose own
        issuer is loopback (development and tests; ``OUTBOUND_ALLOW_LOOPBACK``)
    :param ssl_context: the CAs to trust (the system's by default)
    :param now: wall-clock seconds for cache expiry (the IdP's clock, which tests can move)
    """

    def __init__(self, *, allow_loopback: bool = False, limits: Limits | None = None,
                 ssl_context: ssl.SSLContext | None = None, now: Callable[[], float] = clock.timestamp) -> None:
        self.allow_loopback = allow_loopback
        self.limits = limits or Limits()
        self._tls = ssl_context
        self._now = now
        self._entries: dict[tuple[str, tuple[str, ...]], _Entry] = {}
        self._locks: dict[tuple[str, tuple[str, ...]], threading.Lock] = {}
        self._refreshed: dict[str, float] = {}
        self._guard = threading.Lock()

    # -- public surface -----------------------------------------------------------------------------

    def fetch_json(self, url: str, *, media_types: tuple[str, ...] = JSON, refresh: bool = False) -> Any:
        """The JSON document at ``url``, from the cache when it is still fresh.

        :param media_types: the content types accepted (parameters such as ``charset`` ignored)
        :param refresh: fetch again even if a success is cached (a failure still cached is raised
            again: it is not retried before ``failure_ttl``); a failed refresh keeps the old success
        :raises FetchError: one of its subclasses, with a message the agency can act on
        """
        key = (url, media_types)
        called = time.monotonic()
        entry = self._fresh(key)
        if entry is not None and (not refresh or entry.error is not None):
            return entry.result()
        lock = self._lock(key)
        if not lock.acquire(timeout=self.limits.deadline + 1.0):
            raise Timeout(f"{url} is being fetched already and the answer did not come in time.")
        try:
            entry = self._fresh(key)
            if entry is not None and (entry.fetched >= called or not refresh or entry.error is not None):
                return entry.result()  # another request fetched it while this one waited
            try:
                value, ttl = self._fetch(url, media_types)
            except FetchError as exc:
                if not (refresh and entry is not None):
                    self._store(key, _Entry(None, exc, self._now() + self.limits.failure_ttl, time.monotonic()))
                raise
            self._store(key, _Entry(value, None, self._now() + ttl, time.monotonic()))
            return value
        finally:
            lock.release()

    def may_refresh(self, key: str, *, every: float) -> bool:
        """``True`` at most once per ``every`` seconds for ``key`` (e.g. a client refetching its keys)."""
        now = self._now()
        with self._guard:
            if self._refreshed.get(key, float("-inf")) > now - every:
                return False
            self._refreshed[key] = now
            return True

    def post_form(self, url: str, fields: dict[str, str], *, deadline: float | None = None) -> int:
        """POST ``fields`` as ``application/x-www-form-urlencoded`` to ``url``; the answer's status.

        The same rules as a fetch (the URL's form, every resolved address, one deadline), never
        cached and never retried here: the caller (back-channel logout) keeps its own record of
        attempts. A redirect is a status like any other, not followed. Only the first 4 KiB of the
        answer are read: nothing in it is used.

        :param deadline: seconds for this request (at most the fetcher's own deadline)
        :raises FetchError: the URL or an address is not allowed, or the connection failed or timed out
        """
        allowed = min(deadline, self.limits.deadline) if deadline else self.limits.deadline
        ends = time.monotonic() + allowed
        target, addresses = check_url(url, allow_loopback=self.allow_loopback, timeout=allowed)
        response = transport.request("POST", host=target.host, port=target.port, target=target.path,
                                     addresses=addresses, tls=self._tls_context() if target.tls else None,
                                     deadline=ends, allowed=allowed, max_bytes=4096, accept="*/*",
                                     body=urlencode(fields).encode("ascii"),
                                     content_type="application/x-www-form-urlencoded", truncate=True)
        return response.status

    def check_url(self, url: str) -> None:
        """:func:`check_url` with this fetcher's settings."""
        check_url(url, allow_loopback=self.allow_loopback, timeout=self.limits.deadline)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:  # made on first use: loading the system's CAs is not free
            self._tls = ssl.create_default_context()
        return self._tls

    # -- one fetch -------------------------------------------------------------------------------------

    def _fetch(self, url: str, media_types: tuple[str, ...]) -> tuple[Any, float]:
        deadline = time.monotonic() + self.limits.deadline
        target, addresses = check_url(url, allow_loopback=self.allow_loopback, timeout=self.limits.deadline)
        response = transport.get(host=target.host, port=target.port, target=target.path, addresses=addresses,
                                 tls=self._tls_context() if target.tls else None, deadline=deadline,
                                 allowed=self.limits.deadline, max_bytes=self.limits.max_bytes,
                                 accept=", ".join(media_types))
        if 300 <= response.status < 400:
            raise BadResponse(f"{url} answered with a redirect ({response.status}); redirects are not followed: "
                              "register the final URL.")
        if response.status != 200:
            raise BadResponse(f"{url} answered with HTTP status {response.status}, not 200.")
        media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type not in media_types:
            raise BadResponse(f"{url} answered with content type {media_type or 'none'!r}; it must be "
                              f"{' or '.join(media_types)}.")
        try:
            value = json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested past Python's limit
            raise BadResponse(f"{url} did not answer with valid JSON.") from exc
        return value, ttl_of(response.headers.get("Cache-Control"), self.limits)

    # -- cache ------------------------------------------------------------------------------------------

    def _fresh(self, key: tuple[str, tuple[str, ...]]) -> _Entry | None:
        with self._guard:
            entry = self._entries.get(key)
        return entry if entry is not None and entry.expires > self._now() else None

    def _store(self, key: tuple[str, tuple[str, ...]], entry: _Entry) -> None:
        with self._guard:
            if len(self._entries) >= 10_000:  # one per registered URL in practice; never without bound
                now = self._now()
                self._entries = {k: e for k, e in self._entries.items() if e.expires > now}
            self._entries[key] = entry

    def _lock(self, key: tuple[str, tuple[str, ...]]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())
