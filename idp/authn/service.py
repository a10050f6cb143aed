"""Checking one factor: the service that sign-in, step-up and re-authentication all use.

Each way in (the sign-in page, the step-up page, a passkey ceremony, a page that asks for the
password again) hands the presented secret here and gets an :class:`Attempt` back: the factor to
put in the session, or a refusal with the throttle's verdict. Throttling (SP 800-63B-4 §3.2.2) and
the audit trail are applied here once, the same way for every caller. No Flask request globals.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts import service as accounts
from idp.accounts.models import User
from idp.assurance import policy
from idp.assurance.policy import Factor
from idp.authn import recovery
from idp.authn import throttle
from idp.authn import totp
from idp.authn import webauthn
from idp.authn.throttle import ALLOWED
from idp.authn.throttle import Verdict


@dataclass(frozen=True)
class Attempt:
    """The result of one attempt: a factor (and whose it is), or a refusal.

    :param verdict: the throttle's verdict for the next attempt (a refusal while blocked)
    :param error: why a passkey or security key was refused (``webauthn.WebAuthnError.code``)
    :param user_id: the account concerned, when known (for notices about a refused key)
    """

    factor: Factor | None
    verdict: Verdict = ALLOWED
    user: User | None = None
    error: str | None = None
    user_id: int | None = None

    @property
    def blocked(self) -> bool:
        return not self.verdict.allowed


def verify_factor(db: Session, method: str, *, presented: Any, ip: str, config: Mapping[str, Any],
                  user: User | None = None, email: str = "",
                  webauthn_state: Mapping[str, Any] | None = None) -> Attempt:
    """Verify one factor of ``user`` (or, at sign-in, of the account ``email`` or the passkey names).

    :param method: ``policy.PASSWORD``, ``TOTP``, ``RECOVERY`` or ``WEBAUTHN``
    :param presented: the password, the code, or the WebAuthn credential (``toJSON()`` form)
    :param webauthn_state: the ceremony state the options call left in the session
    :raises ValueError: an unknown method, or a second factor without ``user``
    """
    if method == policy.PASSWORD:
        return _password(db, str(presented)[:1024], email=user.email if user else email, ip=ip, config=config,
                         expected=user)
    if method == policy.WEBAUTHN:
        return _webauthn(db, presented, state=dict(webauthn_state or {}), config=config)
    if user is None or method not in (policy.TOTP, policy.RECOVERY):
        raise ValueError(f"cannot verify {method!r} without a user")
    code = str(presented)[:64]
    keys = throttle.factor_keys(user.id, method, ip, config=config)
    if method == policy.TOTP:
        attempt = throttled(db, keys, lambda: totp.verify(db, user, code, config=config), config=config,
                            method=method, user_id=user.id)
    else:
        attempt = throttled(db, keys, lambda: recovery.verify(db, user, code), config=config,
                            method=method, user_id=user.id)
        if attempt.factor is not None:
            # A recovery code is how a person gets back a suspended second factor.
            throttle.lift(db, throttle.account_key(str(user.id), policy.TOTP), user_id=user.id, reason="recovery")
    return Attempt(attempt.factor, attempt.verdict, user=user if attempt.factor else None, user_id=user.id)


def _password(db: Session, password: str, *, email: str, ip: str, config: Mapping[str, Any],
              expected: User | None) -> Attempt:
    found: list[User] = []
    # One lookup serves the audit (whose account) and the check; an expected account (re-entering
    # the password for a session's own account) must be the one the email names.
    known = accounts.find_by_email(db, email) if email else None
    user_id = expected.id if expected is not None else (known.id if known else None)

    def check() -> Factor | None:
        person = accounts.password_matches(db, known, password)
        if person is None or (expected is not None and person.id != expected.id):
            return None
        found.append(person)
        return Factor(policy.PASSWORD, clock.timestamp())

    attempt = throttled(db, throttle.password_keys(email, ip, config=config), check, config=config,
                        method=policy.PASSWORD, user_id=user_id)
    return Attempt(attempt.factor, attempt.verdict, user=found[0] if found else None, user_id=user_id)


def _webauthn(db: Session, credential: Any, *, state: dict[str, Any], config: Mapping[str, Any]) -> Attempt:
    """An assertion cannot be guessed, only signed by the key: refused ones are audited, not throttled."""
    try:
        cred, factor = webauthn.verify_authentication(db, state, credential, config=config)
    except webauthn.WebAuthnError as exc:
        user_id = exc.user_id or state.get("user_id")
        audit.record(db, audit.Event.SIGNIN_FAILED, user_id=user_id, factor=policy.WEBAUTHN, reason=exc.code)
        return Attempt(None, error=exc.code, user_id=user_id)
    user = db.get(User, cred.user_id)
    if user is None or not user.is_active:
        return Attempt(None, error="unknown_credential", user_id=cred.user_id)
    return Attempt(factor, user=user, user_id=user.id)


def throttled(db: Session, keys: list[str], check: Callable[[], Factor | None], *, config: Mapping[str, Any],
              method: str, user_id: int | None) -> Attempt:
    """Run ``check`` unless a key is blocked; count a failure, or clear the account key on success.

    The attempt is counted against the account before ``check`` runs (``throttle.reserve``), so
    parallel guesses for one account cannot all slip through one reading of the count.
    """
    accounts_keys = [k for k in keys if throttle.is_account_key(k)]
    verdict = throttle.reserve(db, count=accounts_keys, check_only=keys, config=config)
    if not verdict.allowed:
        audit.record(db, audit.Event.SIGNIN_REFUSED, user_id=user_id, factor=method,
                     reason="suspended" if verdict.suspended else "throttled")
        return Attempt(None, verdict)
    factor = check()
    if factor is None:
        audit.record(db, audit.Event.SIGNIN_FAILED, user_id=user_id, factor=method, commit=False)
        return Attempt(None, throttle.failure(db, keys, config=config, factor=method, user_id=user_id,
                                              reserved=accounts_keys))
    throttle.success(db, accounts_keys)  # gives the reservation back, with any earlier failures
    return Attempt(factor, verdict)
