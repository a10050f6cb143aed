"""Issuing, finding and revoking tokens.

Access tokens are JWTs after RFC 9068 (``typ: at+jwt``), so an e-Service API can check one
offline; the IdP also keeps a row per token, found by the token's SHA-256, so revocation and
introspection answer for it. Refresh tokens are opaque, single-use and rotate: a used one
presented again revokes its whole family (OAuth 2.0 Security BCP §4.14.2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import current_app
from joserfc import jwt
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp.accounts.models import User
from idp.crypto import hash_secret
from idp.crypto import random_token
from idp.db import utc_now
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Client
from idp.oidc.models import PushedAuthorizationRequest
from idp.oidc.models import Token
from idp.oidc.models import TokenFamily
from idp.oidc.models import UsedAssertion
from idp.oidc.models import UsedDPoPProof
from idp.oidc.subjects import subject_for

ACCESS_TOKEN_ALG = "RS256"


@dataclass(frozen=True)
class GrantContext:
    """How the person authenticated, carried from the code to every token of its family."""

    auth_time: dt.datetime
    acr: str
    amr: list[str]
    sid: str | None
    family: str
    code_id: int | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    # RFC 9396 §7: the details approved with the code, unchanged through every refresh.
    authorization_details: list[dict[str, Any]] = field(default_factory=list)


def family_of(code: AuthorizationCode) -> str:
    """The family every token from ``code`` belongs to."""
    return f"code:{code.id}"


def open_family(db: Session, code: AuthorizationCode) -> None:
    """Write the family row with the code, so a replay can always mark it (see ``redemption``).
    The family keeps the code's ``resource``: every token of the grant is for that API."""
    db.flush()  # the code's id
    db.add(TokenFamily(id=family_of(code), resource=code.resource))


def generate(db: Session, *, client: Client, user: User | None, scope: str, context: GrantContext,
             dpop_jkt: str | None = None, resource: str | None = None, act: dict[str, Any] | None = None,
             refresh: bool = True) -> dict[str, Any]:
    """Mint and store an access token (and a refresh token when ``offline_access`` was granted
    and ``refresh`` allows one: not for a token exchange, nor for a FAPI client's refresh, which
    keeps its refresh token).

    :param dpop_jkt: the thumbprint of the DPoP key the tokens are bound to (RFC 9449 §6: the
        access token gets ``cnf.jkt`` and ``token_type`` is ``DPoP``)
    :param user: ``None`` for a client's own token (``client_credentials``): its ``sub`` is the
        client (RFC 9068 §2.2) and it says nothing of a person's authentication
    :param resource: the registered API the token is for (RFC 8707): its ``aud``, instead of the issuer
    :param act: the RFC 8693 §4.1 actor of an exchanged token
    """
    cfg = current_app.config
    now = utc_now()
    lifetime = int(cfg["ACCESS_TOKEN_LIFETIME"])
    claims: dict[str, Any] = {
        "iss": cfg["ISSUER"],
        "sub": subject_for(user, client) if user is not None else client.client_id,
        "aud": resource or cfg["ISSUER"],
        "client_id": client.client_id,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + lifetime,
        "jti": random_token(16),
        "scope": scope,
    }
    if user is not None:
        claims.update(auth_time=int(context.auth_time.timestamp()), acr=context.acr, amr=context.amr)
    if context.sid:
        claims["sid"] = context.sid
    if context.authorization_details:  # RFC 9396 §9.1: in a JWT access token, as a claim
        claims["authorization_details"] = context.authorization_details
    if dpop_jkt:
        claims["cnf"] = {"jkt": dpop_jkt}
    if act:
        claims["act"] = act
    key = current_app.extensions["idp.keyring"].signing_key(ACCESS_TOKEN_ALG)
    access_token = jwt.encode({"alg": ACCESS_TOKEN_ALG, "typ": "at+jwt", "kid": key.kid}, claims, key)
    response: dict[str, Any] = {"access_token": access_token, "token_type": "DPoP" if dpop_jkt else "Bearer",
                                "expires_in": lifetime, "scope": scope}
    if context.authorization_details:  # RFC 9396 §7: the token response says what the token allows
        response["authorization_details"] = context.authorization_details
    row = Token(
        family=context.family, code_id=context.code_id, client_id=client.id,
        user_id=user.id if user is not None else None, scope=scope,
        access_token_hash=hash_secret(access_token), issued_at=now,
        access_expires_at=now + dt.timedelta(seconds=lifetime),
        auth_time=context.auth_time, acr=context.acr, amr=context.amr, sid=context.sid, claims=context.claims,
        authorization_details=context.authorization_details,
        dpop_jkt=dpop_jkt,
        resource=resource,
    )
    if act:
        row.act = act  # left unset otherwise: SQL NULL, which "exchanged tokens" queries rely on
    if refresh and user is not None and "offline_access" in scope.split():
        refresh_token = random_token(32)
        row.refresh_token_hash = hash_secret(refresh_token)
        row.refresh_expires_at = now + dt.timedelta(seconds=int(cfg["REFRESH_TOKEN_LIFETIME"]))
        response["refresh_token"] = refresh_token
    db.add(row)
    db.flush()
    return response


def open_machine_family(db: Session, prefix: str) -> str:
    """A family of its own for a token not issued from a code (``client_credentials``)."""
    family = f"{prefix}:{random_token(16)}"
    db.add(TokenFamily(id=family))
    return family


