"""Prometheus metrics: what an operator watches, counted where it is decided.

Every label value comes from a closed vocabulary (a Flask endpoint name, an HTTP method, a status
class, an enum of outcomes), never from the request: a raw path holds ids and tokens, and an
unbounded label would let anyone grow the server's memory. No person, email, client or secret is
ever a label.

Security decisions are counted from the audit log (:func:`idp.audit.chain.observe`), so a sign-in
or a throttle is counted exactly when it is recorded; tokens from :mod:`idp.oidc.storage`, where
Authlib hands over each token it is about to return.

Under ``idp serve`` (several gunicorn workers) the values live in files under
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up (prometheus-client's multiprocess
mode, see :func:`enable_multiprocess`); elsewhere (``flask run``, tests) they are in memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from flask import Flask
from prometheus_client import REGISTRY
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client import multiprocess
from prometheus_client import values
from sqlalchemy import Engine
from sqlalchemy import event

from idp import audit
from idp.db import engine_of

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# 250 ms is the sign-in objective (docs/operations.md): it must be a bucket boundary.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the endpoint label of a request that matched no route (404, 405)


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    CLIENT_CREDENTIALS = "client_credentials"
    TOKEN_EXCHANGE = "token_exchange"  # urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693)
    OTHER = "other"


_GRANT_LABELS = {"authorization_code": GrantType.AUTHORIZATION_CODE, "refresh_token": GrantType.REFRESH_TOKEN,
                 "client_credentials": GrantType.CLIENT_CREDENTIALS,
                 "urn:ietf:params:oauth:grant-type:token-exchange": GrantType.TOKEN_EXCHANGE}


class SignInOutcome(StrEnum):
    SUCCESS = "success"
    STEP_UP = "step_up"
    FAILURE = "failure"
    REFUSED = "refused"  # throttled or suspended: the factor was not even checked


class ThrottleEvent(StrEnum):
    DELAYED = "delayed"
    SUSPENDED = "suspended"


class ProofingOutcome(StrEnum):
    STARTED = "started"
    APPROVED = "approved"
    REJECTED = "rejected"
    TO_REVIEW = "to_review"
    ATTEMPT_FAILED = "attempt_failed"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    WITHDRAWN = "withdrawn"


REQUEST_SECONDS = Histogram(
    "idp_http_request_duration_seconds", "Time to answer a request, by Flask endpoint, method and status class.",
    ["endpoint", "method", "status"], buckets=LATENCY_BUCKETS)
TOKENS_ISSUED = Counter("idp_tokens_issued", "Token responses from the token endpoint, by grant type.",
                        ["grant_type"])
SIGNINS = Counter("idp_signins", "Sign-in decisions, by outcome and by the session's AAL after a success.",
                  ["outcome", "aal"])
THROTTLE_EVENTS = Counter("idp_throttle_events", "Attempts slowed down or factors suspended, by scope.",
                          ["event", "scope"])
PROOFING = Counter("idp_proofing_outcomes", "Identity proofing decisions, by outcome.", ["outcome"])
# Labelled by backend so that each value is made on first use, after `idp serve` chose the
# multiprocess mode; livesum adds up the workers that are alive.
DB_CONNECTIONS_IN_USE = Gauge("idp_db_pool_connections_in_use", "Database connections checked out of the pool.",
                              ["backend"], multiprocess_mode="livesum")
DB_POOL_SIZE = Gauge("idp_db_pool_size", "Connections each pool keeps open (summed over workers).",
                     ["backend"], multiprocess_mode="livesum")
# The optional Redis (idp.redis_store): errors by kind, and whether each worker uses it (livemin:
# 0 when any worker has fallen back to the database).
REDIS_ERRORS = Counter("idp_redis_errors", "Failed Redis calls (each then done in the database), by kind.",
                       ["error"])
REDIS_UP = Gauge("idp_redis_up", "1 while Redis answers, 0 while address throttles fall back to the database.",
                 ["role"], multiprocess_mode="livemin")

_AUDIT_SIGNINS = {
    audit.Event.SIGNIN: SignInOutcome.SUCCESS,
    audit.Event.STEP_UP: SignInOutcome.STEP_UP,
    audit.Event.SIGNIN_FAILED: SignInOutcome.FAILURE,
    audit.Event.SIGNIN_REFUSED: SignInOutcome.REFUSED,
}
_AUDIT_PROOFING = {
    audit.Event.PROOFING_STARTED: ProofingOutcome.STARTED,
    audit.Event.PROOFING_APPROVED: ProofingOutcome.APPROVED,
    audit.Event.PROOFING_REJECTED: ProofingOutcome.REJECTED,
    audit.Event.PROOFING_TO_REVIEW: ProofingOutcome.TO_REVIEW,
    audit.Event.PROOFING_ATTEMPT_FAILED: ProofingOutcome.ATTEMPT_FAILED,
    audit.Event.PROOFING_ATTEMPTS_EXHAUSTED: ProofingOutcome.ATTEMPTS_EXHAUSTED,
    audit.Event.PROOFING_WITHDRAWN: ProofingOutcome.WITHDRAWN,
}
_SCOPES = frozenset({"account", "address"})


def _aal(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3 else ""


def count_audit_event(name: audit.Event, details: dict[str, Any]) -> None:
    """The audit observer: map a recorded decision to its counter (most events count nothing)."""
    if name in _AUDIT_SIGNINS:
        outcome = _AUDIT_SIGNINS[name]
        aal = _aal(details.get("aal")) if outcome in (SignInOutcome.SUCCESS, SignInOutcome.STEP_UP) else ""
        SIGNINS.labels(outcome=outcome.value, aal=aal).inc()
    elif name in _AUDIT_PROOFING:
        PROOFING.labels(outcome=_AUDIT_PROOFING[name].value).inc()
    elif name in (audit.Event.THROTTLED, audit.Event.FACTOR_SUSPENDED):
        kind = ThrottleEvent.DELAYED if name == audit.Event.THROTTLED else ThrottleEvent.SUSPENDED
        scope = details.get("scope", "account")
        THROTTLE_EVENTS.labels(event=kind.value, scope=scope if scope in _SCOPES else "other").inc()


def count_token(grant_type: Any) -> None:
    """One token response; anything but the grants the IdP has is ``other``."""
    label = _GRANT_LABELS.get(grant_type, GrantType.OTHER) if isinstance(grant_type, str) else GrantType.OTHER
    TOKENS_ISSUED.labels(grant_type=label.value).inc()


def _status_class(status_line: str) -> str:
    head = status_line[:1]
    return f"{head}xx" if head in "12345" and head else "other"


class RequestTimer:
    """WSGI middleware: each response's duration, labelled by the route that matched, never the path.

    Timed until the response starts (status and headers): Flask has built the whole body by then
    (no view streams), so this is the server's work, without the client's network.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        timed = [False]

        def observe(status: str) -> None:
            if timed[0]:
                return
            timed[0] = True
            rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
            method = str(environ.get("REQUEST_METHOD", ""))
            REQUEST_SECONDS.labels(endpoint=str(rule.endpoint) if rule is not None else UNMATCHED,
                                   method=method if method in METHODS else "other",
                                   status=status).observe(time.perf_counter() - started)

        def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            observe(_status_class(status_line))
            return start_response(status_line, headers, exc_info)

        try:
            return self.app(environ, start)
        except BaseException:
            observe("5xx")
            raise


