"""Registering e-Services (relying parties): validated metadata, a hashed secret shown once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from idp import audit
from idp.assurance.policy import parse_requirement
from idp.config import is_loopback_host
from idp.crypto import hash_secret
from idp.crypto import random_token
from idp.db import utc_now
from idp.oidc import fapi
from idp.oidc import sectors
from idp.oidc import tokens
from idp.oidc.claims import CLAIMS_SUPPORTED
from idp.oidc.claims import PROTOCOL_CLAIMS
from idp.oidc.models import Client
from idp.oidc.models import InitialAccessToken
from idp.oidc.models import Token

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


def new_client_id() -> str:
    """A random client_id that never starts with ``-``, so that ``idp clients check ID`` and other
    command lines do not take it for an option (one id in 64 did)."""
    while (candidate := random_token(18)).startswith("-"):
        pass
    return candidate


def check_redirect_uri(uri: str, *, error: str = "invalid_redirect_uri") -> str:
    """https, or http on a loopback host; absolute; no fragment (RFC 6749 §3.1.2)."""
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise ClientMetadataError(error, f"{uri!r} could not be parsed as a URI.") from exc
    if parts.fragment or not parts.hostname:
        raise ClientMetadataError(error, f"{uri!r} must be an absolute URI without a fragment.")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return uri
    raise ClientMetadataError(error, f"{uri!r} must use https (http only for localhost).")


SCOPES = ("openid", "profile", "email", "phone", "address", "offline_access", "national_id",
          # ThaID's scopes, which are also its claims' names (docs/thaid-migration.md); pid is the national ID.
          "pid", "ial", "aal", "given_name_en", "family_name_en", "name_en")
# Scopes that release the national ID number: only for e-Services the operator allowed it.
NATIONAL_ID_SCOPES = ("national_id", "pid")
DEFAULT_SCOPE = "openid profile email phone address offline_access"
ID_TOKEN_ALGS = ("RS256", "ES256", "PS256")
GRANT_TYPES = ("authorization_code", "refresh_token")


def _error(description: str) -> ClientMetadataError:
    return ClientMetadataError("invalid_client_metadata", description)


def _strings(raw: Mapping[str, Any], name: str) -> list[str]:
    value = raw.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _error(f"{name} must be an array of strings.")
    return value


def _string(raw: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = raw.get(name, default)
    if value is not None and not isinstance(value, str):
        raise _error(f"{name} must be a string.")
    return value


def validate_metadata(raw: Mapping[str, Any], *, national_id_allowed: bool = False,
                      require_pkce: bool = True) -> dict[str, Any]:
    """Check RFC 7591 / OIDC Registration metadata and return it normalised, ready to store.

    One function for the console, the CLI and the registration endpoint, so the three can never
    accept different things. Raises :class:`ClientMetadataError` with the RFC 7591 error code.

    :param national_id_allowed: the operator allows this e-Service the national ID number
        (the ``national_id`` scope and claim); the scope is then added to ``scope``
    """
    name = (_string(raw, "client_name") or "").strip()
    if not name:
        raise _error("client_name is required.")
    name_th = (_string(raw, "client_name#th") or "").strip()
    redirect_uris = _strings(raw, "redirect_uris")
    if not redirect_uris:
        raise ClientMetadataError("invalid_redirect_uri", "At least one redirect URI is required.")
    uris = list(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris))
    logout_uris = [check_redirect_uri(u, error="invalid_client_metadata")
                   for u in _strings(raw, "post_logout_redirect_uris")]
    auth_method = _string(raw, "token_endpoint_auth_method", "client_secret_basic")
    if auth_method not in AUTH_METHODS:
        raise _error(f"Unknown token_endpoint_auth_method {auth_method!r}.")
    subject_type = _string(raw, "subject_type", "pairwise")
    if subject_type not in ("pairwise", "public"):
        raise _error("subject_type must be pairwise or public.")
    alg = _string(raw, "id_token_signed_response_alg") or "RS256"
    if alg not in ID_TOKEN_ALGS:
        raise _error("id_token_signed_response_alg must be RS256, ES256 or PS256.")
    grant_types = _strings(raw, "grant_types") or list(GRANT_TYPES)
    if set(grant_types) - set(GRANT_TYPES) or "authorization_code" not in grant_types:
        raise _error("grant_types must be authorization_code, with refresh_token optionally.")
    response_types = _strings(raw, "response_types") or ["code"]
    if response_types != ["code"]:
        raise _error("response_types must be [\"code\"]: only the authorization code flow is offered.")
    hosts = {urlsplit(u).hostname for u in uris}
    sector_identifier_uri = _string(raw, "sector_identifier_uri")
    if sector_identifier_uri:
        check_redirect_uri(sector_identifier_uri, error="invalid_client_metadata")
    elif subject_type == "pairwise" and len(hosts) > 1:
        # OIDC Core §8.1: without a sector identifier the hosts of the redirect URIs are the sector,
        # and there must be exactly one.
        raise _error("Redirect URIs on several hosts need a sector_identifier_uri for pairwise subjects.")
    if auth_method == "none" and not require_pkce:
        raise _error("Public clients always need PKCE.")
    scope = _string(raw, "scope", DEFAULT_SCOPE) or ""
    scopes = list(dict.fromkeys(scope.split()))
    unknown_scopes = [s for s in scopes if s not in SCOPES]
    if unknown_scopes:
        raise _error(f"Unknown scope {unknown_scopes[0]!r}.")
    if "openid" not in scopes:
        raise _error("scope must include openid.")
    if national_id_allowed and "national_id" not in scopes:
        scopes.append("national_id")
    elif not national_id_allowed and "national_id" in scopes:
        raise _error("The national_id scope is only for e-Services the operator allowed the national ID number.")
    if not national_id_allowed and "pid" in scopes:
        raise _error("The pid scope is only for e-Services the operator allowed the national ID number.")
    metadata: dict[str, Any] = {
        "client_name": name[:200], "redirect_uris": uris, "post_logout_redirect_uris": logout_uris,
        "token_endpoint_auth_method": auth_method, "subject_type": subject_type, "scope": " ".join(scopes),
        "id_token_signed_response_alg": alg, "grant_types": grant_types, "response_types": ["code"],
    }
    if name_th:
        metadata["client_name#th"] = name_th[:200]
    logo_uri = _string(raw, "logo_uri")
    if logo_uri:
        metadata["logo_uri"] = check_redirect_uri(logo_uri, error="invalid_client_metadata")
    if sector_identifier_uri:
        metadata["sector_identifier_uri"] = sector_identifier_uri
    if national_id_allowed:
        metadata["national_id_allowed"] = True
    default_acr_values = _strings(raw, "default_acr_values")
    if default_acr_values:
        unknown = [v for v in default_acr_values if parse_requirement(v) is None]
        if unknown:
            raise _error(f"Unknown acr value {unknown[0]!r}.")
        # The operator's minimum for this e-Service (docs/assurance.md): requests can only raise it.
        metadata["default_acr_values"] = list(dict.fromkeys(default_acr_values))
    if raw.get("allowed_claims") is not None:
        claims = list(dict.fromkeys(_strings(raw, "allowed_claims")))
        unknown = [c for c in claims if c not in CLAIMS_SUPPORTED or c in PROTOCOL_CLAIMS]
        if unknown:
            raise _error(f"Unknown claim {unknown[0]!r} in allowed_claims.")
        if {"national_id", "pid"} & set(claims) and not national_id_allowed:
            raise _error("The national_id claim is only for e-Services the operator allowed the national ID number.")
        # The claims it may ask for one by one (the claims parameter); absent: any its scopes allow.
        metadata["allowed_claims"] = claims
    jwks = raw.get("jwks")
    jwks_uri = _string(raw, "jwks_uri")
    if jwks is not None and not isinstance(jwks, dict):
        raise _error("jwks must be a JWK Set object.")
    if jwks and jwks_uri:
        raise _error("Give jwks or jwks_uri, not both.")
    if auth_method == "private_key_jwt" and not (jwks or jwks_uri):
        raise _error("private_key_jwt needs jwks or jwks_uri.")
    if jwks:
        metadata["jwks"] = _public_jwks(jwks)
    elif jwks_uri:
        metadata["jwks_uri"] = check_redirect_uri(jwks_uri, error="invalid_client_metadata")
    dpop_bound = raw.get("dpop_bound_access_tokens")
    if dpop_bound is not None and not isinstance(dpop_bound, bool):
        raise _error("dpop_bound_access_tokens must be true or false.")
    if dpop_bound:
        # RFC 9449 §5.2: every token request of this client must carry a DPoP proof.
        metadata["dpop_bound_access_tokens"] = True
    metadata.update(_backchannel_logout(raw))
    try:
        fapi.apply(raw, metadata)
    except fapi.FapiMetadataError as exc:
        raise ClientMetadataError(exc.error, str(exc)) from exc
    if metadata.get("fapi_profile") and not require_pkce:
        raise _error("A FAPI 2.0 client always sends PKCE (S256).")
    return metadata


def _backchannel_logout(raw: Mapping[str, Any]) -> dict[str, Any]:
    """OIDC Back-Channel Logout 1.0 §2.2: where the IdP posts logout tokens, and whether they must name the session.

    The URI follows the redirect URI rules (https, or http to this computer in development; absolute;
    no fragment, §2.2 "MUST NOT include a fragment component"). The IdP reaches it only through the
    guarded fetcher (:mod:`idp.outbound`), so an address inside the IdP's network is refused when posting.
    """
    uri = _string(raw, "backchannel_logout_uri")
    required = raw.get("backchannel_logout_session_required")
    if required is not None and not isinstance(required, bool):
        raise _error("backchannel_logout_session_required must be true or false.")
    if not uri:
        if required:
            raise _error("backchannel_logout_session_required needs a backchannel_logout_uri.")
        return {}
    return {"backchannel_logout_uri": check_redirect_uri(uri, error="invalid_client_metadata"),
            "backchannel_logout_session_required": bool(required)}


def uses_secret(metadata: Mapping[str, Any]) -> bool:
    return metadata.get("token_endpoint_auth_method") in ("client_secret_basic", "client_secret_post")


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
    scope: str = DEFAULT_SCOPE,
    id_token_signed_response_alg: str | None = None,
    trusted: bool = False,
    require_pkce: bool = True,
    default_acr_values: list[str] | None = None,
    national_id_allowed: bool = False,
    name_th: str | None = None,
    logo_uri: str | None = None,
    allowed_claims: list[str] | None = None,
    join_sector: bool = False,
    dpop_bound_access_tokens: bool = False,
    fapi_profile: str | None = None,
    by: int | None = None,
    backchannel_logout_uri: str | None = None,
    backchannel_logout_session_required: bool = False,
) -> NewClient:
    """Validate and store an e-Service (the CLI's way in); audited.

    :param join_sector: the admin confirmed that it may share its pairwise sector with e-Services
        of another agency (see :func:`store_client`)
    """
    raw: dict[str, Any] = {
        "client_name": name, "client_name#th": name_th, "logo_uri": logo_uri, "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": post_logout_redirect_uris or [], "token_endpoint_auth_method": auth_method,
        "jwks": jwks, "jwks_uri": jwks_uri, "subject_type": subject_type,
        "sector_identifier_uri": sector_identifier_uri, "scope": scope,
        "id_token_signed_response_alg": id_token_signed_response_alg,
        "default_acr_values": default_acr_values or None, "allowed_claims": allowed_claims,
        "dpop_bound_access_tokens": dpop_bound_access_tokens or None,
        "fapi_profile": fapi_profile,
    }
    if backchannel_logout_uri:
        raw["backchannel_logout_uri"] = backchannel_logout_uri
        raw["backchannel_logout_session_required"] = backchannel_logout_session_required
    metadata = validate_metadata(raw, national_id_allowed=national_id_allowed, require_pkce=require_pkce)
    return store_client(db, metadata, trusted=trusted, require_pkce=require_pkce, join_sector=join_sector, by=by)


def store_client(db: Session, metadata: dict[str, Any], *, trusted: bool = False, require_pkce: bool = True,
                 status: str = "active", review_reasons: list[str] | None = None,
                 initial_token: InitialAccessToken | None = None, join_sector: bool | None = None,
                 by: int | None = None, commit: bool = True) -> NewClient:
    """Store validated metadata as a new client with a fresh secret (shown once) when it uses one.

    The ``sector_identifier_uri`` is fetched and must list every redirect URI (:mod:`~idp.oidc.sectors`).

    :param join_sector: an admin's answer to "share the pairwise sector with another agency's
        e-Services?": without it such a client is refused with the names of those e-Services.
        ``None``: the caller applies its own rule (dynamic registration holds the client for review).
    :raises ClientMetadataError: the sector document is wrong, or the sector is another agency's
    """
    shared = _check_sector(db, metadata, client=None, join_sector=join_sector)
    secret = random_token(32) if uses_secret(metadata) else None
    client = Client(client_id=new_client_id(), client_secret_hash=hash_secret(secret) if secret else None,
                    name=str(metadata["client_name"]), client_metadata=metadata, trusted=trusted,
                    require_pkce=require_pkce, status=status, review_reasons=list(review_reasons or []),
                    initial_token=initial_token)
    db.add(client)
    db.flush()
    audit.record(db, audit.Event.CLIENT_CREATED, client_id=client.id, commit=False, status=status, by=by,
                 initial_token=initial_token.id if initial_token else None)
    _record_shared(db, client, shared, by=by)
    if commit:
        db.commit()
    return NewClient(client=client, client_secret=secret)


def update_client(db: Session, client: Client, raw: Mapping[str, Any], *, trusted: bool | None = None,
                  require_pkce: bool | None = None, national_id_allowed: bool | None = None,
                  join_sector: bool | None = None, by: int | None = None, commit: bool = True) -> str | None:
    """Replace the metadata after validating it; returns a new secret when the client newly needs one.

    :param national_id_allowed: the operator's decision (``None``: kept as it was, which is all an
        agency's own update through RFC 7592 can do). Taking it away revokes the tokens that carry
        the ``national_id`` scope.
    :param join_sector: as for :func:`store_client`; asked only when the sector changes
    :raises ClientMetadataError: invalid metadata, a wrong sector document, or another agency's sector
    """
    pkce = client.require_pkce if require_pkce is None else require_pkce
    was_allowed = bool(client.client_metadata.get("national_id_allowed"))
    allowed = was_allowed if national_id_allowed is None else national_id_allowed
    metadata = validate_metadata(raw, national_id_allowed=allowed, require_pkce=pkce)
    shared = _check_sector(db, metadata, client=client, join_sector=join_sector)
    if was_allowed and not allowed:
        tokens.revoke_where(db, Token.client_id == client.id, Token.scope.contains("national_id"))
    secret = None
    if uses_secret(metadata) and not client.client_secret_hash:
        secret = random_token(32)
        client.client_secret_hash = hash_secret(secret)
    elif not uses_secret(metadata):
        client.client_secret_hash = None
        client.previous_secret_hash = client.previous_secret_expires_at = None
    changed = sorted(k for k in set(metadata) | set(client.client_metadata)
                     if metadata.get(k) != client.client_metadata.get(k))
    client.client_metadata = metadata
    client.name = str(metadata["client_name"])
    client.require_pkce = pkce
    if trusted is not None:
        changed += ["trusted"] if trusted != client.trusted else []
        client.trusted = trusted
    client.updated_at = utc_now()
    audit.record(db, audit.Event.CLIENT_UPDATED, client_id=client.id, commit=False, fields=changed, by=by)
    _record_shared(db, client, shared, by=by)
    if commit:
        db.commit()
    return secret


def _check_sector(db: Session, metadata: Mapping[str, Any], *, client: Client | None,
                  join_sector: bool | None) -> list[Client]:
    """The sector rules before a write: the document, then (for an admin) the confirmation to join
    another agency's sector. Returns the clients of other agencies the admin chose to join."""
    problem = sectors.document_problem(metadata)
    if problem:
        raise _error(problem)
    if join_sector is None or not sectors.joins(metadata, client=client):
        return []
    others = sectors.foreign_sharers(db, metadata, agency=sectors.agency_of(client) if client else None,
                                     exclude=client)
    if others and not join_sector:
        raise ClientMetadataError("sector_of_another_agency", sectors.describe_sharers(metadata, others))
    return others


def _record_shared(db: Session, client: Client, shared: list[Client], *, by: int | None) -> None:
    if shared:
        audit.record(db, audit.Event.CLIENT_SECTOR_JOINED, client_id=client.id, commit=False,
                     shared_with=[c.id for c in shared], by=by)


def rotate_secret(db: Session, client: Client, *, grace_seconds: int, by: int | None = None) -> str:
    """A new secret, shown once; the old one keeps working for ``grace_seconds`` (0: stops now)."""
    if not uses_secret(client.client_metadata):
        raise ClientMetadataError("invalid_client_metadata", "This e-Service does not use a client secret.")
    secret = random_token(32)
    now = utc_now()
    client.previous_secret_hash = client.client_secret_hash if grace_seconds > 0 else None
    client.previous_secret_expires_at = now + dt.timedelta(seconds=grace_seconds) if grace_seconds > 0 else None
    client.client_secret_hash = hash_secret(secret)
    client.updated_at = now
    audit.record(db, audit.Event.CLIENT_SECRET_ROTATED, client_id=client.id, commit=False,
                 grace_seconds=grace_seconds, by=by)
    db.commit()
    return secret


STATUS_EVENTS = {"active": audit.Event.CLIENT_ENABLED, "disabled": audit.Event.CLIENT_DISABLED}


def set_status(db: Session, client: Client, status: str, *, by: int | None = None) -> bool:
    """Enable, disable or approve a pending client; ``False`` when nothing changed. Audited.

    A disabled client's tokens stop introspecting as active and its requests are refused at once
    (every check reads ``Client.active``).
    """
    if status not in STATUS_EVENTS:
        raise ValueError(status)
    if client.status == status:
        return False
    event = audit.Event.CLIENT_APPROVED if client.status == "pending" and status == "active" else STATUS_EVENTS[status]
    client.status = status
    if status == "active":
        client.review_reasons = []
    client.updated_at = utc_now()
    audit.record(db, event, client_id=client.id, commit=False, by=by)
    db.commit()
    return True


def _public_jwks(jwks: dict[str, Any]) -> dict[str, Any]:
    """Keep public parts only: a pasted private JWK must never be stored."""
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ClientMetadataError("invalid_client_metadata", "jwks is not a valid JWK Set.") from exc
    if any(k.key_type not in ("RSA", "EC", "OKP") for k in keys):
        # A symmetric key is a shared secret: it has no public part to store or to show back.
        raise ClientMetadataError("invalid_client_metadata", "jwks may hold only RSA, EC or OKP public keys.")
    return {"keys": [k.as_dict(private=False) for k in keys]}
