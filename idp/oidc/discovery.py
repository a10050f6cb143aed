"""Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414): exactly what is implemented."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask import url_for

from idp.assurance.levels import ALL_ACR_VALUES
from idp.db import get_session
from idp.oidc import dpop
from idp.oidc.claims import CLAIMS_IN_VERIFIED_CLAIMS
from idp.oidc.claims import CLAIMS_SUPPORTED
from idp.oidc.claims import SCOPES_SUPPORTED
from idp.oidc.grants import CLIENT_AUTH_METHODS
from idp.rar import service as rar_service


def provider_metadata(details_types: list[str] | None = None) -> dict[str, Any]:
    """The discovery document, without any member that would be empty.

    Discovery §3 members such as ``userinfo_signing_alg_values_supported`` are lists of what
    the provider supports: with nothing to list the member is left out (absent means not
    supported, and userinfo answers plain JSON), rather than published as an empty list.
    """
    metadata = _metadata()
    # RFC 9396 §10: the types registered and active now (idp.rar); absent when there are none.
    metadata["authorization_details_types_supported"] = details_types or []
    return {name: value for name, value in metadata.items() if value not in ([], {}, None, "")}


def _metadata() -> dict[str, Any]:
    issuer = current_app.config["ISSUER"]

    def endpoint(name: str) -> str:
        return issuer + url_for(name)

    signing = ["RS256", "ES256", "PS256"]
    return {
        "issuer": issuer,
        "authorization_endpoint": endpoint("oidc.authorize"),
        "token_endpoint": endpoint("oidc.token"),
        "userinfo_endpoint": endpoint("oidc.userinfo"),
        "jwks_uri": endpoint("oidc.jwks"),
        "end_session_endpoint": endpoint("oidc.end_session"),
        "introspection_endpoint": endpoint("oidc.introspect"),
        "revocation_endpoint": endpoint("oidc.revoke"),
        # RFC 7591 §3 / OIDC Dynamic Client Registration 1.0: needs an initial access token from an admin
        "registration_endpoint": endpoint("registration.register"),
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
                                  "urn:ietf:params:oauth:grant-type:token-exchange"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": signing,
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": signing,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS[:-1],
        "introspection_endpoint_auth_signing_alg_values_supported": signing,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": signing,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "acr_values_supported": ALL_ACR_VALUES,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "display_values_supported": ["page"],
        "claim_types_supported": ["normal"],
        "ui_locales_supported": ["th", "en"],
        "claims_locales_supported": ["th", "en"],
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        # OIDC Back-Channel Logout 1.0 §2.1: logout tokens carry sid (and sub); docs/backchannel-logout.md
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        # OpenID Connect for Identity Assurance 1.0 (verified_claims, only via the claims parameter)
        "verified_claims_supported": True,
        "trust_frameworks_supported": [current_app.config["PROOFING_TRUST_FRAMEWORK"]],
        "evidence_supported": ["document"],
        "documents_supported": ["idcard", "passport"],
        # vri: validated against the registry; vpip/pvp: inspected and person seen at a counter;
        # pvr: an officer compared the applicant remotely (idp.proofing.service._evidence_entry)
        "documents_check_methods_supported": ["vri", "vpip", "pvp", "pvr"],
        "claims_in_verified_claims_supported": list(CLAIMS_IN_VERIFIED_CLAIMS),
        # RFC 9449 §5.1
        "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),
        # RFC 9126 §5: PAR for every client; required per client (FAPI 2.0 clients, docs/fapi.md)
        "pushed_authorization_request_endpoint": endpoint("oidc.par"),
        "require_pushed_authorization_requests": False,
    }


def discovery_document() -> str:
    """The document changes with configuration, and with the authorization-details types an
    admin registers (read again after :data:`DISCOVERY_TYPES_SECONDS`, or at once in the process
    that changed them: :func:`forget_discovery`). The same ``str`` object while nothing changed,
    which :mod:`idp.prepared` relies on."""
    cached = current_app.extensions.get("idp.discovery")
    now = time.monotonic()
    if cached is not None and cached.fresh_until > now:
        return cached.body
    types = rar_service.active_type_names(get_session())
    if cached is None or cached.types != types:
        body = json.dumps(provider_metadata(types))
    else:
        body = cached.body
    current_app.extensions["idp.discovery"] = Discovery(body, types, now + DISCOVERY_TYPES_SECONDS)
    return body


DISCOVERY_TYPES_SECONDS = 60.0


@dataclass(frozen=True)
class Discovery:
    body: str
    types: list[str]
    fresh_until: float


def forget_discovery() -> None:
    """Build the discovery document again on the next request (its types changed)."""
    current_app.extensions.pop("idp.discovery", None)
