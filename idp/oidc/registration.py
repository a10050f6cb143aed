"""Dynamic client registration (RFC 7591, RFC 7592) for agencies an admin has let in.

An admin issues an agency an initial access token carrying the agency's policy; a registration
within that policy works at once, anything else waits for an admin with the reasons recorded.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.assurance.policy import parse_requirement
from idp.crypto import check_secret
from idp.crypto import hash_secret
from idp.crypto import random_token
from idp.db import utc_now
from idp.oidc import sectors
from idp.oidc.clients import NATIONAL_ID_SCOPES
from idp.oidc.clients import SCOPES
from idp.oidc.clients import ClientMetadataError
from idp.oidc.clients import store_client
from idp.oidc.clients import update_client
from idp.oidc.clients import uses_secret
from idp.oidc.clients import validate_metadata
from idp.oidc.models import Client
from idp.oidc.models import InitialAccessToken
from idp.outbound import is_public_destination


@dataclass(frozen=True)
class IssuedToken:
    row: InitialAccessToken
    token: str  # shown once to the admin, who hands it to the agency


def issue_initial_token(db: Session, *, agency: str, allowed_scopes: list[str], max_ial: int, max_aal: int,
                        days: int, by: int | None = None) -> IssuedToken:
    """Let ``agency`` register e-Services for ``days``; only the hash is stored. Audited."""
    agency = agency.strip()
    if not agency:
        raise ValueError("agency")
    if max_ial not in (1, 2, 3) or max_aal not in (1, 2, 3) or not 1 <= days <= 366:
        raise ValueError("policy")
    token = random_token(32)
    row = InitialAccessToken(token_hash=hash_secret(token), agency=agency[:200],
                             allowed_scopes=sorted(set(allowed_scopes) | {"openid"}), max_ial=max_ial,
                             max_aal=max_aal, created_by=by, expires_at=utc_now() + dt.timedelta(days=days))
    db.add(row)
    db.flush()
    audit.record(db, audit.Event.INITIAL_TOKEN_ISSUED, commit=False, token_id=row.id, by=by)
    db.commit()
    return IssuedToken(row=row, token=token)


def revoke_initial_token(db: Session, row: InitialAccessToken, *, by: int | None = None) -> bool:
    """Stop new registrations with this token; clients already registered keep working."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utc_now()
    audit.record(db, audit.Event.INITIAL_TOKEN_REVOKED, commit=False, token_id=row.id, by=by)
    db.commit()
    return True


def find_initial_token(db: Session, token: str) -> InitialAccessToken | None:
    """The usable token with this value, else ``None`` (unknown, expired or revoked)."""
    row = db.scalar(select(InitialAccessToken).where(InitialAccessToken.token_hash == hash_secret(token)))
    return row if row is not None and row.usable() else None


# -- the automatic approval policy --------------------------------------------------------------

REDIRECT_URI_NOT_HTTPS = "redirect_uri_not_https"
METADATA_URI_NOT_HTTPS = "metadata_uri_not_https"
AUTH_METHOD_NOT_PRIVATE_KEY_JWT = "auth_method_not_private_key_jwt"
SCOPE_NOT_ALLOWED = "scope_not_allowed"
ASSURANCE_ABOVE_AGENCY_LIMIT = "assurance_above_agency_limit"
NATIONAL_ID_NEEDS_OPERATOR = "national_id_needs_operator"
NO_AGENCY_POLICY = "no_agency_policy"
METADATA_URI_INTERNAL = "metadata_uri_internal"
SECTOR_OF_ANOTHER_AGENCY = "sector_of_another_agency"
BACKCHANNEL_URI_NOT_PUBLIC = "backchannel_logout_uri_not_public"
HIGH_VALUE_SCOPE_NEEDS_FAPI = "high_value_scope_needs_fapi"

