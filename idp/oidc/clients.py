"""Registering e-Services (relying parties): validated metadata, a hashed secret shown once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from idp.assurance.policy import parse_acr
from idp.config import is_loopback_host
from idp.crypto import hash_secret
from idp.crypto import random_token
from idp.oidc.models import Client

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")


class ClientMetadataError(ValueError):
    """Metadata that cannot be registered; ``error`` is the RFC 7591 §3.2.2 code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class NewClient:
    client: Client
    client_secret: str | None


def check_redirect_uri(uri: str, *, error: str = "invalid_redirect_uri") -> str:
    """https, or http on a loopback host; absolute; no fragment (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    if parts.fragment or not parts.hostname:
        raise ClientMetadataError(error, f"{uri!r} must be an absolute URI without a fragment.")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return uri
    raise ClientMetadataError(error, f"{uri!r} must use https (http only for localhost).")


def create_client(
    db: Session,
    *,
    name: str,
    redirect_uris: list[str],
    auth_method: str = "client_secret_basic",
    post_logout_redirect_uris: list[str] | None = None,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    subject_type: str = "pairwise",
    sector_identifier_uri: str | None = None,
    scope: str = "openid profile email phone address offline_access",
    id_token_signed_response_alg: str = "RS256",
    trusted: bool = False,
    require_pkce: bool = True,
    default_acr_values: list[str] | None = None,
    national_id_allowed: bool = False,
) -> NewClient:
    """Validate and store a client.

    :param national_id_allowed: the operator allows this e-Service to receive the national ID
        number (the ``national_id`` scope and claim); the scope is then added to ``scope``
    """
    if not name.strip():
        raise ClientMetadataError("invalid_client_metadata", "A client needs a name.")
    if not redirect_uris:
        raise ClientMetadataError("invalid_redirect_uri", "At least one redirect URI is required.")
    uris = [check_redirect_uri(u) for u in redirect_uris]
    logout_uris = [check_redirect_uri(u, error="invalid_client_metadata") for u in post_logout_redirect_uris or []]
    if auth_method not in AUTH_METHODS:
        raise ClientMetadataError("invalid_client_metadata", f"Unknown auth method {auth_method!r}.")
    if subject_type not in ("pairwise", "public"):
        raise ClientMetadataError("invalid_client_metadata", "subject_type must be pairwise or public.")
    if id_token_signed_response_alg not in ("RS256", "ES256"):
        raise ClientMetadataError("invalid_client_metadata", "id_token_signed_response_alg must be RS256 or ES256.")
    hosts = {urlsplit(u).hostname for u in uris}
    if sector_identifier_uri:
        check_redirect_uri(sector_identifier_uri, error="invalid_client_metadata")
    elif subject_type == "pairwise" and len(hosts) > 1:
        # OIDC Core §8.1: without a sector identifier the hosts of the redirect URIs are the sector,
        # and there must be exactly one.
        raise ClientMetadataError("invalid_client_metadata",
                                  "Redirect URIs on several hosts need a sector_identifier_uri for pairwise subjects.")
    if auth_method == "none" and not require_pkce:
        raise ClientMetadataError("invalid_client_metadata", "Public clients always need PKCE.")
    scopes = scope.split()
    if national_id_allowed and "national_id" not in scopes:
        scope = " ".join([*scopes, "national_id"])
    elif not national_id_allowed and "national_id" in scopes:
        raise ClientMetadataError("invalid_client_metadata",
                                  "The national_id scope is only for clients allowed the national ID number.")
    metadata: dict[str, Any] = {
        "redirect_uris": uris, "post_logout_redirect_uris": logout_uris,
        "token_endpoint_auth_method": auth_method, "subject_type": subject_type, "scope": scope,
        "id_token_signed_response_alg": id_token_signed_response_alg,
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
    }
    if sector_identifier_uri:
        metadata["sector_identifier_uri"] = sector_identifier_uri
    if national_id_allowed:
        metadata["national_id_allowed"] = True
    if default_acr_values:
        unknown = [v for v in default_acr_values if parse_acr(v) is None]
        if unknown:
            raise ClientMetadataError("invalid_client_metadata", f"Unknown acr value {unknown[0]!r}.")
        # The operator's minimum for this e-Service (docs/assurance.md): requests can only raise it.
        metadata["default_acr_values"] = list(dict.fromkeys(default_acr_values))
    if auth_method == "private_key_jwt":
        if bool(jwks) == bool(jwks_uri):
            raise ClientMetadataError("invalid_client_metadata",
                                      "private_key_jwt needs exactly one of jwks or jwks_uri.")
        if jwks:
            metadata["jwks"] = _public_jwks(jwks)
        else:
            metadata["jwks_uri"] = check_redirect_uri(str(jwks_uri), error="invalid_client_metadata")
    secret = random_token(32) if auth_method in ("client_secret_basic", "client_secret_post") else None
    client = Client(client_id=random_token(18), client_secret_hash=hash_secret(secret) if secret else None,
                    name=name.strip()[:200], client_metadata=metadata, trusted=trusted, require_pkce=require_pkce)
    db.add(client)
    db.commit()
    return NewClient(client=client, client_secret=secret)


def _public_jwks(jwks: dict[str, Any]) -> dict[str, Any]:
    """Keep public parts only: a pasted private JWK must never be stored."""
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ClientMetadataError("invalid_client_metadata", "jwks is not a valid JWK Set.") from exc
    return {"keys": [k.as_dict(private=False) for k in keys]}
