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

from decimal import Decimal
from typing import Any

from babel.lists import format_list
from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from idp.assurance.etda import AalRule
from idp.assurance.etda import Authenticator
from idp.assurance.etda import EvidenceCheck
from idp.assurance.etda import LevelPolicy
from idp.assurance.levels import level_text
from idp.assurance.policy import Requirement
from idp.assurance.policy import parse_acr
from idp.assurance.policy import parse_requirement

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
    """``urn:th:digitalid:ial2:aal2`` → "Verified identity, two-step sign-in"; an unknown value as it is.

    ETDA values read "Identity level 2.3; sign-in level 2.2" (one axis when only one is named).
    """
    levels = parse_acr(str(value))
    if levels is None:
        return _etda_acr_words(str(value))
    return _("%(identity)s; %(sign_in)s", identity=ial_words(levels[0], staff=staff),
             sign_in=aal_words(levels[1], staff=staff))


def _etda_acr_words(value: str) -> str:
    requirement = parse_requirement(value)
    if requirement is None:
        return value
    parts = []
    if requirement.etda_ial is not None:
        parts.append(_("Identity level %(level)s", level=level_text(requirement.etda_ial)))
    if requirement.etda_aal is not None:
        parts.append(_("Sign-in level %(level)s", level=level_text(requirement.etda_aal)))
    return _("%(identity)s; %(sign_in)s", identity=parts[0], sign_in=parts[1]) if len(parts) == 2 else parts[0]


def acr_sign_in_words(value: str, *, staff: bool = False) -> str:
    """Only the sign-in half of an ``acr`` ("Two-step sign-in"), for lists of sign-ins."""
    levels = parse_acr(str(value))
    return aal_words(levels[1], staff=staff) if levels else str(value)


# -- What an e-Service needs, in plain words (the catalogue and the consent page) -------------------

CHECK_WORDS: dict[EvidenceCheck, LazyString] = {
    EvidenceCheck.EMAIL: _l("your email address"),
    EvidenceCheck.REGISTRY_DATA: _l("your ID card's details checked with the national registry"),
    EvidenceCheck.CHIP: _l("your ID card's chip"),
    EvidenceCheck.FACE: _l("your face"),
    EvidenceCheck.LIVENESS: _l("a check that it is really you in front of the camera"),
    EvidenceCheck.IN_PERSON: _l("an officer at a service counter"),
}
AUTHENTICATOR_WORDS: dict[Authenticator, LazyString] = {
    Authenticator.PASSWORD: _l("your password"),
    Authenticator.TOTP: _l("a code from your authenticator app"),
    Authenticator.RECOVERY_CODE: _l("a recovery code"),
    Authenticator.WEBAUTHN: _l("a passkey or security key"),
    Authenticator.PASSKEY: _l("a passkey unlocked with your PIN, fingerprint or face"),
    Authenticator.HARDWARE_KEY: _l("a hardware security key unlocked with your PIN or fingerprint"),
}


def _and(items: list[str]) -> str:
    return format_list(items, locale=str(get_locale() or "en")) if items else ""


def _or(items: list[str]) -> str:
    """Alternatives that may each hold an "and": "A and B; or C"."""
    return _("; or ").join(items)


def etda_ial_words(level: Decimal, rules: LevelPolicy) -> str:
    """ETDA IAL 2.3 → "Identity level 2.3: identity checked with your ID card's chip, your face and …",
    from the level policy's rule for that level (the operator's file, so the words follow it)."""
    rule = rules.ial_rule(level)
    if rule is None:
        return _("Identity level %(level)s", level=level_text(level))
    order = list(EvidenceCheck)
    checks = sorted(rule.checks, key=lambda c: order.index(EvidenceCheck(c)))
    how = _and([str(CHECK_WORDS[EvidenceCheck(c)]) for c in checks])
    return _("Identity level %(level)s: identity checked with %(how)s", level=level_text(level), how=how)


def _rule_words(rule: AalRule) -> str:
    order = list(Authenticator)
    kinds = sorted(rule.authenticators, key=lambda k: order.index(Authenticator(k)))
    return _and([str(AUTHENTICATOR_WORDS[Authenticator(k)]) for k in kinds])


def etda_aal_words(level: Decimal, rules: LevelPolicy) -> str:
    """ETDA AAL 2.2 → "Sign-in level 2.2: your password and a passkey or security key, or …"."""
    above = [r for r in rules.aal_rules if r.level >= level]
    lowest = min((r.level for r in above), default=None)
    ways = [_rule_words(r) for r in above if r.level == lowest]
    if not ways:
        return _("Sign-in level %(level)s", level=level_text(level))
    return _("Sign-in level %(level)s: %(how)s", level=level_text(level), how=_or(ways))


def requirement_lines(requirement: Requirement, rules: LevelPolicy) -> list[str]:
    """One ``acr`` value as the plain lines a citizen reads (identity first, then sign-in)."""
    lines: list[str] = []
    if requirement.etda_ial is not None:
        lines.append(etda_ial_words(requirement.etda_ial, rules))
    elif requirement.ial >= 3:
        lines.append(_("%(level)s: at a service counter, an officer checks your card and compares you with its photo",
                       level=ial_words(3)))
    elif requirement.ial == 2:
        lines.append(_("%(level)s: your national ID card checked against the national registry", level=ial_words(2)))
    if requirement.etda_aal is not None:
        lines.append(etda_aal_words(requirement.etda_aal, rules))
    elif requirement.aal >= 3:
        lines.append(_("%(level)s, unlocked with a PIN or fingerprint", level=aal_words(3)))
    elif requirement.aal == 2:
        lines.append(_("%(level)s: a second factor or a passkey", level=aal_words(2)))
    return lines or [_("Any sign-in")]


def assurance_lines(acr_values: list[str], rules: LevelPolicy) -> list[list[str]]:
    """The minimum an e-Service needs, as alternatives of plain lines ("Any sign-in" for none or unknown)."""
    found = list(dict.fromkeys(r for r in (parse_requirement(str(v)) for v in acr_values) if r))
    return [requirement_lines(r, rules) for r in found or [Requirement(ial=1, aal=1)]]


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
