"""The review queue: cases the automatic checks could not approve, and the officers who decide them.

* The queue holds no personal data; opening a case shows the evidence beside the registry record
  and is audited every time (PDPA: every access to personal data is logged).
* Claiming is an atomic ``UPDATE … WHERE claimed_by IS NULL``: two officers can never both hold a case.
  Only the officer holding a case decides it, and nobody ever decides their own.

No Flask globals: the views pass the configuration in and turn the codes returned or raised here
into words (``idp.proofing.messages``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts.models import User
from idp.proofing import attempts
from idp.proofing import service
from idp.proofing.models import ProofingAttempt
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from idp.proofing.verifiers import Evidence
from idp.proofing.verifiers import same_name

Config = Mapping[str, Any]

APPROVE_REASONS = ("documents_consistent", "identity_confirmed_by_video")
REJECT_REASONS = ("evidence_mismatch", "suspected_fraud", "duplicate_identity", "illegible_evidence", "other")
NOTE_MAX = 500


class Refused(Exception):
    """An officer's action that may not happen; ``code`` picks the message, ``status`` the HTTP status."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


# -- the queue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    id: int
    level: int
    channel: str
    reasons: list[str]  # codes
    submitted_at: dt.datetime | None
    due_at: dt.datetime | None
    overdue: bool
    claimed_by: int | None
    claimer: str | None  # the name of the officer holding it


def staff_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: (u.name or u.email) for u in db.scalars(select(User).where(User.id.in_(ids)))}


def rows(db: Session, *, now: dt.datetime) -> list[QueueRow]:
    """Every case under review, the one due soonest first (no deadline last)."""
    cases = list(db.scalars(select(ProofingCase).where(ProofingCase.status == "review")
                            .order_by(ProofingCase.due_at.asc().nulls_last(), ProofingCase.id)))
    names = staff_names(db, {c.claimed_by for c in cases if c.claimed_by is not None})
    return [QueueRow(id=c.id, level=c.level, channel=c.channel, reasons=list(c.reasons),
                     submitted_at=c.submitted_at, due_at=c.due_at, overdue=overdue(c, now),
                     claimed_by=c.claimed_by, claimer=names.get(c.claimed_by, "?") if c.claimed_by else None)
            for c in cases]


def overdue(case: ProofingCase, now: dt.datetime) -> bool:
    return case.due_at is not None and case.due_at < now


# -- one case ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    field: str  # the evidence field (``idp.proofing.messages.evidence_label`` names it)
    typed: str
    recorded: str | None
    differs: bool


@dataclass(frozen=True)
class CaseView:
    """What the case page shows: the evidence only while the case is under review."""

    comparison: list[Comparison]
    has_record: bool
    claimer: str | None
    attempts: list[ProofingAttempt]  # the mismatches that spent the budget, with their reason codes


def mask(value: str | None, keep: int) -> str:
    """All but the last ``keep`` characters hidden; separators dropped."""
    if not value:
        return ""
    plain = "".join(ch for ch in value if ch.isalnum())
    shown = plain[-keep:] if keep else ""
    return "•" * (len(plain) - len(shown)) + shown


def compare(evidence: Evidence | None, record: dict[str, Any] | None, reasons: list[str]) -> list[Comparison]:
    """Evidence next to the registry record; a row differs by the record, or by a reason code."""
    if evidence is None:
        return []
    rec = record or {}

    def name_row(field: str, typed: str | None, reason: str) -> Comparison:
        recorded = rec.get(field)
        differs = reason in reasons or bool(record and typed and recorded and not same_name(typed, recorded))
        return Comparison(field, typed or "", recorded, differs)

    number_recorded = rec.get("national_id")
    return [
        Comparison("number", mask(evidence.number, 4), mask(number_recorded, 4) or None,
                   bool(number_recorded and number_recorded != evidence.normalised_number())),
        Comparison("laser_code", mask(evidence.laser_code, 2), None, "laser_code_mismatch" in reasons),
        name_row("given_name", evidence.given_name, "name_mismatch"),
        name_row("family_name", evidence.family_name, "name_mismatch"),
        name_row("given_name_th", evidence.given_name_th, "name_mismatch"),
        name_row("family_name_th", evidence.family_name_th, "name_mismatch"),
        Comparison("birthdate", evidence.birthdate, rec.get("birthdate"),
                   "birthdate_mismatch" in reasons or bool(record and rec.get("birthdate")
                                                           and rec.get("birthdate") != evidence.birthdate)),
    ]


