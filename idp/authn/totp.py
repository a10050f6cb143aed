"""RFC 6238 time-based one-time passwords: SHA-1, 30-second steps, 6 digits, ±1 step of drift.

Seeds are AES-GCM encrypted at rest under a key derived from ``SECRET_KEY`` and bound to the
user, since they must be read back to compute codes. Each credential remembers the highest
step it accepted, and refuses that step and every earlier one: a code is single-use
(SP 800-63B-4 §3.1.4.1), and enrolment consumes the code that confirmed it.

pyotp computes the codes; stepping, the drift window and replay live here, on ``idp.clock``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

import pyotp
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts.models import User
from idp.assurance import policy
from idp.assurance.policy import Factor
from idp.authn.models import TotpCredential
from idp.crypto import decrypt_field
from idp.crypto import derive_key
from idp.crypto import encrypt_field

STEP = 30
DIGITS = 6
DRIFT = 1  # steps accepted either side of now
MIN_SECRET_BYTES = 16  # RFC 4226 R6: at least 128 bits
MAX_SECRET_BYTES = 64
NAME_MAX = 100


class TotpError(Exception):
    """``code`` selects the message: ``invalid`` (wrong confirmation code), ``bad_secret``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def new_secret() -> str:
    """A fresh 160-bit seed, base32 without padding (what authenticator apps expect)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI for a QR code; it carries the seed, so never log or cache it."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def current_step() -> int:
    return int(clock.timestamp() // STEP)


def code_at(secret: str, step: int) -> str:
    """The code for one time step (tests and demo data)."""
    return pyotp.TOTP(secret, digits=DIGITS).generate_otp(step)


def enrol(db: Session, user: User, secret: str, code: str, *, name: str,
          config: Mapping[str, Any]) -> TotpCredential:
    """Save an authenticator app once the person has proved it shows the right code.

    :raises TotpError: ``invalid`` when the code is wrong (nothing is stored), ``bad_secret``
    """
    secret = normalise_secret(secret)
    code = _normalise_code(code)
    step = _matching_step(secret, code, after=-1) if code else None
    if step is None:
        raise TotpError("invalid")
    return _store(db, user, secret, name=name, last_step=step, config=config, source="app")


def import_secret(db: Session, user: User, secret_base32: str, *, name: str,
                  config: Mapping[str, Any]) -> TotpCredential:
    """Register a hardware token's seed (handed out at a counter); no confirmation code.

    :raises TotpError: ``bad_secret`` when the seed is not base32 of 128 to 512 bits
    """
    secret = normalise_secret(secret_base32)
    return _store(db, user, secret, name=name, last_step=0, config=config, source="import")


def verify(db: Session, user: User, code: str, *, config: Mapping[str, Any]) -> Factor | None:
    """The TOTP factor when ``code`` is current for one of the person's credentials, else ``None``.

    A step already accepted, or older than one accepted, is refused. Throttling is the caller's
    job (``idp.authn.throttle``).
    """
    code = _normalise_code(code)
    if not code:
        return None
    for credential in list_for(db, user.id):
        secret = _decrypt(credential, config)
        step = _matching_step(secret, code, after=credential.last_step)
        if step is None:
            continue
        # Conditional on last_step so that two racing requests cannot both spend one code.
        result = db.execute(
            update(TotpCredential)
            .where(TotpCredential.id == credential.id, TotpCredential.last_step < step)
            .values(last_step=step, last_used_at=clock.utc_now())
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            db.rollback()
            return None
        db.commit()
        return Factor(policy.TOTP, clock.timestamp())
    return None


def remove(db: Session, user: User, credential_id: int) -> bool:
    """Delete one of the person's credentials; ``False`` when it is not theirs or is gone."""
    result = db.execute(
        delete(TotpCredential)
        .where(TotpCredential.id == credential_id, TotpCredential.user_id == user.id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return False
    audit.record(db, audit.Event.TOTP_REMOVED, user_id=user.id, totp_id=credential_id)
    return True


def list_for(db: Session, user_id: int) -> list[TotpCredential]:
    return list(db.scalars(select(TotpCredential).where(TotpCredential.user_id == user_id)
                           .order_by(TotpCredential.id)))


def normalise_secret(secret: str) -> str:
    """Upper-case base32 without spaces, hyphens or padding.

    :raises TotpError: ``bad_secret``
    """
    cleaned = "".join(secret.split()).replace("-", "").rstrip("=").upper()
    if not cleaned or not cleaned.isascii():
        raise TotpError("bad_secret")
    try:
        raw = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise TotpError("bad_secret") from None
    if not MIN_SECRET_BYTES <= len(raw) <= MAX_SECRET_BYTES:
        raise TotpError("bad_secret")
    return cleaned


def _normalise_code(code: str) -> str:
    """The code without spaces, or ``""`` when it is not six ASCII digits."""
    code = "".join((code or "").split())
    return code if len(code) == DIGITS and code.isascii() and code.isdigit() else ""


def _matching_step(secret: str, code: str, *, after: int) -> int | None:
    """The step within the drift window whose code is ``code`` and that is later than ``after``.

    Every candidate is computed and compared in constant time, whatever matches.
    """
    now = current_step()
    found = None
    for step in range(now - DRIFT, now + DRIFT + 1):
        expected = code_at(secret, max(step, 0))
        if hmac.compare_digest(expected, code) and step > after and found is None:
            found = step
    return found


def _store(db: Session, user: User, secret: str, *, name: str, last_step: int, config: Mapping[str, Any],
           source: str) -> TotpCredential:
    credential = TotpCredential(user_id=user.id, name=(name or "").strip()[:NAME_MAX] or "TOTP",
                                secret_encrypted=b"", last_step=last_step)
    credential.secret_encrypted = encrypt_field(_key(config), secret.encode("ascii"), context=_context(user.id))
    db.add(credential)
    db.flush()
    audit.record(db, audit.Event.TOTP_ENROLLED, user_id=user.id, commit=False, totp_id=credential.id, source=source)
    db.commit()
    return credential


def _decrypt(credential: TotpCredential, config: Mapping[str, Any]) -> str:
    return decrypt_field(_key(config), credential.secret_encrypted, context=_context(credential.user_id)).decode()


def _key(config: Mapping[str, Any]) -> bytes:
    return derive_key(str(config["SECRET_KEY"]), purpose="field:totp-seed")


def _context(user_id: int) -> str:
    return f"totp:{user_id}"