REASONS: dict[str, LazyString] = {
    REDIRECT_URI_NOT_HTTPS: _l("A redirect or post-logout redirect URI does not use https (an http address on "
                               "this computer is meant for development)."),
    METADATA_URI_NOT_HTTPS: _l("The jwks_uri or sector_identifier_uri, which this server fetches, does not use "
                               "https."),
    AUTH_METHOD_NOT_PRIVATE_KEY_JWT: _l("The e-Service authenticates with a client secret or not at all, "
                                        "not with a signed key (private_key_jwt)."),
    SCOPE_NOT_ALLOWED: _l("It asks for scopes outside those the agency's initial access token allows."),
    ASSURANCE_ABOVE_AGENCY_LIMIT: _l("Its default assurance level (default_acr_values) is above the IAL or AAL "
                                     "the agency's initial access token allows."),
    NATIONAL_ID_NEEDS_OPERATOR: _l("It asked for the national ID number, which was left out of what it registered. "
                                   "Approving does not grant it: allow it on the e-Service's edit page only if "
                                   "the agency is entitled to it by law."),
    METADATA_URI_INTERNAL: _l("The host of the jwks_uri or sector_identifier_uri, which this server fetches, "
                              "resolves to an address that is not on the public internet (loopback, private, "
                              "link-local or reserved, in any spelling), or does not resolve at all."),
    SECTOR_OF_ANOTHER_AGENCY: _l("Its pairwise sector (the host of its sector_identifier_uri, or of its redirect "
                                 "URIs) is already used by an e-Service of another agency, or it asks for public "
                                 "subject identifiers that another agency's e-Service has: approving it gives "
                                 "both the same subject identifier (sub) for every person. Approve only if they "
                                 "belong to one agency."),
    BACKCHANNEL_URI_NOT_PUBLIC: _l("The backchannel_logout_uri, to which this server posts logout tokens, does not "
                                   "use https, or its host resolves to an address that is not on the public "
                                   "internet, or does not resolve at all."),
    HIGH_VALUE_SCOPE_NEEDS_FAPI: _l("It asks for a scope the operator marked as high value (such as the national ID "
                                    "number) without registering for the FAPI 2.0 profile (fapi_profile \"fapi2\"); "
                                    "only FAPI 2.0 e-Services are approved automatically for such scopes."),
    NO_AGENCY_POLICY: _l("The initial access token it was registered with no longer exists, so there is no "
                         "agency policy to check it against."),
}


@dataclass(frozen=True)
class AgencyPolicy:
    """What an agency's initial access token lets it register without an admin."""

    allowed_scopes: frozenset[str]
    max_ial: int
    max_aal: int

    @classmethod
    def of(cls, row: InitialAccessToken) -> AgencyPolicy:
        return cls(allowed_scopes=frozenset(row.allowed_scopes), max_ial=row.max_ial, max_aal=row.max_aal)


def review_reasons(metadata: Mapping[str, Any], *, policy: AgencyPolicy | None,
                   national_id_requested: bool = False, joins_foreign_sector: bool = False,
                   high_value_scopes: frozenset[str] = frozenset()) -> list[str]:
    """Why validated ``metadata`` cannot be approved automatically; empty when it can.

    Pure but for resolving the hosts of the URIs this server fetches, so the policy reads as one
    table in its unit test. Loopback http redirect URIs are valid metadata (RFC 8252 §7.3) but
    belong on a developer's machine, not in a live e-Service, and ``private_key_jwt`` is the only
    client authentication with no shared secret to leak. Fetched URIs are judged by the address
    their host resolves to (:func:`idp.outbound.is_public_destination`), never by their text, and
    strictly: the development allowance for loopback never approves anything by itself.

    :param national_id_requested: the request asked for the ``national_id`` scope, which was left
        out of ``metadata`` because only the operator grants it
    :param joins_foreign_sector: it would share its ``sub`` values with another agency's client
        (:func:`idp.oidc.sectors.foreign_sharers`, OIDC Core §8.1)
    :param high_value_scopes: the operator's ``FAPI_HIGH_VALUE_SCOPES``: asking for one (even one
        set aside, as ``national_id``) needs ``fapi_profile: "fapi2"``
    """
    if policy is None:
        return [NO_AGENCY_POLICY]
    reasons = []
    uris = [*metadata.get("redirect_uris", []), *metadata.get("post_logout_redirect_uris", [])]
    if any(urlsplit(u).scheme != "https" for u in uris):
        reasons.append(REDIRECT_URI_NOT_HTTPS)
    fetched = [metadata.get(k) for k in ("jwks_uri", "sector_identifier_uri")]
    if any(u and urlsplit(u).scheme != "https" for u in fetched):
        reasons.append(METADATA_URI_NOT_HTTPS)
    if any(u and not is_public_destination(u) for u in fetched):
        reasons.append(METADATA_URI_INTERNAL)
    backchannel = metadata.get("backchannel_logout_uri")
    if backchannel and (urlsplit(backchannel).scheme != "https" or not is_public_destination(backchannel)):
        reasons.append(BACKCHANNEL_URI_NOT_PUBLIC)
    if metadata.get("token_endpoint_auth_method") != "private_key_jwt":
        reasons.append(AUTH_METHOD_NOT_PRIVATE_KEY_JWT)
    # national_id is here only when the operator already allowed it; requests for it have their own reason.
    scopes = set(str(metadata.get("scope", "")).split()) - set(NATIONAL_ID_SCOPES)
    if not scopes <= policy.allowed_scopes:
        reasons.append(SCOPE_NOT_ALLOWED)
    # ETDA values are judged by the NIST level they imply (IAL 2.3 → IAL2), the agency's limit's terms.
    levels = [parse_requirement(v) for v in metadata.get("default_acr_values", [])]
    if any(lv is None or lv.nist_ial > policy.max_ial or lv.nist_aal > policy.max_aal for lv in levels):
        reasons.append(ASSURANCE_ABOVE_AGENCY_LIMIT)
    if national_id_requested:
        reasons.append(NATIONAL_ID_NEEDS_OPERATOR)
    if joins_foreign_sector:
        reasons.append(SECTOR_OF_ANOTHER_AGENCY)
    asked = set(str(metadata.get("scope", "")).split()) | ({"national_id"} if national_id_requested else set())
    if asked & high_value_scopes and metadata.get("fapi_profile") != "fapi2":
        reasons.append(HIGH_VALUE_SCOPE_NEEDS_FAPI)
    return reasons


