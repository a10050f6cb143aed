"""The proofing case lifecycle: submit evidence, check it against the registry, bind the applicant,
approve automatically when every check passes, otherwise queue for an officer.

No Flask request globals: views pass the configuration and the verifier in, so every rule here
is testable with a plain session.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts.models import User
from idp.crypto import check_secret
from idp.crypto import decrypt_field
from idp.crypto import derive_key
from idp.crypto import encrypt_field
from idp.crypto import hash_secret
from idp.crypto import keyed_hash
from idp.proofing import attempts
from idp.proofing import thai_id
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from idp.proofing.verifiers import Evidence
from idp.proofing.verifiers import RegistryResult
from idp.proofing.verifiers import Verifier
from idp.proofing.vocabulary import EvidenceCheck

Config = Mapping[str, Any]
OPEN = ("pending_registry", "binding", "review")
BINDING_LIFETIME = dt.timedelta(minutes=15)
BINDING_MAX_ATTEMPTS = 5
REMOTE_PROOFING_IAL = 2  # what a person can reach in one visit; IAL3 needs a counter
EXHAUSTED = "attempts_exhausted"  # reason code and check: the attempts budget was spent, an officer decides


class ProofingError(Exception):
    """Input the applicant must correct, or a state that forbids the step; ``code`` picks the message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# -- encryption and the blind index --------------------------------------------------------------


def _key(config: Config) -> bytes:
    return derive_key(str(config["SECRET_KEY"]), purpose="field:proofing")


def seal(config: Config, value: Any, *, context: str) -> bytes:
    return encrypt_field(_key(config), json.dumps(value, ensure_ascii=False).encode(), context=context)


def unseal(config: Config, blob: bytes | None, *, context: str) -> Any:
    return None if blob is None else json.loads(decrypt_field(_key(config), blob, context=context))


def national_id_index(config: Config, number: str) -> str:
    """A keyed hash of the number: lets the duplicate check run without storing the number readably."""
    return keyed_hash(derive_key(str(config["SECRET_KEY"]), purpose="national-id-index"), number)


# -- submission ----------------------------------------------------------------------------------


def check_evidence(evidence: Evidence) -> Evidence:
    """Normalise and validate what was typed; raises ``ProofingError`` with the field at fault."""
    laser: str | None = None
    if evidence.kind == "thai_id_card":
        number = thai_id.normalise_national_id(evidence.number)
        if not thai_id.valid_national_id(number):
            raise ProofingError("bad_national_id")
        laser = thai_id.normalise_laser_code(evidence.laser_code or "")
        if not thai_id.valid_laser_code(laser):
            raise ProofingError("bad_laser_code")
    elif evidence.kind == "passport":
        number = thai_id.normalise_passport_number(evidence.number)
        if not thai_id.valid_passport_number(number):
            raise ProofingError("bad_passport_number")
    else:
        raise ProofingError("unsupported_evidence")
    try:
        dt.date.fromisoformat(evidence.birthdate)
    except ValueError as exc:
        raise ProofingError("bad_birthdate") from exc
    if not evidence.given_name.strip() or not evidence.family_name.strip():
        raise ProofingError("missing_name")
    return Evidence(kind=evidence.kind, number=number, laser_code=laser,
                    given_name=evidence.given_name.strip()[:100], family_name=evidence.family_name.strip()[:100],
                    given_name_th=(evidence.given_name_th or "").strip()[:100] or None,
                    family_name_th=(evidence.family_name_th or "").strip()[:100] or None,
                    birthdate=evidence.birthdate)


def latest_case(db: Session, user_id: int) -> ProofingCase | None:
    return db.scalar(select(ProofingCase).where(ProofingCase.user_id == user_id).order_by(ProofingCase.id.desc()))


def open_case(db: Session, user_id: int) -> ProofingCase | None:
    """The case in progress; a binding whose code has expired no longer holds the applicant up."""
    case = db.scalar(select(ProofingCase).where(ProofingCase.user_id == user_id, ProofingCase.status.in_(OPEN))
                     .order_by(ProofingCase.id.desc()))
    if case is not None and case.status == "binding" and case.binding_expires_at is not None \
            and case.binding_expires_at < clock.utc_now():
        withdraw(db, case)
        return None
    return case


