"""Ending signed-in sessions: the one path every sign-out, support action and reset goes through.

Whatever ends a session (the person signing out, an e-Service's RP-initiated logout, a new sign-in
in the same browser, the Security page, support disabling the account or resetting its sign-in
methods, a password reset or change), the same things follow, in the caller's transaction:

- the session row gets ``ended_at`` (only rows still open: an UPDATE … RETURNING names exactly
  the sessions this call ended, so two requests ending the same one do not both act on it);
- the tokens e-Services were given in it (``Token.sid``) are revoked and its codes not yet
  exchanged expire, so nothing issued from that sign-in outlives it;
- every e-Service that got tokens in it and registered a ``backchannel_logout_uri`` is owed a
  logout token (:mod:`idp.backchannel`), sent after the commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import backchannel
from idp.accounts.models import AuthSession
from idp.oidc import tokens
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Token


@dataclass(frozen=True)
class EndedSessions:
    sids: tuple[str, ...]
    tokens: int
    logouts: int  # back-channel logout deliveries queued


def end_sessions(db: Session, sids: Sequence[str], *, now: dt.datetime, reason: str) -> EndedSessions:
    """End these sessions (those still open), revoke their tokens, expire their codes and queue
    the back-channel logouts; not committed (the caller commits it with its audit event).

    :param reason: why, as the delivery record keeps it (``signout``, ``account_disabled`` …)
    """
    if not sids:
        return EndedSessions(sids=(), tokens=0, logouts=0)
    ended = tuple(db.scalars(update(AuthSession).where(AuthSession.id.in_(list(sids)), AuthSession.ended_at.is_(None))
                             .values(ended_at=now).returning(AuthSession.id)
                             .execution_options(synchronize_session=False)))
    if not ended:
        return EndedSessions(sids=(), tokens=0, logouts=0)
    revoked = tokens.revoke_where(db, Token.sid.in_(ended), now=now)
    db.execute(update(AuthorizationCode).where(AuthorizationCode.sid.in_(ended), AuthorizationCode.used_at.is_(None),
                                               AuthorizationCode.expires_at > now)
               .values(expires_at=now).execution_options(synchronize_session=False))
    queued = backchannel.queue(db, ended, reason=reason, now=now)
    return EndedSessions(sids=ended, tokens=revoked, logouts=queued)
