"""Agencies' APIs (resource servers) and the operator's permissions between agencies.

One service for the console and the CLI: every change is validated here and audited in the same
commit. The protocol side reads it through :func:`resolve_target` (RFC 8707 ``resource``),
:func:`machine_scopes` (``client_credentials``) and :func:`exchange_allowed` (RFC 8693).

RFC 8707 §2: "The value of the resource parameter MUST be an absolute URI ... MUST NOT include a
fragment component." and "the authorization server ... SHOULD audience-restrict issued access
tokens to the resource(s) indicated"; a request it cannot or will not honour gets
``invalid_target``. This IdP issues a token for one resource server at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.db import utc_now
from idp.oidc import tokens
from idp.oidc.agency_models import DataUse
from idp.oidc.agency_models import ExchangePermission
from idp.oidc.agency_models import MachineAccess
from idp.oidc.agency_models import ResourceServer
from idp.oidc.models import Client
from idp.oidc.models import Token

# Scopes about the IdP itself, not about any API: never checked against what a resource server accepts.
PROTOCOL_SCOPES = frozenset({"openid", "offline_access"})
# RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'.
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,100}")
MAX_SCOPES = 50


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2 / RFC 8693 §2.2.2: the requested resource is invalid, unknown, or not for this request."""

    error = "invalid_target"


class RegistryError(ValueError):
    """What an admin typed cannot be registered; the message says what to change."""


# -- the registry -------------------------------------------------------------------------------


def check_identifier(identifier: str) -> str:
    """An https URI without query or fragment (http only for localhost, as for redirect URIs)."""
    try:
        parts = urlsplit(identifier)
    except ValueError as exc:
        raise RegistryError("The identifier is not a URI.") from exc
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if not parts.hostname or parts.fragment or parts.query or len(identifier) > 2048 or not (
            parts.scheme == "https" or (parts.scheme == "http" and local)):
        raise RegistryError("The identifier must be an https URI without a query or a fragment.")
    return identifier


def check_scopes(scopes: Iterable[str]) -> list[str]:
    values = list(dict.fromkeys(s for s in scopes if s))
    bad = [s for s in values if not SCOPE_TOKEN.fullmatch(s)]
    if bad:
        raise RegistryError(f"{bad[0][:100]!r} is not a scope (letters, digits and punctuation, no spaces).")
    if len(values) > MAX_SCOPES:
        raise RegistryError(f"At most {MAX_SCOPES} scopes.")
    return values


def register(db: Session, *, identifier: str, name: str, client: Client, scopes: Iterable[str],
             name_th: str | None = None, by: int | None = None) -> ResourceServer:
    """Register an agency's API; it introspects with ``client``'s credentials (a confidential client).

    :raises RegistryError: a bad identifier or scope, a public client, or one already taken
    """
    identifier = check_identifier(identifier.strip())
    name = name.strip()
    if not name or len(name) > 200 or (name_th and len(name_th) > 200):
        raise RegistryError("Give the API a name of at most 200 characters.")
    accepted = check_scopes(scopes)
    if client.is_public:
        raise RegistryError("The API needs a confidential client (one with a secret or keys) to call introspection.")
    if db.scalar(select(ResourceServer.id).where(ResourceServer.identifier == identifier)) is not None:
        raise RegistryError("An API with this identifier is registered already.")
    if of_client(db, client) is not None:
        raise RegistryError("This client already introspects for another API.")
    row = ResourceServer(identifier=identifier, name=name, name_th=(name_th or "").strip() or None,
                         scopes=accepted, client_id=client.id, created_by=by)
    db.add(row)
    db.flush()
    audit.record(db, audit.Event.RESOURCE_SERVER_REGISTERED, client_id=client.id, commit=False,
                 resource=identifier, scopes=accepted, by=by)
    db.commit()
    return row


def remove(db: Session, server: ResourceServer, *, by: int | None = None) -> None:
    """Remove an API: the tokens issued for it stop working, its exchange permissions go with it."""
    tokens.revoke_where(db, Token.resource == server.identifier)
    audit.record(db, audit.Event.RESOURCE_SERVER_REMOVED, client_id=server.client_id, commit=False,
                 resource=server.identifier, by=by)
    db.delete(server)
    db.commit()


def list_servers(db: Session) -> list[ResourceServer]:
    return list(db.scalars(select(ResourceServer).order_by(ResourceServer.name, ResourceServer.id)))


def find(db: Session, identifier: str) -> ResourceServer | None:
    if not identifier or len(identifier) > 2048 or "\x00" in identifier:
        return None
    return db.scalar(select(ResourceServer).where(ResourceServer.identifier == identifier))


def of_client(db: Session, client: Client) -> ResourceServer | None:
    """The API that introspects with this client's credentials, if any."""
    return db.scalar(select(ResourceServer).where(ResourceServer.client_id == client.id))


# -- RFC 8707 at the authorization and token endpoints ------------------------------------------------


def api_scopes(scope: str | None) -> set[str]:
    """The scopes a resource server must accept: all but the IdP's own protocol scopes."""
    return set((scope or "").split()) - PROTOCOL_SCOPES


