"""Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414): exactly what is implemented."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import url_for

from idp.assurance.levels import ACR_VALUES
from idp.oidc import dpop
from idp.oidc.claims import CLAIMS_IN_VERIFIED_CLAIMS
from idp.oidc.claims import CLAIMS_SUPPORTED
from idp.oidc.claims import SCOPES_SUPPORTED
from idp.oidc.grants import CLIENT_AUTH_METHODS


def provider_metadata() -> dict[str, Any]:
    """The discovery document, without any member that would be empty.

    Discovery §3 members such as ``userinfo_signing_alg_values_supported`` are lists of what
    the provider supports: with nothing to list the member is left out (absent means not
    supported, and userinfo answers plain JSON), rather than published as an empty list.
    """
    return {name: value for name, value in _metadata().items() if value not in ([], {}, None, "")}


def _metadata() -> dict[str, Any]:
    issuer = current_app.config["ISSUER"]

    def endpoint(name: str) -> str:
        return issuer + url_for(name)

    signing = ["RS256", "ES256"]
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
        "grant_types_supported": ["authorization_code", "refresh_token"],
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
        "acr_values_supported": ACR_VALUES,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "display_values_supported": ["page"],
        "claim_types_supported": ["normal"],
        "ui_locales_supported": ["th", "en"],
        "claims_locales_supported": ["th", "en"],
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
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
    }
