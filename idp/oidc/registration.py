"""Dynamic client registration (RFC 7591, RFC 7592) for agencies an admin has let in.

An admin issues an agency an initial access token carrying the agency's policy; a registration
within that policy works at once, anything else waits for an admin with the reasons recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.crypto import hash_secret
from idp.crypto import random_token
from idp.db import utc_now
from idp.oidc.models import InitialAccessToken


@dataclass(frozen=True)
class IssuedToken:
    row: InitialAccessToken
    token: str  # shown once to the admin, who hands it to the agency


def issue_initial_token(db: Session, *, agency: str, allowed_scopes: list[str], max_ial: int, max_aal: int,
                        days: int, by: int | None = None) -> IssuedToken:
    """Let ``agency`` register e-Services for ``days``; only the hash is stored. Audited."""
    agency = agency.strip()
    if not agency:
        raise ValueError("agency")
    if max_ial not in (1, 2, 3) or max_aal not in (1, 2, 3) or not 1 <= days <= 366:
        raise ValueError("policy")
    token = random_token(32)
    row = InitialAccessToken(token_hash=hash_secret(token), agency=agency[:200],
                             allowed_scopes=sorted(set(allowed_scopes) | {"openid"}), max_ial=max_ial,
                             max_aal=max_aal, created_by=by, expires_at=utc_now() + dt.timedelta(days=days))
    db.add(row)
    db.flush()
    audit.record(db, "initial_token_issued", commit=False, token_id=row.id, by=by)
    db.commit()
    return IssuedToken(row=row, token=token)


def revoke_initial_token(db: Session, row: InitialAccessToken, *, by: int | None = None) -> bool:
    """Stop new registrations with this token; clients already registered keep working."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utc_now()
    audit.record(db, "initial_token_revoked", commit=False, token_id=row.id, by=by)
    db.commit()
    return True


def find_initial_token(db: Session, token: str) -> InitialAccessToken | None:
    """The usable token with this value, else ``None`` (unknown, expired or revoked)."""
    row = db.scalar(select(InitialAccessToken).where(InitialAccessToken.token_hash == hash_secret(token)))
    return row if row is not None and row.usable() else None
