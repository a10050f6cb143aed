"""WebAuthn service: registration, sign-in and the checks that keep AAL2/AAL3 honest."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn.helpers import bytes_to_base64url

from idp import clock
from idp.accounts.models import User
from idp.assurance.policy import Factor
from idp.audit.models import AuditEvent
from idp.authn import webauthn
from idp.authn.models import WebAuthnCredential
from idp.authn.webauthn import WebAuthnError
from tests.factories import make_user
from tests.support.soft_authenticator import TEST_AAGUID
from tests.support.soft_authenticator import AttestationCA
from tests.support.soft_authenticator import SoftAuthenticator


@pytest.fixture
def user(app: Flask, db: Session) -> User:
    found = db.get(User, make_user(app).id)
    assert found is not None
    return found


@pytest.fixture
def other(app: Flask, db: Session) -> User:
    found = db.get(User, make_user(app, "other@example.com").id)
    assert found is not None
    return found


@pytest.fixture
def ca(app: Flask, tmp_path: Path) -> AttestationCA:
    """A vendor root the operator trusts (configured as a trust anchor)."""
    authority = AttestationCA.create()
    path = tmp_path / "anchor.pem"
    path.write_bytes(authority.root_pem)
    app.config["WEBAUTHN_TRUST_ANCHORS"] = [str(path)]
    return authority


def register(db: Session, user: User, auth: SoftAuthenticator, app: Flask, *, kind: str = "passkey",
             **create: Any) -> WebAuthnCredential:
    options, state = webauthn.registration_options(db, user, kind=kind, config=app.config)
    return webauthn.verify_registration(db, user, state, auth.create(options, **create), name="My key",
                                        config=app.config)


def sign_in(db: Session, auth: SoftAuthenticator, app: Flask, *, user: User | None = None, uv: str = "required",
            **get: Any) -> tuple[WebAuthnCredential, Factor]:
    options, state = webauthn.authentication_options(db, user, config=app.config, user_verification=uv)
    return webauthn.verify_authentication(db, state, auth.get(options, **get), config=app.config)


def refused(code: str, fn: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(WebAuthnError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value


def _b64(raw: bytes) -> str:
    return bytes_to_base64url(raw)


def events(db: Session, name: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_rp_id_and_origin_follow_the_issuer(app: Flask) -> None:
    assert webauthn.rp_id({"ISSUER": "https://id.example.go.th:8443/idp"}) == "id.example.go.th"
    assert webauthn.expected_origin({"ISSUER": "https://id.example.go.th:8443/idp"}) == "https://id.example.go.th:8443"
    assert webauthn.rp_id(app.config) == "localhost"
    assert webauthn.expected_origin(app.config) == "http://localhost"
    config = {"ISSUER": "https://a.example", "WEBAUTHN_RP_ID": "example", "WEBAUTHN_ORIGIN": "https://b.example/"}
    assert (webauthn.rp_id(config), webauthn.expected_origin(config)) == ("example", "https://b.example")


def test_passkey_options_and_username_less_sign_in(app: Flask, db: Session, user: User) -> None:
    options, state = webauthn.registration_options(db, user, kind="passkey", config=app.config)
    body = json.loads(options)
    assert user.webauthn_handle
    assert body["user"]["name"] == "citizen@example.com" and body["user"]["displayName"] == "Somchai Jaidee"
    assert body["rp"] == {"id": "localhost", "name": app.config["SERVICE_NAME"]}
    assert body["attestation"] == "direct"
    assert body["authenticatorSelection"]["residentKey"] == "required"
    assert body["authenticatorSelection"]["userVerification"] == "required"
    assert {p["alg"] for p in body["pubKeyCredParams"]} == {-7, -8, -257}
    assert state["kind"] == "passkey" and state["user_id"] == user.id
    auth = SoftAuthenticator()
    cred = webauthn.verify_registration(db, user, state, auth.create(options), name="Phone", config=app.config)
    assert (cred.discoverable, cred.user_verifying, cred.hardware_bound, cred.backup_eligible) == (True, True, False,
                                                                                                 False)
    assert cred.aaguid == str(uuid.UUID(bytes=TEST_AAGUID)) and cred.attestation_format == "none"
    assert cred.transports == ["usb", "internal"] and cred.name == "Phone"
    assert webauthn.list_credentials(db, user.id) == [cred]

    options, state = webauthn.authentication_options(db, None, config=app.config)
    assert json.loads(options)["allowCredentials"] == [] and state["user_id"] is None and state["uv"] is True
    used, factor = webauthn.verify_authentication(db, state, auth.get(options), config=app.config)
    assert used.id == cred.id and used.sign_count == 1 and used.last_used_at is not None
    assert (factor.method, factor.uv, factor.hw) == ("webauthn", True, False)
    assert factor.at == pytest.approx(clock.timestamp(), abs=5)
    (event,) = events(db, "webauthn_registered")
    assert event.user_id == user.id and event.details == {"credential": cred.id, "hardware_bound": False}

    options, _ = webauthn.registration_options(db, user, kind="passkey", config=app.config)
    assert [c["id"] for c in json.loads(options)["excludeCredentials"]] == [_b64(cred.credential_id)]
    with pytest.raises(LookupError, match="InvalidStateError"):
        auth.create(options)  # the device refuses to register itself twice


def test_packed_attestation_to_a_trusted_root_is_hardware_bound(app: Flask, db: Session, user: User,
                                                                ca: AttestationCA) -> None:
    auth = SoftAuthenticator(attestation="packed", ca=ca)
    cred = register(db, user, auth, app)
    assert cred.hardware_bound and cred.attestation_format == "packed"
    assert events(db, "webauthn_registered")[0].details["hardware_bound"] is True
    _, factor = sign_in(db, auth, app)
    assert factor.uv and factor.hw
    auth.user_verified = False  # a touch without PIN: still a hardware key, but not AAL3 on its own
    _, factor = sign_in(db, auth, app, user=user, uv="discouraged")
    assert not factor.uv and not factor.hw


@pytest.mark.parametrize("auth_kwargs", [
    pytest.param({"attestation": "none"}, id="none"),
    pytest.param({"attestation": "self"}, id="self-attestation"),
    pytest.param({"attestation": "packed", "ca": "untrusted"}, id="untrusted-root"),
    pytest.param({"attestation": "packed", "backup_eligible": True}, id="backup-eligible"),
    pytest.param({"attestation": "packed", "ca": "wrong-aaguid"}, id="certificate-names-another-model"),
])
def test_other_attestations_are_not_hardware_bound(app: Flask, db: Session, user: User, ca: AttestationCA,
                                                   auth_kwargs: dict[str, Any]) -> None:
    if auth_kwargs.get("ca") == "untrusted":
        auth_kwargs["ca"] = AttestationCA.create(vendor="Unknown Vendor")
    elif auth_kwargs.get("ca") == "wrong-aaguid":
        auth_kwargs["ca"] = _reissue(ca, uuid.uuid4().bytes)
    else:
        auth_kwargs.setdefault("ca", ca)
    auth = SoftAuthenticator(**auth_kwargs)
    cred = register(db, user, auth, app)
    assert not cred.hardware_bound
    assert cred.backup_eligible is auth.backup_eligible
    _, factor = sign_in(db, auth, app)
    assert factor.uv and not factor.hw


def _reissue(ca: AttestationCA, aaguid: bytes) -> AttestationCA:
    """An attestation certificate from the trusted root whose AAGUID extension names another model."""
    other = AttestationCA.create(aaguid)
    cert = (x509.CertificateBuilder().subject_name(other.cert.subject).issuer_name(ca.root.subject)
            .public_key(other.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(other.cert.not_valid_before_utc).not_valid_after(other.cert.not_valid_after_utc))
    for ext in other.cert.extensions:
        cert = cert.add_extension(ext.value, critical=ext.critical)
    return AttestationCA(ca.root_key, ca.root, other.key, cert.sign(ca.root_key, hashes.SHA256()))


def test_nothing_is_hardware_bound_without_trust_anchors(app: Flask, db: Session, user: User) -> None:
    assert app.config["WEBAUTHN_TRUST_ANCHORS"] == []
    cred = register(db, user, SoftAuthenticator(attestation="packed"), app)
    assert cred.attestation_format == "packed" and not cred.hardware_bound


@pytest.mark.parametrize(("listed", "bound"), [(True, True), (False, False)])
def test_aaguid_allow_list(app: Flask, db: Session, user: User, ca: AttestationCA, listed: bool, bound: bool) -> None:
    model = str(uuid.UUID(bytes=TEST_AAGUID)).upper() if listed else str(uuid.uuid4())
    app.config["WEBAUTHN_AAGUIDS"] = [model]
    assert register(db, user, SoftAuthenticator(attestation="packed", ca=ca), app).hardware_bound is bound


def test_security_key_without_uv_is_a_second_factor_only(app: Flask, db: Session, user: User,
                                                         ca: AttestationCA) -> None:
    auth = SoftAuthenticator(attestation="packed", ca=ca, user_verified=False)
    options, state = webauthn.registration_options(db, user, kind="security-key", config=app.config)
    selection = json.loads(options)["authenticatorSelection"]
    assert (selection["residentKey"], selection["userVerification"]) == ("discouraged", "discouraged")
    cred = webauthn.verify_registration(db, user, state, auth.create(options), name="Key", config=app.config)
    assert (cred.discoverable, cred.user_verifying, cred.hardware_bound) == (False, False, False)
    refused("uv_required", sign_in, db, auth, app, user=user)
    options, state = webauthn.authentication_options(db, user, config=app.config, user_verification="discouraged")
    assert [c["id"] for c in json.loads(options)["allowCredentials"]] == [_b64(cred.credential_id)]
    assert state == {"challenge": state["challenge"], "user_id": user.id, "uv": False, "exp": state["exp"]}
    _, factor = webauthn.verify_authentication(db, state, auth.get(options), config=app.config)
    assert (factor.uv, factor.hw) == (False, False)


def test_passkey_registration_without_uv_is_refused(app: Flask, db: Session, user: User) -> None:
    refused("uv_required", register, db, user, SoftAuthenticator(user_verified=False), app)
    assert webauthn.list_credentials(db, user.id) == []


def test_sign_in_without_uv_is_refused_when_required(app: Flask, db: Session, user: User) -> None:
    auth = SoftAuthenticator()
    cred = register(db, user, auth, app)
    auth.user_verified = False
    refused("uv_required", sign_in, db, auth, app)
    db.refresh(cred)
    assert cred.sign_count == 0 and cred.last_used_at is None


def test_wrong_origin_is_refused(app: Flask, db: Session, user: User) -> None:
    refused("invalid", register, db, user, SoftAuthenticator("http://evil.localhost"), app)
    auth = SoftAuthenticator()
    register(db, user, auth, app)
    refused("invalid", sign_in, db, auth, app, origin="http://localhost:8080")


def test_challenge_is_single_use(app: Flask, db: Session, user: User) -> None:
    auth = SoftAuthenticator()
    options, state = webauthn.registration_options(db, user, kind="passkey", config=app.config)
    response = auth.create(options)
    webauthn.verify_registration(db, user, state, response, name="k", config=app.config)
    refused("replayed", webauthn.verify_registration, db, user, state, response, name="k", config=app.config)

    options, state = webauthn.authentication_options(db, None, config=app.config)
    response = auth.get(options)
    webauthn.verify_authentication(db, state, response, config=app.config)
    refused("replayed", webauthn.verify_authentication, db, state, response, config=app.config)


def test_expired_challenge_is_refused(app: Flask, db: Session, user: User) -> None:
    auth = SoftAuthenticator()
    options, state = webauthn.registration_options(db, user, kind="passkey", config=app.config)
    clock.advance(app.config["WEBAUTHN_CHALLENGE_LIFETIME"] + 1)
    refused("expired", webauthn.verify_registration, db, user, state, auth.create(options), name="k",
            config=app.config)
    assert webauthn.list_credentials(db, user.id) == []
    register(db, user, auth, app)
    options, state = webauthn.authentication_options(db, None, config=app.config)
    clock.advance(app.config["WEBAUTHN_CHALLENGE_LIFETIME"] + 1)
    refused("expired", webauthn.verify_authentication, db, state, auth.get(options), config=app.config)
    for exp in ("nan", "inf"):
        options, state = webauthn.authentication_options(db, None, config=app.config)
        refused("expired", webauthn.verify_authentication, db, {**state, "exp": exp}, auth.get(options),
                config=app.config)


def test_counter_going_backwards_flags_a_clone(app: Flask, db: Session, user: User) -> None:
    auth = SoftAuthenticator()
    cred = register(db, user, auth, app)
    sign_in(db, auth, app)
    sign_in(db, auth, app)
    auth.credentials[cred.credential_id]["counter"] = 0  # the copy has only been used once
    refused("cloned", sign_in, db, auth, app)
    db.refresh(cred)
    assert cred.suspected_clone_at is not None and cred.sign_count == 2
    (event,) = events(db, "webauthn_clone_suspected")
    assert event.user_id == user.id and event.details["credential"] == cred.id
    auth.credentials[cred.credential_id]["counter"] = 10  # even the genuine device is now refused
    refused("cloned", sign_in, db, auth, app)
    refused("unknown_credential", webauthn.authentication_options, db, user, config=app.config)


def test_forged_low_counter_does_not_flag_a_clone(app: Flask, db: Session, user: User) -> None:
    """Only a signed counter counts: otherwise anyone knowing a credential id could disable it."""
    auth = SoftAuthenticator()
    cred = register(db, user, auth, app)
    sign_in(db, auth, app)
    auth.credentials[cred.credential_id]["counter"] = 0
    options, state = webauthn.authentication_options(db, None, config=app.config)
    response = auth.get(options)
    response["response"]["signature"] = _b64(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    refused("invalid", webauthn.verify_authentication, db, state, response, config=app.config)
    db.refresh(cred)
    assert cred.suspected_clone_at is None


def test_credential_of_another_user_is_refused(app: Flask, db: Session, user: User, other: User) -> None:
    mine, theirs = SoftAuthenticator(), SoftAuthenticator()
    register(db, user, mine, app)
    register(db, other, theirs, app)
    options, state = webauthn.authentication_options(db, other, config=app.config)
    body = json.loads(options)
    body["allowCredentials"] = []  # a tampered page offers any credential
    refused("not_owner", webauthn.verify_authentication, db, state, mine.get(body), config=app.config)


def test_username_less_needs_the_owners_user_handle(app: Flask, db: Session, user: User, other: User) -> None:
    auth = SoftAuthenticator()
    register(db, user, auth, app)
    webauthn.registration_options(db, other, kind="passkey", config=app.config)
    assert other.webauthn_handle
    refused("not_owner", sign_in, db, auth, app, user_handle=other.webauthn_handle.encode())
    refused("not_owner", sign_in, db, auth, app, user_handle=b"")


def test_duplicate_credential_id_is_refused(app: Flask, db: Session, user: User, other: User) -> None:
    cred = register(db, user, SoftAuthenticator(), app)
    refused("duplicate", register, db, other, SoftAuthenticator(), app, credential_id=cred.credential_id)
    assert webauthn.list_credentials(db, other.id) == []


def test_unknown_credential_and_malformed_input_are_refused(app: Flask, db: Session, user: User) -> None:
    auth = SoftAuthenticator()
    options, _ = webauthn.registration_options(db, user, kind="passkey", config=app.config)
    auth.create(options)  # made on the device, never registered here
    refused("unknown_credential", sign_in, db, auth, app)
    known = _b64(register(db, user, SoftAuthenticator(), app).credential_id)
    junks: list[Any] = ["not json", "{}", [], {"id": "x", "rawId": "x", "type": "public-key", "response": {}},
                 {"id": known, "rawId": known, "type": "public-key",
                  "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA",
                               "attestationObject": "oA", "userHandle": _b64(str(user.webauthn_handle).encode())}}]
    for junk in junks:
        _, state = webauthn.authentication_options(db, None, config=app.config)
        refused("invalid", webauthn.verify_authentication, db, state, junk, config=app.config)
        _, state = webauthn.registration_options(db, user, kind="passkey", config=app.config)
        refused("invalid", webauthn.verify_registration, db, user, state, junk, name="k", config=app.config)


def test_registration_state_of_another_user_is_refused(app: Flask, db: Session, user: User, other: User) -> None:
    options, state = webauthn.registration_options(db, user, kind="passkey", config=app.config)
    auth = SoftAuthenticator()
    response = auth.create(options)
    refused("invalid", webauthn.verify_registration, db, other, state, response, name="k", config=app.config)
    register(db, user, auth, app)
    options, _ = webauthn.authentication_options(db, None, config=app.config)
    assertion = auth.get(options)
    for bad_state in (None, {}, {"user_id": user.id, "kind": "passkey", "challenge": 5, "exp": "soon"}):
        refused("invalid", webauthn.verify_registration, db, user, bad_state, response, name="k", config=app.config)
        refused("invalid", webauthn.verify_authentication, db, bad_state, assertion, config=app.config)
