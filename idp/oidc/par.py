"""Pushed Authorization Requests (RFC 9126): the endpoint, the stored requests, and their use.

A client posts its authorization request to ``/par``, authenticated as at the token endpoint; the
request is validated exactly as the authorization endpoint validates it (the same function,
:func:`validate_authorization`) and stored; the client gets a ``request_uri`` valid
``PAR_LIFETIME`` seconds (60 at most) and sends the browser to ``/authorize`` with only
``client_id`` and ``request_uri``.

Single use (RFC 9126 §4, FAPI 2.0 §5.3.2.2): the first authorization request that brings a
``request_uri`` claims it in one conditional UPDATE, so of two concurrent uses one wins, on any
instance. The browser that claimed it keeps a claim token in its session cookie, so that it can
come back to ``/authorize`` with the same ``request_uri`` after signing in (the journey carries
the request in its URL); anyone else, and that browser once the client got its answer, is
refused with ``invalid_request_uri``.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import OAuth2Payload
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.endpoint import Endpoint
from authlib.oauth2.rfc6749.endpoint import EndpointRequest
from flask import current_app
from flask import request as flask_request
from flask import session as cookie
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from idp import audit
from idp.crypto import hash_secret
from idp.crypto import random_token
from idp.db import get_session
from idp.db import utc_now
from idp.oidc import authorize as authz
from idp.oidc import dpop_requests
from idp.oidc.authorization_details import parse_authorization_details
from idp.oidc.models import Client
from idp.oidc.models import PushedAuthorizationRequest

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# How long the browser that claimed a request_uri may take to sign in, step up and consent.
INTERACTION_LIFETIME = dt.timedelta(minutes=30)
# The session-cookie key holding this browser's claims ({row id: claim token}); kept across sign-in.
CLAIMS_KEY = "par_claims"
MAX_CLAIMS = 4
# Parameters of client authentication, not of the authorization request (RFC 6749 §2.3, RFC 7523 §2.2).
CLIENT_AUTH_PARAMS = ("client_secret", "client_assertion", "client_assertion_type")
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


class InvalidRequestUri(OAuth2Error):
    """RFC 9126 §4 / RFC 9101 §7: the ``request_uri`` is unknown, expired, used or another client's."""

    error = "invalid_request_uri"


class Refusal:
    """Why a ``request_uri`` was refused (the audit event's ``reason``)."""

    UNKNOWN = "unknown"
    OTHER_CLIENT = "other_client"
    EXPIRED = "expired"
    USED = "used"


# -- one authorization request, from the query string or from a pushed request ------------------

class _Payload(OAuth2Payload):
    def __init__(self, data: MultiDict[str, str]) -> None:
        self._data = data

    @property
    def data(self) -> MultiDict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {name: self._data.getlist(name) for name in self._data}


def oauth_request(data: MultiDict[str, str]) -> OAuth2Request:
    """Authlib's request for the authorization endpoint, with ``data`` as its parameters (the
    pushed ones, or the browser's own)."""
    req = FlaskOAuth2Request(flask_request)
    req.payload = _Payload(data)
    return req


def request_url_length(data: MultiDict[str, str]) -> int:
    """The length of ``data`` as an authorization URL, the limit a request is held to wherever it comes from."""
    return len("/authorize?" + urlencode(list(data.items(multi=True))))


def validate_authorization(server: Any, data: MultiDict[str, str], *, end_user: Any, url_length: int,
                           pushed: bool, at_par: bool = False) -> tuple[Any, authz.OidcParams]:
    """What the authorization endpoint checks before anything depends on the person: Authlib's
    OAuth validation (client, redirect URI, response type, scope, PKCE), the lengths, the OIDC
    parameters, and the client's need for PAR. The PAR endpoint runs the same.

    :param at_par: validating a push: nobody is signed in yet, so ``prompt`` (whose values are
        still checked) is left to the authorization endpoint, where ``prompt=none`` is judged
    :raises OAuth2Error: carrying the redirect URI once it is verified
    """
    checked = data
    if at_par and "prompt" in data:
        checked = data.copy()
        checked.poplist("prompt")
    grant = server.get_consent_grant(request=oauth_request(checked), end_user=end_user)
    client: Client = grant.request.client
    if client.requires_par and not pushed:
        # RFC 9126 §6 / FAPI 2.0 §5.3.2.2 item 2: "shall only accept its parameters from a pushed request".
        raise InvalidRequestError("This client must send its authorization requests through the pushed "
                                  "authorization request endpoint (RFC 9126).", redirect_uri=grant.redirect_uri)
    authz.refuse_oversized(data, url_length=url_length, redirect_uri=grant.redirect_uri)
    params = authz.parse_params(data, redirect_uri=grant.redirect_uri,
                                keys=current_app.extensions["idp.keyring"].public_keys(),
                                issuer=current_app.config["ISSUER"])
    return grant, params


