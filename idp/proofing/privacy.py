"""The person's rights over their data (PDPA B.E. 2562: access, portability, erasure of proofing
data) and the retention rule for proofing evidence.

What is kept and what goes:

* evidence as typed and the registry's answer are held while a case is open and for
  ``PROOFING_RETENTION_DAYS`` after its decision, then purged (:func:`purge_expired`);
* the decision record (status, dates, check results and reason codes, no personal data) stays:
  it is the record of why an assurance level was or was not granted;
* erasure (:func:`erase_proofing`) removes the verified identity and every proofing blob at once
  and brings the account back to IAL1.

No Flask request globals: views pass the configuration in, so the rules are testable with a
plain session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import audit
from idp.accounts.models import AuthSession
from idp.accounts.models import Role
from idp.accounts.models import User
from idp.authn.models import RecoveryCode
from idp.authn.models import TotpCredential
from idp.authn.models import WebAuthnCredential
from idp.oidc import tokens
from idp.oidc.models import Client
from idp.oidc.models import Consent
from idp.oidc.models import Token
from idp.proofing import attempts
from idp.proofing import service
from idp.proofing.models import ProofingCase

Config = Mapping[str, Any]

FORMAT = "th-digitalid-personal-data/1"
DECIDED = ("approved", "rejected", "withdrawn")
# A case is "open" from its creation until a decision; "started" lasts only between two commits
# of the submission, but an interrupted one must not survive an erasure either.
UNDECIDED = ("started", *service.OPEN)
RECENT = dt.timedelta(days=30)
# Why a case was rejected, as the person may see it: a suspicion of fraud is not spelled out
# (the same rule as the applicant's notice, ``idp.proofing.messages.applicant_reason``).
DISCLOSED_REJECTIONS = ("evidence_mismatch", "duplicate_identity", "illegible_evidence")
NOT_CONFIRMED = "not_confirmed"
# Check results that name staff (officer ids), or count other people's attempts on the same number,
# are not the person's data: left out of the copy.
STAFF_CHECKS = ("inspected_by", "attempts_on_number")
# Reason codes that say which detail the registry did not match (or, for a revoked document, that
# every detail matched): shown to the person as one neutral code, so that nobody learns a birth
# date or a laser code by trial. The officer sees them all.
MISMATCH_REASONS = ("laser_code_mismatch", "birthdate_mismatch", "name_mismatch", "document_not_found",
                    "invalid_evidence", "card_revoked", "passport_revoked", "mismatch", "not_found")
DETAILS_MISMATCH = "details_mismatch"


def retention(config: Config) -> dt.timedelta:
    return dt.timedelta(days=int(config.get("PROOFING_RETENTION_DAYS", 30)))


# -- retention -----------------------------------------------------------------------------------


def purge_expired(db: Session, *, now: dt.datetime, retention_days: int) -> int:
    """Drop the evidence and registry answers of cases decided more than ``retention_days`` ago.

    The decision record stays (status, checks, reasons, decision fields); ``purged_at`` says
    when the personal data went. Attempts past their window go too (``attempts.prune``).
    Returns how many cases were purged; one audit event per run.
    """
    cutoff = now - dt.timedelta(days=retention_days)
    result = db.execute(
        update(ProofingCase)
        .where(ProofingCase.status.in_(DECIDED), ProofingCase.decided_at.is_not(None),
               ProofingCase.decided_at < cutoff, ProofingCase.purged_at.is_(None))
        .values(evidence_encrypted=None, registry_encrypted=None, purged_at=now)
        .execution_options(synchronize_session=False))
    count = int(result.rowcount)  # type: ignore[attr-defined]
    pruned = attempts.prune(db, now=now)
    audit.record(db, audit.Event.PROOFING_PURGED, commit=False, count=count, retention_days=retention_days,
                 attempts=pruned)
    db.commit()
    db.expire_all()  # rows already loaded in this session must not keep the purged blobs
    return count


def evidence_held_until(case: ProofingCase, *, config: Config) -> dt.datetime | None:
    """When the evidence of a decided case will be purged (``None`` while open, or once gone)."""
    if case.purged_at is not None or case.decided_at is None:
        return None
    return case.decided_at + retention(config)


# -- access and portability ----------------------------------------------------------------------


def mask_national_id(number: str | None) -> str | None:
    """``•••••••••1010``: only the last four digits shown."""
    if not number:
        return None
    return "•" * max(len(number) - 4, 0) + number[-4:]


def disclosed_reason(case: ProofingCase) -> str | None:
    """The decision reason code the person may see."""
    if case.decision_reason is None:
        return None
    if case.status == "rejected" and case.decision_reason not in DISCLOSED_REJECTIONS:
        return NOT_CONFIRMED
    return case.decision_reason


def disclosed_reasons(reasons: list[str]) -> list[str]:
    """The reason codes of a case as the person may see them.

    Mismatches become one :data:`DETAILS_MISMATCH`. A case that spent the attempts budget shows
    only that: whatever else the registry said (a match, a duplicate found through the record)
    would tell the person what a further attempt is for.
    """
    if service.EXHAUSTED in reasons:
        return [service.EXHAUSTED]
    shown = [DETAILS_MISMATCH if code in MISMATCH_REASONS else code for code in reasons]
    return list(dict.fromkeys(shown))


def disclosed_checks(case: ProofingCase) -> dict[str, Any]:
    """The check results of a case as the person may see them (see :func:`disclosed_reasons`)."""
    hidden = STAFF_CHECKS + (("registry",) if case.checks.get(service.EXHAUSTED) else ())
    return {k: v for k, v in case.checks.items() if k not in hidden}


def collect(db: Session, user: User, *, config: Config, now: dt.datetime,
            reveal_national_id: bool = False) -> dict[str, Any]:
    """Everything the IdP holds about ``user``, never a secret (password hash, TOTP seed,
    recovery-code digests, WebAuthn keys, session ids).

    Datetimes are returned as they are; :func:`jsonable` turns the result into JSON values.
    The national ID number is masked unless ``reveal_national_id`` (the download, at AAL2).
    """
    uid = user.id
    totp = list(db.scalars(select(TotpCredential).where(TotpCredential.user_id == uid).order_by(TotpCredential.id)))
    keys = list(db.scalars(select(WebAuthnCredential).where(WebAuthnCredential.user_id == uid)
                           .order_by(WebAuthnCredential.id)))
    recovery_left = db.scalar(select(func.count()).select_from(RecoveryCode)
                              .where(RecoveryCode.user_id == uid, RecoveryCode.used_at.is_(None))) or 0
    sessions = list(db.scalars(select(AuthSession).where(AuthSession.user_id == uid,
                                                         AuthSession.created_at >= now - RECENT)
                               .order_by(AuthSession.created_at.desc())))
    consents = db.execute(select(Consent, Client).join(Client, Client.id == Consent.client_id)
                          .where(Consent.user_id == uid).order_by(Consent.granted_at)).all()
    cases = list(db.scalars(select(ProofingCase).where(ProofingCase.user_id == uid).order_by(ProofingCase.id)))
    roles = sorted(db.scalars(select(Role.role).where(Role.user_id == uid)))
    return {
        "format": FORMAT,
        "exported_at": now,
        "account": {
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
            "created_at": user.created_at,
            "status": user.status,
            "language": user.locale,
            "identity_assurance_level": user.ial,
            "staff_roles": roles,
        },
        "authenticators": {
            "has_password": user.password_hash is not None,
            "authenticator_apps": [{"name": c.name, "added_at": c.created_at, "last_used_at": c.last_used_at}
                                   for c in totp],
            "passkeys_and_security_keys": [
                {"name": k.name, "kind": "passkey" if k.discoverable else "security_key",
                 "synced": k.backup_eligible, "certified_hardware": k.hardware_bound,
                 "blocked_as_possible_copy": k.suspected_clone_at is not None,
                 "added_at": k.created_at, "last_used_at": k.last_used_at} for k in keys],
            "recovery_codes_unused": int(recovery_left),
        },
        "sign_ins": {
            "period_days": RECENT.days,
            "count": len(sessions),
            "items": [{"started_at": s.created_at, "ended_at": s.ended_at, "methods": list(s.amr),
                       "level": s.acr} for s in sessions],
        },
        "e_services": [{"name": client.name, "allowed": list(consent.scopes), "granted_at": consent.granted_at}
                       for consent, client in consents],
        "proofing_cases": [_case(case, config=config) for case in cases],
        "verified_identity": _identity(db, uid, config=config, reveal_national_id=reveal_national_id),
    }


def _case(case: ProofingCase, *, config: Config) -> dict[str, Any]:
    if case.purged_at is not None:
        held = "deleted"
    elif case.evidence_encrypted is None and case.registry_encrypted is None:
        held = "none"
    else:
        held = "held"
    return {
        "id": case.id,
        "level": case.level,
        "channel": case.channel,
        "evidence_kind": case.evidence_kind,
        "status": case.status,
        "submitted_at": case.submitted_at,
        "decided_at": case.decided_at,
        "decided_by": None if case.decided_at is None or case.status == "withdrawn"
        else "automatic" if case.decided_by is None else "officer",
        "decision_reason": disclosed_reason(case),
        "reasons": disclosed_reasons(list(case.reasons)),
        "checks": disclosed_checks(case),
        "evidence": held,
        "evidence_held_until": evidence_held_until(case, config=config) if held == "held" else None,
        "evidence_deleted_at": case.purged_at,
    }


def _identity(db: Session, uid: int, *, config: Config, reveal_national_id: bool) -> dict[str, Any] | None:
    identity = service.identity_of(db, uid)
    if identity is None:
        return None
    claims = service.unseal(config, identity.claims_encrypted, context=f"user:{uid}:claims") or {}
    number = service.national_id(db, uid, config=config)
    data: dict[str, Any] = {
        "identity_assurance_level": identity.ial,
        "verified_at": identity.verified_at,
        "trust_framework": identity.trust_framework,
        "claims": claims,
        "evidence": list(identity.evidence),
    }
    if reveal_national_id:
        data["national_id"] = number
    else:
        data["national_id_masked"] = mask_national_id(number)
    return data


def jsonable(value: Any) -> Any:
    """Datetimes as ISO 8601 (UTC), recursively; everything else as it is."""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


# -- erasure -------------------------------------------------------------------------------------


def erase_proofing(db: Session, user: User, *, now: dt.datetime) -> dict[str, int]:
    """Erase what proofing established about ``user``, in one transaction.

    The verified identity goes; every case loses its evidence, registry answer and blind index
    of the ID number; attempts no longer name the account (``attempts.forget_account``); an open
    case is withdrawn; the account is IAL1 again and tokens issued at
    IAL2 or more are revoked (their refresh would carry the old level). Decision records stay.
    """
    uid = user.id
    identity = service.identity_of(db, uid)
    if identity is not None:
        db.delete(identity)
    cases = list(db.scalars(select(ProofingCase).where(ProofingCase.user_id == uid)))
    withdrawn = 0
    for case in cases:
        if case.status in UNDECIDED:
            case.status = "withdrawn"
            case.decided_at = now
            case.binding_code_hash = None
            case.binding_expires_at = None
            withdrawn += 1
            audit.record(db, audit.Event.PROOFING_WITHDRAWN, user_id=uid, commit=False, case=case.id, reason="erasure")
        case.evidence_encrypted = None
        case.registry_encrypted = None
        case.national_id_index = None
        if case.purged_at is None:
            case.purged_at = now
    attempts.forget_account(db, uid)
    user.ial = 1
    revoked = tokens.revoke_where(db, Token.user_id == uid,
                                  or_(Token.acr.like("%:ial2:%"), Token.acr.like("%:ial3:%")), now=now)
    counts = {"identity": int(identity is not None), "cases": len(cases), "withdrawn": withdrawn,
              "tokens_revoked": revoked}
    audit.record(db, audit.Event.PROOFING_DATA_ERASED, user_id=uid, commit=False, **counts)
    db.commit()
    return counts
