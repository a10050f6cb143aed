"""A software WebAuthn authenticator for tests: the JSON options py_webauthn emits in, the JSON a
browser's ``PublicKeyCredential.toJSON()`` gives out. Built on python-fido2's data classes.

Each switch simulates what a real device or an attacker could do: no user verification, a
syncable (backup-eligible) key, a counter forced backwards (a clone), another origin, attestation
``none``, ``packed`` with a certificate chain, or ``self`` (packed without x5c).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fido2.cose import ES256
from fido2.utils import sha256
from fido2.utils import websafe_decode
from fido2.utils import websafe_encode
from fido2.webauthn import AttestationObject
from fido2.webauthn import AttestedCredentialData
from fido2.webauthn import AuthenticatorData
from fido2.webauthn import CollectedClientData

FLAG = AuthenticatorData.FLAG
AAGUID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
TEST_AAGUID = uuid.UUID("5eed0000-7e57-4a11-8000-000000000001").bytes


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


@dataclass
class AttestationCA:
    """A test root and one attestation certificate under it, as a vendor bakes into a key model."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, aaguid: bytes | None = TEST_AAGUID, *, vendor: str = "Soft Keys") -> AttestationCA:
        """``aaguid`` None leaves out the FIDO AAGUID extension."""
        now = dt.datetime.now(dt.UTC)
        root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
                               x509.NameAttribute(NameOID.ORGANIZATION_NAME, vendor),
                               x509.NameAttribute(NameOID.COMMON_NAME, f"{vendor} Root CA")])
        root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
                .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False, key_agreement=False,
                                             key_cert_sign=True, crl_sign=True, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(root_key, hashes.SHA256()))
        # WebAuthn §8.2.1: C, O, OU "Authenticator Attestation", CN; not a CA.
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, vendor),
                             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"{vendor} Attestation")])
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(root_name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
        if aaguid is not None:
            builder = builder.add_extension(x509.UnrecognizedExtension(AAGUID_OID, b"\x04\x10" + aaguid),
                                            critical=False)
        return cls(root_key, root, key, builder.sign(root_key, hashes.SHA256()))

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(Encoding.PEM)


def _public_key(options: str | dict[str, Any]) -> dict[str, Any]:
    data = json.loads(options) if isinstance(options, str) else options
    return data.get("publicKey", data)


class SoftAuthenticator:
    """``credentials`` maps credential id bytes to dict(rp_id, user_handle, key, counter, resident)."""

    def __init__(self, origin: str = "http://localhost", *, user_verified: bool = True,
                 backup_eligible: bool = False, attestation: str = "none", ca: AttestationCA | None = None,
                 aaguid: bytes = TEST_AAGUID) -> None:
        if attestation not in ("none", "packed", "self"):
            raise ValueError(attestation)
        self.origin, self.user_verified, self.backup_eligible = origin, user_verified, backup_eligible
        self.attestation, self.aaguid = attestation, aaguid
        self.ca = ca or (AttestationCA.create(aaguid) if attestation == "packed" else None)
        self.credentials: dict[bytes, dict[str, Any]] = {}

    def _flags(self) -> AuthenticatorData.FLAG:
        flags = FLAG.UP | (FLAG.UV if self.user_verified else 0)
        return flags | (FLAG.BE | FLAG.BS if self.backup_eligible else 0)

    def create(self, options: str | dict[str, Any], *, origin: str | None = None,
               credential_id: bytes | None = None) -> dict[str, Any]:
        """navigator.credentials.create(); ``credential_id`` forces an id (a misbehaving device)."""
        pk = _public_key(options)
        if not any(p["alg"] == -7 for p in pk["pubKeyCredParams"]):
            raise ValueError("NotSupportedError: only ES256")
        rp_id = pk["rp"]["id"]
        excluded = {websafe_decode(c["id"]) for c in pk.get("excludeCredentials") or []}
        if credential_id is None and excluded & set(self.credentials):
            raise LookupError("InvalidStateError: already registered")
        selection = pk.get("authenticatorSelection") or {}
        resident = (selection.get("residentKey") in ("required", "preferred")
                    or bool(selection.get("requireResidentKey")))
        cred_id, key = credential_id or os.urandom(32), ec.generate_private_key(ec.SECP256R1())
        self.credentials[cred_id] = {"rp_id": rp_id, "key": key, "counter": 0, "resident": resident,
                                     "user_handle": websafe_decode(pk["user"]["id"])}
        client_data = CollectedClientData.create("webauthn.create", pk["challenge"], origin or self.origin)
        acd = AttestedCredentialData.create(self.aaguid, cred_id, ES256.from_cryptography_key(key.public_key()))
        auth_data = AuthenticatorData.create(sha256(rp_id.encode()), self._flags() | FLAG.AT, 0, acd)
        signed = bytes(auth_data) + client_data.hash
        if self.attestation == "packed":
            assert self.ca is not None
            stmt: dict[str, Any] = {"alg": -7, "sig": _sign(self.ca.key, signed),
                                    "x5c": [self.ca.cert.public_bytes(Encoding.DER)]}
        elif self.attestation == "self":
            stmt = {"alg": -7, "sig": _sign(key, signed)}
        else:
            stmt = {}
        fmt = "none" if self.attestation == "none" else "packed"
        return {"id": websafe_encode(cred_id), "rawId": websafe_encode(cred_id), "type": "public-key",
                "authenticatorAttachment": "cross-platform", "clientExtensionResults": {},
                "response": {"clientDataJSON": websafe_encode(client_data),
                             "attestationObject": websafe_encode(AttestationObject.create(fmt, auth_data, stmt)),
                             "transports": ["usb", "internal"]}}

    def get(self, options: str | dict[str, Any], *, origin: str | None = None, credential_id: bytes | None = None,
            user_handle: bytes | None = None) -> dict[str, Any]:
        """navigator.credentials.get(): empty allowCredentials offers only resident credentials."""
        pk = _public_key(options)
        rp_id = pk["rpId"]
        allowed = {websafe_decode(c["id"]) for c in pk.get("allowCredentials") or []}
        matches = [cid for cid, c in self.credentials.items() if c["rp_id"] == rp_id
                   and (cid in allowed if allowed else c["resident"])
                   and (credential_id is None or cid == credential_id)]
        if not matches:
            raise LookupError(f"NotAllowedError: no credential for {rp_id}")
        cred_id = matches[0]
        cred = self.credentials[cred_id]
        cred["counter"] += 1
        client_data = CollectedClientData.create("webauthn.get", pk["challenge"], origin or self.origin)
        auth_data = AuthenticatorData.create(sha256(rp_id.encode()), self._flags(), cred["counter"])
        handle = user_handle if user_handle is not None else (cred["user_handle"] if cred["resident"] else None)
        return {"id": websafe_encode(cred_id), "rawId": websafe_encode(cred_id), "type": "public-key",
                "authenticatorAttachment": "cross-platform", "clientExtensionResults": {},
                "response": {"clientDataJSON": websafe_encode(client_data),
                             "authenticatorData": websafe_encode(auth_data),
                             "signature": websafe_encode(_sign(cred["key"], bytes(auth_data) + client_data.hash)),
                             "userHandle": websafe_encode(handle) if handle is not None else None}}