def _watch_pool(engine: Engine) -> None:
    """Connections in use, from the pool's own events (cheap, and exact at any moment).

    The size is set at the first checkout, so that ``idp serve``'s arbiter, which makes an app
    only to check the configuration, adds nothing to the workers' sum."""
    backend = engine.dialect.name
    pool = engine.pool
    size = getattr(pool, "size", None)
    in_use = DB_CONNECTIONS_IN_USE.labels(backend=backend)

    def checkout(*_: Any) -> None:
        if callable(size):
            DB_POOL_SIZE.labels(backend=backend).set(size())
        in_use.inc()

    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", lambda *_: in_use.dec())


def init_app(app: Flask) -> None:
    app.wsgi_app = RequestTimer(app.wsgi_app)  # type: ignore[method-assign]
    _watch_pool(engine_of(app))
    audit.observe(count_audit_event)


def exposition() -> bytes:
    """The text exposition of every metric: the workers' files added up, or this process's values."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return bytes(generate_latest(registry))
    return bytes(generate_latest(REGISTRY))


def enable_multiprocess(directory: Path) -> None:
    """Keep values in ``directory`` (emptied first) so that ``/metrics`` in any worker sees them all.

    prometheus-client reads the variable when it is first imported; this module may already have
    been imported (the CLI imports the app), so the choice is made again here, before any labelled
    value exists: every metric above has labels, so its values are made on first use.
    """
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()


def worker_exited(pid: int) -> None:
    """gunicorn's ``child_exit``: a dead worker's live gauges no longer count."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)
