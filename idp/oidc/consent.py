"""Remembered consent per client and per set of scopes and claims."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.accounts.models import User
from idp.db import utc_now
from idp.oidc import tokens
from idp.oidc.models import Client
from idp.oidc.models import Consent
from idp.oidc.models import Token

# What the consent page says each item releases.
DESCRIPTIONS = {
    "profile": _l("Your name and profile details"),
    "email": _l("Your email address and whether it is verified"),
    "phone": _l("Your phone number"),
    "address": _l("Your postal address"),
    "offline_access": _l("Keep access while you are signed out (until you withdraw it)"),
    "national_id": _l("Your 13-digit national ID number"),
    "claim:national_id": _l("Your 13-digit national ID number"),
    "claim:verified_claims":
        _l("Your verified identity: name and date of birth, as checked against the national registry"),
    # ThaID-compatible items (docs/thaid-migration.md): each scope is also a claim.
    "pid": _l("Your 13-digit national ID number"),
    "claim:pid": _l("Your 13-digit national ID number"),
    "ial": _l("How well your identity was checked (identity level, e.g. 2.3)"),
    "claim:ial": _l("How well your identity was checked (identity level, e.g. 2.3)"),
    "aal": _l("How strongly you signed in this time (sign-in level, e.g. 2.2)"),
    "claim:aal": _l("How strongly you signed in this time (sign-in level, e.g. 2.2)"),
    "given_name_en": _l("Your verified first name in English"),
    "claim:given_name_en": _l("Your verified first name in English"),
    "family_name_en": _l("Your verified last name in English"),
    "claim:family_name_en": _l("Your verified last name in English"),
    "name_en": _l("Your verified full name in English"),
    "claim:name_en": _l("Your verified full name in English"),
}


def describe(item: str) -> str:
    if item in DESCRIPTIONS:
        return str(DESCRIPTIONS[item])
    if item.startswith("claim:"):
        return str(_l("The claim “%(name)s”", name=item[6:]))
    return str(DESCRIPTIONS.get(item, item))


def has_consent(db: Session, *, user_id: int, client_id: int, items: list[str]) -> bool:
    row = db.scalar(select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id))
    return row is not None and set(items) <= set(row.scopes)


def grant_consent(db: Session, *, user_id: int, client_id: int, items: list[str]) -> None:
    """Remember the consent, with its audit event and the person's signed receipt, in one commit."""
    row = db.scalar(select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id))
    if row is None:
        db.add(Consent(user_id=user_id, client_id=client_id, scopes=sorted(set(items))))
    else:
        row.scopes = sorted(set(row.scopes) | set(items))
    audit.record(db, audit.Event.CONSENT_GIVEN, user_id=user_id, client_id=client_id, commit=False,
                 items=sorted(set(items)))
    _receipt(db, user_id=user_id, client_id=client_id, items=items, given=True)
    db.commit()


def _receipt(db: Session, *, user_id: int, client_id: int, items: list[str], given: bool) -> None:
    # Imported here: receipts read the claim vocabulary (idp.oidc.claims), which imports this module.
    from idp.disclosure import receipts

    user, client = db.get(User, user_id), db.get(Client, client_id)
    if user is not None and client is not None:
        receipts.issue(db, user=user, client=client, items=items, now=utc_now(),
                       state=receipts.State.GIVEN if given else receipts.State.WITHDRAWN)


def list_consents(db: Session, *, user_id: int) -> list[tuple[Consent, Client]]:
    rows = db.execute(select(Consent, Client).join(Client, Client.id == Consent.client_id)
                      .where(Consent.user_id == user_id).order_by(Consent.granted_at))
    return [(consent, client) for consent, client in rows]


def withdraw_consent(db: Session, *, user_id: int, client_id: int) -> bool:
    """Forget the consent and revoke every token the e-Service holds for this person, and the
    tokens exchanged from them for other agencies' APIs (RFC 8693: the same family)."""
    row = db.scalar(select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id))
    if row is None:
        return False
    db.delete(row)
    families = select(Token.family).where(Token.user_id == user_id, Token.client_id == client_id)
    tokens.revoke_where(db, Token.user_id == user_id, or_(Token.client_id == client_id, Token.family.in_(families)))
    audit.record(db, audit.Event.CONSENT_WITHDRAWN, user_id=user_id, client_id=client_id, commit=False)
    _receipt(db, user_id=user_id, client_id=client_id, items=list(row.scopes), given=False)
    db.commit()
    return True
