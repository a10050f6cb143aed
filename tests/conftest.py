"""Fixtures: an app on a fresh database per test (SQLite, or PostgreSQL with IDP_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine
from sqlalchemy import text

from idp import clock as idp_clock
from idp import create_app
from idp import keyring
from idp import migrate
from tests.support.apps import close_app

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL")
# Redis for the tests that use one (tests/unit/test_redis_throttle.py), emptied before each; with
# IDP_TEST_WITH_REDIS=1 every app of the suite keeps its address throttles there too.
REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
WITH_REDIS = os.environ.get("IDP_TEST_WITH_REDIS") == "1"


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """KEYS_DIR: where an earlier version kept signing keys (now in the database, made once per
    session in the template database); empty, so nothing is imported."""
    return tmp_path_factory.mktemp("keys")


def _admin_engine() -> Any:
    assert PG_URL
    return create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")


def _migrated(url: str, keys_dir: Path, tmp_path: Path) -> None:
    """Migrate ``url`` to head once, for tests to start from a copy (migrating per test is most of
    a short test's time)."""
    os.environ["IDP_INSTANCE_PATH"] = str(tmp_path / "instance")
    try:
        application = create_app({"ISSUER": "http://localhost", "DATABASE_URL": url, "KEYS_DIR": str(keys_dir),
                                  "SECRET_KEY": "test-secret-key-" + "x" * 32,
                                  "MAIL_OUTBOX_DIR": str(tmp_path / "outbox")})
    finally:
        os.environ.pop("IDP_INSTANCE_PATH", None)
    migrate.upgrade(application)
    from idp.db import engine_of

    # Every test's database starts with the session's signing keys (made once: RSA is slow).
    keyring.ensure_keys(engine_of(application), "test-secret-key-" + "x" * 32)
    engine_of(application).dispose()


@pytest.fixture(scope="session")
def migrated_template(keys_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database at head: a PostgreSQL template database's name, or a SQLite file's path."""
    tmp = tmp_path_factory.mktemp("template")
    if not PG_URL:
        path = tmp / "template.db"
        _migrated(f"sqlite:///{path}", keys_dir, tmp)
        yield str(path)
        return
    name = "idp_template_" + uuid.uuid4().hex[:10]
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    try:
        _migrated(f"{base}/{name}", keys_dir, tmp)
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _pg_database(template: str) -> Iterator[str]:
    assert PG_URL
    name = "idp_test_" + uuid.uuid4().hex[:10]
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fresh_database(folder: Path, template: str) -> Iterator[str]:
    """A new database copied from ``template`` (a SQLite file in ``folder``, or a PostgreSQL
    database dropped afterwards): a generator, for fixtures of any scope."""
    if PG_URL:
        yield from _pg_database(template)
    else:
        shutil.copyfile(template, folder / "idp.db")
        yield f"sqlite:///{folder / 'idp.db'}"


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: str) -> Iterator[str]:
    """A fresh database per test, already at head (the app fixture's upgrade then finds nothing to do)."""
    yield from fresh_database(tmp_path, migrated_template)


@pytest.fixture
def redis_url() -> str:
    """An empty Redis database: skipped when nothing answers, except in CI (``CI=1``), where
    .ci/run starts Redis and a skip would hide a gap."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis answers at {REDIS_URL} ({type(exc).__name__}); set IDP_TEST_REDIS_URL")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def app_config(tmp_path: Path, keys_dir: Path, database_url: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    config = {
        "TESTING": True,
        "ISSUER": "http://localhost",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "KEYS_DIR": str(keys_dir),
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "SERVER_NAME": "localhost",
    }
    if WITH_REDIS:
        config["REDIS_URL"] = request.getfixturevalue("redis_url")
    return config


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Any]:
    """Make another app (other settings, same or another database), closed at the test's end.

    Every app a test makes goes through this (or the ``app`` fixture), so none is left holding a
    connection. A setting that stops the start raises as ``create_app`` does.
    """
    made: list[Flask] = []

    def build(config: dict[str, Any], *, instance: str = "instance") -> Flask:
        os.environ["IDP_INSTANCE_PATH"] = str(tmp_path / instance)
        try:
            application = create_app(config)
        finally:
            os.environ.pop("IDP_INSTANCE_PATH", None)
        made.append(application)
        return application

    yield build
    for application in made:
        close_app(application)


@pytest.fixture
def app(app_config: dict[str, Any], make_app: Any) -> Iterator[Flask]:
    application = make_app(app_config)
    migrate.upgrade(application)
    yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    with app.app_context():
        from idp.db import get_session

        yield get_session()


@pytest.fixture(autouse=True)
def _clock_back_to_now() -> Iterator[None]:
    """Whatever a test did to the IdP's clock ends with it."""
    yield
    idp_clock.reset()


@pytest.fixture
def clock() -> Any:
    """The IdP's clock, for tests that let time pass (reauthentication windows, throttling, TOTP)."""
    return idp_clock