def start_remote(db: Session, user: User, evidence: Evidence, *, config: Config, verifier: Verifier,
                 send_code: Any) -> ProofingCase:
    """Submit IAL2 remote evidence and run the automatic checks as far as they go; any mismatch
    goes to an officer at once (the pages use :func:`submit_remote`, which lets a typo be corrected).

    :param send_code: ``send_code(email, code)`` delivers the binding code to the contact of record
    :raises ProofingError: bad input (nothing stored), or a case already open
    """
    evidence = check_evidence(evidence)
    if open_case(db, user.id) is not None:
        raise ProofingError("case_open")
    case = _open_remote(db, user, evidence, config=config)
    return run_checks(db, case, evidence, config=config, verifier=verifier, send_code=send_code)


@dataclass(frozen=True)
class Submission:
    """What a remote submission led to: a case, or none and the form again, to correct."""

    case: ProofingCase | None
    attempts_left: int = 0


def submit_remote(db: Session, user: User, evidence: Evidence, *, config: Config, verifier: Verifier,
                  send_code: Any) -> Submission:
    """Submit IAL2 remote evidence, forgiving typos.

    When the registry does not match, nothing is opened: the person corrects the form and submits
    again, within the budget of ``idp.proofing.attempts``; the attempt that spends it opens a case
    for an officer. After that, in the window, every submission goes to an officer whatever the
    registry answers, so that the answer tells nothing. The applicant is never told which detail
    failed (that would let a stranger find a birth date by trial): the reason codes go to the
    attempt, the audit log and the officer's case.

    :raises ProofingError: bad input (nothing stored, nothing counted), or a case already open
    """
    evidence = check_evidence(evidence)
    if open_case(db, user.id) is not None:
        raise ProofingError("case_open")
    index = national_id_index(config, evidence.number) if evidence.kind == "thai_id_card" else None
    if index is not None and _taken(db, index, user.id):  # to an officer, the registry not asked (as ever)
        case = _open_remote(db, user, evidence, config=config)
        return Submission(run_checks(db, case, evidence, config=config, verifier=verifier, send_code=send_code))
    digest = attempts.document_digest(config, evidence)
    attempt = attempts.reserve(db, user_id=user.id, digest=digest)
    if attempt is None:
        case = _open_remote(db, user, evidence, config=config)
        spent = attempts.budget(db, user_id=user.id, digest=digest)
        _exhausted(db, case, spent, digest=digest)
        return Submission(_apply(db, case, verifier.verify(evidence), config=config, send_code=send_code))
    result = verifier.verify(evidence)
    spent = attempts.settle(db, attempt, result)
    if result.outcome not in attempts.FAILED:
        db.commit()
        case = _open_remote(db, user, evidence, config=config)
        return Submission(_apply(db, case, result, config=config, send_code=send_code))
    audit.record(db, audit.Event.PROOFING_ATTEMPT_FAILED, user_id=user.id, commit=False, attempt=spent.by_account,
                 left=spent.left, outcome=result.outcome, reasons=list(attempt.reasons))
    db.commit()
    if spent.left > 0:
        return Submission(None, attempts_left=spent.left)
    case = _open_remote(db, user, evidence, config=config)
    _exhausted(db, case, spent, digest=digest)
    return Submission(_apply(db, case, result, config=config, send_code=send_code))


def _open_remote(db: Session, user: User, evidence: Evidence, *, config: Config) -> ProofingCase:
    """A new remote case holding the evidence (sealed); committed, before any registry answer is applied."""
    now = clock.utc_now()
    # A passport's holder is known by national ID only once the registry answers (run_checks).
    index = national_id_index(config, evidence.number) if evidence.kind == "thai_id_card" else None
    case = ProofingCase(user_id=user.id, level=REMOTE_PROOFING_IAL, channel="remote", evidence_kind=evidence.kind,
                        status="started", national_id_index=index, submitted_at=now, checks={}, reasons=[])
    db.add(case)
    db.flush()
    case.evidence_encrypted = seal(config, asdict(evidence), context=f"case:{case.id}:evidence")
    audit.record(db, audit.Event.PROOFING_STARTED, user_id=user.id, commit=False, case=case.id, level=2)
    db.commit()
    return case


