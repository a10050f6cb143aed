"""Outbound HTTP for URLs that clients control (SSRF-safe): see :mod:`idp.outbound.fetcher`.

``init_app`` builds the application's one :class:`Fetcher` from the ``OUTBOUND_*`` settings;
:func:`fetcher` returns it inside a request or app context.
"""

from __future__ import annotations

from flask import Flask
from flask import current_app

from idp.outbound.addresses import address_problem
from idp.outbound.addresses import resolve
from idp.outbound.errors import BadResponse
from idp.outbound.errors import FetchError
from idp.outbound.errors import NotAllowed
from idp.outbound.errors import Timeout
from idp.outbound.errors import TooLarge
from idp.outbound.errors import Unreachable
from idp.outbound.fetcher import JSON
from idp.outbound.fetcher import JWK_SET
from idp.outbound.fetcher import Fetcher
from idp.outbound.fetcher import Limits
from idp.outbound.fetcher import check_url
from idp.outbound.fetcher import parse_target

__all__ = ["JSON", "JWK_SET", "BadResponse", "FetchError", "Fetcher", "Limits", "NotAllowed", "Timeout",
           "TooLarge", "Unreachable", "address_problem", "check_url", "fetcher", "init_app", "is_public_destination",
           "resolve"]


def init_app(app: Flask) -> None:
    config = app.config
    limits = Limits(deadline=float(config["OUTBOUND_DEADLINE"]), max_bytes=int(config["OUTBOUND_MAX_BYTES"]),
                    min_ttl=float(config["OUTBOUND_CACHE_MIN"]), max_ttl=float(config["OUTBOUND_CACHE_MAX"]),
                    default_ttl=float(config["OUTBOUND_CACHE_DEFAULT"]),
                    failure_ttl=float(config["OUTBOUND_FAILURE_TTL"]))
    app.extensions["outbound"] = Fetcher(allow_loopback=bool(config["OUTBOUND_ALLOW_LOOPBACK"]), limits=limits)


def fetcher() -> Fetcher:
    """The application's fetcher (its caches live as long as the process)."""
    found: Fetcher = current_app.extensions["outbound"]
    return found


def is_public_destination(url: str, *, timeout: float = 3.0) -> bool:
    """Whether the host of ``url`` resolves only to public addresses, loopback refused whatever the
    settings: the address rule automatic approval applies (the scheme is a separate reason there)."""
    try:
        target = parse_target(url, allow_loopback=True)
        resolve(target.host, target.port, timeout=timeout, allow_loopback=False)
    except FetchError:
        return False
    return True
