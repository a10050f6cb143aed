"""Subject identifiers (OIDC Core §8): pairwise per sector by default, public when configured.

A pairwise ``sub`` is an HMAC of the sector and the account's random seed, so two agencies
cannot link a citizen by ``sub`` and nobody can reverse it without the server's secret.
"""

from __future__ import annotations

from flask import current_app

from idp.accounts.models import User
from idp.crypto import derive_key
from idp.crypto import keyed_hash
from idp.oidc.models import Client
from idp.oidc.sectors import sector_host


def sector_of(client: Client) -> str:
    """OIDC Core §8.1: the host of ``sector_identifier_uri``, else of the (single) redirect URI host."""
    return sector_host(client.client_metadata) or client.client_id  # several hosts: refused at registration


def subject_for(user: User, client: Client) -> str:
    secret = current_app.config["SECRET_KEY"]
    if client.subject_type == "public":
        return keyed_hash(derive_key(secret, purpose="public-subject"), user.subject_seed)
    return keyed_hash(derive_key(secret, purpose="pairwise-subject"), f"{sector_of(client)}|{user.subject_seed}")
