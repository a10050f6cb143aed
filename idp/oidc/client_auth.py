"""``private_key_jwt`` client authentication (OIDC Core §9, RFC 7523) with the IdP's own limits."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app
from flask import url_for
from joserfc.jwk import KeySet
from sqlalchemy.exc import IntegrityError

from idp.db import get_session
from idp.db import utc_now
from idp.oidc.models import Client
from idp.oidc.models import UsedAssertion

_JWKS_CACHE: dict[str, tuple[float, dict[str, Any]]] = {}


class PrivateKeyJWT(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def get_audiences(self) -> list[str]:
        issuer = current_app.config["ISSUER"]
        # OIDC Core §9: "The Audience SHOULD be the URL of the Authorization Server's Token Endpoint";
        # the issuer itself is accepted too (RFC 7523 §3, and what FAPI 2 asks for).
        return [issuer, issuer + url_for("oidc.token"), issuer + url_for("oidc.introspect"),
                issuer + url_for("oidc.revoke")]

    def verify_claims(self, claims: Any) -> None:
        exp = claims.get("exp")
        limit = int(current_app.config["CLIENT_ASSERTION_MAX_LIFETIME"])
        if not isinstance(exp, int) or exp > time.time() + limit:
            raise InvalidClientError(description=f"The assertion's exp must be at most {limit} seconds ahead.")
        super().verify_claims(claims)

    def validate_jti(self, claims: Any, jti: Any) -> bool:
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            return False
        db = get_session()
        db.add(UsedAssertion(client_id=str(claims["sub"]), jti=jti,
                             expires_at=utc_now() + dt.timedelta(seconds=600)))
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            return False
        return True

    def resolve_client_public_key(self, client: Client) -> KeySet:
        meta = client.client_metadata
        if meta.get("jwks"):
            return KeySet.import_key_set(meta["jwks"])  # type: ignore[arg-type]
        if meta.get("jwks_uri"):
            return KeySet.import_key_set(fetch_jwks(meta["jwks_uri"]))  # type: ignore[arg-type]
        raise InvalidClientError(description="The client has no registered keys.")


def fetch_jwks(uri: str, *, ttl: float = 300.0) -> dict[str, Any]:
    """The client's JWKS from ``jwks_uri``, cached for ``ttl`` seconds."""
    cached = _JWKS_CACHE.get(uri)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        with urllib.request.urlopen(uri, timeout=5) as resp:  # noqa: S310 (registered https URI)
            data = json.loads(resp.read(256 * 1024))
    except (OSError, ValueError) as exc:
        raise InvalidClientError(description="The client's jwks_uri could not be read.") from exc
    _JWKS_CACHE[uri] = (time.monotonic() + ttl, data)
    return data
