"""OpenID Connect Back-Channel Logout 1.0: telling e-Services that a session ended.

When a session ends (:mod:`idp.accounts.ending`), :func:`queue` records a delivery for every
e-Service that got tokens in it and registered a ``backchannel_logout_uri``, in the same
transaction; after the commit a background thread posts each one a signed logout token
(:mod:`~idp.backchannel.logout_token`) through the guarded fetcher, and failures are retried
with backoff (:mod:`~idp.backchannel.delivery`, :mod:`~idp.backchannel.dispatch`,
``idp logout deliver``). docs/backchannel-logout.md says what an e-Service must do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flask import Flask
from sqlalchemy.orm import Session

from idp.backchannel import delivery
from idp.backchannel import dispatch

__all__ = ["init_app", "queue"]


def queue(db: Session, sids: Sequence[str], *, reason: str, now: dt.datetime) -> int:
    """Owe logout tokens for these ended sessions; sent after ``db`` commits. Not committed; how many."""
    queued = delivery.queue(db, sids, reason=reason, now=now)
    if queued:
        dispatch.kick_after_commit(db)
    return queued


def init_app(app: Flask) -> None:
    dispatch.init_app(app)
