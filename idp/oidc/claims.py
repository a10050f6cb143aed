"""The one place personal data leaves the IdP: claims by scope and by the ``claims`` parameter.

Verified identity data (OpenID Connect for Identity Assurance 1.0) leaves as ``verified_claims``
asked for through the ``claims`` parameter, and the national ID number only as ``national_id`` (or
ThaID's ``pid``) to an e-Service the operator allowed (client metadata ``national_id_allowed``).

ThaID-compatible scopes (docs/thaid-migration.md) are also claim names, as in DOPA's ThaID: ``pid``,
``ial`` and ``aal`` (ETDA levels as strings), ``given_name_en``, ``family_name_en``, ``name_en``
(the verified English names). ThaID's relying parties read them from the ID token (ETDA's sample RP
reads Authlib's parsed ID token), so these scopes' claims go into the ID token as well as userinfo.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import current_app

from idp import clock
from idp import levels
from idp.accounts.models import User
from idp.assurance.levels import level_text
from idp.assurance.policy import parse_requirement
from idp.db import get_session
from idp.oidc.consent import has_consent
from idp.oidc.models import Client
from idp.oidc.subjects import subject_for
from idp.proofing import service as proofing

# OIDC Core §5.4: the claims each scope asks for.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
                "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    # Only to clients with ``national_id_allowed`` (see :func:`_national_id`).
    "national_id": ("national_id",),
}
# ThaID's scopes: each names its one claim, released in the ID token too.
THAID_SCOPES = ("pid", "ial", "aal", "given_name_en", "family_name_en", "name_en")
SCOPE_CLAIMS.update({scope: (scope,) for scope in THAID_SCOPES})
SCOPES_SUPPORTED = ["openid", "profile", "email", "phone", "address", "national_id", "offline_access",
                    *THAID_SCOPES]
VERIFIED_CLAIMS = "verified_claims"
NATIONAL_ID = "national_id"
PID = "pid"
# Items that release the national ID number (scopes and individually requested claims).
NATIONAL_ID_ITEMS = frozenset({NATIONAL_ID, f"claim:{NATIONAL_ID}", PID, f"claim:{PID}"})
# The verified English names, by ThaID claim name → the verified claim they come from.
ENGLISH_NAMES = {"given_name_en": "given_name", "family_name_en": "family_name"}
CLAIMS_SUPPORTED = sorted({"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                           "at_hash", VERIFIED_CLAIMS} | {c for cs in SCOPE_CLAIMS.values() for c in cs})
# OIDC4IDA 1.0: the claims ``verified_claims.claims`` can hold (language tags per OIDC Core §5.2).
CLAIMS_IN_VERIFIED_CLAIMS = ("given_name", "family_name", "given_name#th", "family_name#th", "birthdate")
# An RP may ask for several verified_claims sets (an array); more than this is refused.
MAX_VERIFIED_CLAIMS_REQUESTS = 10


class InvalidClaimsParameter(ValueError):
    """The ``claims`` request parameter is not the JSON object OIDC Core §5.5 describes."""


def parse_claims_parameter(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidClaimsParameter("claims is not valid JSON") from exc
    if not isinstance(value, dict):
        raise InvalidClaimsParameter("claims must be a JSON object")
    out: dict[str, Any] = {}
    for member in ("id_token", "userinfo"):
        section = value.get(member)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise InvalidClaimsParameter(f"claims.{member} must be a JSON object")
        for name, spec in section.items():
            if name == VERIFIED_CLAIMS and isinstance(spec, list):
                # OIDC4IDA 1.0: verified_claims may be requested as an array of request objects.
                if len(spec) > MAX_VERIFIED_CLAIMS_REQUESTS or not all(isinstance(e, dict) for e in spec):
                    raise InvalidClaimsParameter(f"claims.{member}.{name} must be an object or an array of"
                                                 f" at most {MAX_VERIFIED_CLAIMS_REQUESTS} objects")
                continue
            if spec is not None and not isinstance(spec, dict):
                raise InvalidClaimsParameter(f"claims.{member}.{name} must be null or an object")
        out[member] = section
    return out


def _all_claims(user: User) -> dict[str, Any]:
    """What the IdP holds for the person, by claim name (absent values are left out)."""
    values: dict[str, Any] = {
        "email": user.email,
        "email_verified": bool(user.email_verified),
        "updated_at": int(user.created_at.timestamp()),
    }
    if user.name:
        values["name"] = user.name
    if user.locale:
        values["locale"] = user.locale
    return values


def _section(requested: Any, member: str) -> dict[str, Any]:
    """``requested[member]`` when it is an object (the stored request is trusted only this far)."""
    section = requested.get(member) if isinstance(requested, dict) else None
    return section if isinstance(section, dict) else {}


def restrict_request(requested: dict[str, Any], allowed: set[str] | None) -> dict[str, Any]:
    """Drop individually requested claims the e-Service is not allowed (``allowed_claims``).

    Done once, before consent, so the consent page, the code and what is released all agree.
    """
    if allowed is None:
        return requested
    keep = allowed | PROTOCOL_CLAIMS
    return {member: {name: spec for name, spec in section.items() if name in keep}
            for member, section in requested.items() if isinstance(section, dict)}


def requested_claim_names(scope: str, requested: dict[str, Any], member: str) -> set[str]:
    names: set[str] = set()
    for s in scope.split():
        if member == "userinfo" or s in THAID_SCOPES:
            names.update(SCOPE_CLAIMS.get(s, ()))
    names.update(_section(requested, member).keys())
    return names


def release(user: User, client: Client, *, scope: str, requested: dict[str, Any], member: str,
            acr: str | None = None, amr: list[str] | None = None) -> dict[str, Any]:
    """Claims for the ID token (``member="id_token"``) or userinfo (``"userinfo"``).

    Scope claims go to userinfo only (OIDC Core §5.4, an access token is always issued), except
    ThaID's scopes, which go to both; the ``claims`` parameter can ask for individual claims in
    either place. The consent page named every one of them (see :func:`consent_items`).

    :param acr: the ``acr`` of the authorization: an ETDA value makes the ETDA form of
        ``verified_claims`` the default
    :param amr: the ``amr`` of the authorization, which the ``aal`` claim is read from
    """
    wanted = requested_claim_names(scope, requested, member)
    available = _all_claims(user)
    claims = {name: available[name] for name in sorted(wanted) if name in available}
    if VERIFIED_CLAIMS in wanted:
        requirement = parse_requirement(acr) if acr else None
        verified = _verified_claims(user, _section(requested, member).get(VERIFIED_CLAIMS),
                                    etda_default=requirement is not None and requirement.etda)
        if verified:
            claims[VERIFIED_CLAIMS] = verified
    for name in (NATIONAL_ID, PID):
        if name in wanted:
            number = _national_id(user, client)
            if number:
                claims[name] = number
    claims.update(_thaid_claims(user, wanted, amr))
    claims["sub"] = subject_for(user, client)
    return claims


# -- ThaID-compatible claims ---------------------------------------------------------------------


def _thaid_claims(user: User, wanted: set[str], amr: list[str] | None) -> dict[str, Any]:
    """``ial``/``aal`` as ETDA level strings ("2.3"), and the verified English names."""
    out: dict[str, Any] = {}
    rules = levels.policy()
    if "ial" in wanted:
        ial = levels.account_ial(get_session(), user)
        if ial is not None:
            out["ial"] = level_text(ial)
    if "aal" in wanted and amr is not None:
        aal = rules.aal_from_amr(amr)
        if aal is not None:
            out["aal"] = level_text(aal)
    names = {"given_name_en", "family_name_en", "name_en"} & wanted
    if names and user.ial >= 2:
        held = (proofing.verified_claims(get_session(), user.id, config=current_app.config) or {}).get("claims") or {}
        for name, source in ENGLISH_NAMES.items():
            if name in names and held.get(source):
                out[name] = held[source]
        if "name_en" in names and held.get("given_name") and held.get("family_name"):
            out["name_en"] = f"{held['given_name']} {held['family_name']}"
    return out


# -- national ID ---------------------------------------------------------------------------------


def national_id_allowed(client: Client) -> bool:
    """The operator's decision (``idp clients add --allow-national-id``); nothing else grants it."""
    return client.client_metadata.get("national_id_allowed") is True


