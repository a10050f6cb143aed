"""The signed-in browser session: a random id in the cookie, the facts in ``auth_sessions``.

Keeping the facts server-side lets sign-out (and back-channel logout, :mod:`idp.accounts.ending`) end a session
that a copied cookie would otherwise keep alive. The facts are the factors used, each with
its time, so the session's AAL can be recomputed as reauthentication windows pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import g
from flask import request
from flask import session as cookie
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts import devices
from idp.accounts import ending
from idp.accounts.models import AuthSession
from idp.accounts.models import User
from idp.assurance import policy
from idp.assurance.levels import acr_value
from idp.assurance.policy import Factor
from idp.crypto import random_token

# Preferences and the pending-authorization marker (``idp.journey``) survive the session id rotation.
PENDING_MARKER = "fresh_auth_pending"
# "par_claims": the pushed requests this browser is completing (idp.oidc.par.CLAIMS_KEY).
KEPT_ACROSS_SIGN_IN = ("lang", "ui_locales", PENDING_MARKER, "par_claims")
TOUCH_EVERY = 60  # seconds between writes of last_active_at
SHORTEST_IDLE = 15 * 60  # AAL3's idle timeout: breaks longer than this are remembered
KEPT_BREAKS = 4


def new_marker() -> str:
    return random_token(16)


@dataclass(frozen=True)
class AuthContext:
    """What the IdP knows about how the person in this browser authenticated."""

    user: User
    sid: str
    factors: tuple[Factor, ...]
    last_active: float | None = None
    breaks: tuple[tuple[float, float], ...] = ()

    def aal(self, now: float | None = None) -> int:
        return policy.current_aal(self.factors, now=clock.timestamp() if now is None else now,
                                  last_active=self.last_active, breaks=self.breaks)

    def counting(self, now: float | None = None) -> list[Factor]:
        """The factors behind the session's current AAL (what ``amr`` and ``auth_time`` report)."""
        now = clock.timestamp() if now is None else now
        level = self.aal(now)
        return self.fresh_for(level, now) if level else []

    def fresh_for(self, level: int, now: float | None = None) -> list[Factor]:
        now = clock.timestamp() if now is None else now
        return policy.fresh_factors(self.factors, level, now=now, last_active=self.last_active, breaks=self.breaks)

    def used_webauthn(self, level: int) -> bool:
        """A passkey or security key is among the factors that still count toward ``level``."""
        return any(f.method == policy.WEBAUTHN for f in self.fresh_for(level))

    @property
    def auth_time(self) -> dt.datetime:
        """OIDC ``auth_time``: the latest authentication, a step-up included."""
        factors = self.counting() or list(self.factors)
        return dt.datetime.fromtimestamp(max(f.at for f in factors), dt.UTC)

    @property
    def amr(self) -> list[str]:
        counting = self.counting()
        amr = policy.amr_of(counting)
        return amr if policy.level_of(counting) >= 2 and self.aal() >= 2 else [v for v in amr if v != "mfa"]

    @property
    def acr(self) -> str:
        """What was achieved, when the request named nothing."""
        return acr_value(self.user.ial, self.aal() or 1)

    def age(self, now: dt.datetime | None = None) -> float:
        return ((now or clock.utc_now()) - self.auth_time).total_seconds()


def _context(user: User, row: AuthSession) -> AuthContext:
    factors = tuple(Factor.from_json(f) for f in row.details.get("factors", []))
    last = row.last_active_at.timestamp() if row.last_active_at else None
    breaks = tuple((float(a), float(b)) for a, b in row.details.get("breaks", []))
    return AuthContext(user=user, sid=row.id, factors=factors, last_active=last, breaks=breaks)


def _store(row: AuthSession, ctx: AuthContext) -> None:
    row.details = {**row.details, "factors": [f.to_json() for f in ctx.factors]}
    row.auth_time = ctx.auth_time
    row.amr = ctx.amr
    row.acr = ctx.acr


