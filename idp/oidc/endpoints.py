"""Revocation (RFC 7009), introspection (RFC 7662), RP-initiated logout, and the bearer validator."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenValidator as _BearerTokenValidator
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.oidc.rpinitiated import EndSessionRequest
from flask import current_app
from joserfc.jwk import KeySet

from idp.accounts import session as auth_session
from idp.db import get_session
from idp.db import utc_now
from idp.oidc import dpop_requests
from idp.oidc import dpop_validator
from idp.oidc import resource_servers
from idp.oidc import tokens
from idp.oidc.models import Client
from idp.oidc.models import Token
from idp.oidc.subjects import subject_for

CONFIDENTIAL_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


class _Found:
    """A token row plus which of its two tokens was presented."""

    def __init__(self, row: Token, *, refresh: bool) -> None:
        self.row = row
        self.refresh = refresh

    def check_client(self, client: Client) -> bool:
        return self.row.client_id == client.id

    def is_expired(self) -> bool:
        if self.refresh:
            return not tokens.refresh_is_usable(self.row)
        return self.row.is_expired()

    def is_revoked(self) -> bool:
        return self.row.is_revoked() or not self.row.client.active or not self.row.holder_active


def _require_token(request: Any) -> None:
    # RFC 7009 §2.1 / RFC 7662 §2.1: only ``token`` is required; an unknown hint is ignored.
    if not request.form.get("token"):
        raise InvalidRequestError("Missing 'token' parameter.")


def _query(token_string: str) -> _Found | None:
    if not token_string or len(token_string) > 4096:
        return None
    found = tokens.find_any(get_session(), token_string)
    return None if found is None else _Found(found[0], refresh=found[1])


class RevocationEndpoint(_RevocationEndpoint):
    CLIENT_AUTH_METHODS = [*CONFIDENTIAL_METHODS, "none"]

    def check_params(self, request: Any, client: Client) -> None:
        _require_token(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Found | None:
        return _query(token_string)

    def revoke_token(self, token: _Found, request: Any) -> None:
        db = get_session()
        if token.refresh:
            # RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of its grant.
            tokens.revoke_family(db, token.row.family)
        elif token.row.revoked_at is None:
            token.row.revoked_at = utc_now()
        db.commit()


class IntrospectionEndpoint(_IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CONFIDENTIAL_METHODS

    def check_params(self, request: Any, client: Client) -> None:
        _require_token(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Found | None:
        return _query(token_string)

    def check_permission(self, token: _Found, client: Client, request: Any) -> bool:
        # A token meant for an API (RFC 8707) is described to that API only; any other token
        # only to the client it was issued to. Anyone else hears it is inactive, revealing
        # nothing (RFC 7662 §4).
        return resource_servers.may_introspect(get_session(), client, token_resource=token.row.resource,
                                               token_client_id=token.row.client_id)

    def introspect_token(self, token: _Found) -> dict[str, Any]:
        return tokens.introspection_payload(token.row, refresh=token.refresh)


def hint_names_session(claims: dict[str, Any], client: Client | None, ctx: auth_session.AuthContext) -> bool:
    """Whether a (verified) ID token was issued in this browser's session to this person.

    RP-Initiated Logout 1.0 §2: the hint's ``sid`` and ``sub`` identify the session; any valid
    ID token (another person's, or one from a session already over) must not end this one.
    The ``sub`` is pairwise, so it is compared as the hint's client would see this person.
    """
    return (client is not None and claims.get("sid") == ctx.sid
            and claims.get("sub") == subject_for(ctx.user, client))


@dataclass
class LogoutRequest(EndSessionRequest):
    """Authlib's request, with the decision whether to ask the person first."""

    asks: bool = True

    @property
    def needs_confirmation(self) -> bool:
        return self.asks


class EndSessionEndpoint(_EndSessionEndpoint):
    def get_server_jwks(self) -> KeySet:
        return current_app.extensions["idp.keyring"].public_keys()

    def get_algorithms(self) -> list[str]:
        return ["RS256", "ES256", "PS256"]

    def validate_request(self, request: Any) -> LogoutRequest:
        """Ends the session without a question only when the hint names it (§2, §4), or when
        there is no session to end; without a valid hint the person always confirms (§6)."""
        req = super().validate_request(request)
        asks = True
        if req.id_token_claims is not None:
            ctx = auth_session.current(get_session())
            asks = ctx is not None and not hint_names_session(req.id_token_claims, req.client, ctx)
        return LogoutRequest(**{f.name: getattr(req, f.name) for f in fields(req)}, asks=asks)

    def _validate_id_token_hint(self, id_token_hint: str) -> dict[str, Any]:
        claims = super()._validate_id_token_hint(id_token_hint)
        if claims.get("iss") != current_app.config["ISSUER"]:
            raise InvalidRequestError("The id_token_hint was not issued by this provider.")
        return claims

    def resolve_client_from_id_token_claims(self, id_token_claims: dict[str, Any]) -> Client | None:
        aud = id_token_claims.get("aud")
        if isinstance(aud, list) and len(aud) == 1:
            aud = aud[0]
        return self.server.query_client(aud) if isinstance(aud, str) else None

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        auth_session.end_current(get_session(), reason="rp_logout")


class BearerTokenValidator(_BearerTokenValidator):
    """Looks a presented access token up by its hash: only tokens this IdP minted and still holds pass."""

    def authenticate_token(self, token_string: str) -> Token | None:
        if not token_string or len(token_string) > 4096:
            return None
        return tokens.find_access_token(get_session(), token_string)

    def validate_token(self, token: Token, scopes: Any, request: Any) -> None:
        """Authlib's checks, then: the e-Service and the person are active, and the token is for
        this IdP. A token for another API (RFC 8707 ``aud``) or a client's own token (no person:
        nothing for userinfo to describe) is refused as ``invalid_token`` (RFC 6750 §3.1)."""
        super().validate_token(token, scopes, request)
        if (not token.client.active or token.user is None or not token.user.is_active
                or token.resource is not None):
            raise InvalidTokenError(realm=self.realm, extra_attributes=self.extra_attributes)
        if token.dpop_jkt is not None:
            # RFC 9449 §7.2: a DPoP-bound token is worthless without its key, so never as Bearer.
            dpop_requests.refuse(get_session(), token.client, reason="bound_token_as_bearer", user_id=token.user_id)
            raise dpop_validator.invalid_token("This access token is DPoP-bound: send it with the DPoP scheme "
                                               "and a DPoP proof.")
