"""The logout token (OIDC Back-Channel Logout 1.0 §2.4): a JWT the IdP signs for one e-Service.

Signed with the keyring's key for the algorithm the e-Service gets its ID tokens in (it already
trusts those keys and that algorithm), typed ``logout+jwt`` (§2.4 and RFC 8725 §3.11: an ID token
can never pass for one, nor one for an ID token). It names the session with ``sid``, the same
value as in the ID tokens of that session, and the person with ``sub`` as that e-Service sees them
(pairwise); it never holds a ``nonce`` (§2.4: "A nonce Claim MUST NOT be present").
"""

from __future__ import annotations

from typing import Any

from joserfc import jwt

from idp.accounts.models import User
from idp.crypto import random_token
from idp.keyring import Keyring
from idp.oidc.models import Client
from idp.oidc.subjects import subject_for

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TYP = "logout+jwt"


def algorithm_for(client: Client, keyring: Keyring) -> str:
    """The e-Service's ID token algorithm, or RS256 when the IdP holds no key for it (as ID tokens)."""
    alg = client.id_token_signed_response_alg
    return alg if alg in keyring.algorithms() else "RS256"


def logout_claims(*, client: Client, user: User, sid: str, issuer: str, now: int, lifetime: int) -> dict[str, Any]:
    """§2.4's claims: ``iss``, ``aud``, ``iat``, ``exp``, ``jti``, ``events``, ``sid`` and ``sub``."""
    return {"iss": issuer, "aud": client.client_id, "iat": now, "exp": now + lifetime, "jti": random_token(16),
            "events": {EVENT: {}}, "sid": sid, "sub": subject_for(user, client)}


def make_logout_token(*, client: Client, user: User, sid: str, issuer: str, keyring: Keyring, now: int,
                      lifetime: int) -> str:
    """A signed logout token for ``client`` about session ``sid`` of ``user`` (app context needed for ``sub``)."""
    alg = algorithm_for(client, keyring)
    key = keyring.signing_key(alg)
    claims = logout_claims(client=client, user=user, sid=sid, issuer=issuer, now=now, lifetime=lifetime)
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": TYP}, claims, key)
