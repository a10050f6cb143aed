"""WebAuthn ceremonies: passkeys (AAL2 alone) and security keys (a second factor), on py_webauthn.

The challenge travels as a small state dict the caller keeps in the signed session cookie; the
server still refuses a second use of it (``UsedAssertion``), so a copied cookie cannot replay.
Only an attestation that chains to an operator-configured root, on a key that cannot be synced
and that verified the user, is ``hardware_bound`` (the AAL3 requirement).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from webauthn import generate_authentication_options
from webauthn import generate_registration_options
from webauthn import options_to_json
from webauthn import verify_authentication_response
from webauthn import verify_registration_response
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers import parse_attestation_object
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers import parse_registration_credential_json
from webauthn.helpers import validate_certificate_chain
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import AttestationConveyancePreference
from webauthn.helpers.structs import AttestationFormat
from webauthn.helpers.structs import AuthenticatorSelectionCriteria
from webauthn.helpers.structs import CredentialDeviceType
from webauthn.helpers.structs import PublicKeyCredentialDescriptor
from webauthn.helpers.structs import RegistrationCredential
from webauthn.helpers.structs import ResidentKeyRequirement
from webauthn.helpers.structs import UserVerificationRequirement

from idp import audit
from idp import clock
from idp.accounts.models import User
from idp.assurance.policy import WEBAUTHN
from idp.assurance.policy import Factor
from idp.authn.models import WebAuthnCredential
from idp.crypto import random_token
from idp.oidc.models import UsedAssertion

Config = Mapping[str, Any]
ALGS = [COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.EDDSA,
        COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256]
# Formats whose certificate chain py_webauthn checks against roots we pass.
CHAINED_FORMATS = (AttestationFormat.PACKED, AttestationFormat.TPM, AttestationFormat.ANDROID_KEY,
                   AttestationFormat.FIDO_U2F, AttestationFormat.APPLE)
AAGUID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
KINDS = ("passkey", "security-key")
MALFORMED = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError)


class WebAuthnError(Exception):
    """A refused ceremony; ``code`` is stable, for messages and audit."""

    def __init__(self, code: str, detail: str = "", *, user_id: int | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.user_id = user_id  # the credential's owner, when known: told about a suspected clone


def rp_id(config: Config) -> str:
    return str(config.get("WEBAUTHN_RP_ID") or urlsplit(config["ISSUER"]).hostname)


def expected_origin(config: Config) -> str:
    if config.get("WEBAUTHN_ORIGIN"):
        return str(config["WEBAUTHN_ORIGIN"]).rstrip("/")
    parts = urlsplit(config["ISSUER"])
    return f"{parts.scheme}://{parts.netloc}"


def list_credentials(db: Session, user_id: int) -> list[WebAuthnCredential]:
    query = select(WebAuthnCredential).where(WebAuthnCredential.user_id == user_id).order_by(WebAuthnCredential.id)
    return list(db.scalars(query))


def _new_state(challenge: bytes, config: Config, **fields: Any) -> dict[str, Any]:
    exp = clock.timestamp() + int(config["WEBAUTHN_CHALLENGE_LIFETIME"])
    return {"challenge": bytes_to_base64url(challenge), **fields, "exp": exp}


def _consume(db: Session, state: dict[str, Any]) -> bytes:
    """The state's challenge, once: expired or already used ones are refused."""
    try:
        challenge, exp = base64url_to_bytes(state["challenge"]), float(state["exp"])
    except MALFORMED as exc:
        raise WebAuthnError("invalid", "malformed state") from exc
    if not math.isfinite(exp) or exp < clock.timestamp():
        raise WebAuthnError("expired")
    db.add(UsedAssertion(client_id="webauthn", jti=hashlib.sha256(challenge).hexdigest(),
                         expires_at=dt.datetime.fromtimestamp(exp, dt.UTC)))
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise WebAuthnError("replayed") from exc
    return challenge


def _refusal(exc: Exception, *, user_id: int | None = None) -> WebAuthnError:
    code = "uv_required" if "User verification is required" in str(exc) else "invalid"
    return WebAuthnError(code, str(exc), user_id=user_id)


