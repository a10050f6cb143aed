"""Account recovery by email (NIST SP 800-63B-4 §4.2) and password changes: the use cases.

Recovery, step by step:

1. :func:`request_reset`: an emailed link (an *issued recovery code* sent to the address of record,
   §4.2.1) holding 256 random bits, stored as its SHA-256, valid :data:`LINK_LIFETIME`. The visitor
   is told the same whether or not the address has an account (nothing to enumerate), and requests
   are throttled per account and per client address (``idp.authn.throttle.reset_keys``).
2. :func:`redeem_link`: opening the link spends it, in one conditional UPDATE, so it works once.
3. An account holding a second factor must present it, or a recovery code (a *saved recovery
   code*), before anything changes (:func:`verify_code`, :func:`record_factor`): the emailed link
   alone is one factor, and would otherwise let whoever reads the mailbox past the second factor.
   A person who has lost every second factor says so (:func:`declare_lost`): those factors are then
   removed, and an account proofed at IAL2 or above drops to IAL1 until it is proofed again (§4.2.2:
   without an authenticator, only repeated identity proofing restores the identity).
4. :func:`complete_reset`: the new password is set, every session ends and every token is revoked,
   and the person is notified; the session that follows is AAL1 (the caller signs in with the
   password factor only).

No Flask request globals: the views pass the address, the clock's ``now`` and the configuration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts import passwords
from idp.accounts import sessions
from idp.accounts import support
from idp.accounts.models import PasswordReset
from idp.accounts.models import User
from idp.accounts.service import check_email
from idp.accounts.service import find_by_email
from idp.accounts.session import AuthContext
from idp.assurance import policy
from idp.assurance.policy import Enrolled
from idp.assurance.policy import Factor
from idp.authn import service as authn_service
from idp.authn import throttle
from idp.authn.inventory import enrolled
from idp.authn.models import RecoveryCode
from idp.authn.models import TotpCredential
from idp.authn.models import WebAuthnCredential
from idp.authn.throttle import Verdict
from idp.crypto import hash_secret
from idp.crypto import random_token
from idp.proofing import service as proofing

LINK_LIFETIME = dt.timedelta(minutes=15)
# After the link is opened, the steps that follow (second factor, new password) must end within this.
STEPS_LIFETIME = dt.timedelta(minutes=15)
# A password may be changed without the current one this long after reaching AAL2.
RECENT_AAL2 = 15 * 60


class RecoveryError(Exception):
    """Root of refusals; ``code`` selects the message shown to the person."""

    code = "recovery_error"


class LinkNotUsable(RecoveryError):
    """The link is unknown, already used or expired: one message for all three."""

    code = "link_not_usable"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FactorRequired(RecoveryError):
    code = "factor_required"


class WrongPassword(RecoveryError):
    code = "wrong_password"

    def __init__(self, verdict: Verdict) -> None:
        super().__init__("wrong_password")
        self.verdict = verdict


class ConfirmationRequired(RecoveryError):
    """Changing the password needs the current one, or AAL2 reached in the last 15 minutes."""

    code = "confirmation_required"


# -- 1. asking for a link ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResetRequest:
    """What a request did. The visitor is told the same whenever ``verdict.allowed``.

    :param user: the account to send the link to (``None``: no active account has the address)
    :param token: the link's secret, for the email only
    """

    verdict: Verdict
    user: User | None = None
    token: str | None = None


def request_reset(db: Session, *, email: str, ip: str, config: Mapping[str, Any],
                  now: dt.datetime | None = None) -> ResetRequest:
    """Count the request, and make a link when an active account has this address.

    An earlier link of the account still open stops working: only the newest one counts.

    :raises idp.accounts.service.InvalidEmail: the address is malformed
    """
    email = check_email(email)
    now = now or clock.utc_now()
    verdict = throttle.reserve(db, count=throttle.reset_keys(email, ip, config=config), config=config)
    user = find_by_email(db, email)
    if user is not None and not user.is_active:
        user = None
    if not verdict.allowed:
        audit.record(db, audit.Event.PASSWORD_RESET_REFUSED, user_id=user.id if user else None, reason="throttled")
        return ResetRequest(verdict=verdict)
    if user is None:
        audit.record(db, audit.Event.PASSWORD_RESET_REQUESTED, account=False)
        return ResetRequest(verdict=verdict)
    db.execute(update(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.redeemed_at.is_(None),
                                           PasswordReset.expires_at > now)
               .values(expires_at=now).execution_options(synchronize_session=False))
    token = random_token(32)
    db.add(PasswordReset(user_id=user.id, token_hash=hash_secret(token), created_at=now,
                         expires_at=now + LINK_LIFETIME))
    audit.record(db, audit.Event.PASSWORD_RESET_REQUESTED, user_id=user.id, commit=False, account=True)
    db.commit()
    return ResetRequest(verdict=verdict, user=user, token=token)


# -- 2. opening it ----------------------------------------------------------------------------------------


def link_usable(db: Session, token: str, *, now: dt.datetime | None = None) -> bool:
    """Whether the link would work (the page before it is spent; nothing changes)."""
    now = now or clock.utc_now()
    row = db.scalar(select(PasswordReset).where(PasswordReset.token_hash == hash_secret(token)))
    return row is not None and row.redeemed_at is None and row.expires_at > now


def redeem_link(db: Session, token: str, *, now: dt.datetime | None = None) -> PasswordReset:
    """Spend the link; the reset it starts is then carried by the browser that opened it.

    :raises LinkNotUsable: unknown, used or expired (audited with which)
    """
    now = now or clock.utc_now()
    digest = hash_secret(token)
    row = db.scalar(select(PasswordReset).where(PasswordReset.token_hash == digest))
    user = db.get(User, row.user_id) if row is not None else None
    reason = ("unknown" if row is None else "used" if row.redeemed_at is not None
              else "expired" if row.expires_at <= now else "account_inactive" if user is None or not user.is_active
              else "")
    if not reason:
        assert row is not None
        # One conditional UPDATE spends it: of two clicks at once, one wins.
        result = db.execute(update(PasswordReset).where(PasswordReset.id == row.id,
                                                        PasswordReset.redeemed_at.is_(None))
                            .values(redeemed_at=now).execution_options(synchronize_session=False))
        reason = "" if result.rowcount == 1 else "used"  # type: ignore[attr-defined]
    if reason or row is None:
        db.rollback()
        audit.record(db, audit.Event.PASSWORD_RESET_REFUSED, user_id=row.user_id if row else None, reason=reason)
        raise LinkNotUsable(reason)
    row.redeemed_at = now
    audit.record(db, audit.Event.PASSWORD_RESET_LINK_OPENED, user_id=row.user_id, commit=False, reset=row.id)
    db.commit()
    return row


# -- 3. the second factor ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """A reset this browser opened and has not finished."""

    reset: PasswordReset
    user: User
    enrolled: Enrolled

    @property
    def has_second_factor(self) -> bool:
        return has_second_factor(self.enrolled)

    @property
    def needs_factor(self) -> bool:
        """A second factor is held and neither presented nor declared lost."""
        return self.has_second_factor and self.reset.factor_at is None and not self.reset.lost_factors


def has_second_factor(have: Enrolled) -> bool:
    return have.totp or have.webauthn or have.recovery


def pending(db: Session, reset_id: object, *, now: dt.datetime | None = None) -> Pending | None:
    """The reset ``reset_id`` names, when it was opened, is unfinished and still within its time."""
    if not isinstance(reset_id, int):
        return None
    now = now or clock.utc_now()
    row = db.get(PasswordReset, reset_id)
    if row is None or row.redeemed_at is None or row.completed_at is not None \
            or row.redeemed_at + STEPS_LIFETIME <= now:
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return Pending(reset=row, user=user, enrolled=enrolled(db, user))


def verify_code(db: Session, state: Pending, *, method: str, code: str, ip: str,
                config: Mapping[str, Any]) -> authn_service.Attempt | None:
    """Check a TOTP or recovery code with the one ``verify_factor`` of sign-in (same throttle);
    ``None`` for a method the account does not hold.

    A recovery code also lifts a suspended TOTP, as it does on the step-up page.
    """
    held = {policy.TOTP: state.enrolled.totp, policy.RECOVERY: state.enrolled.recovery}
    if not held.get(method):
        return None
    attempt = authn_service.verify_factor(db, method, presented=code, ip=ip, config=config, user=state.user)
    if attempt.factor is not None:
        record_factor(db, state, attempt.factor)
    return attempt


def record_factor(db: Session, state: Pending, factor: Factor) -> None:
    """The second factor was presented (a code above, or a passkey or security key). Commits."""
    state.reset.factor_at = clock.utc_now()
    audit.record(db, audit.Event.PASSWORD_RESET_FACTOR_VERIFIED, user_id=state.user.id, commit=False,
                 reset=state.reset.id, factor=factor.method)
    db.commit()


def declare_lost(db: Session, state: Pending) -> None:
    """The person has none of their second factors any more. Commits."""
    state.reset.lost_factors = True
    audit.record(db, audit.Event.PASSWORD_RESET_FACTOR_LOST, user_id=state.user.id, commit=False,
                 reset=state.reset.id, ial=state.user.ial)
    db.commit()


# -- 4. the new password ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    user: User
    ended: support.Ended
    factors_removed: bool
    ial_before: int | None  # set when the account dropped to IAL1


def complete_reset(db: Session, state: Pending, *, password: str, config: Mapping[str, Any],
                   now: dt.datetime | None = None) -> Completed:
    """Set the new password, end every session and revoke every token; the lost-factor consequences.

    :raises FactorRequired: a second factor is held and was neither presented nor declared lost
    :raises passwords.PasswordRejected: the password breaks a rule
    :raises LinkNotUsable: the reset was finished meanwhile (another tab)
    """
    if state.needs_factor:
        raise FactorRequired()
    user = state.user
    passwords.check_password_rules(password, email=user.email)
    password_hash = passwords.hash_password(password)
    now = now or clock.utc_now()
    done = db.execute(update(PasswordReset).where(PasswordReset.id == state.reset.id,
                                                  PasswordReset.completed_at.is_(None))
                      .values(completed_at=now).execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        raise LinkNotUsable("used")
    user.password_hash = password_hash
    ended = support.end_access(db, user.id, now=now, reason="password_reset")
    removed = state.reset.lost_factors and state.has_second_factor
    ial_before = None
    if state.reset.lost_factors:
        for model in (TotpCredential, WebAuthnCredential, RecoveryCode):
            db.execute(delete(model).where(model.user_id == user.id).execution_options(synchronize_session=False))
        ial_before = proofing.forget_identity(db, user, reason="recovery_without_factor")
    audit.record(db, audit.Event.PASSWORD_RESET_COMPLETED, user_id=user.id, commit=False, reset=state.reset.id,
                 sessions_ended=ended.sessions, tokens_revoked=ended.tokens, factors_removed=removed,
                 ial_lowered=ial_before is not None)
    db.commit()
    # The person proved the address (and a second factor, or lost them all): the password's and the
    # reset requests' counters start again, a suspended password included; so do the lost factors'.
    keys = throttle.account_keys(user, config=config)
    lifted = [keys[policy.PASSWORD], throttle.account_key(throttle.email_blind(user.email, config=config),
                                                          throttle.RESET)]
    if state.reset.lost_factors:
        lifted += [key for method, key in keys.items() if method != policy.PASSWORD]
    for key in lifted:
        throttle.lift(db, key, user_id=user.id, reason="password_reset")
    return Completed(user=user, ended=ended, factors_removed=removed, ial_before=ial_before)


def password_factor() -> Factor:
    """The one factor of the session that follows a reset: AAL1, whatever else was presented."""
    return Factor(policy.PASSWORD, clock.timestamp())


# -- changing the password on the Security page -------------------------------------------------------


def recently_aal2(ctx: AuthContext, *, now: float | None = None) -> bool:
    """AAL2 (or above) reached within :data:`RECENT_AAL2` seconds."""
    now = clock.timestamp() if now is None else now
    fresh = ctx.fresh_for(2, now)
    return ctx.aal(now) >= 2 and bool(fresh) and now - max(f.at for f in fresh) <= RECENT_AAL2


@dataclass(frozen=True)
class Changed:
    added: bool
    ended: support.Ended


def change_password(db: Session, ctx: AuthContext, *, current: str, new: str, ip: str,
                    config: Mapping[str, Any], now: dt.datetime | None = None) -> Changed:
    """Set a new password for the signed-in person; every other session ends and its tokens go.

    The current password is needed unless the session reached AAL2 in the last 15 minutes; it is
    checked under the same throttle as sign-in, so this form is no way round it. A passwordless
    account adds its first password here (the caller's guard already asked for AAL2).

    :raises WrongPassword: the current password is wrong (or the throttle refused the attempt)
    :raises passwords.PasswordRejected: the new password breaks a rule
    """
    user = ctx.user
    added = user.password_hash is None
    passwords.check_password_rules(new, email=user.email)
    if not added and not recently_aal2(ctx):
        expected = user.password_hash

        def check() -> Factor | None:
            return password_factor() if passwords.verify_password(current, expected_hash=expected) else None

        attempt = authn_service.throttled(db, throttle.password_keys(user.email, ip, config=config), check,
                                          config=config, method=policy.PASSWORD, user_id=user.id)
        if attempt.factor is None:
            raise WrongPassword(attempt.verdict)
    now = now or clock.utc_now()
    user.password_hash = passwords.hash_password(new)
    ended = sessions.end_others(db, user, keep=ctx.sid, now=now, reason="password_changed")
    audit.record(db, audit.Event.PASSWORD_CHANGED, user_id=user.id, commit=False, added=added,
                 sessions_ended=ended.sessions, tokens_revoked=ended.tokens)
    db.commit()
    return Changed(added=added, ended=ended)
