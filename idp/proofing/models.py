"""Proofing cases and the verified identities they produce.

Personal data is stored only encrypted (AES-GCM, ``idp.crypto.encrypt_field``): the evidence as
typed, the registry's answer and the verified claims. The national ID number also gets a keyed
hash (a blind index) so one number can back only one account without being readable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.db import Base
from idp.db import Created


class ProofingCase(Base):
    """One attempt to raise a person's IAL, from submission to decision (and later purge)."""

    __tablename__ = "proofing_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    level: Mapped[int]  # the IAL asked for: 2 (remote) or 3 (in person)
    channel: Mapped[str] = mapped_column(String(16))  # remote | counter
    evidence_kind: Mapped[str] = mapped_column(String(32))  # thai_id_card | passport
    # started | binding | review | approved | rejected | withdrawn
    status: Mapped[str] = mapped_column(String(16), index=True)
    evidence_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    registry_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    national_id_index: Mapped[str | None] = mapped_column(String(64), index=True)
    # Check results and reason codes only: no personal data.
    checks: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reasons: Mapped[list[str]] = mapped_column(default=list)
    binding_method: Mapped[str | None] = mapped_column(String(32))
    binding_code_hash: Mapped[str | None] = mapped_column(String(64))
    binding_expires_at: Mapped[dt.datetime | None]
    binding_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[Created]
    submitted_at: Mapped[dt.datetime | None]
    due_at: Mapped[dt.datetime | None]  # the review SLA
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[dt.datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(64))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    purged_at: Mapped[dt.datetime | None]


class VerifiedIdentity(Base):
    """What proofing established about a person: the source of ``verified_claims`` and the IAL."""

    __tablename__ = "verified_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("proofing_cases.id", ondelete="SET NULL"))
    ial: Mapped[int]
    # One national ID number backs one account at most: the unique blind index enforces it.
    national_id_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    national_id_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    claims_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # Evidence metadata for verified_claims (type, issuer, method, time): never images.
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    trust_framework: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[dt.datetime]
    created_at: Mapped[Created]


class ProofingAttempt(Base):
    """One remote submission the registry did not match, or one it is still checking.

    Counted against a budget per account and per document number (``idp.proofing.attempts``), so
    that nobody walks through birth dates with one account or with many. The number is held only
    as a keyed digest under its own key (these rows cannot be joined to verified identities or
    cases); the reasons are codes, for the officer who gets the case once the budget is spent.
    """

    __tablename__ = "proofing_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SET NULL: deleting an account does not give the document number its attempts back.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    document_digest: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # checking | mismatch | not_found
    reasons: Mapped[list[str]] = mapped_column(default=list)
    # The case the attempts were handed over with, once the budget was spent.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("proofing_cases.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[Created] = mapped_column(index=True)
