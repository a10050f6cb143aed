"""The codes a proofing case carries (its status, its checks and their results), and their words for
staff in Thai and English; its reason codes have theirs in :mod:`idp.proofing.messages`.

The values are what ``proofing_cases`` stores; the console shows the words (``case_status``,
``check_label``, ``check_value`` and ``reason_label`` filters, registered by :mod:`idp.wording`).
A code outside these tables is shown as it is, so an older row still reads.
"""

from __future__ import annotations

from enum import StrEnum
from enum import unique

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

# What was checked of a verified identity (``VerifiedIdentity.evidence[i]["checks"]``): one
# vocabulary, owned by the level policy that maps it to ETDA levels.
from idp.assurance.etda import EvidenceCheck as EvidenceCheck


@unique
class CaseStatus(StrEnum):
    """``ProofingCase.status``."""

    STARTED = "started"
    PENDING_REGISTRY = "pending_registry"
    BINDING = "binding"
    REVIEW = "review"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@unique
class Check(StrEnum):
    """Keys of ``ProofingCase.checks``: results only, never personal data."""

    REGISTRY = "registry"
    REGISTRY_ISSUER = "registry_issuer"
    REGISTRY_CHECKED_AT = "registry_checked_at"
    BINDING = "binding"
    BINDING_AAL = "binding_aal"
    CARD_INSPECTED = "card_inspected"
    PERSON_MATCHES_PHOTO = "person_matches_photo"
    INSPECTED_BY = "inspected_by"
    ATTEMPTS = "attempts"
    ATTEMPTS_ON_NUMBER = "attempts_on_number"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    CHIP = "chip"  # valid | invalid (idp.proofing.chip)
    CHIP_ISSUER = "chip_issuer"
    CHIP_REASONS = "chip_reasons"
    CHIP_CHECKED_AT = "chip_checked_at"
    FACE = "face"  # match | no_match | unavailable (idp.proofing.face)
    LIVENESS = "liveness"  # pass | fail | unknown
    FACE_SCORE = "face_score"  # high | medium | low: a bucket, never the score
    FACE_ISSUER = "face_issuer"
    FACE_REASONS = "face_reasons"
    FACE_CHECKED_AT = "face_checked_at"
    FACE_ATTEMPTS = "face_attempts"


STATUS_LABELS: dict[CaseStatus, LazyString] = {
    CaseStatus.STARTED: _l("Started"),
    CaseStatus.PENDING_REGISTRY: _l("Waiting for the national registry"),
    CaseStatus.BINDING: _l("Waiting for the applicant's confirmation code"),
    CaseStatus.REVIEW: _l("Waiting for an officer's review"),
    CaseStatus.APPROVED: _l("Approved"),
    CaseStatus.REJECTED: _l("Rejected"),
    CaseStatus.WITHDRAWN: _l("Withdrawn"),
}

CHECK_LABELS: dict[Check, LazyString] = {
    Check.REGISTRY: _l("National registry check"),
    Check.REGISTRY_ISSUER: _l("Registry that answered"),
    Check.REGISTRY_CHECKED_AT: _l("Registry checked at (UTC)"),
    Check.BINDING: _l("How the applicant confirmed it is them"),
    Check.BINDING_AAL: _l("Applicant's sign-in when confirming"),
    Check.CARD_INSPECTED: _l("Card inspected by an officer"),
    Check.PERSON_MATCHES_PHOTO: _l("Person matches the card's photo"),
    Check.INSPECTED_BY: _l("Inspected by (staff id)"),
    Check.ATTEMPTS: _l("Attempts by this account in 24 hours"),
    Check.ATTEMPTS_ON_NUMBER: _l("Attempts on this ID number in 24 hours"),
    Check.ATTEMPTS_EXHAUSTED: _l("Attempts used up: sent to an officer"),
    Check.CHIP: _l("Card chip read"),
    Check.CHIP_ISSUER: _l("Chip signed by"),
    Check.CHIP_REASONS: _l("Chip read problems"),
    Check.CHIP_CHECKED_AT: _l("Chip read at (UTC)"),
    Check.FACE: _l("Face comparison"),
    Check.LIVENESS: _l("Liveness check"),
    Check.FACE_SCORE: _l("Face similarity"),
    Check.FACE_ISSUER: _l("Face service that answered"),
    Check.FACE_REASONS: _l("Face check problems"),
    Check.FACE_CHECKED_AT: _l("Face checked at (UTC)"),
    Check.FACE_ATTEMPTS: _l("Failed face checks"),
}

# Values of the chip and face checks (their codes overlap the registry's, so they have their own words).
FACE_VALUE_LABELS: dict[str, LazyString] = {
    "valid": _l("Genuine, and agrees with the registry"),
    "invalid": _l("Not accepted"),
    "match": _l("Same person as the card's photo"),
    "no_match": _l("Not the same person"),
    "unavailable": _l("The face service could not be reached"),
    "pass": _l("Passed"),
    "fail": _l("Failed"),
    "unknown": _l("Not decided"),
    "high": _l("High"),
    "medium": _l("Medium"),
    "low": _l("Low"),
}
_FACE_CHECKS = (Check.CHIP, Check.FACE, Check.LIVENESS, Check.FACE_SCORE)

# Values of the checks above that are codes (registry outcomes, binding methods).
VALUE_LABELS: dict[str, LazyString] = {
    "match": _l("Matches the registry"),
    "mismatch": _l("Differs from the registry"),
    "not_found": _l("Not found in the registry"),
    "unavailable": _l("The registry could not be reached"),
    "contact_code": _l("Code sent to the registry's contact address"),
    "counter_code": _l("Code given by an officer at a counter"),
}

def status(code: str) -> str:
    try:
        return str(STATUS_LABELS[CaseStatus(code)])
    except ValueError:
        return code


def check(name: str) -> str:
    try:
        return str(CHECK_LABELS[Check(name)])
    except ValueError:
        return name


def check_value(value: object, name: str | None = None) -> str:
    """A check's result in words: yes/no, a registry outcome, a binding method, a sign-in level."""
    from idp.wording import aal_words

    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None:
        return "—"
    if isinstance(value, list):  # reason codes (chip_reasons, face_reasons)
        return ", ".join(reason(str(code)) for code in value) or "—"
    if name == Check.BINDING_AAL and isinstance(value, int):
        return aal_words(value, staff=True)
    text = str(value)
    if name in _FACE_CHECKS and text in FACE_VALUE_LABELS:
        return str(FACE_VALUE_LABELS[text])
    return str(VALUE_LABELS[text]) if text in VALUE_LABELS else text


def reason(code: str) -> str:
    """A reason code in officers' words (the one table is :func:`idp.proofing.messages.officer_reason`)."""
    from idp.proofing import messages

    return messages.officer_reason(code)