def registration_options(db: Session, user: User, *, kind: str, config: Config) -> tuple[str, dict[str, Any]]:
    """A passkey must verify the user (it stands alone for AAL2); a security key follows a password.
    Direct attestation lets trusted hardware be recognised for AAL3."""
    if kind not in KINDS:
        raise ValueError(f"unknown WebAuthn credential kind {kind!r}")
    if user.webauthn_handle is None:
        user.webauthn_handle = random_token(32)
        db.commit()
    passkey = kind == "passkey"
    options = generate_registration_options(
        rp_id=rp_id(config), rp_name=config["SERVICE_NAME"], user_id=user.webauthn_handle.encode("ascii"),
        user_name=user.email, user_display_name=user.name or user.email,
        timeout=int(config["WEBAUTHN_CHALLENGE_LIFETIME"]) * 1000,
        attestation=AttestationConveyancePreference.DIRECT,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED if passkey else ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.REQUIRED if passkey
            else UserVerificationRequirement.DISCOURAGED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c.credential_id)
                             for c in list_credentials(db, user.id)],
        supported_pub_key_algs=ALGS)
    return options_to_json(options), _new_state(options.challenge, config, kind=kind, user_id=user.id)


def _trust_anchors(config: Config) -> list[bytes]:
    roots: list[bytes] = []
    for path in config.get("WEBAUTHN_TRUST_ANCHORS") or []:
        with open(path, "rb") as handle:
            roots += [c.public_bytes(Encoding.PEM) for c in x509.load_pem_x509_certificates(handle.read())]
    return roots


def _chains_to(attestation_object: bytes, aaguid: str, roots: list[bytes]) -> bool:
    """py_webauthn adds vendor roots for some formats and skips the check with none given, and
    packed without x5c is self attestation: so check the chain again against our roots only."""
    x5c = parse_attestation_object(attestation_object).att_stmt.x5c
    if not roots or not x5c:
        return False
    try:
        validate_certificate_chain(x5c=x5c, pem_root_certs_bytes=roots)
        leaf = x509.load_der_x509_certificate(x5c[0])
        marked = leaf.extensions.get_extension_for_oid(AAGUID_OID).value
    except x509.ExtensionNotFound:
        return True
    except MALFORMED:
        return False
    # An OCTET STRING wrapping the 16 bytes; it must name the model the authenticator claims.
    value = marked.value if isinstance(marked, x509.UnrecognizedExtension) else b""
    return value == b"\x04\x10" + bytes.fromhex(aaguid.replace("-", ""))


def verify_registration(db: Session, user: User, state: dict[str, Any], credential: str | dict[str, Any], *,
                        name: str, config: Config) -> WebAuthnCredential:
    """Stores the new credential; ``hardware_bound`` only for trusted, unsyncable, UV attestation."""
    if not isinstance(state, dict) or state.get("user_id") != user.id or state.get("kind") not in KINDS:
        raise WebAuthnError("invalid", "state of another user or ceremony")
    challenge = _consume(db, state)
    passkey = state["kind"] == "passkey"
    roots = _trust_anchors(config)
    try:
        parsed: RegistrationCredential = parse_registration_credential_json(credential)
        common: dict[str, Any] = dict(credential=parsed, expected_challenge=challenge, expected_rp_id=rp_id(config),
                                      expected_origin=expected_origin(config), require_user_verification=passkey,
                                      supported_pub_key_algs=ALGS)
        try:
            verified = verify_registration_response(
                **common, pem_root_certs_bytes_by_fmt=dict.fromkeys(CHAINED_FORMATS, roots) if roots else None)
            chained = bool(roots)
        except WebAuthnException:
            if not roots:
                raise
            verified, chained = verify_registration_response(**common), False
    except MALFORMED as exc:
        raise _refusal(exc) from exc
    if db.scalar(select(WebAuthnCredential.id).where(WebAuthnCredential.credential_id == verified.credential_id)):
        raise WebAuthnError("duplicate")
    backup_eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    allowed = {a.lower() for a in config.get("WEBAUTHN_AAGUIDS") or []}
    hardware_bound = (chained and verified.fmt != AttestationFormat.NONE and not backup_eligible
                      and verified.user_verified and (not allowed or verified.aaguid.lower() in allowed)
                      and _chains_to(verified.attestation_object, verified.aaguid, roots))
    row = WebAuthnCredential(
        user_id=user.id, name=name[:100], credential_id=verified.credential_id,
        public_key=verified.credential_public_key, sign_count=verified.sign_count,
        transports=[t.value for t in parsed.response.transports or []], aaguid=verified.aaguid,
        attestation_format=AttestationFormat(verified.fmt).value, discoverable=passkey,
        user_verifying=verified.user_verified, backup_eligible=backup_eligible, hardware_bound=hardware_bound)
    db.add(row)
    try:
        db.flush()
    except IntegrityError as exc:
        db.rollback()
        raise WebAuthnError("duplicate") from exc
    audit.record(db, audit.Event.WEBAUTHN_REGISTERED, user_id=user.id, credential=row.id, hardware_bound=hardware_bound)
    return row