def describe_reason(code: str) -> str:
    """A review reason in the admin's language (needs an app context for the translation)."""
    if code in REASONS:
        return str(REASONS[code])
    return str(_l("Needs review (%(code)s).", code=code))


# -- registering, reading, updating and deleting (RFC 7591 §3, RFC 7592 §2) -------------------------

# RFC 7592 §2.2: "The client MUST NOT include the registration_access_token, registration_client_uri,
# client_secret_expires_at, or client_id_issued_at fields in the request".
READ_ONLY_FIELDS = ("registration_access_token", "registration_client_uri", "client_secret_expires_at",
                    "client_id_issued_at")


@dataclass(frozen=True)
class Registration:
    client: Client
    client_secret: str | None  # only when one was issued now
    registration_access_token: str


def _prepare(raw: Mapping[str, Any], policy: AgencyPolicy | None, *,
             national_id_allowed: bool) -> tuple[dict[str, Any], bool]:
    """The request to validate, and whether it asked for ``national_id`` the operator has not allowed.

    That scope is a question for an admin, not a malformed request, so it is set aside and becomes a
    review reason. Without ``scope`` the client gets what its agency may have (RFC 7591 §2: "If
    omitted, an authorization server MAY register a client with a default set of scopes").
    """
    raw = dict(raw)
    scope = raw.get("scope")
    if scope is None and policy is not None:
        raw["scope"] = " ".join(s for s in SCOPES if s in policy.allowed_scopes and s not in NATIONAL_ID_SCOPES)
    elif isinstance(scope, str) and not national_id_allowed and set(NATIONAL_ID_SCOPES) & set(scope.split()):
        raw["scope"] = " ".join(s for s in scope.split() if s not in NATIONAL_ID_SCOPES)
        return raw, True
    return raw, False


def register_client(db: Session, raw: Mapping[str, Any], *, initial_token: InitialAccessToken,
                    high_value_scopes: frozenset[str] = frozenset()) -> Registration:
    """Validate and store a dynamic registration, active at once only within the agency's policy.

    :raises ClientMetadataError: the metadata is invalid (RFC 7591 §3.2.2)
    """
    policy = AgencyPolicy.of(initial_token)
    prepared, national_id = _prepare(raw, policy, national_id_allowed=False)
    metadata = validate_metadata(prepared, national_id_allowed=False)
    foreign = bool(sectors.foreign_sharers(db, metadata, agency=initial_token.agency))
    reasons = review_reasons(metadata, policy=policy, national_id_requested=national_id, joins_foreign_sector=foreign,
                             high_value_scopes=high_value_scopes)
    status = "pending" if reasons else "active"
    new = store_client(db, metadata, status=status, review_reasons=reasons, initial_token=initial_token,
                       commit=False)
    token = random_token(32)
    new.client.registration_access_token_hash = hash_secret(token)
    # store_client's client_created has the status; this one keeps why, which approval clears from the row.
    audit.record(db, audit.Event.CLIENT_REGISTERED, client_id=new.client.id, commit=False, status=status,
                 reasons=reasons, initial_token=initial_token.id)
    db.commit()
    return Registration(client=new.client, client_secret=new.client_secret, registration_access_token=token)


