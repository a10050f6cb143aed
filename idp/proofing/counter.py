"""In-person proofing (IAL3) at a service counter.

The officer inspects the card and the person, then gets a one-time code for the applicant's
account (:func:`issue_code`). The applicant binds the case to their account by signing in on the
counter device at AAL2 or more and entering that code (:func:`bind`); only then is the case
approved, in the name of the officer who checked the card.

No Flask globals: the views pass the configuration in and turn the codes returned or raised here
into words (``idp.proofing.messages``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts.models import User
from idp.accounts.service import find_by_email
from idp.crypto import check_secret
from idp.crypto import hash_secret
from idp.proofing import chip
from idp.proofing import queue
from idp.proofing import service
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from idp.proofing.verifiers import Evidence

Config = Mapping[str, Any]

REASON = "in_person_verified"
LIFETIME = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 5
METHOD = "counter_code"
CARD_FIELDS = ("number", "laser_code", "given_name", "family_name", "given_name_th", "family_name_th",
               "birthdate")
# A card detail the service refuses → the counter form's field to mark, and its message code.
_CARD_ERRORS = {
    "bad_national_id": ("number", "bad_national_id"),
    "bad_laser_code": ("laser_code", "bad_laser_code"),
    "bad_birthdate": ("birthdate", "bad_birthdate"),
    "missing_name": ("given_name", "missing_name"),
}


class BindRefused(Exception):
    """The applicant's code did not bind a case; ``code`` picks the message, ``status`` the HTTP status."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def _secret(case_id: int, code: str) -> str:
    # Not the remote binding's "id:code": a counter code must never pass service.confirm_binding.
    return f"counter:{case_id}:{code}"


def check_form(db: Session, *, officer_id: int, form: Mapping[str, str], checks: Mapping[str, bool],
               config: Config) -> tuple[dict[str, str], User | None, Evidence | None]:
    """The officer's form: field → error code for each problem, the applicant's account, the card.

    The card must be well formed, both boxes ticked, the account active, not the officer's own,
    not yet IAL3, and the number must not back another account (or this account under another number).
    """
    errors: dict[str, str] = {}
    applicant = find_by_email(db, form["email"]) if form["email"] else None
    if applicant is None or not applicant.is_active:
        errors["email"] = "no_account"
    elif applicant.id == officer_id:
        errors["email"] = "own_identity"
    elif applicant.ial >= 3:
        errors["email"] = "already_ial3"
    evidence = None
    try:
        evidence = service.check_evidence(Evidence(
            kind="thai_id_card", number=form["number"], laser_code=form["laser_code"],
            given_name=form["given_name"], family_name=form["family_name"],
            given_name_th=form["given_name_th"] or None, family_name_th=form["family_name_th"] or None,
            birthdate=form["birthdate"]))
    except service.ProofingError as exc:
        field, code = _CARD_ERRORS.get(exc.code, ("number", "bad_card"))
        errors[field] = code
    if not checks["card_inspected"]:
        errors["card_inspected"] = "not_inspected"
    if not checks["person_matches"]:
        errors["person_matches"] = "not_compared"
    if evidence is not None and applicant is not None and "email" not in errors:
        index = service.national_id_index(config, evidence.number)
        owner = db.scalar(select(VerifiedIdentity).where(VerifiedIdentity.national_id_index == index))
        if owner is not None and owner.user_id != applicant.id:
            errors["number"] = "number_taken"
        mine = service.identity_of(db, applicant.id)
        if mine is not None and mine.national_id_index and mine.national_id_index != index:
            errors["number"] = "other_number"
    return errors, applicant, evidence


def check_chip(document: bytes, evidence: Evidence, *, issuers: KeySet | None) -> chip.ChipResult:
    """The officer's reader's chip read, verified and compared with the card details typed on the form."""
    expected = chip.Expected(national_id=evidence.number, given_name=evidence.given_name,
                             family_name=evidence.family_name, given_name_th=evidence.given_name_th,
                             family_name_th=evidence.family_name_th, birthdate=evidence.birthdate)
    return chip.read(document, issuers=issuers, expected=expected)