def authorization_details_of(data: MultiDict[str, str], client: Client, redirect_uri: str) -> list[dict[str, Any]]:
    """RFC 9396 ``authorization_details`` of the request, checked against the registered types."""
    if len(data.getlist("authorization_details")) > 1:
        raise InvalidRequestError("Repeated 'authorization_details' parameter.", redirect_uri=redirect_uri)
    return parse_authorization_details(data.get("authorization_details"), client, redirect_uri=redirect_uri)


# -- the endpoint ------------------------------------------------------------------------------

@dataclass
class PushedRequest(EndpointRequest):
    params: MultiDict[str, str] | None = None


class PushedAuthorizationEndpoint(Endpoint):
    """RFC 9126 §2, on Authlib's endpoint registry: ``create_endpoint_response("pushed_authorization")``."""

    ENDPOINT_NAME = "pushed_authorization"

    def validate_request(self, request: OAuth2Request) -> PushedRequest:
        client: Client = self.server.authenticate_client(request, CLIENT_AUTH_METHODS, self.ENDPOINT_NAME)
        request.client = client
        form = flask_request.form
        params: MultiDict[str, str] = MultiDict([(name, value) for name, value in form.items(multi=True)
                                                 if name not in CLIENT_AUTH_PARAMS])
        try:
            if "request_uri" in params:
                raise InvalidRequestError("request_uri cannot be pushed (RFC 9126 section 2.1).")
            if params.getlist("client_id") not in ([], [client.client_id]):
                raise InvalidRequestError("client_id is not the authenticated client.")
            params.setlist("client_id", [client.client_id])
            grant, _params = validate_authorization(self.server, params, end_user=None, pushed=True, at_par=True,
                                                    url_length=request_url_length(params))
            authorization_details_of(params, client, grant.redirect_uri)
            # RFC 9449 §10.1: a DPoP proof sent here (or a dpop_jkt parameter) binds the code to that key.
            jkt = dpop_requests.jkt_for_pushed_request(client, params)
            if jkt:
                params.setlist("dpop_jkt", [jkt])
        except OAuth2Error as err:
            # RFC 9126 §2.3: errors are the token endpoint's JSON, never a redirect.
            err.redirect_uri = None
            err.state = None
            refused(client, error=err.error, stage="par")
            raise
        return PushedRequest(request=request, client=client, params=params)

    def create_response(self, validated_request: EndpointRequest) -> tuple[int, Any, list[tuple[str, str]]]:
        assert isinstance(validated_request, PushedRequest) and validated_request.params is not None
        request_uri, expires_in = push(get_session(), validated_request.client, validated_request.params)
        return 201, {"request_uri": request_uri, "expires_in": expires_in}, [
            ("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]


def refused(client: Client | None, *, error: str, stage: str, reason: str | None = None) -> None:
    """Audit a refused pushed request, or a refused use of its ``request_uri`` (only for a known client)."""
    if client is None:
        return
    details: dict[str, Any] = {"error": error, "stage": stage}
    if reason:
        details["reason"] = reason
    audit.record(get_session(), audit.Event.PUSHED_REQUEST_REFUSED, client_id=client.id, **details)


# -- storing and using ---------------------------------------------------------------------------

def push(db: Session, client: Client, params: MultiDict[str, str]) -> tuple[str, int]:
    """Store a validated request; the ``request_uri`` and its lifetime in seconds (RFC 9126 §2.2)."""
    lifetime = int(current_app.config["PAR_LIFETIME"])
    reference = random_token(32)
    db.add(PushedAuthorizationRequest(
        reference_hash=hash_secret(reference), client_id=client.id,
        params={name: params.getlist(name) for name in params},
        expires_at=utc_now() + dt.timedelta(seconds=lifetime)))
    db.commit()
    return REQUEST_URI_PREFIX + reference, lifetime


@dataclass(frozen=True)
class Resolved:
    row: PushedAuthorizationRequest
    data: MultiDict[str, str]


def find(db: Session, request_uri: str) -> PushedAuthorizationRequest | None:
    if not request_uri.startswith(REQUEST_URI_PREFIX) or len(request_uri) > 200:
        return None
    reference = request_uri[len(REQUEST_URI_PREFIX):]
    return db.scalar(select(PushedAuthorizationRequest)
                     .where(PushedAuthorizationRequest.reference_hash == hash_secret(reference)))


def resolve(db: Session, *, client: Client | None, request_uri: str, query: MultiDict[str, str],
            internal: tuple[str, ...] = ()) -> Resolved:
    """The pushed parameters behind ``request_uri``, for this browser; claims it on first use.

    :param query: the authorization request's own parameters: a FAPI 2.0 client's may be only
        ``client_id`` and ``request_uri`` (and this IdP's ``internal`` markers)
    :raises InvalidRequestUri: unknown, another client's, expired, or used (by anyone else, or
        already answered). Never sent to the pushed redirect URI: the browser bringing a request it
        did not claim may not be the one the client sent, and must not learn its ``state``.
    """
    now = utc_now()
    row = find(db, request_uri)
    if row is None or client is None or row.client_id != client.id:
        reason = Refusal.UNKNOWN if row is None else Refusal.OTHER_CLIENT
        if row is not None:
            refused(client, error=InvalidRequestUri.error, stage="authorize", reason=reason)
        raise InvalidRequestUri("The request_uri is not one this client pushed (unknown, or another client's).")
    if client.fapi:
        extra = sorted(set(query) - {"client_id", "request_uri", *internal})
        if extra:
            refused(client, error=InvalidRequestError.error, stage="authorize", reason="extra_parameter")
            raise InvalidRequestError(f"A FAPI 2.0 client's authorization request carries only client_id and "
                                      f"request_uri, not {extra[0][:40]!r}.")
    claims: dict[str, str] = dict(cookie.get(CLAIMS_KEY) or {})
    if row.claimed_at is None:
        if row.expires_at <= now:
            refused(client, error=InvalidRequestUri.error, stage="authorize", reason=Refusal.EXPIRED)
            raise InvalidRequestUri("The request_uri has expired; push the request again.")
        token = random_token(16)
        if not _claim(db, row, token=token, now=now):
            refused(client, error=InvalidRequestUri.error, stage="authorize", reason=Refusal.USED)
            raise InvalidRequestUri("The request_uri was already used.")
        claims[str(row.id)] = token
        cookie[CLAIMS_KEY] = dict(list(claims.items())[-MAX_CLAIMS:])
    elif not _holds_claim(row, claims.get(str(row.id)), now=now):
        refused(client, error=InvalidRequestUri.error, stage="authorize", reason=Refusal.USED)
        raise InvalidRequestUri("The request_uri was already used.")
    data: MultiDict[str, str] = MultiDict()
    for name, values in row.params.items():
        data.setlist(name, [str(v) for v in values])
    return Resolved(row=row, data=data)


def _claim(db: Session, row: PushedAuthorizationRequest, *, token: str, now: dt.datetime) -> bool:
    """Mark ``row`` used by this browser, atomically: of concurrent uses exactly one wins."""
    table = PushedAuthorizationRequest
    result = db.execute(update(table).where(table.id == row.id, table.claimed_at.is_(None), table.expires_at > now)
                        .values(claimed_at=now, claim_hash=hash_secret(token))
                        .execution_options(synchronize_session=False))
    db.commit()
    db.refresh(row)
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def _holds_claim(row: PushedAuthorizationRequest, token: str | None, *, now: dt.datetime) -> bool:
    return (token is not None and row.claim_hash is not None and row.completed_at is None
            and row.claimed_at is not None and row.claimed_at + INTERACTION_LIFETIME > now
            and hmac.compare_digest(row.claim_hash, hash_secret(token)))


def complete(db: Session, row: PushedAuthorizationRequest) -> bool:
    """The client is about to get its answer (a code or an error): the request is spent.

    ``False`` when it was already answered (the same browser, twice at once): no second answer."""
    table = PushedAuthorizationRequest
    result = db.execute(update(table).where(table.id == row.id, table.completed_at.is_(None))
                        .values(completed_at=utc_now()).execution_options(synchronize_session=False))
    db.commit()
    claims = dict(cookie.get(CLAIMS_KEY) or {})
    if claims.pop(str(row.id), None) is not None:
        cookie[CLAIMS_KEY] = claims
    return int(result.rowcount) == 1  # type: ignore[attr-defined]