def _national_id(user: User, client: Client) -> str | None:
    """The number, when the client may have it, consent covers it and the person was proofed.

    The scope or ``claims`` parameter asked for it (the caller checked). Consent is checked again
    here rather than trusted from the authorization; the person's own consent is needed even for
    a trusted e-Service (PDPA: the operator cannot consent to this for them).
    """
    if not national_id_allowed(client):
        return None
    db = get_session()
    if not any(has_consent(db, user_id=user.id, client_id=client.id, items=[item]) for item in NATIONAL_ID_ITEMS):
        return None
    return proofing.national_id(db, user.id, config=current_app.config)


# -- verified_claims (OpenID Connect for Identity Assurance 1.0) ---------------------------------


def _verified_claims(user: User, spec: Any, *,
                     etda_default: bool = False) -> dict[str, Any] | list[dict[str, Any]] | None:
    """``verified_claims`` as asked for: one object for an object, an array for an array.

    Omitted (``None``) when the person has no verified identity, when no asked-for claim can be
    returned, or when the request's constraints are not met. A malformed request releases nothing.

    Each request object gets the Thai framework's form (``trust_framework`` ``th_etda_digital_id``,
    ``assurance_level`` "2.3") when it names that framework, or names none and the authorization
    asked for an ETDA level (``etda_default``); otherwise the NIST form (``IAL2``). An array may ask
    for both.
    """
    if isinstance(spec, dict):
        specs = [spec]
    elif isinstance(spec, list):
        specs = [s for s in spec[:MAX_VERIFIED_CLAIMS_REQUESTS] if isinstance(s, dict)]
    else:
        return None
    if not specs:
        return None
    held = proofing.verified_claims(get_session(), user.id, config=current_app.config)
    if held is None:
        return None
    etda = _etda_form(user, held)
    results = [r for r in (filter_verified_claims(_form_for(s, held, etda, etda_default), s) for s in specs)
               if r is not None]
    if not results:
        return None
    return results if isinstance(spec, list) else results[0]


