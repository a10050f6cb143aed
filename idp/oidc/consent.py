"""Remembered consent per client and per set of scopes and claims."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.oidc.models import Consent

# What the consent page says each item releases.
DESCRIPTIONS = {
    "profile": _l("Your name and profile details"),
    "email": _l("Your email address and whether it is verified"),
    "phone": _l("Your phone number"),
    "address": _l("Your postal address"),
    "offline_access": _l("Keep access while you are signed out (until you withdraw it)"),
}


def describe(item: str) -> str:
    if item.startswith("claim:"):
        return str(_l("The claim “%(name)s”", name=item[6:]))
    return str(DESCRIPTIONS.get(item, item))


def has_consent(db: Session, *, user_id: int, client_id: int, items: list[str]) -> bool:
    row = db.scalar(select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id))
    return row is not None and set(items) <= set(row.scopes)


def grant_consent(db: Session, *, user_id: int, client_id: int, items: list[str]) -> None:
    row = db.scalar(select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id))
    if row is None:
        db.add(Consent(user_id=user_id, client_id=client_id, scopes=sorted(set(items))))
    else:
        row.scopes = sorted(set(row.scopes) | set(items))
    db.commit()
