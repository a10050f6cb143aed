"""Six-digit codes that confirm a sign-up's email address in the same visit.

Sign-up answers alike whether or not the address has an account (OWASP Authentication Cheat
Sheet, account enumeration at account creation), so it cannot sign anyone in by itself: the
person is signed in once they prove control of the address, with the code from the email (or the
link beside it) in the browser that signed up. That browser holds a random handle; the address's
owner, if the account already existed, gets a notice instead of a code, and the handle they would
need leads to a row with no account and no code, which counts guesses the same way and never
accepts one.

The code is single use (a conditional UPDATE spends it), lives 15 minutes, and is stored as a keyed
digest bound to the handle: a million possible codes would be no protection for a stolen table
with a plain hash. Guesses are counted before they are checked (parallel guesses count too); five
wrong codes end a code, a sign-up gets at most three codes, and wrong codes also count against the
client address (``idp.authn.throttle``). No Flask request globals.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts.models import EmailCode
from idp.accounts.models import User
from idp.authn import throttle
from idp.authn.throttle import ALLOWED
from idp.authn.throttle import Verdict
from idp.crypto import derive_key
from idp.crypto import hash_secret
from idp.crypto import keyed_hash
from idp.crypto import random_token

LIFETIME = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 5  # wrong codes before a code stops working
MAX_SENDS = 3  # codes one sign-up may be sent
DIGITS = 6
KEEP = dt.timedelta(days=1)  # spent and expired rows are deleted after this
THROTTLE_FACTOR = "email_code"  # the address key that counts wrong codes
NEXT_MAX = 2048  # a longer request is not kept for the link (the code page carries it anyway)


@dataclass(frozen=True)
class Issued:
    """A code for the browser's ``handle``; ``code`` and ``user`` are ``None`` when the address
    already had an account (nothing is sent, and no code will work)."""

    handle: str
    code: str | None
    user: User | None


@dataclass(frozen=True)
class Redeemed:
    """The person whose address is now confirmed, or why not.

    :param reason: ``wrong``, ``malformed``, ``too_many``, ``expired``, ``used``, ``none`` (no
        sign-up waits in this browser) or ``throttled``
    :param signed_up_at: when the password was chosen (the sign-in's password factor)
    """

    user: User | None
    reason: str = ""
    attempts_left: int = 0
    next_url: str = ""
    signed_up_at: float = 0.0
    verdict: Verdict = ALLOWED


def issue(db: Session, *, user: User | None, next_url: str, config: Mapping[str, Any]) -> Issued:
    """Start the confirmation of a sign-up: a handle for the browser and, for a new account, a code."""
    now = clock.utc_now()
    db.execute(delete(EmailCode).where(EmailCode.expires_at < now - KEEP))
    handle = random_token(32)
    code = _new_code() if user is not None else None
    db.add(EmailCode(handle_hash=hash_secret(handle), user_id=user.id if user else None,
                     code_hash=_digest(handle, code, config) if code else "",
                     next_url=next_url if len(next_url) <= NEXT_MAX else "",
                     attempts=0, sends=1, created_at=now, expires_at=now + LIFETIME))
    db.commit()
    return Issued(handle=handle, code=code, user=user)


def resend(db: Session, handle: str | None, *, config: Mapping[str, Any]) -> Issued | None:
    """A new code for the sign-up in this browser (the old one stops working); ``None`` when there
    is none waiting or it had its three codes."""
    row = _row(db, handle)
    if row is None or handle is None or row.used_at is not None or row.sends >= MAX_SENDS:
        return None
    now = clock.utc_now()
    code = _new_code() if row.user_id is not None else None
    row.code_hash = _digest(handle, code, config) if code else ""
    row.attempts, row.sends, row.expires_at = 0, row.sends + 1, now + LIFETIME
    db.commit()
    return Issued(handle=handle, code=code, user=db.get(User, row.user_id) if row.user_id else None)


def redeem(db: Session, handle: str | None, code: str, *, ip: str, config: Mapping[str, Any]) -> Redeemed:
    """Confirm the address with the code the person typed; the account is then verified."""
    row = _row(db, handle)
    if row is None or handle is None:
        return Redeemed(None, "none")
    code = "".join((code or "").split())
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return Redeemed(None, "malformed", attempts_left=MAX_ATTEMPTS - row.attempts)
    address = [throttle.ip_key(ip, THROTTLE_FACTOR, config=config)]
    verdict = throttle.check(db, address)
    if not verdict.allowed:
        return Redeemed(None, "throttled", verdict=verdict)
    now = clock.utc_now()
    if row.used_at is not None:
        return Redeemed(None, "used")
    if row.expires_at <= now:
        return Redeemed(None, "expired")
    counted = db.execute(update(EmailCode)
                         .where(EmailCode.id == row.id, EmailCode.used_at.is_(None),
                                EmailCode.attempts < MAX_ATTEMPTS)
                         .values(attempts=EmailCode.attempts + 1))
    db.commit()
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        return Redeemed(None, "too_many")
    db.refresh(row)
    matches = hmac.compare_digest(row.code_hash, _digest(handle, code, config))
    if not matches or row.user_id is None:
        audit.record(db, audit.Event.EMAIL_CODE_FAILED, user_id=row.user_id, commit=False, attempts=row.attempts)
        verdict = throttle.failure(db, address, config=config, factor=THROTTLE_FACTOR, user_id=row.user_id)
        left = MAX_ATTEMPTS - row.attempts
        return Redeemed(None, "wrong" if left > 0 else "too_many", attempts_left=left, verdict=verdict)
    return _spend(db, row, method="code")


def redeem_link(db: Session, handle: str | None, *, user_id: int) -> Redeemed:
    """The link from the email, opened in the browser that signed up (and already checked and
    recorded by ``service.mark_email_verified``): it signs in like the code."""
    row = _row(db, handle)
    if row is None or row.user_id is None or row.user_id != user_id or row.used_at is not None:
        return Redeemed(None, "none")
    if row.expires_at <= clock.utc_now():
        return Redeemed(None, "expired")
    return _spend(db, row, method=None)


def _spend(db: Session, row: EmailCode, *, method: str | None) -> Redeemed:
    spent = db.execute(update(EmailCode).where(EmailCode.id == row.id, EmailCode.used_at.is_(None))
                       .values(used_at=clock.utc_now()))
    user = db.get(User, row.user_id) if row.user_id is not None else None
    if spent.rowcount != 1 or user is None or not user.is_active:  # type: ignore[attr-defined]
        db.rollback()
        return Redeemed(None, "used")
    user.email_verified = True
    if method is not None:
        audit.record(db, audit.Event.EMAIL_VERIFIED, user_id=user.id, commit=False, method=method)
    db.commit()
    return Redeemed(user, next_url=row.next_url, signed_up_at=row.created_at.timestamp())


def _row(db: Session, handle: str | None) -> EmailCode | None:
    if not isinstance(handle, str) or not handle:
        return None
    return db.scalar(select(EmailCode).where(EmailCode.handle_hash == hash_secret(handle)))


def _new_code() -> str:
    return f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"


def _digest(handle: str, code: str, config: Mapping[str, Any]) -> str:
    return keyed_hash(derive_key(str(config["SECRET_KEY"]), purpose="email-code"), f"{handle}:{code}")
