"""Subject identifiers (OIDC Core §8): pairwise per sector by default, public when configured.

A pairwise ``sub`` is an HMAC of the sector and the account's random seed, so two agencies
cannot link a citizen by ``sub`` and nobody can reverse it without the server's secret.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app

from idp.accounts.models import User
from idp.crypto import derive_key
from idp.crypto import keyed_hash
from idp.oidc.models import Client


def sector_of(client: Client) -> str:
    """OIDC Core §8.1: the host of ``sector_identifier_uri``, else of the (single) redirect URI host."""
    uri = client.client_metadata.get("sector_identifier_uri")
    if uri:
        return urlsplit(uri).hostname or uri
    hosts = sorted({urlsplit(u).hostname or u for u in client.redirect_uris})
    return hosts[0] if len(hosts) == 1 else client.client_id  # refused at registration; never shared


def subject_for(user: User, client: Client) -> str:
    secret = current_app.config["SECRET_KEY"]
    if client.subject_type == "public":
        return keyed_hash(derive_key(secret, purpose="public-subject"), user.subject_seed)
    return keyed_hash(derive_key(secret, purpose="pairwise-subject"), f"{sector_of(client)}|{user.subject_seed}")