def find_registered_client(db: Session, *, client_id: str, registration_access_token: str) -> Client | None:
    """The client this registration access token manages, if it is ``client_id``; else ``None``.

    Looked up by the token's hash, so an unknown client and a wrong token take the same path
    (RFC 7592 §2.1: do not reveal whether the client exists).
    """
    if not registration_access_token:
        return None
    client = db.scalar(select(Client).where(
        Client.registration_access_token_hash == hash_secret(registration_access_token)))
    if client is None or not hmac.compare_digest(client.client_id.encode(), client_id.encode()):
        return None
    return client


def update_registration(db: Session, client: Client, raw: Mapping[str, Any], *,
                        high_value_scopes: frozenset[str] = frozenset()) -> str | None:
    """RFC 7592 §2.2: replace the metadata, then apply the agency's policy again.

    An active client whose new metadata is outside the policy waits for an admin again; a pending one
    that now fits is approved; a disabled one (stopped by an admin) stays disabled. Returns a new
    client secret when the client newly needs one.

    :raises ClientMetadataError: invalid metadata, a wrong ``client_id`` or ``client_secret``, or a
        read-only field in the request
    """
    if raw.get("client_id") != client.client_id:
        raise ClientMetadataError("invalid_client_metadata", "client_id must be given and match this client.")
    sent = [f for f in READ_ONLY_FIELDS if f in raw]
    if sent:
        raise ClientMetadataError("invalid_client_metadata", f"{sent[0]} cannot be sent in an update.")
    secret = raw.get("client_secret")
    if secret is not None and not (isinstance(secret, str) and client.client_secret_hash
                                   and check_secret(secret, expected_hash=client.client_secret_hash)):
        raise ClientMetadataError("invalid_client_metadata", "client_secret does not match the current one.")
    policy = AgencyPolicy.of(client.initial_token) if client.initial_token else None
    allowed = bool(client.client_metadata.get("national_id_allowed"))
    prepared, national_id = _prepare(raw, policy, national_id_allowed=allowed)
    metadata = validate_metadata(prepared, national_id_allowed=allowed)  # update_client validates too
    # A client already active in its sector stays; one that moves, or still waits, is judged again.
    joining = sectors.joins(metadata, client=client) or client.status != "active"
    foreign = joining and bool(sectors.foreign_sharers(
        db, metadata, agency=client.initial_token.agency if client.initial_token else None, exclude=client))
    new_secret = update_client(db, client, prepared, commit=False)
    reasons = review_reasons(client.client_metadata, policy=policy, national_id_requested=national_id,
                             joins_foreign_sector=foreign, high_value_scopes=high_value_scopes)
    _apply_policy(db, client, reasons)
    db.commit()
    return new_secret


def _apply_policy(db: Session, client: Client, reasons: list[str]) -> None:
    client.review_reasons = reasons
    if client.status == "disabled":
        return
    status = "pending" if reasons else "active"
    if status != client.status:
        event = audit.Event.CLIENT_HELD_FOR_REVIEW if status == "pending" else audit.Event.CLIENT_APPROVED
        audit.record(db, event, client_id=client.id, commit=False, reasons=reasons, automatic=True)
        client.status = status


def delete_registration(db: Session, client: Client) -> None:
    """RFC 7592 §2.3: the client goes, and with it (by cascade) its codes, tokens and consents."""
    audit.record(db, audit.Event.CLIENT_DELETED, client_id=client.id, commit=False, status=client.status,
                 initial_token=client.initial_token_id)
    db.delete(client)
    db.commit()


def client_information(client: Client) -> dict[str, Any]:
    """RFC 7591 §3.2.1 response body without the registration token and URI (the view adds those).

    ``status`` and ``review_reasons`` are ours: a pending client is refused until an admin approves it.
    """
    body: dict[str, Any] = {**client.client_metadata, "client_id": client.client_id,
                            "client_id_issued_at": int(client.created_at.timestamp()), "status": client.status}
    if uses_secret(client.client_metadata):
        body["client_secret_expires_at"] = 0  # RFC 7591 §3.2.1: REQUIRED with a secret; 0 = never
    if client.status == "pending":
        body["review_reasons"] = list(client.review_reasons)
    return body
