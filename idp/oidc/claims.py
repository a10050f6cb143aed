"""The one place personal data leaves the IdP: claims by scope and by the ``claims`` parameter."""

from __future__ import annotations

import json
from typing import Any

from idp.accounts.models import User
from idp.oidc.models import Client
from idp.oidc.subjects import subject_for

# OIDC Core §5.4: the claims each scope asks for.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
                "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
}
SCOPES_SUPPORTED = ["openid", "profile", "email", "phone", "address", "offline_access"]
CLAIMS_SUPPORTED = sorted({"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                           "at_hash"} | {c for cs in SCOPE_CLAIMS.values() for c in cs})


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


def requested_claim_names(scope: str, requested: dict[str, Any], member: str) -> set[str]:
    names: set[str] = set()
    if member == "userinfo":
        for s in scope.split():
            names.update(SCOPE_CLAIMS.get(s, ()))
    names.update(requested.get(member, {}).keys())
    return names


def release(user: User, client: Client, *, scope: str, requested: dict[str, Any], member: str) -> dict[str, Any]:
    """Claims for the ID token (``member="id_token"``) or userinfo (``"userinfo"``).

    Scope claims go to userinfo only (OIDC Core §5.4, an access token is always issued);
    the ``claims`` parameter can ask for individual claims in either place. The consent
    page named every one of them (see :func:`consent_items`).
    """
    wanted = requested_claim_names(scope, requested, member)
    available = _all_claims(user)
    claims = {name: available[name] for name in sorted(wanted) if name in available}
    claims["sub"] = subject_for(user, client)
    return claims


def consent_items(scope: str, requested: dict[str, Any]) -> list[str]:
    """What a consent covers: the scopes plus each individually requested claim."""
    items = [s for s in scope.split() if s != "openid"]
    for member in ("id_token", "userinfo"):
        items.extend(f"claim:{name}" for name in requested.get(member, {}) if name in CLAIMS_SUPPORTED
                     and name not in PROTOCOL_CLAIMS)
    return sorted(set(items))


PROTOCOL_CLAIMS = {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"}