def view_case(db: Session, case: ProofingCase, *, officer_id: int, config: Config) -> CaseView:
    """The case page's content; showing the evidence (only of a case under review) is audited every time."""
    comparison: list[Comparison] = []
    has_record = False
    if case.status == "review":
        evidence = service.evidence_of(case, config=config)
        record = service.unseal(config, case.registry_encrypted, context=f"case:{case.id}:registry")
        has_record = bool(record)
        comparison = compare(evidence, record, list(case.reasons))
        audit.record(db, audit.Event.PROOFING_CASE_VIEWED, user_id=case.user_id, case=case.id, by=officer_id)
    claimer = staff_names(db, {case.claimed_by}).get(case.claimed_by) if case.claimed_by else None
    return CaseView(comparison=comparison, has_record=has_record, claimer=claimer,
                    attempts=attempts.of_case(db, case.id))


# -- claiming and deciding -----------------------------------------------------------------------


def claim(db: Session, case: ProofingCase, officer_id: int) -> bool:
    """Take an unclaimed case under review; ``False`` when someone holds it already (or it moved on)."""
    result = db.execute(update(ProofingCase)
                        .where(ProofingCase.id == case.id, ProofingCase.status == "review",
                               ProofingCase.claimed_by.is_(None), ProofingCase.user_id != officer_id)
                        .values(claimed_by=officer_id, claimed_at=clock.utc_now())
                        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return False
    audit.record(db, audit.Event.PROOFING_CASE_CLAIMED, user_id=case.user_id, commit=False, case=case.id, by=officer_id)
    db.commit()
    return True


def release(db: Session, case: ProofingCase, officer_id: int) -> bool:
    """Give back a case this officer holds; ``False`` when they do not hold it."""
    result = db.execute(update(ProofingCase)
                        .where(ProofingCase.id == case.id, ProofingCase.status == "review",
                               ProofingCase.claimed_by == officer_id)
                        .values(claimed_by=None, claimed_at=None)
                        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return False
    audit.record(db, audit.Event.PROOFING_CASE_RELEASED, user_id=case.user_id, commit=False, case=case.id,
                 by=officer_id)
    db.commit()
    return True


def taken_by_another(db: Session, case: ProofingCase) -> bool:
    """Whether the case's national ID number already backs another account's verified identity."""
    if case.national_id_index is None:
        return False
    owner = db.scalar(select(VerifiedIdentity.user_id)
                      .where(VerifiedIdentity.national_id_index == case.national_id_index))
    return owner is not None and owner != case.user_id


def decide(db: Session, case: ProofingCase, *, officer_id: int, decision: str, reason: str, note: str,
           config: Config) -> ProofingCase:
    """Approve or reject a case the officer holds, with a listed reason (and a note for "other").

    :raises Refused: the officer may not decide it (own case, not held, no longer under review),
        the reason or note is wrong, or the approval would give one ID number to two accounts
    """
    if case.user_id == officer_id:
        raise Refused("own_case", 403)
    if case.status != "review":
        raise Refused("not_in_review", 409)
    if case.claimed_by != officer_id:
        raise Refused("not_claimer", 403)
    allowed = APPROVE_REASONS if decision == "approve" else REJECT_REASONS if decision == "reject" else ()
    if reason not in allowed:
        raise Refused("bad_reason", 400)
    if len(note) > NOTE_MAX:
        raise Refused("note_too_long", 400)
    if reason == "other" and not note:
        raise Refused("other_needs_note", 400)
    if decision == "approve" and case.channel == "counter":
        # An in-person case without its binding would give IAL3 to whoever holds the account.
        raise Refused("counter_case", 409)
    if decision == "approve" and taken_by_another(db, case):
        raise Refused("duplicate_identity", 409)
    if not _lock_for_decision(db, case.id, officer_id):
        db.rollback()
        db.refresh(case)
        raise Refused("changed", 409)
    try:
        if decision == "approve":
            service.approve(db, case, method="officer", by=officer_id, config=config, reason=reason,
                            note=note or None)
        else:
            service.reject(db, case, by=officer_id, reason=reason, note=note or None)
    except (service.ProofingError, IntegrityError) as exc:
        # IntegrityError: the unique national ID index, when another approval of the same number won a
        # race (service.approve catches it only at commit, not at an earlier autoflush).
        db.rollback()
        db.refresh(case)
        duplicate = isinstance(exc, IntegrityError) or exc.code == "duplicate_identity"
        raise Refused("duplicate_identity" if duplicate else "evidence_gone", 409) from exc
    return case


def _lock_for_decision(db: Session, case_id: int, officer_id: int) -> bool:
    """Compare-and-set in the decision's own transaction: still under review, still held by this officer.

    A second decision racing this one finds no row to update (the first one's commit changed the
    status, and the database serialises the two writes), so a case is decided exactly once.
    """
    result = db.execute(update(ProofingCase)
                        .where(ProofingCase.id == case_id, ProofingCase.status == "review",
                               ProofingCase.claimed_by == officer_id, ProofingCase.user_id != officer_id,
                               ProofingCase.decided_at.is_(None))
                        .values(decided_by=officer_id)
                        .execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
