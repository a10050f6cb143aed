"""The FAPI 2.0 Security Profile (Final), per client: what registering ``fapi_profile: "fapi2"`` means.

A client registered for the profile gets its rules; every other client keeps the IdP's usual
behaviour. The rules live beside the code that applies them; this module holds their vocabulary
and the registration-time checks, so the console, the CLI and dynamic registration agree:

- §5.3.2.1: client authentication ``private_key_jwt`` only (here, or mTLS, which this IdP does not
  offer), the assertion signed PS256 or ES256 (§5.4.1), its ``aud`` the issuer identifier as a
  single string (item 8) — :mod:`idp.oidc.client_auth`;
- §5.3.2.2: pushed authorization requests only (RFC 9126), ``response_type=code``, PKCE S256,
  redirect URIs https, codes that live at most 60 s — :mod:`idp.oidc.par`, :mod:`idp.oidc.grants`;
- §5.3.2.1 item 11 / §5.4.1: ID tokens signed PS256 or ES256 (:mod:`idp.keyring` keeps PS256 keys);
- refresh tokens are not rotated (§5.3.2.1 item 5 advises against it for sender-constrained
  clients) but stay revocable.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit


class Profile(StrEnum):
    """``fapi_profile`` values a client may register."""

    FAPI2 = "fapi2"


# FAPI 2.0 §5.4.1: "PS256, ES256 or EdDSA (using the Ed25519 variant)"; this IdP keeps PS256 and ES256.
ASSERTION_ALGS = ("PS256", "ES256")
ID_TOKEN_ALGS = ("PS256", "ES256")
DEFAULT_ID_TOKEN_ALG = "PS256"


class FapiMetadataError(ValueError):
    """Metadata a FAPI 2.0 client cannot have; the message says which rule and how to comply,
    ``error`` is the RFC 7591 §3.2.2 code."""

    def __init__(self, description: str, error: str = "invalid_client_metadata") -> None:
        super().__init__(description)
        self.error = error


def apply(raw: Mapping[str, Any], metadata: dict[str, Any]) -> None:
    """Check and record the profile in validated ``metadata`` (RFC 7591 metadata, already
    normalised by :func:`idp.oidc.clients.validate_metadata`), in place.

    :raises FapiMetadataError: an unknown profile, or metadata the profile forbids
    """
    profile = raw.get("fapi_profile")
    par = raw.get("require_pushed_authorization_requests")
    if par is not None and not isinstance(par, bool):
        raise FapiMetadataError("require_pushed_authorization_requests must be true or false.")
    if profile in (None, ""):
        if par:
            metadata["require_pushed_authorization_requests"] = True
        return
    if profile != Profile.FAPI2:
        raise FapiMetadataError(f"Unknown fapi_profile {str(profile)[:40]!r}: the only profile is \"fapi2\".")
    if metadata.get("token_endpoint_auth_method") != "private_key_jwt":
        raise FapiMetadataError("A FAPI 2.0 client must authenticate with private_key_jwt "
                                "(token_endpoint_auth_method).")
    if any(urlsplit(u).scheme != "https" for u in metadata.get("redirect_uris", [])):
        raise FapiMetadataError("A FAPI 2.0 client's redirect URIs must all use https.", "invalid_redirect_uri")
    if par is False:
        raise FapiMetadataError("A FAPI 2.0 client always uses pushed authorization requests "
                                "(require_pushed_authorization_requests cannot be false).")
    alg = raw.get("id_token_signed_response_alg")
    if alg in (None, ""):
        metadata["id_token_signed_response_alg"] = DEFAULT_ID_TOKEN_ALG
    elif alg not in ID_TOKEN_ALGS:
        raise FapiMetadataError("A FAPI 2.0 client's ID tokens are signed PS256 or ES256 "
                                "(id_token_signed_response_alg).")
    metadata["fapi_profile"] = str(Profile.FAPI2)
    metadata["require_pushed_authorization_requests"] = True
