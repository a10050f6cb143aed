"""The signed-in browser session: a random id in the cookie, the facts in ``auth_sessions``.

Keeping the facts server-side lets sign-out (and later back-channel logout) end a session
that a copied cookie would otherwise keep alive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import session as cookie
from sqlalchemy.orm import Session

from idp.accounts.models import AuthSession
from idp.accounts.models import User
from idp.assurance.levels import aal_of
from idp.assurance.levels import acr_value
from idp.crypto import random_token
from idp.db import utc_now

# Preferences and the pending-authorization marker survive the session id rotation.
KEPT_ACROSS_SIGN_IN = ("lang", "ui_locales", "fresh_auth_pending")


def new_marker() -> str:
    return random_token(16)


@dataclass(frozen=True)
class AuthContext:
    """What the IdP knows about how the person in this browser authenticated."""

    user: User
    sid: str
    auth_time: dt.datetime
    amr: list[str]
    acr: str

    def age(self, now: dt.datetime | None = None) -> float:
        return ((now or utc_now()) - self.auth_time).total_seconds()


def sign_in(db: Session, user: User, *, amr: list[str]) -> AuthContext:
    """Start a fresh session (a new id: no fixation) for ``user`` after they authenticated."""
    end_current(db)
    now = utc_now()
    acr = acr_value(user.ial, aal_of(amr))
    row = AuthSession(id=random_token(24), user_id=user.id, auth_time=now, amr=amr, acr=acr)
    db.add(row)
    db.commit()
    kept = {k: v for k, v in cookie.items() if k in KEPT_ACROSS_SIGN_IN}
    cookie.clear()
    cookie.update(kept)
    cookie["sid"] = row.id
    cookie.permanent = True
    return AuthContext(user=user, sid=row.id, auth_time=now, amr=list(amr), acr=acr)


def current(db: Session) -> AuthContext | None:
    sid = cookie.get("sid")
    if not isinstance(sid, str):
        return None
    row = db.get(AuthSession, sid)
    if row is None or row.ended_at is not None:
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return AuthContext(user=user, sid=row.id, auth_time=row.auth_time, amr=list(row.amr), acr=row.acr)


def end_current(db: Session) -> str | None:
    """End the browser's session (if any) and forget it; returns the ended sid."""
    sid = cookie.pop("sid", None)
    if isinstance(sid, str):
        row = db.get(AuthSession, sid)
        if row is not None and row.ended_at is None:
            row.ended_at = utc_now()
            db.commit()
        return sid
    return None
