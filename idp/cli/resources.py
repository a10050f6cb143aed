"""``idp resources``: agencies' APIs (resource servers, RFC 8707), the scopes a client may get for
itself (``client_credentials``) and the allowed token exchanges (RFC 8693). The same service as the
console (:mod:`idp.oidc.resource_servers`): validated and audited alike."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from idp.cli import emit
from idp.cli import fail
from idp.db import get_session
from idp.oidc import resource_servers as service
from idp.oidc.agency_models import ExchangePermission
from idp.oidc.agency_models import ResourceServer
from idp.oidc.models import Client
from idp.oidc.resource_servers import RegistryError


@click.group("resources")
def resources_group() -> None:
    """Agencies' APIs (resource servers), machine scopes and token exchanges."""


def _client(client_id: str) -> Client:
    client = get_session().scalar(select(Client).where(Client.client_id == client_id[:64]))
    if client is None:
        fail(f"no client with client_id {client_id!r}")
    assert client is not None
    return client


def _server(identifier: str) -> ResourceServer:
    server = service.find(get_session(), identifier)
    if server is None:
        fail(f"no API with identifier {identifier!r}")
    assert server is not None
    return server


def _describe(server: ResourceServer) -> dict[str, object]:
    return {"identifier": server.identifier, "name": server.name, "name_th": server.name_th,
            "scopes": list(server.scopes), "client_id": server.client.client_id}


@resources_group.command("add")
@click.option("--identifier", required=True, help="An https URI: the resource clients name and the tokens' aud.")
@click.option("--name", required=True)
@click.option("--name-th")
@click.option("--scope", "scopes", multiple=True, help="A scope the API accepts (repeatable).")
@click.option("--client-id", required=True, help="The confidential client the API uses to call introspection.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def add_command(identifier: str, name: str, name_th: str | None, scopes: tuple[str, ...], client_id: str,
                as_json: bool) -> None:
    """Register an agency's API."""
    try:
        server = service.register(get_session(), identifier=identifier, name=name, name_th=name_th,
                                  scopes=[s for value in scopes for s in value.split()], client=_client(client_id))
    except RegistryError as exc:
        fail(str(exc))
        return
    emit(_describe(server), as_json)


@resources_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(as_json: bool) -> None:
    """The registered APIs, the allowed exchanges beside each."""
    db = get_session()
    exchanges = service.list_exchanges(db)
    data = [{**_describe(s), "exchanges_from": [p.client.client_id for p in exchanges if p.resource_server_id == s.id]}
            for s in service.list_servers(db)]
    if as_json:
        emit({"resources": data}, True)
        return
    for server in service.list_servers(db):
        click.echo(f"{server.identifier}  {server.name}  scopes: {' '.join(server.scopes)}  "
                   f"introspects as: {server.client.client_id}")


@resources_group.command("remove")
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def remove_command(identifier: str, as_json: bool) -> None:
    """Remove an API: its tokens stop working, its exchange permissions go."""
    service.remove(get_session(), _server(identifier))
    emit({"removed": identifier}, as_json)


@resources_group.command("machine-scopes")
@click.argument("client_id")
@click.argument("scopes", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def machine_scopes_command(client_id: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Set the scopes CLIENT_ID may get for itself (client_credentials); none: it may not."""
    try:
        values = service.set_machine_scopes(get_session(), _client(client_id), scopes)
    except RegistryError as exc:
        fail(str(exc))
        return
    emit({"client_id": client_id, "machine_scopes": " ".join(values)}, as_json)


@resources_group.command("allow-exchange")
@click.argument("client_id")
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def allow_exchange_command(client_id: str, identifier: str, as_json: bool) -> None:
    """Let CLIENT_ID exchange citizens' tokens for tokens to the API IDENTIFIER."""
    try:
        service.allow_exchange(get_session(), _client(client_id), _server(identifier))
    except RegistryError as exc:
        fail(str(exc))
        return
    emit({"client_id": client_id, "resource": identifier, "exchange": "allowed"}, as_json)


@resources_group.command("disallow-exchange")
@click.argument("client_id")
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def disallow_exchange_command(client_id: str, identifier: str, as_json: bool) -> None:
    """Withdraw the permission; the tokens it gave stop working."""
    db = get_session()
    client, server = _client(client_id), _server(identifier)
    permission = db.scalar(select(ExchangePermission).where(ExchangePermission.client_id == client.id,
                                                            ExchangePermission.resource_server_id == server.id))
    if permission is None:
        fail(f"{client_id} may not exchange tokens for {identifier} anyway")
        return
    service.disallow_exchange(db, permission)
    emit({"client_id": client_id, "resource": identifier, "exchange": "withdrawn"}, as_json)


def register(cli: click.Group) -> None:
    cli.add_command(resources_group)