def resolve_target(db: Session, values: list[str], *, scope: str | None,
                   redirect_uri: str | None = None) -> ResourceServer | None:
    """The one registered resource server the request names (``None``: it names none).

    :raises InvalidTargetError: several resources, a value that is not an absolute URI without a
        fragment, an unknown one, or one that does not accept every requested scope
    """
    wanted = list(dict.fromkeys(v for v in values if v))
    if not wanted:
        if values:
            raise InvalidTargetError("The resource parameter is empty.", redirect_uri=redirect_uri)
        return None
    if len(wanted) > 1:
        raise InvalidTargetError("Ask for one resource per token.", redirect_uri=redirect_uri)
    value = wanted[0]
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or not parts.scheme or parts.fragment or "#" in value:
        raise InvalidTargetError("The resource must be an absolute URI without a fragment.",
                                 redirect_uri=redirect_uri)
    server = find(db, value)
    if server is None:
        raise InvalidTargetError("The resource is not a registered API.", redirect_uri=redirect_uri)
    check_accepts(server, scope, redirect_uri=redirect_uri)
    return server


def check_accepts(server: ResourceServer, scope: str | None, *, redirect_uri: str | None = None) -> None:
    refused = sorted(api_scopes(scope) - set(server.scopes))
    if refused:
        raise InvalidTargetError(f"The resource does not accept the scope {refused[0]!r}.",
                                 redirect_uri=redirect_uri)


def may_introspect(db: Session, client: Client, *, token_resource: str | None, token_client_id: int) -> bool:
    """RFC 7662 §4 with RFC 8707: a token meant for an API is described only to that API; any
    other token only to the client it was issued to."""
    if token_resource is not None:
        server = of_client(db, client)
        return server is not None and server.identifier == token_resource
    return token_client_id == client.id


# -- client_credentials -----------------------------------------------------------------------------


def machine_scopes(db: Session, client: Client) -> list[str]:
    """The scopes the operator granted this client for its own use (``client_credentials``)."""
    row = db.get(MachineAccess, client.id)
    return list(row.scopes) if row else []


def set_machine_scopes(db: Session, client: Client, scopes: Iterable[str], *, by: int | None = None) -> list[str]:
    """Replace the client's machine scopes (none: no ``client_credentials``); taken-away scopes'
    tokens are revoked. Audited.

    :raises RegistryError: a bad scope, or a public client (it has no credentials to present)
    """
    values = check_scopes(scopes)
    if values and client.is_public:
        raise RegistryError("A public client cannot use client_credentials.")
    row = db.get(MachineAccess, client.id)
    before = set(row.scopes) if row else set()
    if row is None:
        row = MachineAccess(client_id=client.id)
        db.add(row)
    row.scopes = values
    row.granted_by = by
    row.updated_at = utc_now()
    for taken in before - set(values):
        tokens.revoke_where(db, Token.client_id == client.id, Token.user_id.is_(None),
                            Token.scope.contains(taken))
    audit.record(db, audit.Event.MACHINE_SCOPES_SET, client_id=client.id, commit=False, scopes=values, by=by)
    db.commit()
    return values


# -- token exchange: the allowed pairs, and what the citizen sees ---------------------------------------


def exchange_allowed(db: Session, client: Client, server: ResourceServer) -> bool:
    found = db.scalar(select(ExchangePermission.id).where(ExchangePermission.client_id == client.id,
                                                          ExchangePermission.resource_server_id == server.id))
    return found is not None


def allow_exchange(db: Session, client: Client, server: ResourceServer, *, by: int | None = None) -> bool:
    """Let ``client`` exchange citizens' tokens for tokens to ``server``; ``False`` if it already may.

    :raises RegistryError: a public client (it cannot authenticate at the token endpoint)
    """
    if client.is_public:
        raise RegistryError("A public client cannot exchange tokens.")
    if exchange_allowed(db, client, server):
        return False
    db.add(ExchangePermission(client_id=client.id, resource_server_id=server.id, created_by=by))
    audit.record(db, audit.Event.TOKEN_EXCHANGE_ALLOWED, client_id=client.id, commit=False,
                 resource=server.identifier, by=by)
    db.commit()
    return True


def disallow_exchange(db: Session, permission: ExchangePermission, *, by: int | None = None) -> None:
    """Withdraw a permission; the tokens already exchanged under it are revoked."""
    tokens.revoke_where(db, Token.client_id == permission.client_id,
                        Token.resource == permission.resource_server.identifier, Token.act.is_not(None))
    audit.record(db, audit.Event.TOKEN_EXCHANGE_DISALLOWED, client_id=permission.client_id, commit=False,
                 resource=permission.resource_server.identifier, by=by)
    db.delete(permission)
    db.commit()


def list_exchanges(db: Session) -> list[ExchangePermission]:
    return list(db.scalars(select(ExchangePermission).order_by(ExchangePermission.id)))


def record_data_use(db: Session, *, user_id: int, client: Client, source_client_id: int | None,
                    server: ResourceServer, scope: str) -> None:
    """One line of the citizen's "on your behalf" list (not committed: the exchange commits it)."""
    db.add(DataUse(user_id=user_id, client_id=client.id, source_client_id=source_client_id,
                   resource_server_id=server.id, scope=scope))


def data_uses(db: Session, *, user_id: int, limit: int = 50) -> list[DataUse]:
    """The latest exchanges made with this person's tokens, newest first."""
    return list(db.scalars(select(DataUse).where(DataUse.user_id == user_id)
                           .order_by(DataUse.created_at.desc(), DataUse.id.desc()).limit(limit)))
