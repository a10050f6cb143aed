"""The ``idp`` command, built on Flask's CLI so every command runs inside the app."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask.cli import FlaskGroup

from idp import create_app
from idp.config import ConfigError


def _create_app() -> Any:
    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"idp: {exc}", err=True)
        sys.exit(2)


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def cli() -> None:
    """idp: a national digital identity provider (OpenID Provider)."""


def emit(data: dict[str, Any], as_json: bool) -> None:
    """One JSON object on stdout with ``--json``; ``key: value`` lines otherwise."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for key, value in data.items():
            click.echo(f"{key}: {value}")


def fail(message: str) -> None:
    raise click.ClickException(message)


def main() -> None:
    from idp.cli import audit
    from idp.cli import authz_types
    from idp.cli import clients
    from idp.cli import db
    from idp.cli import demo
    from idp.cli import keys
    from idp.cli import logout
    from idp.cli import receipts
    from idp.cli import resources
    from idp.cli import serve
    from idp.cli import users

    for module in (audit, authz_types, clients, db, demo, keys, logout, receipts, resources, serve, users):
        module.register(cli)
    try:
        cli(prog_name="idp")
    except ConfigError as exc:
        click.echo(f"idp: {exc}", err=True)
        sys.exit(2)
