"""The Security page's rules: who may change authenticators, and which may be removed.

Two rules keep people from locking themselves out or being locked out by a thief: the last
way to sign in is never removed, and the last second factor is removed only after an explicit
confirmation (which says more for a proofed, IAL2+, account).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts import sessions
from idp.accounts.models import User
from idp.accounts.session import AuthContext
from idp.assurance.policy import Enrolled
from idp.authn import recovery
from idp.authn.inventory import enrolled
from idp.authn.models import RecoveryCode
from idp.authn.models import TotpCredential
from idp.authn.models import WebAuthnCredential
from idp.db import parse_row_id

NAME_MAX = 60
KINDS: dict[str, Any] = {"totp": TotpCredential, "webauthn": WebAuthnCredential}


def may_manage(db: Session, ctx: AuthContext) -> bool:
    """AAL2 is needed to change authenticators once the account can reach AAL2 at all."""
    return ctx.aal() >= 2 or enrolled(db, ctx.user).reachable_aal() < 2


def clean_name(raw: object, *, default: str) -> str:
    name = " ".join(str(raw or "").split())[:NAME_MAX]
    return name or default


def group_secret(secret: str) -> str:
    """A base32 seed in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


@dataclass(frozen=True)
class Overview:
    totp: list[TotpCredential]
    webauthn: list[WebAuthnCredential]
    recovery_left: int
    has_password: bool
    sessions: list[sessions.OpenSession]

    @property
    def recovery_reminder(self) -> bool:
        """A second factor is held but no recovery code is left to stand in for it."""
        return self.recovery_left == 0 and bool(self.totp or self.webauthn)


def overview(db: Session, ctx: AuthContext, *, config: Mapping[str, Any]) -> Overview:
    uid = ctx.user.id
    return Overview(
        totp=list(db.scalars(select(TotpCredential).where(TotpCredential.user_id == uid)
                             .order_by(TotpCredential.id))),
        webauthn=list(db.scalars(select(WebAuthnCredential).where(WebAuthnCredential.user_id == uid)
                                 .order_by(WebAuthnCredential.id))),
        recovery_left=recovery.remaining(db, uid),
        has_password=ctx.user.password_hash is not None,
        sessions=sessions.list_open(db, ctx.user, current_sid=ctx.sid, now=clock.utc_now(), config=config),
    )


def _find(db: Session, user: User, kind: str, ident: str) -> Any:
    model = KINDS.get(kind)
    row_id = parse_row_id(ident)
    if model is None or row_id is None:
        return None
    row = db.get(model, row_id)
    return row if row is not None and row.user_id == user.id else None


def rename(db: Session, user: User, kind: str, ident: str, name: str) -> bool:
    row = _find(db, user, kind, ident)
    if row is None or not name:
        return False
    row.name = name
    db.commit()
    return True


@dataclass(frozen=True)
class Removal:
    name: str = ""
    refused: bool = False
    needs_confirmation: bool = False
    reason: str = ""


def removal(db: Session, user: User, kind: str, ident: str) -> Removal:
    """Whether removing this authenticator is allowed, and whether it needs a confirmation."""
    have = enrolled(db, user)
    if kind == "password":
        if user.password_hash is None:
            return Removal(refused=True, reason=_("There is no password to remove."))
        if not have.webauthn_uv:
            return Removal(refused=True, reason=_("Add a passkey before you remove your password."))
        return Removal(name=_("Password"), needs_confirmation=True,
                       reason=_("You will sign in with your passkeys only."))
    if kind == "recovery":
        if not have.recovery:
            return Removal(refused=True, reason=_("There are no recovery codes to remove."))
        row_name = _("Recovery codes")
        after = _without(have, recovery=False)
    else:
        row = _find(db, user, kind, ident)
        if row is None:
            return Removal(refused=True, reason=_("That authenticator was not found."))
        row_name = row.name
        after = _after_removing(db, user, kind, row)
    if after.reachable_aal() == 0:
        return Removal(name=row_name, refused=True,
                       reason=_("This is your last way to sign in, so it cannot be removed. Add another first."))
    if have.reachable_aal() >= 2 > after.reachable_aal():
        if user.ial >= 2:
            return Removal(name=row_name, needs_confirmation=True,
                           reason=_("This is your last second factor. Without it, e-Services that need a strong "
                                    "sign-in will not let you in until you add another."))
        return Removal(name=row_name, needs_confirmation=True,
                       reason=_("This is your last second factor. Without it, you sign in with your password "
                                "only, and e-Services that need two-step sign-in will ask you to add another."))
    return Removal(name=row_name)


def _without(have: Enrolled, **changes: bool) -> Enrolled:
    return replace(have, **changes)


def _after_removing(db: Session, user: User, kind: str, row: Any) -> Enrolled:
    have = enrolled(db, user)
    if kind == "totp":
        others = db.scalar(select(TotpCredential.id).where(TotpCredential.user_id == user.id,
                                                           TotpCredential.id != row.id).limit(1))
        return _without(have, totp=others is not None)
    keys = db.execute(select(WebAuthnCredential.user_verifying, WebAuthnCredential.hardware_bound)
                      .where(WebAuthnCredential.user_id == user.id, WebAuthnCredential.id != row.id,
                             WebAuthnCredential.suspected_clone_at.is_(None))).all()
    return _without(have, webauthn=bool(keys), webauthn_uv=any(uv for uv, _ in keys),
                    webauthn_hw=any(uv and hw for uv, hw in keys))


def remove(db: Session, user: User, kind: str, ident: str) -> None:
    """Remove after :func:`removal` allowed it; records the audit event."""
    if kind == "password":
        user.password_hash = None
    elif kind == "recovery":
        db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    else:
        row = _find(db, user, kind, ident)
        if row is None:
            return
        db.delete(row)
    audit.record(db, audit.Event.FACTOR_REMOVED, user_id=user.id, commit=False, kind=kind)
    db.commit()