def sign_in(db: Session, user: User, factor: Factor) -> AuthContext:
    """Start a fresh session (a new id: no fixation) for ``user`` after a first factor."""
    end_current(db, reason="new_signin")
    now = clock.utc_now()
    # The Security page names the browser and the kind of network, never the User-Agent or address.
    device = devices.describe(request.headers.get("User-Agent", ""), request.remote_addr or "")
    row = AuthSession(id=random_token(24), user_id=user.id, auth_time=now, amr=[], acr="",
                      last_active_at=now, details={"device": device})
    ctx = AuthContext(user=user, sid=row.id, factors=(factor,), last_active=now.timestamp())
    _store(row, ctx)
    db.add(row)
    audit.record(db, audit.Event.SIGNIN, user_id=user.id, commit=False, amr=row.amr, aal=ctx.aal(),
                 factor=factor.method)
    db.commit()
    kept = {k: v for k, v in cookie.items() if k in KEPT_ACROSS_SIGN_IN}
    cookie.clear()
    cookie.update(kept)
    cookie["sid"] = row.id
    cookie.permanent = True
    return ctx


def add_factor(db: Session, ctx: AuthContext, factor: Factor) -> AuthContext:
    """Step-up: the same person proved one more factor in this session."""
    row = db.get(AuthSession, ctx.sid)
    assert row is not None
    now = clock.utc_now()
    kept = [f for f in ctx.factors if not (f.method == factor.method and f.uv == factor.uv and f.hw == factor.hw)]
    new = AuthContext(user=ctx.user, sid=ctx.sid, factors=(*kept, factor), last_active=now.timestamp(),
                      breaks=ctx.breaks)
    _touch(row, now)
    _store(row, new)
    audit.record(db, audit.Event.STEP_UP, user_id=ctx.user.id, commit=False, amr=row.amr, aal=new.aal(),
                 factor=factor.method)
    db.commit()
    return AuthContext(user=new.user, sid=new.sid, factors=new.factors, last_active=new.last_active,
                       breaks=tuple((float(a), float(b)) for a, b in row.details.get("breaks", [])))


def current(db: Session) -> AuthContext | None:
    """The session in this browser, if it still counts at any level (AAL1 lasts 30 days)."""
    sid = cookie.get("sid")
    if not isinstance(sid, str):
        return None
    row = db.get(AuthSession, sid)
    if row is None or row.ended_at is not None:
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    ctx = _context(user, row)  # idle time is judged before this visit counts as activity
    now = clock.utc_now()
    if not ctx.aal(now.timestamp()):
        return None
    g.time_zone = user.time_zone  # times on the person's pages, in their zone (idp.i18n)
    if row.last_active_at is None or (now - row.last_active_at).total_seconds() >= TOUCH_EVERY:
        _touch(row, now)
        db.commit()
    return ctx


def still_counts(user: User, row: AuthSession, now: dt.datetime) -> bool:
    """Whether :func:`current` would still honour this session (not ended, some level not yet expired)."""
    return row.ended_at is None and user.is_active and bool(_context(user, row).aal(now.timestamp()))


def _touch(row: AuthSession, now: dt.datetime) -> None:
    """Record activity; a long break is remembered, since it ends the higher levels for good."""
    if row.last_active_at is not None and (now - row.last_active_at).total_seconds() > SHORTEST_IDLE:
        gap = [row.last_active_at.timestamp(), now.timestamp()]
        row.details = {**row.details, "breaks": [*row.details.get("breaks", []), gap][-KEPT_BREAKS:]}
    row.last_active_at = now


def end_current(db: Session, *, reason: str = "signout") -> str | None:
    """End the browser's session (if any) and forget it; returns the ended sid.

    As every session end (:mod:`idp.accounts.ending`): its tokens are revoked and the e-Services
    that got them are sent a back-channel logout token after the commit.

    :param reason: ``signout`` (the person, here or confirmed at the logout endpoint), ``rp_logout``
        (an e-Service's RP-initiated logout), ``new_signin`` (another sign-in in this browser)
    """
    sid = cookie.pop("sid", None)
    if isinstance(sid, str):
        if ending.end_sessions(db, [sid], now=clock.utc_now(), reason=reason).sids:
            db.commit()
        return sid
    return None

