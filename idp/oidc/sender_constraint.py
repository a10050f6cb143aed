"""Which clients must get sender-constrained (DPoP-bound) tokens, and the hook that binds them.

FAPI 2.0 Security Profile §5.3.2.1 and RFC 9449 §5: a client registered with
``fapi_profile: "fapi2"`` or ``dpop_bound_access_tokens: true`` gets only DPoP-bound access
tokens. The grants that issue tokens without a person (``client_credentials``) or for another
agency's API (token exchange) call :func:`require_binding` once, before minting.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError

from idp.oidc.models import Client


def fapi_profile(client: Client) -> str | None:
    """The client's FAPI profile (``"fapi2"``), read defensively from its metadata."""
    value = client.client_metadata.get("fapi_profile")
    return value if isinstance(value, str) and value else None


def requires_dpop(client: Client) -> bool:
    return fapi_profile(client) == "fapi2" or client.client_metadata.get("dpop_bound_access_tokens") is True


def require_binding(request: Any, client: Client) -> None:
    """Refuse to mint an unbound token for a client whose tokens must be DPoP-bound.

    The hook for DPoP (RFC 9449): once proofs are checked at the token endpoint, this is where
    the proof of ``request`` is verified and its key's thumbprint bound to the token (``cnf.jkt``,
    ``token_type: DPoP``). Until then such a client gets an error rather than a bearer token.
    """
    if requires_dpop(client):
        raise InvalidRequestError("This client's access tokens must be DPoP-bound (RFC 9449).")
