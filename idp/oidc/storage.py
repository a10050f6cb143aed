"""The callables Authlib asks for: find a client, save a token."""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import select

from idp import metrics
from idp.db import get_session
from idp.oidc.models import Client


def allow_disabled_client() -> None:
    """For this request only (introspection): a disabled client still authenticates, so its
    resource servers hear ``{"active": false}`` rather than an error (RFC 7662 §2.2)."""
    g.idp_allow_disabled_client = True


def query_client(client_id: Any) -> Client | None:
    """The active client, or ``None``: also for an id no client can have (too long for the
    column, or with a NUL, which PostgreSQL cannot even compare), as the ``sub`` of an
    unverified client assertion may be."""
    if not isinstance(client_id, str) or not client_id or len(client_id) > 64 or "\x00" in client_id:
        return None
    # Asked several times a request (Authlib's checks, the page naming the waiting e-Service):
    # read once per request; the session's identity map would return the same row anyway.
    seen: dict[str, Client | None] = g.setdefault("idp_clients", {})
    if client_id not in seen:
        seen[client_id] = get_session().scalar(select(Client).where(Client.client_id == client_id))
    client = seen[client_id]
    if client is None:
        return None
    if client.active or (client.status == "disabled" and g.get("idp_allow_disabled_client")):
        return client
    return None


def save_token(token: dict[str, Any], request: Any) -> None:
    """Tokens are stored as they are minted (see ``tokens.generate``): only counted here, where
    Authlib hands over each token response it is about to send."""
    metrics.count_token(request.payload.grant_type if request.payload is not None else None)
