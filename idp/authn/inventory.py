"""What a person can authenticate with, read in three small queries."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import User
from idp.assurance.policy import Enrolled
from idp.authn.models import RecoveryCode
from idp.authn.models import TotpCredential
from idp.authn.models import WebAuthnCredential


def enrolled(db: Session, user: User) -> Enrolled:
    """The person's authenticators, as the policy sees them (cloned keys do not count)."""
    totp = db.scalar(select(func.count()).select_from(TotpCredential).where(TotpCredential.user_id == user.id))
    recovery = db.scalar(select(func.count()).select_from(RecoveryCode)
                         .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))
    keys = db.execute(select(WebAuthnCredential.user_verifying, WebAuthnCredential.hardware_bound)
                      .where(WebAuthnCredential.user_id == user.id,
                             WebAuthnCredential.suspected_clone_at.is_(None))).all()
    return Enrolled(
        password=user.password_hash is not None,
        totp=bool(totp),
        recovery=bool(recovery),
        webauthn=bool(keys),
        webauthn_uv=any(uv for uv, _ in keys),
        webauthn_hw=any(uv and hw for uv, hw in keys),
    )
