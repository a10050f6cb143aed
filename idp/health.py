"""``/healthz`` and ``/readyz``: for load balancers and orchestrators, cheap and unauthenticated.

``/healthz`` says the process answers. ``/readyz`` says it can serve: the database answers
``SELECT 1`` (asked every time), its schema is at the newest Alembic revision (asked until it
once was: migrations are not undone under a running server) and an RS256 signing key is loaded.
Neither says more than a fixed word: no version, error text or database URL, since anybody can
ask. No session is read or written, so no cookie is set.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import json
from sqlalchemy import text

from idp.db import engine_of
from idp.keyring import Keyring
from idp.migrate import alembic_config

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
_AT_HEAD = "idp.health.at_head"
_FAILED = "idp.health.failed"


class Check(StrEnum):
    """What ``/readyz`` names when it is not ready."""

    DATABASE = "database"
    MIGRATIONS = "migrations"
    KEYS = "keys"


def _answer(status: int, body: dict[str, str]) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _database_answers(app: Flask) -> bool:
    with engine_of(app).connect() as conn:
        conn.execute(text("SELECT 1"))
    return True


def _migrations_at_head(app: Flask) -> bool:
    if app.extensions.get(_AT_HEAD):
        return True
    heads = set(ScriptDirectory.from_config(alembic_config(app)).get_heads())
    with engine_of(app).connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    app.extensions[_AT_HEAD] = current == heads
    return current == heads


def _keys_loaded(app: Flask) -> bool:
    keyring: Keyring = app.extensions["idp.keyring"]
    return "RS256" in keyring.algorithms()


CHECKS = ((Check.DATABASE, _database_answers), (Check.MIGRATIONS, _migrations_at_head), (Check.KEYS, _keys_loaded))


def failing_check(app: Flask) -> Check | None:
    """The first check that does not pass. The log hears of a check when it starts or stops
    failing, not at every probe (orchestrators ask every few seconds)."""
    failed: set[Check] = app.extensions.setdefault(_FAILED, set())
    for name, check in CHECKS:
        try:
            ok, reason = check(app), "not ready"
        except Exception as exc:
            ok, reason = False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if ok:
            if name in failed:
                failed.discard(name)
                log.warning("readyz: %s ready again", name.value)
            continue
        if name not in failed:
            failed.add(name)
            log.warning("readyz: %s not ready (%s)", name.value, reason)
        return name
    return None


@bp.get("/healthz")
def healthz() -> Response:
    return _answer(200, {"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    failed = failing_check(current_app._get_current_object())  # type: ignore[attr-defined]
    if failed is not None:
        return _answer(503, {"status": "unavailable", "check": failed.value})
    return _answer(200, {"status": "ok"})
