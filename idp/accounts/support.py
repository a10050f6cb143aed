"""Account support: look an account up, disable or enable it, reset its authenticators.

Support staff help people who lost their phone or fear someone else got in. They see how an
account can sign in (kinds and counts, never a secret) and its state, but nothing proofing
established: no evidence, no registry answer, no national ID number, no verified name; the IAL
is shown as a number only. Every view of an account and every change is audited with the staff
member as actor, in the same commit as the change.

Staff accounts are an administrator's business: support can look at one but not change it, and
nobody acts on their own account here (a compromised support account could otherwise lift its
own or a colleague's second factor).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import audit
from idp.accounts import ending
from idp.accounts import roles
from idp.accounts.models import AuthSession
from idp.accounts.models import User
from idp.assurance import policy
from idp.assurance.levels import AAL
from idp.authn import throttle
from idp.authn.models import RecoveryCode
from idp.authn.models import Throttle
from idp.authn.models import TotpCredential
from idp.authn.models import WebAuthnCredential
from idp.i18n import locale_of
from idp.mail import send_mail
from idp.oidc import tokens
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Token

DISABLE_REASONS = ("reported_compromised", "owner_request", "fraud_suspected", "other")
RESET_REASONS = ("lost_authenticator", "reported_compromised", "owner_request", "other")
# A session not ended still counts as open while its AAL1 window lasts (30 days since sign-in).
SESSION_WINDOW = dt.timedelta(seconds=policy.WINDOWS[AAL.AAL1].max_age)


class SupportError(Exception):
    """Root of refusals; ``code`` selects the words support staff read."""

    code = "support_error"


class OwnAccount(SupportError):
    code = "own_account"


class StaffAccount(SupportError):
    code = "staff_account"


class AlreadyDisabled(SupportError):
    code = "already_disabled"


class AlreadyActive(SupportError):
    code = "already_active"


class UnknownReason(SupportError):
    code = "unknown_reason"


class NoPassword(SupportError):
    code = "no_password"


@dataclass(frozen=True)
class AccountSummary:
    """What support may know about an account: states and counts only."""

    user_id: int
    email: str
    active: bool
    ial: int
    created_at: dt.datetime
    email_verified: bool
    last_sign_in: dt.datetime | None
    password: bool
    totp: int
    webauthn: int
    recovery_left: int
    suspended: tuple[str, ...]
    open_sessions: int
    staff: bool


@dataclass(frozen=True)
class Ended:
    """What ending an account's access touched."""

    sessions: int
    tokens: int


@dataclass(frozen=True)
class ResetResult:
    totp: int
    webauthn: int
    recovery: int
    suspensions_lifted: int
    ended: Ended


def summarise(db: Session, user: User, *, config: Mapping[str, Any], now: dt.datetime) -> AccountSummary:
    uid = user.id
    keys = throttle.account_keys(user, config=config)
    suspended = set(db.scalars(select(Throttle.key).where(Throttle.key.in_(keys.values()),
                                                          Throttle.suspended_at.is_not(None))))
    return AccountSummary(
        user_id=uid, email=user.email, active=user.is_active, ial=user.ial, created_at=user.created_at,
        email_verified=user.email_verified,
        last_sign_in=db.scalar(select(func.max(AuthSession.created_at)).where(AuthSession.user_id == uid)),
        password=user.password_hash is not None,
        totp=_count(db, TotpCredential, TotpCredential.user_id == uid),
        webauthn=_count(db, WebAuthnCredential, WebAuthnCredential.user_id == uid),
        recovery_left=_count(db, RecoveryCode, RecoveryCode.user_id == uid, RecoveryCode.used_at.is_(None)),
        suspended=tuple(factor for factor, key in keys.items() if key in suspended),
        open_sessions=_count(db, AuthSession, AuthSession.user_id == uid, AuthSession.ended_at.is_(None),
                             AuthSession.auth_time > now - SESSION_WINDOW),
        staff=bool(roles.roles_of(db, uid)),
    )


def record_view(db: Session, user: User, *, by: int) -> None:
    """PDPA: every look at a person's account by staff leaves a trace."""
    audit.record(db, audit.Event.SUPPORT_ACCOUNT_VIEWED, user_id=user.id, by=by)


def check_may_change(db: Session, user: User, *, by: int) -> None:
    """:raises OwnAccount: ``by`` is the account's owner
    :raises StaffAccount: the account holds a staff role (an administrator changes those)"""
    if user.id == by:
        raise OwnAccount()
    if roles.roles_of(db, user.id):
        raise StaffAccount()


def disable(db: Session, user: User, *, by: int, reason: str, now: dt.datetime) -> Ended:
    """Stop the account: no sign-in, every session ended, every token revoked for good.

    Introspection and refresh already refuse a disabled person's tokens; revoking them as well
    means enabling the account later does not bring old tokens back to life.
    """
    if reason not in DISABLE_REASONS:
        raise UnknownReason()
    check_may_change(db, user, by=by)
    if not user.is_active:
        raise AlreadyDisabled()
    user.status = "disabled"
    ended = end_access(db, user.id, now=now, reason="account_disabled")
    audit.record(db, audit.Event.ACCOUNT_DISABLED, user_id=user.id, commit=False, by=by, reason=reason,
                 sessions_ended=ended.sessions, tokens_revoked=ended.tokens)
    db.commit()
    return ended