def _etda_form(user: User, held: dict[str, Any]) -> dict[str, Any] | None:
    """The verified identity in the Thai framework's terms, when the level policy gives it a level."""
    ial = levels.account_ial(get_session(), user)
    if ial is None:
        return None
    verification = {**(held.get("verification") or {}),
                    "trust_framework": str(current_app.config["ETDA_TRUST_FRAMEWORK"]),
                    "assurance_level": level_text(ial)}
    return {**held, "verification": verification}


def _form_for(spec: dict[str, Any], nist: dict[str, Any], etda: dict[str, Any] | None,
              etda_default: bool) -> dict[str, Any]:
    verification = spec.get("verification")
    wanted = verification.get("trust_framework") if isinstance(verification, dict) else None
    if etda is None:
        return nist
    named_etda = wanted is not None and _meets(wanted, etda["verification"]["trust_framework"])
    named_nist = wanted is not None and _meets(wanted, nist["verification"]["trust_framework"])
    if named_etda and not named_nist:
        return etda
    if etda_default and (wanted is None or named_etda):
        return etda
    return nist


def filter_verified_claims(held: dict[str, Any], spec: dict[str, Any],
                           now: dt.datetime | None = None) -> dict[str, Any] | None:
    """One ``verified_claims`` request object applied to what the IdP holds.

    ``trust_framework`` and ``assurance_level`` are always returned; ``time`` and ``evidence``
    only when asked for. ``value``/``values`` on ``trust_framework`` or ``assurance_level`` and
    ``max_age`` on ``time`` are constraints: unmet, nothing is returned (OIDC4IDA 1.0 §6).
    Only claims named in ``claims`` are returned, by their exact name (``given_name#th``).
    """
    wanted = spec.get("claims")
    verification_spec = spec.get("verification", {})
    if not isinstance(wanted, dict) or not isinstance(verification_spec, dict):
        return None
    verification = held.get("verification") or {}
    for element in ("trust_framework", "assurance_level"):
        if not _meets(verification_spec.get(element), verification.get(element)):
            return None
    if not _recent_enough(verification_spec.get("time"), verification.get("time"), now or clock.utc_now()):
        return None
    values = held.get("claims") or {}
    claims = {name: values[name] for name, claim_spec in wanted.items()
              if name in CLAIMS_IN_VERIFIED_CLAIMS and name in values
              and (claim_spec is None or isinstance(claim_spec, dict))}
    if not claims:
        return None
    out = {"trust_framework": verification.get("trust_framework"),
           "assurance_level": verification.get("assurance_level")}
    for element in ("time", "evidence"):
        if element in verification_spec and verification.get(element):
            out[element] = verification[element]
    evidence = out.get("evidence")
    if isinstance(evidence, list):
        # ``checks`` is this IdP's own record for the level policy (idp/proofing/levels.py), not OIDC4IDA.
        out["evidence"] = [{k: v for k, v in e.items() if k != "checks"} if isinstance(e, dict) else e
                           for e in evidence]
    return {"verification": out, "claims": claims}


def _meets(spec: Any, actual: Any) -> bool:
    """A ``null`` request, or an object whose ``value``/``values`` (if any) include ``actual``."""
    if spec is None:
        return True
    if not isinstance(spec, dict):
        return False  # a constraint we cannot read is not met
    if "value" in spec:
        return bool(spec["value"] == actual)
    if "values" in spec:
        return isinstance(spec["values"], list) and actual in spec["values"]
    return True


def _recent_enough(spec: Any, verified_at: Any, now: dt.datetime) -> bool:
    """``"time": {"max_age": seconds}``: the verification must be at most that old."""
    if spec is None:
        return True
    if not isinstance(spec, dict):
        return False
    max_age = spec.get("max_age")
    if max_age is None:
        return True
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0 or not isinstance(verified_at, str):
        return False
    try:
        when = dt.datetime.fromisoformat(verified_at)
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (now - when).total_seconds() <= max_age


def consent_items(scope: str, requested: dict[str, Any], *, allow_national_id: bool | None = None) -> list[str]:
    """What a consent covers: the scopes plus each individually requested claim.

    :param allow_national_id: whether the client may receive ``national_id``; when known to be
        ``False`` the consent page does not list a number that would never be released
    """
    items = [s for s in scope.split() if s != "openid"]
    for member in ("id_token", "userinfo"):
        items.extend(f"claim:{name}" for name in _section(requested, member) if name in CLAIMS_SUPPORTED
                     and name not in PROTOCOL_CLAIMS)
    if allow_national_id is False:
        items = [i for i in items if i not in NATIONAL_ID_ITEMS]
    return sorted(set(items))


# Items the person consents to themselves, even for a trusted (first-party) e-Service.
ALWAYS_ASK = NATIONAL_ID_ITEMS

PROTOCOL_CLAIMS = {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"}
