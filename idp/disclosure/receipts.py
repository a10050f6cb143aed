"""Consent receipts: a signed record of each consent given or withdrawn, for the person to keep.

The receipt is a JWT (``typ: consent-receipt+jwt``) signed with the IdP's signing key (``kid``
in the published JWKS), whose claims are the fields of the Kantara Initiative Consent Receipt
Specification v1.1 (the JSON form of the notice-and-consent record of ISO/IEC 29184):
``version``, ``jurisdiction``, ``consentTimestamp``, ``collectionMethod``, ``consentReceiptID``,
``language``, ``piiPrincipalId``, ``piiControllers``, ``policyUrl``, ``services`` (each with its
``purposes``), ``sensitive`` and ``spiCat``; plus ``iss``/``iat``/``jti`` and the members this
IdP adds (``consentState``, ``dataItems``, ``withdrawalUrl``, ``receiptIssuer``, ``client_id``).
``docs/privacy.md`` shows one.

The PII principal is named by the pairwise ``sub`` the e-Service knows, never by email; the
PII controller is the e-Service's agency; the IdP is the party issuing the receipt.
Verification (:func:`verify`) needs no Flask and no database: only the JWKS.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flask import current_app
from flask import url_for
from flask_babel import get_locale
from joserfc import jws
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import User
from idp.disclosure.models import ConsentReceipt
from idp.oidc.claims import NATIONAL_ID
from idp.oidc.claims import SCOPE_CLAIMS
from idp.oidc.models import Client
from idp.oidc.sectors import agency_of
from idp.oidc.subjects import subject_for

TYP = "consent-receipt+jwt"
VERSION = "KI-CR-v1.1.0"
JURISDICTION = "TH"  # PDPA B.E. 2562
ALGORITHM = "RS256"
ALGORITHMS = ("RS256", "ES256")


class State(StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"


COLLECTION_METHOD = {
    State.GIVEN: "Web form: the consent page of the Digital ID, shown during an OpenID Connect sign-in "
                 "requested by the e-Service",
    State.WITHDRAWN: "Web form: the person withdrew consent on the Connected e-Services page of the Digital ID",
}


# -- issuing --------------------------------------------------------------------------------------


def data_items(items: list[str]) -> list[str]:
    """Consent items (scopes and ``claim:NAME``) as the claim names they release."""
    names: set[str] = set()
    for item in items:
        if item.startswith("claim:"):
            names.add(item[6:])
        else:
            names.update(SCOPE_CLAIMS.get(item, ()))
    return sorted(names)


def build(*, receipt_id: str, state: State, user: User, client: Client, items: list[str], now: dt.datetime,
          issuer: str, issuer_name: str, withdrawal_url: str, policy_url: str, language: str) -> dict[str, Any]:
    """The receipt's claims (see the module docstring). Pure: everything is handed in."""
    timestamp = int(now.timestamp())
    contacts = [str(c) for c in client.client_metadata.get("contacts") or [] if c]
    policy = str(client.client_metadata.get("policy_uri") or policy_url)
    controller: dict[str, Any] = {
        "piiController": agency_of(client) or client.name,
        "onBehalf": False,
        # RFC 7591 ``contacts`` when the agency registered them; otherwise where its notice is.
        "contact": contacts[0] if contacts else policy,
    }
    if contacts:
        controller["email"] = contacts[0]
    if client.client_metadata.get("client_uri"):
        controller["piiControllerUrl"] = str(client.client_metadata["client_uri"])
    names = data_items(items)
    sensitive = sorted({NATIONAL_ID} & set(names))
    return {
        "iss": issuer,
        "iat": timestamp,
        "jti": receipt_id,
        "version": VERSION,
        "jurisdiction": JURISDICTION,
        "consentTimestamp": timestamp,
        "collectionMethod": COLLECTION_METHOD[state],
        "consentReceiptID": receipt_id,
        "language": language,
        "piiPrincipalId": subject_for(user, client),
        "piiControllers": [controller],
        "policyUrl": policy,
        "services": [{
            "service": client.name,
            "purposes": [{
                "purpose": f"Sign in to {client.name} and provide it with the identity information it needs "
                           "for its service",
                "purposeCategory": ["1 - Core Function"],
                "consentType": "EXPLICIT",
                "piiCategory": sorted(items),
                "primaryPurpose": True,
                "termination": f"Until withdrawn at {withdrawal_url}",
                "thirdPartyDisclosure": False,
            }],
        }],
        "sensitive": bool(sensitive),
        "spiCat": sensitive,
        # This IdP's members: the state recorded, the claims covered, how to withdraw, who issued it.
        "consentState": str(state),
        "dataItems": names,
        "withdrawalUrl": withdrawal_url,
        "receiptIssuer": {"name": issuer_name, "url": issuer},
        "client_id": client.client_id,
    }


def issue(db: Session, *, user: User, client: Client, items: list[str], state: State,
          now: dt.datetime) -> ConsentReceipt:
    """Sign and store a receipt (not committed: it goes with the consent's own change)."""
    cfg = current_app.config
    receipt_id = str(uuid.uuid4())
    language = str(get_locale() or cfg["BABEL_DEFAULT_LOCALE"])
    claims = build(receipt_id=receipt_id, state=state, user=user, client=client, items=items, now=now,
                   issuer=cfg["ISSUER"], issuer_name=str(cfg["SERVICE_NAME"]),
                   withdrawal_url=url_for("accounts.connected_services", _external=True),
                   policy_url=url_for("catalogue.index", _external=True), language=language)
    key = current_app.extensions["idp.keyring"].signing_key(ALGORITHM)
    token = jwt.encode({"alg": ALGORITHM, "typ": TYP, "kid": key.kid}, claims, key)
    row = ConsentReceipt(receipt_id=receipt_id, user_id=user.id, client_id=client.id, service_name=client.name[:200],
                         state=str(state), items=sorted(set(items)), issued_at=now, jws=token)
    db.add(row)
    return row