def _exhausted(db: Session, case: ProofingCase, spent: attempts.Budget, *, digest: str) -> None:
    """Mark a case as the hand-over of a spent budget: an officer decides it, whatever the registry says."""
    attempts.hand_over(db, user_id=case.user_id, digest=digest, case_id=case.id)
    case.checks = {**case.checks, EXHAUSTED: True, "attempts": spent.by_account,
                   "attempts_on_number": spent.on_document}
    audit.record(db, audit.Event.PROOFING_ATTEMPTS_EXHAUSTED, user_id=case.user_id, commit=False, case=case.id,
                 attempts=spent.by_account, on_number=spent.on_document)
    db.commit()


def evidence_of(case: ProofingCase, *, config: Config) -> Evidence | None:
    data = unseal(config, case.evidence_encrypted, context=f"case:{case.id}:evidence")
    return None if data is None else Evidence(**data)


def run_checks(db: Session, case: ProofingCase, evidence: Evidence, *, config: Config, verifier: Verifier,
               send_code: Any) -> ProofingCase:
    """Duplicate check, then the registry; a registry that is down leaves the case waiting."""
    if case.national_id_index and _duplicate(db, case):
        return _to_review(db, case, ["duplicate_identity"], config=config)
    return _apply(db, case, verifier.verify(evidence), config=config, send_code=send_code)


def _apply(db: Session, case: ProofingCase, result: RegistryResult, *, config: Config,
           send_code: Any) -> ProofingCase:
    """The registry's answer decides the next step: wait, an officer, or the binding code.

    A case that spent the attempts budget goes to an officer even on a match (nothing to learn
    from the next step), with the record kept for the officer to compare.
    """
    exhausted = [EXHAUSTED] if case.checks.get(EXHAUSTED) else []
    case.checks = {**case.checks, "registry": result.outcome, "registry_issuer": result.issuer,
                   "registry_checked_at": result.checked_at.isoformat()}
    if result.outcome == "unavailable":
        case.status = "pending_registry"
        case.reasons = list(result.reasons)
        db.commit()
        return case
    if result.outcome != "match" or not result.record:
        return _to_review(db, case, (list(result.reasons) or [result.outcome]) + exhausted, config=config)
    case.registry_encrypted = seal(config, result.record, context=f"case:{case.id}:registry")
    if case.national_id_index is None and result.record.get("national_id"):
        case.national_id_index = national_id_index(config, str(result.record["national_id"]))
        if _duplicate(db, case):
            return _to_review(db, case, ["duplicate_identity", *exhausted], config=config)
    if exhausted:
        return _to_review(db, case, exhausted, config=config)
    contact = result.record.get("contact_email")
    if not contact:
        return _to_review(db, case, ["no_contact_of_record"], config=config)
    code = f"{secrets.randbelow(10**6):06d}"
    case.status = "binding"
    case.binding_method = "contact_code"
    case.binding_code_hash = hash_secret(f"{case.id}:{code}")
    case.binding_expires_at = clock.utc_now() + BINDING_LIFETIME
    case.binding_attempts = 0
    db.commit()
    send_code(str(contact), code)
    return case


def _duplicate(db: Session, case: ProofingCase) -> bool:
    return case.national_id_index is not None and _taken(db, case.national_id_index, case.user_id)


def _taken(db: Session, index: str, user_id: int) -> bool:
    """Whether the number (by its blind index) already backs another account's verified identity."""
    owner = db.scalar(select(VerifiedIdentity.user_id).where(VerifiedIdentity.national_id_index == index))
    return owner is not None and owner != user_id


def _to_review(db: Session, case: ProofingCase, reasons: list[str], *, config: Config) -> ProofingCase:
    case.status = "review"
    case.reasons = reasons
    case.due_at = due_date(clock.utc_now(), int(config.get("PROOFING_SLA_BUSINESS_DAYS", 2)))
    audit.record(db, audit.Event.PROOFING_TO_REVIEW, user_id=case.user_id, commit=False, case=case.id, reasons=reasons)
    db.commit()
    return case


