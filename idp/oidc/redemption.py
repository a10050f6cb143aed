"""Single use of authorization codes and refresh tokens, and what a second use sets off.

RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server MUST
deny the request and SHOULD revoke (when possible) all tokens previously issued based on that
authorization code." RFC 9700 §4.14.2: when a rotated-out refresh token comes back, the
server cannot tell the thief from the holder, so the whole family is revoked.

The order makes this hold for two requests racing each other:

1. Every code gets its family row (``token_families``) when it is issued, before it can be redeemed.
2. Redeeming is one conditional ``UPDATE ... WHERE used_at IS NULL``: exactly one request sees
   one row changed. On PostgreSQL the other waits on the row lock until the first commits or
   rolls back; on SQLite it waits for the write lock. Either way it then sees zero rows.
3. The request that sees zero rows marks the family revoked and commits.
4. Tokens are issued into the family, and a token counts as revoked when its family is: the
   winner's tokens are covered even if they were written after the mark.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import audit
from idp.oidc import tokens
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Token


class Replay(StrEnum):
    """Why a family was revoked (the audit event's ``reason``)."""

    CODE = "code_reused"
    REFRESH_TOKEN = "refresh_token_reused"


def redeem_code(db: Session, code: AuthorizationCode, *, now: dt.datetime) -> bool:
    """Mark ``code`` used unless someone already did; whether this request may issue tokens.

    Not committed: the tokens commit with it, and an error before then (a wrong PKCE verifier)
    rolls the redemption back, leaving the code to its rightful holder.
    """
    result = db.execute(update(AuthorizationCode)
                        .where(AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_(None))
                        .values(used_at=now).execution_options(synchronize_session=False))
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def redeem_refresh_token(db: Session, row: Token, *, now: dt.datetime) -> bool:
    """Mark the refresh token of ``row`` used unless someone already did (see :func:`redeem_code`)."""
    result = db.execute(update(Token).where(Token.id == row.id, Token.refresh_used_at.is_(None))
                        .values(refresh_used_at=now).execution_options(synchronize_session=False))
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def revoke_replayed(db: Session, *, family: str, reason: Replay, client_id: int, user_id: int | None,
                    now: dt.datetime) -> None:
    """A second use: revoke the family, say so in the audit log (once) and commit."""
    if tokens.revoke_family(db, family, now=now):
        audit.record(db, audit.Event.TOKEN_FAMILY_REVOKED, user_id=user_id, client_id=client_id, commit=False,
                     reason=reason.value)
    db.commit()
