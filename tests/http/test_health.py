"""``/healthz`` and ``/readyz``: what a load balancer sees, and that it says no more than one word."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from idp import keyring
from idp import migrate
from idp.accesslog import AccessLog
from idp.db import engine_of

UNAVAILABLE = {"status": "unavailable"}


def _assert_bare(response) -> None:
    """No cookie, not cached, a JSON body and nothing else."""
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"


def _app(make_app, app_config: dict, **overrides):
    return make_app({**app_config, **overrides}, instance="other-instance")


def test_healthz_answers_ok_without_a_cookie(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    _assert_bare(response)


def test_readyz_is_ok_on_a_migrated_database_with_keys(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    _assert_bare(response)


def test_readyz_names_migrations_when_the_schema_is_one_revision_behind(app, client):
    migrate.downgrade(app, "-1")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {**UNAVAILABLE, "check": "migrations"}
    _assert_bare(response)
    migrate.upgrade(app)  # the step back dropped the newest table, the signing keys: `idp init` again
    keyring.ensure_keys(engine_of(app), app.config["SECRET_KEY"])
    app.extensions["idp.keyring"].reload()
    assert client.get("/readyz").status_code == 200


def test_readyz_names_migrations_on_an_empty_database(app_config, tmp_path, make_app):
    app = _app(make_app, app_config, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {**UNAVAILABLE, "check": "migrations"}


@pytest.mark.parametrize("url", [
    "sqlite:///{tmp}/no/such/folder/idp.db",
    "postgresql://postgres:s3cret-password@127.0.0.1:1/idp_nowhere",  # nothing listens on port 1
], ids=["sqlite", "postgresql"])
def test_readyz_names_the_database_when_it_does_not_answer_and_says_nothing_else(app_config, tmp_path, make_app,
                                                                                 url):
    app = _app(make_app, app_config, DATABASE_URL=url.format(tmp=tmp_path))
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {**UNAVAILABLE, "check": "database"}
    for detail in ("s3cret", "127.0.0.1", "no/such", "idp_nowhere", "sqlite", "psycopg", "Error"):
        assert detail not in response.text
    _assert_bare(response)
    assert client.get("/healthz").status_code == 200  # the process lives: restarting it would not help


def test_readyz_names_keys_when_no_signing_key_is_loaded(app):
    from sqlalchemy import delete

    from idp.oidc.models import SigningKeyRecord

    with engine_of(app).begin() as connection:  # a database migrated but never given keys (no `idp init`)
        connection.execute(delete(SigningKeyRecord))
    app.extensions["idp.keyring"].reload()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert json.loads(response.text) == {**UNAVAILABLE, "check": "keys"}


def test_readyz_asks_the_database_every_time(app_config, tmp_path, make_app):
    """Readiness is remembered for the schema only: a database that goes away is noticed at once."""
    app = _app(make_app, app_config)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    engine_of(app).dispose()
    app.extensions["idp.db"].kw["bind"] = engine_of(_app(make_app, app_config,
                                                         DATABASE_URL=f"sqlite:///{tmp_path}/gone/idp.db"))
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["check"] == "database"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_not_written_to_the_access_log_when_they_succeed(app, path):
    lines: list[str] = []

    class Sink:
        def info(self, line: str) -> None:
            lines.append(line)

    client = Client(AccessLog(app, logger=Sink()))  # type: ignore[arg-type]
    for url in (path, "/jwks.json", "/readyz?x=\x00"):
        client.get(url).close()  # the line is written when the server closes the response
    assert len(lines) == 2, lines
    assert "GET /jwks.json 200 " in lines[0]
    assert "GET /readyz 400 " in lines[1]  # a probe that does not succeed is logged
