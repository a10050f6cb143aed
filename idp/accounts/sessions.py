"""A person's signed-in browsers, as the Security page lists them, and ending them.

Ending a session really ends it: the row's ``ended_at`` is set, so that browser's next request is
signed out (``session.current`` reads the row every time); the tokens e-Services were given from
it (``Token.sid``) are revoked and its codes not yet exchanged expire, so nothing issued from that
sign-in outlives it. The page never shows a session's id (it is the cookie's secret): each row
carries a keyed handle instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.accounts import ending
from idp.accounts.models import AuthSession
from idp.accounts.models import User
from idp.accounts.session import still_counts
from idp.accounts.support import Ended
from idp.crypto import derive_key
from idp.crypto import keyed_hash

SHOWN = 20  # the most sessions the page lists (the newest); ending "all others" ends every one


@dataclass(frozen=True)
class OpenSession:
    """One signed-in browser, in the words the Security page uses."""

    handle: str
    current: bool
    browser: str
    system: str
    place: str
    signed_in_at: dt.datetime
    last_used_at: dt.datetime
    amr: tuple[str, ...]


def handle_of(sid: str, *, config: Mapping[str, Any]) -> str:
    """A stable name for a session that does not reveal its id."""
    return keyed_hash(derive_key(str(config["SECRET_KEY"]), purpose="session-handle"), sid)[:22]


def open_rows(db: Session, user: User, *, now: dt.datetime) -> list[AuthSession]:
    """The person's sessions that are still honoured, newest first."""
    rows = db.scalars(select(AuthSession).where(AuthSession.user_id == user.id, AuthSession.ended_at.is_(None))
                      .order_by(AuthSession.created_at.desc()))
    return [row for row in rows if still_counts(user, row, now)]


def list_open(db: Session, user: User, *, current_sid: str, now: dt.datetime,
              config: Mapping[str, Any]) -> list[OpenSession]:
    """This browser first, then the others, newest first."""
    rows = open_rows(db, user, now=now)
    rows.sort(key=lambda row: row.id != current_sid)  # stable: the rest keep their order
    shown = []
    for row in rows[:SHOWN]:
        device = row.details.get("device") or {}
        shown.append(OpenSession(
            handle=handle_of(row.id, config=config), current=row.id == current_sid,
            browser=str(device.get("browser", "")), system=str(device.get("system", "")),
            place=str(device.get("place", "")), signed_in_at=row.created_at,
            last_used_at=row.last_active_at or row.created_at, amr=tuple(row.amr or ())))
    return shown


def end_one(db: Session, user: User, handle: str, *, current_sid: str, now: dt.datetime,
            config: Mapping[str, Any]) -> bool:
    """End the person's session named by ``handle`` (not this browser's: that is "sign out").

    :returns: whether a session was ended (``False`` for an unknown, foreign or current handle)
    """
    for row in open_rows(db, user, now=now):
        if row.id != current_sid and handle_of(row.id, config=config) == handle:
            ended = end_sessions(db, [row.id], now=now, reason="security_page")
            audit.record(db, audit.Event.SESSION_ENDED, user_id=user.id, commit=False, reason="security_page",
                         tokens_revoked=ended.tokens)
            db.commit()
            return True
    return False


def end_others(db: Session, user: User, *, keep: str | None, now: dt.datetime, reason: str) -> Ended:
    """End every session of the person but ``keep``; records the audit event; not committed."""
    query = select(AuthSession.id).where(AuthSession.user_id == user.id, AuthSession.ended_at.is_(None))
    sids = [sid for sid in db.scalars(query) if sid != keep]
    ended = end_sessions(db, sids, now=now, reason=reason)
    audit.record(db, audit.Event.SESSIONS_ENDED, user_id=user.id, commit=False, reason=reason,
                 sessions_ended=ended.sessions, tokens_revoked=ended.tokens)
    return ended


def end_sessions(db: Session, sids: Sequence[str], *, now: dt.datetime, reason: str) -> Ended:
    """End these sessions, revoke the tokens issued from them, expire their unexchanged codes and
    queue their back-channel logouts (:func:`idp.accounts.ending.end_sessions`).

    Not committed: the caller commits it with its audit event.
    """
    ended = ending.end_sessions(db, sids, now=now, reason=reason)
    return Ended(sessions=len(ended.sids), tokens=ended.tokens)
