"""The budget of remote proofing attempts: a typo may be corrected, a birth date may not be guessed.

A submission the registry does not match lets the person correct the form and submit again, up
to :data:`MAX_ATTEMPTS` in :data:`WINDOW`, counted twice: per account and per document number
(over every account), so that neither one account nor many can walk through birth dates. The
attempt that spends the budget goes to an officer, and so does every later one in the window.

Attempts are counted before the registry is asked (:func:`reserve`): guesses in flight count, and
parallel submissions take their places one after the other (each also counts the others still in
flight, so a burst is told of fewer attempts left, never more). A match, or no answer from the
registry, is then not held against the person (:func:`settle`).

The document number is stored only as a keyed digest (:func:`document_digest`), under a key of
its own. No Flask globals: the configuration is handed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import clock
from idp.crypto import derive_key
from idp.crypto import keyed_hash
from idp.proofing.models import ProofingAttempt
from idp.proofing.models import ProofingCase
from idp.proofing.verifiers import MISMATCH
from idp.proofing.verifiers import NOT_FOUND
from idp.proofing.verifiers import Evidence
from idp.proofing.verifiers import RegistryResult

MAX_ATTEMPTS = 3
WINDOW = dt.timedelta(hours=24)
CHECKING = "checking"  # reserved: the registry is being asked
FAILED = (MISMATCH, NOT_FOUND)
_COUNTED = (CHECKING, *FAILED)


@dataclass(frozen=True)
class Budget:
    """Attempts counted in the window: by this account, and on this document number by anyone."""

    by_account: int
    on_document: int

    @property
    def used(self) -> int:
        return max(self.by_account, self.on_document)

    @property
    def left(self) -> int:
        return max(0, MAX_ATTEMPTS - self.used)


def document_digest(config: Mapping[str, Any], evidence: Evidence) -> str:
    """A keyed digest of the document kind and number (normalised): the only form the number is kept in."""
    key = derive_key(str(config["SECRET_KEY"]), purpose="proofing-attempts")
    return keyed_hash(key, f"{evidence.kind}:{evidence.normalised_number()}")


def budget(db: Session, *, user_id: int, digest: str, now: dt.datetime | None = None) -> Budget:
    since = (now or clock.utc_now()) - WINDOW
    counted = (select(func.count()).select_from(ProofingAttempt)
               .where(ProofingAttempt.outcome.in_(_COUNTED), ProofingAttempt.created_at >= since))
    return Budget(by_account=db.scalar(counted.where(ProofingAttempt.user_id == user_id)) or 0,
                  on_document=db.scalar(counted.where(ProofingAttempt.document_digest == digest)) or 0)


def reserve(db: Session, *, user_id: int, digest: str) -> ProofingAttempt | None:
    """Count one attempt before the registry is asked; ``None`` (nothing counted) when the budget is spent.

    Commits. The reservation runs in a transaction of its own that first takes a lock per account
    and per document (PostgreSQL: advisory locks; SQLite: the write lock its insert takes), so
    two submissions at the same moment cannot both pass one look at the count.
    """
    db.commit()
    now = clock.utc_now()
    _serialise(db, [f"account:{user_id}", f"document:{digest}"])
    attempt = ProofingAttempt(user_id=user_id, document_digest=digest, outcome=CHECKING, reasons=[],
                              created_at=now)
    db.add(attempt)
    db.flush()
    if budget(db, user_id=user_id, digest=digest, now=now).used > MAX_ATTEMPTS:
        db.rollback()
        return None
    db.commit()
    return attempt


def settle(db: Session, attempt: ProofingAttempt, result: RegistryResult) -> Budget:
    """Record the registry's answer: a mismatch (or no such document) stays counted, with its
    reason codes; a match or no answer is forgotten. Returns the budget now (not committed)."""
    if result.outcome in FAILED:
        attempt.outcome = result.outcome
        attempt.reasons = list(result.reasons) or [result.outcome]
    else:
        db.delete(attempt)
    db.flush()
    assert attempt.user_id is not None
    return budget(db, user_id=attempt.user_id, digest=attempt.document_digest)


def hand_over(db: Session, *, user_id: int, digest: str, case_id: int) -> None:
    """Link the account's attempts on this document in the window to the case the officer gets."""
    since = clock.utc_now() - WINDOW
    db.execute(update(ProofingAttempt)
               .where(ProofingAttempt.user_id == user_id, ProofingAttempt.document_digest == digest,
                      ProofingAttempt.outcome.in_(FAILED), ProofingAttempt.created_at >= since,
                      ProofingAttempt.case_id.is_(None))
               .values(case_id=case_id)
               .execution_options(synchronize_session=False))


def of_case(db: Session, case_id: int) -> list[ProofingAttempt]:
    """The failed attempts that led to a case, oldest first (what the officer sees)."""
    return list(db.scalars(select(ProofingAttempt).where(ProofingAttempt.case_id == case_id)
                           .order_by(ProofingAttempt.created_at, ProofingAttempt.id)))


def forget_account(db: Session, user_id: int) -> None:
    """On erasure of proofing data: attempts no longer name the account (not committed).

    Those still in the window keep counting against their document number for the rest of it,
    without saying whose they were; older ones go.
    """
    since = clock.utc_now() - WINDOW
    db.execute(delete(ProofingAttempt).where(ProofingAttempt.user_id == user_id, ProofingAttempt.created_at < since)
               .execution_options(synchronize_session=False))
    db.execute(update(ProofingAttempt).where(ProofingAttempt.user_id == user_id)
               .values(user_id=None, case_id=None).execution_options(synchronize_session=False))


def prune(db: Session, *, now: dt.datetime) -> int:
    """Delete attempts past the window, but those an officer may still need: linked to a case
    whose evidence is still held. Returns how many went (not committed)."""
    held = select(ProofingCase.id).where(ProofingCase.purged_at.is_(None))
    result = db.execute(delete(ProofingAttempt)
                        .where(ProofingAttempt.created_at < now - WINDOW,
                               or_(ProofingAttempt.case_id.is_(None), ProofingAttempt.case_id.not_in(held)))
                        .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _serialise(db: Session, names: list[str]) -> None:
    """Hold a transaction-long lock per name, in one order for every process (PostgreSQL only:
    SQLite has a single writer, and the reservation's insert waits for it)."""
    if db.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(names):
        # The 64-bit key is hashed by PostgreSQL itself: statements carry no integer beyond the
        # columns' 32 bits (the database boundary in idp.db refuses those).
        db.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
                   {"name": f"proofing-attempt:{name}"})
