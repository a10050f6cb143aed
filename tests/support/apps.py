"""Closing an app a test made, so that no database connection outlives it."""

from __future__ import annotations

from flask import Flask

from idp.db import engine_of


def close_app(application: Flask) -> None:
    """End an app's background work, then close its database connections.

    A back-channel logout run or the audit sealer still holding a connection would leave it open,
    and so would an engine never disposed: its garbage collection (a ResourceWarning on
    PostgreSQL) then fails whichever test happens to run next, far from the one that leaked.
    """
    application.extensions["idp.backchannel"].join(10)
    if "idp.audit_sealer" in application.extensions:
        application.extensions["idp.audit_sealer"].stop()
    store = application.extensions.get("idp.redis")
    if store is not None:
        store.close()
    engine = engine_of(application)
    held = engine.pool.checkedout() if hasattr(engine.pool, "checkedout") else 0
    engine.dispose()
    # dispose() closes only the connections in the pool: one still checked out is a session the
    # app (or the test) never closed, and would be garbage-collected open later.
    assert not held, f"{held} database connection(s) still checked out when the app was closed"
