"""Migrating to head gives exactly the models' schema: autogenerate finds no difference."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from idp.db import engine_of
from idp.models import Base


def test_migrations_match_models(app):
    with engine_of(app).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_up_again(app):
    from sqlalchemy import inspect

    from idp import migrate

    migrate.downgrade(app, "base")
    assert set(inspect(engine_of(app)).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(app)
    assert "tokens" in inspect(engine_of(app)).get_table_names()