def list_receipts(db: Session, user_id: int) -> list[ConsentReceipt]:
    return list(db.scalars(select(ConsentReceipt).where(ConsentReceipt.user_id == user_id)
                           .order_by(ConsentReceipt.issued_at.desc(), ConsentReceipt.id.desc())))


def find_receipt(db: Session, user_id: int, receipt_id: str) -> ConsentReceipt | None:
    """The person's own receipt by its id; someone else's is not found."""
    return db.scalar(select(ConsentReceipt).where(ConsentReceipt.receipt_id == receipt_id[:36],
                                                  ConsentReceipt.user_id == user_id))


def as_json(row: ConsentReceipt) -> str:
    """The ``.json`` download: the JWS and, for reading, what it says (the JWS is what counts)."""
    return json.dumps({"consent_receipt": row.jws, "claims": payload_of(row.jws)}, ensure_ascii=False, indent=2)


def payload_of(token: str) -> dict[str, Any]:
    """The claims of a receipt the IdP issued itself (not verified: for display only)."""
    value = json.loads(jws.extract_compact(token.encode("ascii")).payload)
    return value if isinstance(value, dict) else {}


# -- verifying ------------------------------------------------------------------------------------


class ReceiptError(ValueError):
    """The file is not a valid consent receipt for these keys; the message says why."""


class NotAReceipt(ReceiptError):
    pass


class UnknownKey(ReceiptError):
    pass


class BadSignature(ReceiptError):
    pass


@dataclass(frozen=True)
class Verified:
    kid: str
    alg: str
    claims: dict[str, Any]


def receipt_token(text: str) -> str:
    """The compact JWS in a downloaded file: a ``.jws`` holds it alone, a ``.json`` in ``consent_receipt``."""
    text = text.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise NotAReceipt("the file is not valid JSON") from exc
        token = document.get("consent_receipt") if isinstance(document, dict) else None
        if not isinstance(token, str):
            raise NotAReceipt("the JSON file has no \"consent_receipt\" member holding a JWS")
        return token.strip()
    return text


def verify(text: str, jwks: Mapping[str, Any]) -> Verified:
    """Check a receipt (``.jws`` or ``.json`` file content) against a JWKS, offline.

    :raises NotAReceipt: not a compact JWS, not ``typ: consent-receipt+jwt``, or missing the
        receipt's fields
    :raises UnknownKey: no key in the JWKS has the receipt's ``kid``
    :raises BadSignature: the signature does not match (the receipt was changed, or another key signed it)
    """
    token = receipt_token(text)
    try:
        obj = jws.extract_compact(token.encode("ascii"))
        header = obj.headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise NotAReceipt("the file does not hold a JWS in compact serialization") from exc
    if header.get("typ") != TYP:
        raise NotAReceipt(f"the JWS is not a consent receipt (typ is {header.get('typ')!r}, not {TYP!r})")
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS:
        raise NotAReceipt(f"the receipt is signed with {alg!r}; only {', '.join(ALGORITHMS)} are accepted")
    if not isinstance(kid, str):
        raise UnknownKey("the receipt names no key (kid)")
    try:
        keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ReceiptError("the JWKS is not a valid JSON Web Key Set") from exc
    try:
        key = keys.get_by_kid(kid)
    except (JoseError, ValueError) as exc:
        raise UnknownKey(f"no key with kid {kid!r} in the JWKS") from exc
    try:
        valid = jws.validate_compact(obj, key, algorithms=[alg])
    except JoseError as exc:
        raise BadSignature(f"the signature could not be checked with key {kid!r}: {exc.description or exc}") from exc
    if not valid:
        raise BadSignature(f"bad signature: the receipt was changed after signing, or key {kid!r} did not sign it")
    try:
        claims = json.loads(obj.payload)
    except ValueError as exc:
        raise NotAReceipt("the signed content is not JSON") from exc
    if not isinstance(claims, dict) or not str(claims.get("version", "")).startswith("KI-CR-") \
            or not claims.get("consentReceiptID"):
        raise NotAReceipt("the signed content is not a consent receipt (no version or consentReceiptID)")
    return Verified(kid=kid, alg=alg, claims=claims)


def summary(claims: Mapping[str, Any]) -> dict[str, Any]:
    """What a person wants to read from a receipt, in the CLI's ``key: value`` lines."""
    controllers = claims.get("piiControllers") or [{}]
    services = claims.get("services") or [{}]
    when = claims.get("consentTimestamp")
    return {
        "receipt_id": claims.get("consentReceiptID"),
        "state": claims.get("consentState"),
        "time": dt.datetime.fromtimestamp(int(when), dt.UTC).isoformat() if isinstance(when, int) else when,
        "e_service": services[0].get("service") if isinstance(services[0], dict) else None,
        "controller": controllers[0].get("piiController") if isinstance(controllers[0], dict) else None,
        "principal": claims.get("piiPrincipalId"),
        "data_items": " ".join(claims.get("dataItems") or []),
        "issuer": claims.get("iss"),
        "jurisdiction": claims.get("jurisdiction"),
    }