def issue_code(db: Session, *, officer_id: int, applicant: User, evidence: Evidence,
               config: Config, chip_read: chip.ChipResult | None = None) -> tuple[ProofingCase, str]:
    """Open an IAL3 case held by the officer, waiting for the applicant's binding; the case and its code.

    A new code replaces any earlier one for the same applicant (the earlier case is withdrawn).
    ``chip_read``, a valid read from the counter's reader, is recorded as the case's ``chip`` check
    (its data and photo are not kept).
    """
    for old in db.scalars(select(ProofingCase).where(ProofingCase.user_id == applicant.id,
                                                     ProofingCase.channel == "counter",
                                                     ProofingCase.status == "binding")):
        service.withdraw(db, old)
    now = clock.utc_now()
    code = f"{secrets.randbelow(10**6):06d}"
    case = ProofingCase(user_id=applicant.id, level=3, channel="counter", evidence_kind=evidence.kind,
                        status="binding", national_id_index=service.national_id_index(config, evidence.number),
                        submitted_at=now, checks={"card_inspected": True, "person_matches_photo": True,
                                                  "inspected_by": officer_id},
                        reasons=[], claimed_by=officer_id, claimed_at=now, binding_method=METHOD,
                        binding_expires_at=now + LIFETIME, binding_attempts=0)
    db.add(case)
    db.flush()
    case.evidence_encrypted = service.seal(config, asdict(evidence), context=f"case:{case.id}:evidence")
    case.binding_code_hash = hash_secret(_secret(case.id, code))
    if chip_read is not None and chip_read.valid and chip_read.data is not None:
        case.checks = {**case.checks, "chip": chip.VALID, "chip_issuer": chip_read.data.issuer,
                       "chip_checked_at": chip_read.checked_at.isoformat(timespec="seconds")}
        audit.record(db, audit.Event.PROOFING_CHIP_READ, user_id=applicant.id, commit=False, case=case.id,
                     outcome=chip.VALID, reasons=[], by=officer_id)
    audit.record(db, audit.Event.PROOFING_STARTED, user_id=applicant.id, commit=False, case=case.id, level=3,
                 channel="counter", by=officer_id)
    db.commit()
    return case, code


def waiting_case(db: Session, user_id: int) -> ProofingCase | None:
    return db.scalar(select(ProofingCase).where(ProofingCase.user_id == user_id, ProofingCase.channel == "counter",
                                                ProofingCase.status == "binding")
                     .order_by(ProofingCase.id.desc()))


def bind(db: Session, user: User, code: str, *, aal: int, config: Config) -> ProofingCase:
    """The applicant's code approves their waiting counter case; other open cases are withdrawn.

    :raises BindRefused: no case waits, the officer is the applicant, the code expired or is wrong
        (five wrong codes end the attempt), or the number backs another account
    """
    case = waiting_case(db, user.id)
    if case is None or case.binding_code_hash is None:
        raise BindRefused("no_case", 400)
    if case.claimed_by == user.id:
        raise BindRefused("officer_is_applicant", 403)
    if case.binding_expires_at is None or case.binding_expires_at < clock.utc_now():
        service.withdraw(db, case)
        raise BindRefused("expired", 400)
    code = "".join(code.split())[:12]
    if not check_secret(_secret(case.id, code), expected_hash=case.binding_code_hash):
        case.binding_attempts += 1
        if case.binding_attempts >= MAX_ATTEMPTS:
            service.withdraw(db, case)
            raise BindRefused("too_many", 400)
        db.commit()
        raise BindRefused("wrong_code", 400)
    officer_id = case.claimed_by
    case.binding_code_hash = None
    case.checks = {**case.checks, "binding": METHOD, "binding_aal": aal}
    if queue.taken_by_another(db, case):
        service.withdraw(db, case)
        raise BindRefused("duplicate_identity", 409)
    try:
        service.approve(db, case, method="counter", by=officer_id, config=config, reason=REASON)
    except (service.ProofingError, IntegrityError) as exc:
        db.rollback()
        raise BindRefused("duplicate_identity", 409) from exc
    for other in db.scalars(select(ProofingCase).where(ProofingCase.user_id == user.id,
                                                       ProofingCase.id != case.id,
                                                       ProofingCase.status.in_(service.OPEN))):
        service.withdraw(db, other)  # the in-person check supersedes a remote case still open
    return case