def due_date(start: dt.datetime, business_days: int) -> dt.datetime:
    """``start`` plus business days (Monday to Friday; public holidays are not modelled)."""
    day = start
    left = business_days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def retry_registry(db: Session, case: ProofingCase, *, config: Config, verifier: Verifier,
                   send_code: Any) -> ProofingCase:
    """The applicant (or a job) tries again after the registry was down."""
    if case.status != "pending_registry":
        raise ProofingError("not_waiting")
    evidence = evidence_of(case, config=config)
    if evidence is None:
        raise ProofingError("not_waiting")
    return run_checks(db, case, evidence, config=config, verifier=verifier, send_code=send_code)


def confirm_binding(db: Session, case: ProofingCase, code: str, *, config: Config) -> ProofingCase:
    """The code sent to the contact of record proves the applicant is the registered person."""
    if case.status != "binding" or case.binding_method != "contact_code" or case.binding_code_hash is None:
        raise ProofingError("not_binding")
    if case.binding_expires_at is None or case.binding_expires_at < clock.utc_now():
        raise ProofingError("code_expired")
    code = "".join(code.split())[:12]
    if not check_secret(f"{case.id}:{code}", expected_hash=case.binding_code_hash):
        case.binding_attempts += 1
        if case.binding_attempts >= BINDING_MAX_ATTEMPTS:
            case.binding_code_hash = None
            _to_review(db, case, ["binding_failed"], config=config)
            raise ProofingError("binding_failed")
        db.commit()
        raise ProofingError("wrong_code")
    case.binding_code_hash = None
    case.checks = {**case.checks, "binding": "contact_code"}
    return approve(db, case, method="auto", by=None, config=config)


# -- decisions -----------------------------------------------------------------------------------


def approve(db: Session, case: ProofingCase, *, method: str, by: int | None, config: Config,
            reason: str = "checks_passed", note: str | None = None) -> ProofingCase:
    """Approve: the verified identity is written and the account's IAL rises, in one transaction."""
    evidence = evidence_of(case, config=config)
    record = unseal(config, case.registry_encrypted, context=f"case:{case.id}:registry") or {}
    if evidence is None:
        raise ProofingError("evidence_gone")
    now = clock.utc_now()
    claims = {
        "given_name": record.get("given_name") or evidence.given_name,
        "family_name": record.get("family_name") or evidence.family_name,
        "given_name#th": record.get("given_name_th") or evidence.given_name_th,
        "family_name#th": record.get("family_name_th") or evidence.family_name_th,
        "birthdate": record.get("birthdate") or evidence.birthdate,
    }
    claims = {k: v for k, v in claims.items() if v}
    user = db.get(User, case.user_id)
    assert user is not None
    with db.no_autoflush:  # the unique blind index is checked once, at commit
        identity = db.scalar(select(VerifiedIdentity).where(VerifiedIdentity.user_id == case.user_id))
        if identity is None:
            identity = VerifiedIdentity(user_id=case.user_id, ial=case.level, claims_encrypted=b"", evidence=[],
                                        trust_framework=str(config.get("PROOFING_TRUST_FRAMEWORK", "nist_800_63A")),
                                        verified_at=now)
            db.add(identity)
        identity.case_id = case.id
        identity.ial = max(identity.ial, case.level)
        identity.national_id_index = case.national_id_index
        number = evidence.number if evidence.kind == "thai_id_card" else record.get("national_id")
        identity.national_id_encrypted = (seal(config, number, context=f"user:{case.user_id}:national_id")
                                          if number else None)
        identity.claims_encrypted = seal(config, claims, context=f"user:{case.user_id}:claims")
        identity.evidence = [_evidence_entry(case, method=method, time=now)]
        identity.verified_at = now
        user.ial = identity.ial
        case.status = "approved"
        case.decided_at = now
        case.decided_by = by
        case.decision_reason = reason
        case.decision_note = (note or "")[:500] or None
        audit.record(db, audit.Event.PROOFING_APPROVED, user_id=case.user_id, commit=False, case=case.id,
                     method=method, by=by, level=case.level)
    try:
        db.commit()
    except IntegrityError as exc:  # another account got the same number approved first
        db.rollback()
        raise ProofingError("duplicate_identity") from exc
    return case


