"""Blueprint ``registration``: RFC 7591 dynamic registration and the RFC 7592 configuration endpoint.

Errors here are JSON (RFC 7591 §3.2.2); the rules live in :mod:`idp.oidc.registration`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from idp.db import get_session
from idp.extensions import csrf
from idp.oidc import registration
from idp.oidc.clients import ClientMetadataError
from idp.oidc.models import Client

bp = Blueprint("registration", __name__)


def _json(body: dict[str, Any] | None, status: int) -> Response:
    response = jsonify(body) if body is not None else Response(status=status)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"  # RFC 7591 §3.2.1: the body holds credentials
    response.headers["Pragma"] = "no-cache"
    return response


def _bearer() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _invalid_token() -> Response:
    """RFC 6750 §3.1, for a missing, unknown, expired or revoked token alike."""
    response = _json({"error": "invalid_token"}, 401)
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _invalid(exc: ClientMetadataError) -> Response:
    return _json({"error": exc.error, "error_description": exc.description}, 400)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True) if request.is_json else None
    if not isinstance(data, dict):
        raise ClientMetadataError("invalid_client_metadata",
                                  "The body must be a JSON object sent as application/json.")
    return data


def _information(client: Client, *, token: str, secret: str | None = None) -> dict[str, Any]:
    body = registration.client_information(client)
    if secret:
        body["client_secret"] = secret
    body["registration_access_token"] = token
    body["registration_client_uri"] = current_app.config["ISSUER"] + url_for(
        "registration.read", client_id=client.client_id)
    return body


@bp.route("/register", methods=["POST"])
@csrf.exempt
def register() -> Response:
    db = get_session()
    initial = registration.find_initial_token(db, _bearer()) if _bearer() else None
    if initial is None:
        return _invalid_token()
    try:
        new = registration.register_client(db, _body(), initial_token=initial,
                                           high_value_scopes=_high_value_scopes())
    except ClientMetadataError as exc:
        return _invalid(exc)
    return _json(_information(new.client, token=new.registration_access_token, secret=new.client_secret), 201)


def _managed(client_id: str) -> Client | None:
    return registration.find_registered_client(get_session(), client_id=client_id,
                                               registration_access_token=_bearer())


@bp.route("/register/<client_id>", methods=["GET"])
@csrf.exempt
def read(client_id: str) -> Response:
    """RFC 7592 §2.1. The secret is stored hashed, so it is not returned again."""
    client = _managed(client_id)
    if client is None:
        return _invalid_token()
    return _json(_information(client, token=_bearer()), 200)


@bp.route("/register/<client_id>", methods=["PUT"])
@csrf.exempt
def update(client_id: str) -> Response:
    """RFC 7592 §2.2: full replacement; the agency's policy is applied again."""
    client = _managed(client_id)
    if client is None:
        return _invalid_token()
    try:
        secret = registration.update_registration(get_session(), client, _body(),
                                                  high_value_scopes=_high_value_scopes())
    except ClientMetadataError as exc:
        return _invalid(exc)
    return _json(_information(client, token=_bearer(), secret=secret), 200)


@bp.route("/register/<client_id>", methods=["DELETE"])
@csrf.exempt
def delete(client_id: str) -> Response:
    """RFC 7592 §2.3: 204, and the client's tokens go with it."""
    client = _managed(client_id)
    if client is None:
        return _invalid_token()
    registration.delete_registration(get_session(), client)
    return _json(None, 204)


def _high_value_scopes() -> frozenset[str]:
    """The operator's ``FAPI_HIGH_VALUE_SCOPES``: registering for one needs the FAPI 2.0 profile."""
    return frozenset(current_app.config["FAPI_HIGH_VALUE_SCOPES"])
