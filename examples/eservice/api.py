"""The licence API: a resource server that takes this e-Service's access tokens.

The IdP's access tokens are JWTs (RFC 9068), so the API checks them itself against the IdP's
JWKS and needs no call to the IdP per request. When the sign-in behind a token is too weak or
too old, the API answers with the challenge of RFC 9470 §3. It names the ``acr_values`` and
``max_age`` to ask the IdP for. The renew page in ``app.py`` follows that challenge.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import jsonify
from flask import request
from joserfc import jwt
from joserfc.errors import InvalidHeaderValueError
from joserfc.errors import InvalidKeyIdError
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response

from .policy import MAX_AGE
from .policy import REQUIRED_ACR
from .policy import shortfall
from .provider import idp
from .provider import provider_metadata

ALGORITHMS = ["RS256", "ES256"]


def licence() -> tuple[Response, int]:
    """``GET /api/licence`` with ``Authorization: Bearer <access token>``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return challenge()  # RFC 6750 §3.1: no error code when the request carried no token
    try:
        claims = validate_access_token(token.strip())
    except JoseError as exc:
        return challenge(error="invalid_token", error_description=f"The access token was refused ({exc.error}).")
    if reason := shortfall(claims):  # RFC 9470 §3: say what would be enough
        return challenge(error="insufficient_user_authentication", error_description=reason,
                         acr_values=REQUIRED_ACR, max_age=MAX_AGE)
    return jsonify(licence="FOOD-2568-000123", holder=claims["sub"], status="renewable",
                   acr=claims["acr"], amr=claims.get("amr", []), auth_time=claims["auth_time"]), 200


def validate_access_token(value: str) -> dict[str, Any]:
    """RFC 9068 §4: signed by the IdP, ``typ`` at+jwt, issued by it to this client, not expired."""
    config = current_app.config
    provider_metadata()  # the JWKS is trusted only if discovery names our issuer
    try:
        token = jwt.decode(value, KeySet.import_key_set(idp().fetch_jwk_set()), algorithms=ALGORITHMS)
    except InvalidKeyIdError:  # the IdP has rotated its keys since we fetched them
        token = jwt.decode(value, KeySet.import_key_set(idp().fetch_jwk_set(force=True)), algorithms=ALGORITHMS)
    if str(token.header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
        raise InvalidHeaderValueError("typ")  # an ID token is not an access token
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": config["ESERVICE_ISSUER"]},
        aud={"essential": True, "value": config["ESERVICE_ISSUER"]},  # this IdP's tokens name itself
        client_id={"essential": True, "value": config["ESERVICE_CLIENT_ID"]},  # issued to us, not another RP
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
    ).validate(token.claims)  # also checks that exp has not passed
    return token.claims


def challenge(**params: str | int) -> tuple[Response, int]:
    """A 401 with ``WWW-Authenticate: Bearer error="…", …`` (RFC 6750 §3; ``max_age`` is a number)."""
    values = ", ".join(f"{name}={value}" if isinstance(value, int) else f'{name}="{value}"'
                       for name, value in params.items())
    response = jsonify({name: value for name, value in params.items() if name.startswith("error")})
    response.headers["WWW-Authenticate"] = f"Bearer {values}".rstrip()
    return response, 401