def _evidence_entry(case: ProofingCase, *, method: str, time: dt.datetime) -> dict[str, Any]:
    """One OIDC4IDA 1.0 evidence item: the document, who issued it, how it was checked, when."""
    done: list[str] = []  # what was checked (EvidenceCheck), for the level policy
    if case.channel == "counter":
        checks = [{"check_method": "vpip"}, {"check_method": "pvp"}]  # inspected, and the person seen, in person
        if case.checks.get("chip") == "valid":  # the officer's reader verified the card's chip
            checks.append({"check_method": "vcrypt"})
            done.append(EvidenceCheck.CHIP)
        done.append(EvidenceCheck.IN_PERSON)
    else:
        checks = [{"check_method": "vri", "organization": case.checks.get("registry_issuer") or "TH-DOPA"}]
        if method != "auto":
            checks.append({"check_method": "pvr"})  # an officer compared the applicant remotely
        if case.checks.get("registry") == "match":
            done.append(EvidenceCheck.REGISTRY_DATA)
    return {
        "type": "document",
        "document_details": _document(case.evidence_kind),
        "check_details": checks,
        "time": time.isoformat(timespec="seconds"),
        "checks": [str(c) for c in done],
    }


def _document(kind: str) -> dict[str, Any]:
    if kind == "passport":
        return {"type": "passport", "issuer": {"name": "Department of Consular Affairs", "country_code": "THA"}}
    return {"type": "idcard", "issuer": {"name": "Department of Provincial Administration", "country_code": "THA"}}


def reject(db: Session, case: ProofingCase, *, by: int, reason: str, note: str | None = None) -> ProofingCase:
    case.status = "rejected"
    case.decided_at = clock.utc_now()
    case.decided_by = by
    case.decision_reason = reason
    case.decision_note = (note or "")[:500] or None
    audit.record(db, audit.Event.PROOFING_REJECTED, user_id=case.user_id, commit=False, case=case.id, by=by,
                 reason=reason)
    db.commit()
    return case


def withdraw(db: Session, case: ProofingCase) -> ProofingCase:
    if case.status not in OPEN:
        raise ProofingError("not_open")
    case.status = "withdrawn"
    case.decided_at = clock.utc_now()
    case.binding_code_hash = None
    audit.record(db, audit.Event.PROOFING_WITHDRAWN, user_id=case.user_id, commit=False, case=case.id)
    db.commit()
    return case


# -- what e-Services receive ---------------------------------------------------------------------


def identity_of(db: Session, user_id: int) -> VerifiedIdentity | None:
    return db.scalar(select(VerifiedIdentity).where(VerifiedIdentity.user_id == user_id))


def verified_claims(db: Session, user_id: int, *, config: Config) -> dict[str, Any] | None:
    """OpenID Connect for Identity Assurance 1.0 ``verified_claims`` (all of them; the caller filters)."""
    identity = identity_of(db, user_id)
    if identity is None:
        return None
    claims = unseal(config, identity.claims_encrypted, context=f"user:{user_id}:claims") or {}
    return {
        "verification": {
            "trust_framework": identity.trust_framework,
            "assurance_level": f"IAL{identity.ial}",
            "time": identity.verified_at.isoformat(timespec="seconds"),
            # "checks" is the IdP's own record for the level policy, not an OIDC4IDA element.
            "evidence": [{k: v for k, v in e.items() if v and k != "checks"} for e in identity.evidence],
        },
        "claims": claims,
    }


def national_id(db: Session, user_id: int, *, config: Config) -> str | None:
    identity = identity_of(db, user_id)
    if identity is None or identity.national_id_encrypted is None:
        return None
    return str(unseal(config, identity.national_id_encrypted, context=f"user:{user_id}:national_id"))


def forget_identity(db: Session, user: User, *, reason: str) -> int | None:
    """Take the account back to IAL1: its verified identity is deleted, so its verified claims and
    national ID number are no longer released and the number may back another account.

    For account recovery without any second factor (SP 800-63B-4 §4.2): whoever got in with the email
    alone may not be the person who was proofed, so the identity is kept only by proofing again.
    Not committed.

    :returns: the IAL the account had, or ``None`` when it had nothing above IAL1
    """
    if user.ial < 2:
        return None
    before = user.ial
    db.execute(delete(VerifiedIdentity).where(VerifiedIdentity.user_id == user.id))
    user.ial = 1
    audit.record(db, audit.Event.IAL_LOWERED, user_id=user.id, commit=False, reason=reason, before=before, after=1)
    return before
