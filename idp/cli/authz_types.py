"""``idp authz-types add|list``: the authorization-details types e-Services may send (RFC 9396)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import force_locale

from idp.cli import emit
from idp.cli import fail
from idp.db import get_session
from idp.rar import service
from idp.rar.definitions import DefinitionError
from idp.rar.definitions import parse_definition


@click.group("authz-types")
def authz_types_group() -> None:
    """Transaction types for authorization_details (RFC 9396)."""


@authz_types_group.command("add")
@click.option("--file", "path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A definition file: type, schema, display, clients, active (docs/authorization-details.md).")
@click.option("--replace", is_flag=True, help="Replace the type of that name if it is already registered.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def add_command(path: Path, replace: bool, as_json: bool) -> None:
    """Register a type from its definition file (its schema is checked as a JSON Schema)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError):
        fail(f"{path} is not JSON")
        return
    db = get_session()
    with force_locale("en"):  # as every other message of the command line
        try:
            definition = parse_definition(data)
        except DefinitionError as exc:
            fail("; ".join(f"{p.part}: {p.message}" for p in exc.problems))
            return
    if service.get_type(db, definition.name) is not None and not replace:
        fail(f"the type {definition.name!r} is already registered (--replace to replace it)")
    row, created = service.save_type(db, definition, by=None)
    emit({"type": row.name, "created": created, "active": row.active}, as_json)


@authz_types_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(as_json: bool) -> None:
    rows = service.list_types(get_session())
    if as_json:
        emit({"types": [row.as_definition() for row in rows]}, True)
        return
    for row in rows:
        clients = "all" if row.client_ids is None else ",".join(row.client_ids)
        click.echo(f"{row.name}  {'active' if row.active else 'inactive':8}  clients: {clients}")


def register(cli: click.Group) -> None:
    cli.add_command(authz_types_group)
