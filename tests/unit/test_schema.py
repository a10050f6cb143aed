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


def test_a_bulk_update_of_active_writes_the_status(app):
    from sqlalchemy import select
    from sqlalchemy import update

    from idp.db import get_session
    from idp.oidc.models import Client
    from tests.factories import make_client

    made = make_client(app)
    with app.app_context():
        db = get_session()
        db.execute(update(Client).where(Client.id == made.client.id).values(active=False))
        db.commit()
        assert db.scalar(select(Client.status).where(Client.id == made.client.id)) == "disabled"
        assert db.scalar(select(Client.id).where(Client.active)) is None
