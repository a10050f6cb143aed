"""Alembic's command API over the app's database: the only thing that creates or changes the schema."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from flask import Flask

from idp.db import engine_of
from idp.resources import resource_dir


def alembic_config(app: Flask) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resource_dir("migrations")))
    cfg.set_main_option("sqlalchemy.url", app.config["DATABASE_URL"].replace("%", "%%"))
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    cfg = alembic_config(app)
    with engine_of(app).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade(app: Flask, revision: str) -> None:
    cfg = alembic_config(app)
    with engine_of(app).begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def revision(app: Flask, message: str) -> None:
    cfg = alembic_config(app)
    with engine_of(app).begin() as connection:
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True)
