"""Account use cases: sign-up, password sign-in, email verification. No Flask request globals."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp import audit
from idp.accounts import passwords
from idp.accounts.models import User
from idp.crypto import random_token


class AccountError(Exception):
    """Root of account errors; ``code`` selects the message shown to the person."""

    code = "account_error"


class EmailTaken(AccountError):
    code = "email_taken"


class InvalidEmail(AccountError):
    code = "invalid_email"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidEmail()
    return email


def find_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def create_user(db: Session, *, email: str, password: str, name: str = "", email_verified: bool = False) -> User:
    """Create an account after checking the email and the password rules.

    :raises AccountError: the email is malformed or taken
    :raises passwords.PasswordRejected: the password breaks a rule
    """
    email = check_email(email)
    passwords.check_password_rules(password, email=email)
    if find_by_email(db, email) is not None:
        raise EmailTaken()
    user = _new_user(email=email, password_hash=passwords.hash_password(password), name=name,
                     email_verified=email_verified)
    db.add(user)
    db.commit()
    return user


@dataclass(frozen=True)
class SignUp:
    """What a self-service sign-up did. The visitor is told the same either way."""

    created: User | None
    existing: User | None


def sign_up(db: Session, *, email: str, password: str, name: str = "") -> SignUp:
    """Create an account, or find that the email already has one, doing the same work either way.

    The visitor must not learn which (OWASP Authentication Cheat Sheet, account enumeration at
    account creation): the rules are checked and the password hashed before the email is looked
    up, so both cases cost one argon2 hash; the caller sends the new person a verification link
    and the owner of an existing account a notice.

    :raises AccountError: the email is malformed
    :raises passwords.PasswordRejected: the password breaks a rule
    """
    email = check_email(email)
    passwords.check_password_rules(password, email=email)
    password_hash = passwords.hash_password(password)
    existing = find_by_email(db, email)
    if existing is not None:
        return SignUp(created=None, existing=existing)
    user = _new_user(email=email, password_hash=password_hash, name=name, email_verified=False)
    db.add(user)
    try:
        db.commit()
    except IntegrityError:  # the same address signed up a moment ago
        db.rollback()
        return SignUp(created=None, existing=find_by_email(db, email))
    return SignUp(created=user, existing=None)


def _new_user(*, email: str, password_hash: str, name: str, email_verified: bool) -> User:
    return User(subject_seed=random_token(32), email=email, email_verified=email_verified,
                name=name.strip()[:200], password_hash=password_hash)


def authenticate_password(db: Session, *, email: str, password: str) -> User | None:
    """The active account whose password this is, or ``None`` (same timing either way)."""
    return password_matches(db, find_by_email(db, email) if email else None, password)


def password_matches(db: Session, user: User | None, password: str) -> User | None:
    """``user`` when it is active and this is its password, else ``None``.

    For a caller that has already looked the account up (sign-in reads it once, for the throttle's
    audit and for the check). Without an account the hash is still computed, against a dummy,
    so the answer takes the same time either way.
    """
    expected = user.password_hash if user is not None else None
    if not passwords.verify_password(password, expected_hash=expected) or user is None:
        return None
    if not user.is_active:
        return None
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        db.commit()
    return user


def mark_email_verified(db: Session, user_id: int, email: str) -> bool:
    user = db.get(User, user_id)
    if user is None or user.email != email:
        return False
    user.email_verified = True
    audit.record(db, audit.Event.EMAIL_VERIFIED, user_id=user.id, commit=False, method="link")
    db.commit()
    return True