def enable(db: Session, user: User, *, by: int) -> None:
    check_may_change(db, user, by=by)
    if user.is_active:
        raise AlreadyActive()
    user.status = "active"
    audit.record(db, audit.Event.ACCOUNT_ENABLED, user_id=user.id, commit=False, by=by)
    db.commit()


def reset_authenticators(db: Session, user: User, *, by: int, reason: str, config: Mapping[str, Any],
                         now: dt.datetime) -> ResetResult:
    """Remove every second factor so the person can enrol new ones after signing in with the password.

    TOTP generators, passkeys, security keys and recovery codes go; throttling and suspensions
    of every factor are lifted (the password's too, so the person can get in). Every session
    ends, and every token is revoked, not only those above AAL1: a reset usually follows a lost
    or stolen authenticator, and whoever holds it may have signed in at any level.

    An account without a password is refused: removing its passkeys would leave no way in, and
    handing it a way in is an identity recovery that needs the person in front of an officer.

    :raises NoPassword: the account has no password
    """
    if reason not in RESET_REASONS:
        raise UnknownReason()
    check_may_change(db, user, by=by)
    if user.password_hash is None:
        raise NoPassword()
    uid = user.id
    counts = [_delete(db, model, model.user_id == uid) for model in (TotpCredential, WebAuthnCredential,
                                                                     RecoveryCode)]
    keys = list(throttle.account_keys(user, config=config).values())
    lifted = _count(db, Throttle, Throttle.key.in_(keys), Throttle.suspended_at.is_not(None))
    _delete(db, Throttle, Throttle.key.in_(keys))
    ended = end_access(db, uid, now=now, reason="authenticators_reset")
    result = ResetResult(totp=counts[0], webauthn=counts[1], recovery=counts[2], suspensions_lifted=lifted,
                         ended=ended)
    audit.record(db, audit.Event.AUTHENTICATORS_RESET, user_id=uid, commit=False, by=by, reason=reason,
                 totp=result.totp, webauthn=result.webauthn, recovery_codes=result.recovery,
                 suspensions_lifted=lifted, sessions_ended=ended.sessions, tokens_revoked=ended.tokens)
    db.commit()
    return result


def end_access(db: Session, user_id: int, *, now: dt.datetime, reason: str) -> Ended:
    """End every session of the person, revoke every token and expire codes not yet redeemed; the
    e-Services that got tokens in those sessions are sent back-channel logout tokens after the commit.

    Does not commit: the caller commits it with the change that made it necessary.

    :param reason: why, as the back-channel delivery record keeps it (``account_disabled`` …)
    """
    open_sids = list(db.scalars(select(AuthSession.id).where(AuthSession.user_id == user_id,
                                                             AuthSession.ended_at.is_(None))))
    sessions = ending.end_sessions(db, open_sids, now=now, reason=reason)
    revoked = sessions.tokens + tokens.revoke_where(db, Token.user_id == user_id, now=now)
    # A code issued a moment ago carries the old acr; its exchange must not mint a fresh token.
    db.execute(update(AuthorizationCode).where(AuthorizationCode.user_id == user_id,
                                               AuthorizationCode.used_at.is_(None),
                                               AuthorizationCode.expires_at > now)
               .values(expires_at=now).execution_options(synchronize_session=False))
    return Ended(sessions=len(sessions.sids), tokens=revoked)


# -- notices to the person, in their language ---------------------------------------------------------


def notify_disabled(user: User, *, when: dt.datetime) -> None:
    _notify(user, lambda: (
        _("Your Digital ID account was disabled"),
        _("Our support team disabled your Digital ID account on %(date)s. You cannot sign in with it now, "
          "and the e-Services you used it with were signed out.\n\n"
          "If you did not ask for this, or you want to use the account again, contact support.",
          date=_date(when))))


def notify_enabled(user: User, *, when: dt.datetime) -> None:
    _notify(user, lambda: (
        _("Your Digital ID account can be used again"),
        _("Our support team enabled your Digital ID account again on %(date)s. You can sign in as before.\n\n"
          "If you did not expect this, contact support at once.", date=_date(when))))


def notify_reset(user: User, *, when: dt.datetime) -> None:
    _notify(user, lambda: (
        _("Your sign-in methods were reset"),
        _("Your sign-in methods were reset by support on %(date)s: authenticator apps, passkeys, security keys "
          "and recovery codes were removed, and you were signed out everywhere. Your password still works: "
          "sign in and add a new way to sign in on the Security page.\n\n"
          "If you did not ask for this, contact support at once.", date=_date(when))))


def _notify(user: User, words: Callable[[], tuple[str, str]]) -> None:
    """Send in the person's language, not the language of the staff member's browser."""
    with force_locale(locale_of(user)):
        subject, body = words()
        send_mail(user.email, subject, body)


def _date(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _count(db: Session, model: Any, *where: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _delete(db: Session, model: Any, *where: Any) -> int:
    result = db.execute(delete(model).where(*where).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
