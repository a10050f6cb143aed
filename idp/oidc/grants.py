"""Authlib grants: authorization code with S256-only PKCE and OpenID, and rotating refresh tokens.

Nothing implicit or hybrid is registered: ``response_type=code`` is the only response type.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode as _OpenIDCode
from authlib.oidc.core import UserInfo
from flask import current_app
from flask import g
from sqlalchemy import select

from idp import audit
from idp import clock
from idp.accounts.models import User
from idp.accounts.session import AuthContext
from idp.crypto import hash_secret
from idp.db import get_session
from idp.db import utc_now
from idp.disclosure.log import Via
from idp.disclosure.log import record_disclosure
from idp.disclosure.log import released_names
from idp.oidc import dpop_requests
from idp.oidc import fapi
from idp.oidc import redemption
from idp.oidc import resource_servers
from idp.oidc import tokens
from idp.oidc.authorization_details import types_of
from idp.oidc.claims import release
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Client
from idp.oidc.models import Token

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only, and required of every client not explicitly exempted.

    Authlib's default accepts ``plain`` and lets confidential clients skip PKCE; OAuth 2.0
    Security BCP §2.1.1 asks for S256, and public clients can never skip it.
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        client: Client = grant.request.client
        if not data.get("code_challenge") and (client.is_public or client.require_pkce):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256 ('plain' is not accepted).")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        code: AuthorizationCode = grant.request.authorization_code
        if code.code_challenge and not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


class OpenIDCode(_OpenIDCode):
    """ID tokens signed by the keyring; claims from the code row (acr, amr, auth_time, sid)."""

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # A nonce is the RP's replay guard for the ID token; the IdP need not refuse reuse
        # across authorizations, and refusing would break a user's retry.
        return False

    def _alg(self, client: Client) -> str:
        alg = client.id_token_signed_response_alg
        if client.fapi and alg not in fapi.ID_TOKEN_ALGS:
            alg = fapi.DEFAULT_ID_TOKEN_ALG  # never RS256 for a FAPI 2.0 client (the keyring must have PS256)
        if client.fapi or alg in current_app.extensions["idp.keyring"].algorithms():
            return alg
        return "RS256"

    def get_client_algorithm(self, client: Client) -> str:
        return self._alg(client)

    def resolve_client_private_key(self, client: Client) -> Any:
        return current_app.extensions["idp.keyring"].signing_key(self._alg(client))

    def get_encode_header(self, client: Client) -> dict[str, str]:
        key = self.resolve_client_private_key(client)
        return {"alg": self._alg(client), "kid": key.kid, "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = int(clock.timestamp())
        return {"iss": current_app.config["ISSUER"], "aud": [client.client_id], "iat": now,
                "exp": now + int(current_app.config["ID_TOKEN_LIFETIME"])}

    def get_authorization_code_claims(self, authorization_code: AuthorizationCode) -> dict[str, Any]:
        claims = super().get_authorization_code_claims(authorization_code)
        if authorization_code.sid:
            claims["sid"] = authorization_code.sid
        released = g.pop(_ID_TOKEN_CLAIMS, None)
        if released is None:  # not through AuthorizationCodeGrant.generate_token (nothing else today)
            client = get_session().get(Client, authorization_code.client_id)
            assert client is not None
            released = id_token_release(authorization_code, client)
        claims.update(released)
        return claims

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return UserInfo()  # everything is added from the code row above


# The ID token's claims about the person, made once per token request: logged (see
# ``AuthorizationCodeGrant.generate_token``) in the transaction that redeems the code, then signed
# by ``OpenIDCode`` after it; so the log names exactly what the ID token carries.
_ID_TOKEN_CLAIMS = "idp_id_token_claims"


def id_token_release(code: AuthorizationCode, client: Client) -> dict[str, Any]:
    return release(code.user, client, scope=code.scope, requested=code.claims, member="id_token",
                   acr=code.acr, amr=list(code.amr))


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    AUTHORIZATION_CODE_LENGTH = 43

    def save_authorization_code(self, code: str, request: Any) -> AuthorizationCode:
        ctx: AuthContext = request.auth_context
        data = request.payload.data
        db = get_session()
        row = AuthorizationCode(
            code_hash=hash_secret(code), client_id=request.client.id, user_id=request.user.id,
            redirect_uri=request.payload.redirect_uri, scope=request.granted_scope,
            nonce=data.get("nonce"), code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=ctx.auth_time, acr=request.acr, amr=ctx.amr, sid=ctx.sid,
            claims=request.requested_claims, requested_acr=request.requested_acr,
            authorization_details=getattr(request, "authorization_details", None) or [],
            dpop_jkt=data.get("dpop_jkt") or None,
            resource=getattr(request, "resource", None),
            expires_at=utc_now() + dt.timedelta(seconds=int(current_app.config["AUTH_CODE_LIFETIME"])),
        )
        db.add(row)
        tokens.open_family(db, row)
        # One event per authorization an e-Service received (the dashboard's per-service sign-ins).
        audit.record(db, audit.Event.AUTHORIZED, user_id=request.user.id, client_id=request.client.id, commit=False,
                     acr=row.acr, amr=row.amr,
                     **({"authorization_details": types_of(row.authorization_details)}
                        if row.authorization_details else {}))
        db.commit()
        return row

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        # The DPoP proof first (its jti is committed as used), before the code is redeemed.
        self.request.dpop = proof = dpop_requests.proof_for_token_request(client)
        db = get_session()
        row = db.scalar(select(AuthorizationCode).where(AuthorizationCode.code_hash == hash_secret(code)))
        if row is None or row.client_id != client.id:
            return None
        now = utc_now()
        if row.used_at is None and (row.is_expired() or not row.user.is_active):
            return None
        if row.used_at is None and row.dpop_jkt and (proof is None or proof.jkt != row.dpop_jkt):
            # RFC 9449 §10: the code is bound to the key named by dpop_jkt; the code stays
            # unredeemed for whoever holds that key.
            dpop_requests.refuse(db, client, reason="dpop_jkt_mismatch", user_id=row.user_id)
            raise InvalidGrantError("The code is bound to another DPoP key (dpop_jkt).")
        # Redeemed before anything is issued, atomically; whoever comes second (even by a
        # microsecond) revokes what the first issued, now or later (see ``redemption``).
        if row.used_at is not None or not redemption.redeem_code(db, row, now=now):
            redemption.revoke_replayed(db, family=tokens.family_of(row), reason=redemption.Replay.CODE,
                                       client_id=row.client_id, user_id=row.user_id, now=now)
            return None
        return row

    def validate_token_request(self) -> None:
        """Authlib's checks, then RFC 8707 §2.2: a ``resource`` here must be the one the grant is
        for (the code's), or name an API when the code named none."""
        super().validate_token_request()
        code: AuthorizationCode = self.request.authorization_code
        self.request.resource = _grant_resource(self.request, pinned=code.resource, scope=code.scope)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        get_session().commit()  # the row stays, marked used, to detect replays

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        return authorization_code.user

    def generate_token(self, user: Any = None, scope: Any = None, grant_type: Any = None,
                       expires_in: Any = None, include_refresh_token: bool = True) -> dict[str, Any]:
        code: AuthorizationCode = self.request.authorization_code
        context = tokens.GrantContext(auth_time=code.auth_time, acr=code.acr, amr=list(code.amr), sid=code.sid,
                                      family=tokens.family_of(code), code_id=code.id, claims=code.claims,
                                      authorization_details=list(code.authorization_details or []))
        db = get_session()
        response = tokens.generate(db, client=self.request.client, user=user, scope=scope, context=context,
                                   resource=self.request.resource, dpop_jkt=_jkt(self.request))
        if "openid" in str(scope or "").split():  # an ID token follows (OpenIDCode.process_token)
            released = id_token_release(code, self.request.client)
            setattr(g, _ID_TOKEN_CLAIMS, released)
            record_disclosure(db, user_id=code.user_id, client=self.request.client, claims=released_names(released),
                              acr=code.acr, via=Via.AUTHORIZATION_CODE, reference=context.family,
                              details=list(code.authorization_details or []) or None)
        return response


def _grant_resource(request: Any, *, pinned: str | None, scope: str | None) -> str | None:
    """The ``aud`` of the token a code or refresh request gets (RFC 8707 §2.2).

    A grant authorized for one API stays with it; a grant authorized without one may ask for any
    registered API that accepts its scopes, one per request.

    :raises InvalidTargetError: several resources, an unknown one, one that does not accept the
        scope, or another API than the grant's
    """
    target = resource_servers.resolve_target(get_session(), request.form.getlist("resource"), scope=scope)
    if target is None:
        return pinned
    if pinned is not None and target.identifier != pinned:
        raise resource_servers.InvalidTargetError("The grant was authorized for another resource.")
    return target.identifier


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        client: Client = self.request.client
        self.request.dpop = proof = dpop_requests.proof_for_token_request(client)
        db = get_session()
        row = tokens.find_refresh_token(db, refresh_token)
        if row is None or not row.check_client(client):
            return None
        now = utc_now()
        if row.refresh_used_at is None and not tokens.refresh_is_usable(row):
            return None
        if (row.refresh_used_at is None and row.dpop_jkt and client.is_public
                and (proof is None or proof.jkt != row.dpop_jkt)):
            # RFC 9449 §5: "refresh tokens issued to public clients MUST be bound to the DPoP key";
            # the token is not used up, so its holder (with the key) can still refresh.
            dpop_requests.refuse(db, client, reason="refresh_key_mismatch", user_id=row.user_id)
            raise InvalidGrantError("The refresh token is bound to another DPoP key.")
        if client.fapi and row.refresh_used_at is None:
            # FAPI 2.0 §5.3.2.1 item 5 ("shall not use refresh token rotation except in extraordinary
            # circumstances"): the token stays, usable until it expires or is revoked.
            return row
        # Rotated before anything is issued, atomically: a second use, however close to the
        # first, means someone holds a copy, so the family goes (RFC 9700 §4.14.2).
        if row.refresh_used_at is not None or not redemption.redeem_refresh_token(db, row, now=now):
            redemption.revoke_replayed(db, family=row.family, reason=redemption.Replay.REFRESH_TOKEN,
                                       client_id=row.client_id, user_id=row.user_id, now=now)
            return None
        return row

    def authenticate_user(self, refresh_token: Token) -> User | None:
        return refresh_token.user  # refresh tokens are issued for a person only

    def generate_token(self, user: Any = None, scope: Any = None, grant_type: Any = None,
                       expires_in: Any = None, include_refresh_token: bool = True) -> dict[str, Any]:
        old: Token = self.request.refresh_token
        context = tokens.GrantContext(auth_time=old.auth_time, acr=old.acr, amr=list(old.amr), sid=old.sid,
                                      family=old.family, code_id=old.code_id, claims=old.claims,
                                      authorization_details=list(old.authorization_details or []))
        resource = _grant_resource(self.request, pinned=old.family_row.resource, scope=scope)
        return tokens.generate(get_session(), client=self.request.client, user=user, scope=scope, context=context,
                               resource=resource, dpop_jkt=_jkt(self.request),
                               refresh=not self.request.client.fapi)

    def revoke_old_credential(self, refresh_token: Token) -> None:
        get_session().commit()  # the rotation (see authenticate_refresh_token) with the new tokens


def _jkt(request: Any) -> str | None:
    """The key the new tokens are bound to: the one of the token request's DPoP proof (RFC 9449 §5)."""
    proof = getattr(request, "dpop", None)
    return proof.jkt if proof is not None else None
