"""Assurance levels in plain words: one wording for every page that names a level.

Citizens read what a level means ("Verified identity", "Two-step sign-in") and never the NIST
codes; staff read the same words with the code after them in parentheses ("Verified identity
(IAL2)"), since agencies' requests, the console's settings and the audit log speak in codes.
Templates use the filters ``ial_words``, ``aal_words`` and ``acr_words`` (``staff=True`` for the
console); Python code calls the functions. The console's other codes (audit events, proofing
statuses and checks) get their words from the tables beside their vocabularies, registered here as
filters too.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from idp.assurance.policy import parse_acr

IAL_NAMES: dict[int, LazyString] = {
    1: _l("Identity not verified"),
    2: _l("Verified identity"),
    3: _l("Identity verified in person"),
}
AAL_NAMES: dict[int, LazyString] = {
    1: _l("One-step sign-in"),
    2: _l("Two-step sign-in"),
    3: _l("Sign-in with a hardware security key"),
}


def _with_code(words: str, code: str, staff: bool) -> str:
    return _("%(words)s (%(code)s)", words=words, code=code) if staff else words


def ial_words(level: int, *, staff: bool = False) -> str:
    """``2`` → "Verified identity" (staff: "Verified identity (IAL2)")."""
    level = int(level)
    words = IAL_NAMES.get(level)
    return _with_code(str(words), f"IAL{level}", staff) if words else f"IAL{level}"


def aal_words(level: int, *, staff: bool = False) -> str:
    """``2`` → "Two-step sign-in" (staff: "Two-step sign-in (AAL2)")."""
    level = int(level)
    words = AAL_NAMES.get(level)
    return _with_code(str(words), f"AAL{level}", staff) if words else f"AAL{level}"


def acr_words(value: str, *, staff: bool = False) -> str:
    """``urn:th:digitalid:ial2:aal2`` → "Verified identity, two-step sign-in"; an unknown value as it is."""
    levels = parse_acr(str(value))
    if levels is None:
        return str(value)
    return _("%(identity)s; %(sign_in)s", identity=ial_words(levels[0], staff=staff),
             sign_in=aal_words(levels[1], staff=staff))


def acr_sign_in_words(value: str, *, staff: bool = False) -> str:
    """Only the sign-in half of an ``acr`` ("Two-step sign-in"), for lists of sign-ins."""
    levels = parse_acr(str(value))
    return aal_words(levels[1], staff=staff) if levels else str(value)


def register(app: Flask) -> None:
    """The template filters: levels, and the console's words for audit events and proofing codes."""
    from idp.audit import labels as audit_labels
    from idp.proofing import vocabulary

    filters: dict[str, Any] = {
        "ial_words": ial_words, "aal_words": aal_words, "acr_words": acr_words,
        "acr_sign_in_words": acr_sign_in_words,
        "event_label": audit_labels.label, "case_status": vocabulary.status,
        "check_label": vocabulary.check, "check_value": vocabulary.check_value,
        "reason_label": vocabulary.reason,
    }
    app.jinja_env.filters.update(filters)
