"""DPoP-bound access tokens at the IdP's own resources (userinfo): RFC 9449 §7.

Registered on ``require_oauth`` beside the bearer validator, for ``Authorization: DPoP <token>``
(Authlib picks the validator by the scheme). The token must come with a proof whose ``ath`` is its
hash, made with the key the token is bound to. The refusals carry a ``DPoP`` challenge (§7.1).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import TokenValidator
from authlib.oauth2.rfc6750 import InsufficientScopeError

from idp.db import get_session
from idp.oidc import dpop
from idp.oidc import dpop_requests
from idp.oidc import tokens
from idp.oidc.models import Token

CHALLENGE_ALGS = " ".join(dpop.ALGORITHMS)


class DPoPChallenge(OAuth2Error):
    """401 with ``WWW-Authenticate: DPoP error=..., algs=...`` (RFC 9449 §7.1) and, to a request
    that sent a proof or must send a nonce, the current ``DPoP-Nonce`` (§9)."""

    status_code = 401

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error

    def get_headers(self) -> list[tuple[str, str]]:
        challenge = (f'DPoP error="{self.error}", error_description="{self.get_error_description()}", '
                     f'algs="{CHALLENGE_ALGS}"')
        headers = [*super().get_headers(), ("WWW-Authenticate", challenge)]
        if dpop_requests.sent_proof() or self.error == "use_dpop_nonce":
            headers.append((dpop_requests.NONCE_HEADER, dpop_requests.current_nonce()))
        return headers


def invalid_token(description: str) -> DPoPChallenge:
    return DPoPChallenge("invalid_token", description)


class DPoPTokenValidator(TokenValidator):
    TOKEN_TYPE = "dpop"

    def authenticate_token(self, token_string: str) -> Token | None:
        """The token's row, once the proof sent with it checks out and names the token's key."""
        if not token_string or len(token_string) > 4096:
            return None
        db = get_session()
        row = tokens.find_access_token(db, token_string)
        if row is None:
            return None
        try:
            proof = dpop_requests.check_proof(client=row.client, access_token=token_string)
        except dpop.DPoPError as exc:
            raise DPoPChallenge(exc.error, exc.description) from exc
        if proof is None:
            raise DPoPChallenge("invalid_dpop_proof", "A DPoP token must come with a DPoP proof (DPoP header).")
        if row.dpop_jkt is None:
            # §7.1: the token must be bound to the proof's key; a bearer token is sent as Bearer.
            raise invalid_token("This access token is not DPoP-bound: send it with the Bearer scheme.")
        if proof.jkt != row.dpop_jkt:
            dpop_requests.refuse(db, row.client, reason="token_key_mismatch", user_id=row.user_id)
            raise invalid_token("The access token is bound to another key than the DPoP proof's.")
        return row

    def validate_token(self, token: Token | None, scopes: Any, request: Any) -> None:
        if token is None or token.is_expired() or token.is_revoked():
            raise invalid_token("The access token is expired, revoked or unknown.")
        if not token.client.active or token.user is None or not token.user.is_active:
            raise invalid_token("The access token is expired, revoked or unknown.")
        if token.resource is not None:  # RFC 8707: a token for another API, not for this IdP
            raise invalid_token("The access token is meant for another resource.")
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScopeError()
