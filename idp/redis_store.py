"""The optional Redis (``IDP_REDIS_URL``): one connection pool per app, and whether to use it now.

Redis holds only what the IdP can lose without becoming weaker: per-address throttles
(:mod:`idp.authn.address_throttle`). Everything that must survive, account throttles and
suspensions included, lives in the database. So a Redis that stops answering must never stall
or fail a request: every call has a short deadline, and after an error the store is left alone
for :data:`RETRY_AFTER` seconds (callers use the database meanwhile) before it is tried again.

The log hears of an outage once, when it starts, and once when Redis answers again; never per
request, and never a key or a value (keys are keyed hashes anyway). ``idp_redis_errors_total``
and ``idp_redis_up`` (:mod:`idp.metrics`) let an operator see how often and whether.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from idp import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
EXTENSION = "idp.redis"
SESSION_INFO = "redis"  # every database session's info carries the store, for idp.authn.throttle
TIMEOUT = 0.2  # seconds to connect, and to wait for an answer: a loopback or LAN Redis answers in < 1 ms
RETRY_AFTER = 5.0  # seconds without Redis after an error, before it is tried again
PREFIX = "idp:"  # every key the IdP writes starts with this, so one Redis can serve other things too


class Unavailable(Exception):
    """Redis is not to be used now (it failed, or failed less than :data:`RETRY_AFTER` ago):
    the caller does the work in the database."""


class RedisStore:
    """A Redis client whose failures turn into :class:`Unavailable` and a pause.

    redis-py's own retries are off: a retry would double the time a dead server costs a
    request, and the database is always there to fall back on.
    """

    def __init__(self, url: str, *, timeout: float = TIMEOUT, retry_after: float = RETRY_AFTER) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                           retry=Retry(NoBackoff(), 0), health_check_interval=0)
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._down_until: float | None = None  # monotonic time; None while Redis answers
        self._reported_up = False  # idp_redis_up is set at the first answer, in the serving process

    @property
    def up(self) -> bool:
        """Whether the last call succeeded (``False`` during an outage, retries included)."""
        return self._down_until is None

    def run(self, operation: Callable[[redis.Redis], T]) -> T:
        """``operation(client)``, or :class:`Unavailable` when Redis fails or is paused.

        :raises Unavailable: the caller falls back to the database
        """
        down_until = self._down_until
        if down_until is not None and time.monotonic() < down_until:
            raise Unavailable()
        try:
            result = operation(self.client)
        except redis.RedisError as exc:
            self._failed(exc)
            raise Unavailable() from exc
        if down_until is not None:
            self._recovered()
        elif not self._reported_up:
            self._reported_up = True
            metrics.REDIS_UP.labels(role="throttle").set(1)
        return result

    def close(self) -> None:
        self.client.close()

    def _failed(self, exc: redis.RedisError) -> None:
        kind = ("timeout" if isinstance(exc, redis.TimeoutError)
                else "connection" if isinstance(exc, redis.ConnectionError) else "other")
        metrics.REDIS_ERRORS.labels(error=kind).inc()
        with self._lock:
            starts = self._down_until is None
            self._down_until = time.monotonic() + self.retry_after
        if starts:
            metrics.REDIS_UP.labels(role="throttle").set(0)
            # The class only: a message may quote the server's address or a reply.
            log.warning("redis: not answering (%s); address throttles use the database, retried every %.0f s",
                        type(exc).__name__, self.retry_after)

    def _recovered(self) -> None:
        with self._lock:
            ends = self._down_until is not None
            self._down_until = None
        if ends:
            metrics.REDIS_UP.labels(role="throttle").set(1)
            log.warning("redis: answering again; address throttles back in Redis")


def init_app(app: Flask) -> None:
    """Make the store when ``REDIS_URL`` is set and hand it to every database session (the
    throttle's functions take a session, not the app). Connections are made lazily, so a Redis
    that is down at start-up stops nothing: the first request finds out and uses the database."""
    url = app.config.get("REDIS_URL")
    if not url:
        return
    store = RedisStore(str(url))
    app.extensions[EXTENSION] = store
    factory: sessionmaker[Session] = app.extensions["idp.db"]
    factory.configure(info={**factory.kw.get("info", {}), SESSION_INFO: store})


def store_of(app: Flask) -> RedisStore | None:
    store: RedisStore | None = app.extensions.get(EXTENSION)
    return store
