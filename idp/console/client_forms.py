"""The console's e-Service form: what an admin typed, turned into RFC 7591 metadata and back.

Kept apart from the views and free of Flask so it can be unit-tested, and so a form that fails
validation is shown again exactly as typed (:class:`ClientForm` holds the raw text, not the parsed
values). Validation itself stays in :func:`idp.oidc.clients.validate_metadata`, the one validator the
console, the CLI and dynamic registration share.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from idp.oidc.clients import AUTH_METHODS
from idp.oidc.clients import DEFAULT_SCOPE
from idp.oidc.clients import ID_TOKEN_ALGS
from idp.oidc.clients import SCOPES
from idp.oidc.clients import ClientMetadataError

# The scopes an admin ticks; national_id is the operator's separate permission (create only).
FORM_SCOPES = tuple(s for s in SCOPES if s != "national_id")
TEXT_MAX = 20_000  # a JWK Set or a list of URIs is far below this; anything longer is not a form a person typed


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class ClientForm:
    """The e-Service form as text and ticks, ready to render again."""

    name: str = ""
    name_th: str = ""
    logo_uri: str = ""
    redirect_uris: str = ""
    post_logout_redirect_uris: str = ""
    scopes: tuple[str, ...] = tuple(DEFAULT_SCOPE.split())
    acr_values: tuple[str, ...] = ()
    subject_type: str = "pairwise"
    sector_identifier_uri: str = ""
    auth_method: str = "client_secret_basic"
    jwks: str = ""
    jwks_uri: str = ""
    id_token_alg: str = ID_TOKEN_ALGS[0]
    trusted: bool = False
    national_id: bool = False
    allowed_claims: str = ""  # space-separated; empty: no list (any claim its scopes cover)
    join_sector: bool = False  # the admin confirms sharing a pairwise sector with another agency (never kept)
    dpop_bound: bool = False  # RFC 9449 §5.2 dpop_bound_access_tokens
    backchannel_logout_uri: str = ""
    backchannel_logout_session_required: bool = False
    fapi: bool = False  # fapi_profile "fapi2" (idp.oidc.fapi)

    @classmethod
    def from_form(cls, data: MultiDict[str, str]) -> ClientForm:
        def text(name: str) -> str:
            value = data.get(name, "")
            return value.strip()[:TEXT_MAX] if isinstance(value, str) else ""

        def ticked(name: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(v for v in data.getlist(name) if isinstance(v, str) and v))[:20]

        return cls(
            name=text("client_name"), name_th=text("client_name_th"), logo_uri=text("logo_uri"),
            redirect_uris=text("redirect_uris"), post_logout_redirect_uris=text("post_logout_redirect_uris"),
            scopes=ticked("scope"), acr_values=ticked("default_acr_values"),
            subject_type=text("subject_type") or "pairwise", sector_identifier_uri=text("sector_identifier_uri"),
            auth_method=text("token_endpoint_auth_method") or "client_secret_basic",
            jwks=text("jwks"), jwks_uri=text("jwks_uri"),
            id_token_alg=text("id_token_signed_response_alg") or ID_TOKEN_ALGS[0],
            trusted=data.get("trusted") == "1", national_id=data.get("national_id_allowed") == "1",
            allowed_claims=text("allowed_claims"), join_sector=data.get("join_sector") == "1",
            dpop_bound=data.get("dpop_bound_access_tokens") == "1",
            backchannel_logout_uri=text("backchannel_logout_uri"),
            backchannel_logout_session_required=data.get("backchannel_logout_session_required") == "1",
            fapi=data.get("fapi_profile") == "fapi2",
        )

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], *, trusted: bool) -> ClientForm:
        """The form for editing a stored e-Service."""
        jwks = metadata.get("jwks")
        return cls(
            name=str(metadata.get("client_name", "")), name_th=str(metadata.get("client_name#th", "")),
            logo_uri=str(metadata.get("logo_uri", "")),
            redirect_uris="\n".join(metadata.get("redirect_uris", [])),
            post_logout_redirect_uris="\n".join(metadata.get("post_logout_redirect_uris", [])),
            scopes=tuple(s for s in str(metadata.get("scope", DEFAULT_SCOPE)).split() if s != "national_id"),
            acr_values=tuple(metadata.get("default_acr_values", [])),
            subject_type=str(metadata.get("subject_type", "pairwise")),
            sector_identifier_uri=str(metadata.get("sector_identifier_uri", "")),
            auth_method=str(metadata.get("token_endpoint_auth_method", "client_secret_basic")),
            jwks=json.dumps(jwks, indent=2) if jwks else "", jwks_uri=str(metadata.get("jwks_uri", "")),
            id_token_alg=str(metadata.get("id_token_signed_response_alg", ID_TOKEN_ALGS[0])),
            trusted=trusted, national_id=bool(metadata.get("national_id_allowed")),
            allowed_claims=" ".join(metadata.get("allowed_claims") or []),
            dpop_bound=metadata.get("dpop_bound_access_tokens") is True,
            backchannel_logout_uri=str(metadata.get("backchannel_logout_uri", "")),
            backchannel_logout_session_required=bool(metadata.get("backchannel_logout_session_required")),
            fapi=metadata.get("fapi_profile") == "fapi2",
        )

    def metadata(self) -> dict[str, Any]:
        """The raw RFC 7591 metadata for :func:`~idp.oidc.clients.validate_metadata`.

        ``openid`` is always asked for: without it this is not an OpenID Connect client.

        :raises ClientMetadataError: the JWK Set is not JSON (everything else is the validator's job)
        """
        return {
            "client_name": self.name, "client_name#th": self.name_th or None, "logo_uri": self.logo_uri or None,
            "redirect_uris": _lines(self.redirect_uris),
            "post_logout_redirect_uris": _lines(self.post_logout_redirect_uris),
            "scope": " ".join(dict.fromkeys(("openid", *self.scopes))),
            "default_acr_values": list(self.acr_values) or None,
            "subject_type": self.subject_type, "sector_identifier_uri": self.sector_identifier_uri or None,
            "token_endpoint_auth_method": self.auth_method,
            "jwks": self._jwks(), "jwks_uri": self.jwks_uri or None,
            "id_token_signed_response_alg": self.id_token_alg,
            "allowed_claims": self.allowed_claims.split() or None,
            "dpop_bound_access_tokens": self.dpop_bound or None,
            "backchannel_logout_uri": self.backchannel_logout_uri or None,
            "backchannel_logout_session_required": self.backchannel_logout_session_required
            if self.backchannel_logout_uri else None,
            "fapi_profile": "fapi2" if self.fapi else None,
        }

    def _jwks(self) -> dict[str, Any] | None:
        if not self.jwks:
            return None
        try:
            value = json.loads(self.jwks)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested past Python's limit
            raise ClientMetadataError("invalid_client_metadata", "jwks is not valid JSON.") from exc
        if not isinstance(value, dict):
            raise ClientMetadataError("invalid_client_metadata", "jwks must be a JWK Set object.")
        return value


@dataclass(frozen=True)
class Choices:
    """The fixed options the form offers (so the template never hard-codes them)."""

    scopes: tuple[str, ...] = FORM_SCOPES
    auth_methods: tuple[str, ...] = AUTH_METHODS
    id_token_algs: tuple[str, ...] = ID_TOKEN_ALGS
    subject_types: tuple[str, ...] = ("pairwise", "public")


def parse_grace_hours(value: str | None, *, default_seconds: int, max_hours: int = 24 * 90) -> int:
    """The rotation form's grace period in hours → seconds; empty means the configured default.

    :raises ValueError: not a whole number of hours between 0 and ``max_hours``
    """
    text = (value or "").strip()
    if not text:
        return max(0, int(default_seconds))
    if not text.isdigit() or int(text) > max_hours:
        raise ValueError("grace")
    return int(text) * 3600


@dataclass(frozen=True)
class TokenForm:
    """The form issuing an agency's initial access token, as typed (to render again on an error)."""

    agency: str = ""
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    max_ial: str = "1"
    max_aal: str = "2"
    days: str = ""

    @classmethod
    def from_form(cls, data: MultiDict[str, str]) -> TokenForm:
        return cls(agency=data.get("agency", "").strip()[:200],
                   scopes=tuple(s for s in dict.fromkeys(data.getlist("scope")) if s in FORM_SCOPES),
                   max_ial=data.get("max_ial", "")[:2], max_aal=data.get("max_aal", "")[:2],
                   days=data.get("days", "").strip()[:10])

    def policy(self, *, default_days: int) -> TokenPolicy:
        """The parsed policy; an empty lifetime is ``default_days``.

        :raises ValueError: no agency, a level other than 1-3, or a lifetime outside 1-366 days
        """
        days = int(self.days) if self.days.isdigit() else (default_days if not self.days else 0)
        if not self.agency or not 1 <= days <= 366 or {self.max_ial, self.max_aal} - {"1", "2", "3"}:
            raise ValueError("policy")
        return TokenPolicy(agency=self.agency, allowed_scopes=list(self.scopes), max_ial=int(self.max_ial),
                           max_aal=int(self.max_aal), days=days)


@dataclass(frozen=True)
class TokenPolicy:
    agency: str
    allowed_scopes: list[str]
    max_ial: int
    max_aal: int
    days: int
