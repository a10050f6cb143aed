"""``idp init`` and ``idp db upgrade|downgrade``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from idp import keyring
from idp import migrate
from idp.cli import emit
from idp.db import engine_of


@click.command("init")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def init_command(as_json: bool) -> None:
    """Migrate the database to head and create signing keys when none exist (safe to repeat)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(app)
    secret = app.config.get("KEYS_SECRET") or app.config["SECRET_KEY"]
    # Keys live in the database; a KEYS_DIR of an earlier version is imported once (idp.keyring).
    created = keyring.ensure_keys(engine_of(app), secret, import_dir=Path(app.config["KEYS_DIR"]))
    app.extensions["idp.keyring"].reload()
    emit({"database": "at head", "keys_created": len(created)}, as_json)


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade_command(revision: str) -> None:
    migrate.upgrade(current_app._get_current_object(), revision)  # type: ignore[attr-defined]


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def downgrade_command(revision: str) -> None:
    migrate.downgrade(current_app._get_current_object(), revision)  # type: ignore[attr-defined]


@db_group.command("prune")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def prune_command(as_json: bool) -> None:
    """Delete expired codes, client-assertion ids and tokens, and back-channel logout records finished
    30 days ago, purge the evidence of proofing cases decided more than PROOFING_RETENTION_DAYS ago,
    and delete disclosure-log entries older than DISCLOSURE_RETENTION_DAYS (run it daily, e.g. from cron)."""
    from idp.backchannel import delivery
    from idp.db import get_session
    from idp.db import utc_now
    from idp.disclosure import log as disclosure_log
    from idp.oidc.tokens import prune
    from idp.proofing import privacy

    db = get_session()
    now = utc_now()
    counts: dict[str, int] = dict(prune(db, now=now))
    counts["proofing_cases_purged"] = privacy.purge_expired(
        db, now=now, retention_days=int(current_app.config["PROOFING_RETENTION_DAYS"]))
    counts["disclosures_deleted"] = disclosure_log.prune(
        db, now=now, retention_days=int(current_app.config["DISCLOSURE_RETENTION_DAYS"]))
    counts["logout_deliveries"] = delivery.prune(db, now=now)  # finished more than 30 days ago
    emit(counts, as_json)


def register(cli: click.Group) -> None:
    cli.add_command(init_command)
    cli.add_command(db_group)