def authentication_options(db: Session, user: User | None, *, config: Config,
                           user_verification: str = "required") -> tuple[str, dict[str, Any]]:
    """No user: a username-less passkey sign-in. A user: step-up or second factor with their keys."""
    allow: list[PublicKeyCredentialDescriptor] = []
    if user is not None:
        allow = [PublicKeyCredentialDescriptor(id=c.credential_id) for c in list_credentials(db, user.id)
                 if c.suspected_clone_at is None]
        if not allow:
            raise WebAuthnError("unknown_credential", "the user has no usable WebAuthn credential")
    options = generate_authentication_options(
        rp_id=rp_id(config), timeout=int(config["WEBAUTHN_CHALLENGE_LIFETIME"]) * 1000,
        allow_credentials=allow, user_verification=UserVerificationRequirement(user_verification))
    state = _new_state(options.challenge, config, user_id=user.id if user else None,
                       uv=user_verification == "required")
    return options_to_json(options), state


def verify_authentication(db: Session, state: dict[str, Any], credential: str | dict[str, Any], *,
                          config: Config) -> tuple[WebAuthnCredential, Factor]:
    """The credential used and the factor it proves; a counter going backwards flags a clone."""
    try:
        parsed = parse_authentication_credential_json(credential)
    except MALFORMED as exc:
        raise WebAuthnError("invalid", str(exc)) from exc
    challenge = _consume(db, state)
    cred = db.scalar(select(WebAuthnCredential).where(WebAuthnCredential.credential_id == parsed.raw_id))
    if cred is None:
        raise WebAuthnError("unknown_credential")
    if state.get("user_id") is not None:
        if cred.user_id != state["user_id"]:
            raise WebAuthnError("not_owner")
    else:
        owner = db.get(User, cred.user_id)
        handle = parsed.response.user_handle
        if owner is None or owner.webauthn_handle is None or handle != owner.webauthn_handle.encode("ascii"):
            raise WebAuthnError("not_owner", "user handle does not match")
    if cred.suspected_clone_at is not None:
        raise WebAuthnError("cloned")
    try:
        # Counter 0 here: py_webauthn would refuse a low counter before the signature is checked,
        # and only a signed counter may flag a clone (else anyone could disable a credential).
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=rp_id(config),
            expected_origin=expected_origin(config), credential_public_key=cred.public_key,
            credential_current_sign_count=0, require_user_verification=bool(state.get("uv", True)))
    except MALFORMED as exc:
        raise _refusal(exc, user_id=cred.user_id) from exc
    new = verified.new_sign_count
    if (new or cred.sign_count) and new <= cred.sign_count:
        cred.suspected_clone_at = clock.utc_now()
        audit.record(db, audit.Event.WEBAUTHN_CLONE_SUSPECTED, user_id=cred.user_id, credential=cred.id,
                     stored=cred.sign_count, seen=new)
        raise WebAuthnError("cloned", user_id=cred.user_id)
    cred.sign_count, cred.last_used_at = new, clock.utc_now()
    db.commit()
    uv = verified.user_verified
    return cred, Factor(WEBAUTHN, clock.timestamp(), uv=uv, hw=cred.hardware_bound and uv)
