"""The callables Authlib asks for: find a client, save a token."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from idp.db import get_session
from idp.oidc.models import Client


def query_client(client_id: Any) -> Client | None:
    if not isinstance(client_id, str) or not client_id or len(client_id) > 64:
        return None
    client = get_session().scalar(select(Client).where(Client.client_id == client_id))
    return client if client is not None and client.active else None


def save_token(token: dict[str, Any], request: Any) -> None:
    """Tokens are stored as they are minted (see ``tokens.generate``); nothing left to do."""
