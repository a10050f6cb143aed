"""``idp keys list|rotate``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from idp import audit
from idp import keyring
from idp.cli import emit
from idp.db import engine_of
from idp.db import get_session


def _retire_after() -> int:
    cfg = current_app.config
    return max(int(cfg["ACCESS_TOKEN_LIFETIME"]), int(cfg["ID_TOKEN_LIFETIME"])) + 60


@click.group("keys")
def keys_group() -> None:
    """Signing keys."""


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(as_json: bool) -> None:
    infos = keyring.list_keys(engine_of(current_app))
    if as_json:
        emit({"keys": [i.__dict__ for i in infos]}, True)
    else:
        for i in infos:
            click.echo(f"{i.kid}  {i.alg}  {i.state:8}  created {i.created_at}")


@keys_group.command("rotate")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def rotate_command(as_json: bool) -> None:
    """Promote the published next key to active; retire the old one (still published until its tokens expire)."""
    cfg = current_app.config
    infos = keyring.rotate(engine_of(current_app), cfg.get("KEYS_SECRET") or cfg["SECRET_KEY"],
                           retire_after=_retire_after())
    current_app.extensions["idp.keyring"].reload()  # this process at once; the others within KEYS_REFRESH_SECONDS
    audit.record(get_session(), audit.Event.SIGNING_KEYS_ROTATED, active=[i.kid for i in infos if i.state == "active"],
                 retired=[i.kid for i in infos if i.state == "retired"])
    emit({"keys": [i.__dict__ for i in infos]} if as_json else {"rotated": "yes", "keys": len(infos)}, as_json)


def register(cli: click.Group) -> None:
    cli.add_command(keys_group)
