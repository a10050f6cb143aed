"""The codes a proofing case carries (its status, its checks and their results, its reasons), and
their words for staff in Thai and English.

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
}

# Values of the checks above that are codes (registry outcomes, binding methods).
VALUE_LABELS: dict[str, LazyString] = {
    "match": _l("Matches the registry"),
    "mismatch": _l("Differs from the registry"),
    "not_found": _l("Not found in the registry"),
    "unavailable": _l("The registry could not be reached"),
    "contact_code": _l("Code sent to the registry's contact address"),
    "counter_code": _l("Code given by an officer at a counter"),
}

# Why a case went to an officer (``ProofingCase.reasons``), as officers read it.
REASON_LABELS: dict[str, LazyString] = {
    "laser_code_mismatch": _l("Laser code differs from the registry"),
    "birthdate_mismatch": _l("Date of birth differs from the registry"),
    "name_mismatch": _l("Name differs from the registry"),
    "card_revoked": _l("The registry says the card is revoked"),
    "passport_revoked": _l("The registry says the passport is revoked"),
    "document_not_found": _l("The registry has no such document"),
    "not_found": _l("The registry has no such document"),
    "invalid_evidence": _l("The evidence is malformed"),
    "mismatch": _l("The registry reported a mismatch"),
    "registry_unavailable": _l("The registry could not be reached"),
    "unavailable": _l("The registry could not be reached"),
    "registry_error": _l("The registry's answer could not be read"),
    "duplicate_identity": _l("The ID number is already verified for another account"),
    "no_contact_of_record": _l("The registry holds no contact address for the binding code"),
    "binding_failed": _l("The applicant entered the binding code wrongly too many times"),
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
    if name == Check.BINDING_AAL and isinstance(value, int):
        return aal_words(value, staff=True)
    text = str(value)
    return str(VALUE_LABELS[text]) if text in VALUE_LABELS else text


def reason(code: str) -> str:
    """A reason code in officers' words; an unknown code as "Other (code)"."""
    return str(REASON_LABELS[code]) if code in REASON_LABELS else _("Other (%(code)s)", code=code)