def find_access_token(db: Session, value: str) -> Token | None:
    return db.scalar(select(Token).where(Token.access_token_hash == hash_secret(value)))


def find_refresh_token(db: Session, value: str) -> Token | None:
    return db.scalar(select(Token).where(Token.refresh_token_hash == hash_secret(value)))


def find_any(db: Session, value: str) -> tuple[Token, bool] | None:
    """The row holding this access or refresh token, and whether it was the refresh token.

    One digest, one query: the ``token_type_hint`` of RFC 7009/7662 is only an optimisation.
    """
    digest = hash_secret(value)
    row = db.scalar(select(Token).where(or_(Token.access_token_hash == digest, Token.refresh_token_hash == digest)))
    return None if row is None else (row, row.refresh_token_hash == digest)


def revoke_where(db: Session, *conditions: Any, now: dt.datetime | None = None) -> int:
    """Revoke every live token matching ``conditions`` (not committed: the caller's change commits it);
    how many. The one way tokens are revoked in bulk: a family, a consent, an account, a permission."""
    result = db.execute(update(Token).where(Token.revoked_at.is_(None), *conditions)
                        .values(revoked_at=now or utc_now()).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def revoke_family(db: Session, family: str, *, now: dt.datetime | None = None) -> bool:
    """Mark the family revoked (covering tokens not written yet) and revoke its tokens; not
    committed. Whether the family was live until now."""
    now = now or utc_now()
    result = db.execute(update(TokenFamily).where(TokenFamily.id == family, TokenFamily.revoked_at.is_(None))
                        .values(revoked_at=now).execution_options(synchronize_session=False))
    revoke_where(db, Token.family == family, now=now)
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def refresh_is_usable(row: Token) -> bool:
    now = utc_now()
    return (not row.is_revoked() and row.refresh_used_at is None
            and row.refresh_expires_at is not None and row.refresh_expires_at > now
            and row.client.active and row.holder_active)


def introspection_payload(row: Token, *, refresh: bool) -> dict[str, Any]:
    """RFC 7662 §2.2 members, plus ``acr``/``auth_time`` so an API can apply RFC 9470, and the
    RFC 8693 ``act`` of an exchanged token. A client's own token has no person: its ``sub`` is the
    client (as in the JWT) and nothing about an authentication."""
    exp = row.refresh_expires_at if refresh and row.refresh_expires_at else row.access_expires_at
    payload: dict[str, Any] = {
        "active": True,
        "scope": row.scope,
        "client_id": row.client.client_id,
        "token_type": "refresh_token" if refresh else ("DPoP" if row.dpop_jkt else "Bearer"),
        "exp": int(exp.timestamp()),
        "iat": int(row.issued_at.timestamp()),
        "sub": subject_for(row.user, row.client) if row.user is not None else row.client.client_id,
        "aud": row.resource or current_app.config["ISSUER"],
        "iss": current_app.config["ISSUER"],
    }
    if row.authorization_details:  # RFC 9396 §9.2
        payload["authorization_details"] = row.authorization_details
    if row.dpop_jkt and (not refresh or row.client.is_public):
        # RFC 9449 §6.2: the key a DPoP-bound token is bound to, for the resource server to check
        # against the proof; a confidential client's refresh token is not bound (§5).
        payload["cnf"] = {"jkt": row.dpop_jkt}
    if row.user is not None:
        payload.update(auth_time=int(row.auth_time.timestamp()), acr=row.acr, amr=list(row.amr))
    if row.act:
        payload["act"] = row.act
    return payload


def prune(db: Session, *, now: dt.datetime, keep: dt.timedelta = dt.timedelta(days=1)) -> dict[str, int]:
    """Delete what can no longer be used: expired codes, assertions and tokens, after ``keep``.

    Used codes and rotated refresh tokens are kept for ``keep`` so a replay is still recognised
    (and still revokes its family) for a while after the fact.
    """
    cutoff = now - keep
    counts: dict[str, int] = {}
    result = db.execute(delete(Token).where(
        Token.access_expires_at < cutoff,
        or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < cutoff,
            Token.revoked_at < cutoff, Token.refresh_used_at < cutoff)))
    counts["tokens"] = result.rowcount  # type: ignore[attr-defined]
    result = db.execute(delete(AuthorizationCode).where(AuthorizationCode.expires_at < cutoff))
    counts["authorization_codes"] = result.rowcount  # type: ignore[attr-defined]
    # A family outlives its code (refresh tokens live longer); it goes with its last token.
    result = db.execute(delete(TokenFamily).where(TokenFamily.created_at < cutoff,
                                                  ~exists().where(Token.family == TokenFamily.id)))
    counts["token_families"] = result.rowcount  # type: ignore[attr-defined]
    result = db.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now))
    counts["used_assertions"] = result.rowcount  # type: ignore[attr-defined]
    result = db.execute(delete(UsedDPoPProof).where(UsedDPoPProof.expires_at < now))
    counts["used_dpop_proofs"] = result.rowcount  # type: ignore[attr-defined]
    result = db.execute(delete(PushedAuthorizationRequest).where(PushedAuthorizationRequest.expires_at < cutoff))
    counts["pushed_authorization_requests"] = result.rowcount  # type: ignore[attr-defined]
    db.commit()
    return counts
