"""Passkeys and security keys through the IdP's own endpoints, with a software authenticator:
registration, username-less sign-in, step-up to AAL2 and AAL3, clones, wrong origins, passwordless."""

import json
import re
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.accounts.service import find_by_email
from idp.audit.models import AuditEvent
from idp.authn.models import WebAuthnCredential
from idp.db import get_session
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import exchange
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in
from tests.support.soft_authenticator import AttestationCA
from tests.support.soft_authenticator import SoftAuthenticator

AAL2 = "urn:th:digitalid:ial1:aal2"
AAL3 = "urn:th:digitalid:ial1:aal3"


@pytest.fixture
def user(app):
    return make_user(app)


def csrf(client):
    return csrf_of(client.get("/signin").text)


def call(client, path, body):
    return client.post(path, json=body, headers={"X-CSRFToken": csrf(client)})


def register(client, device, kind="passkey", name="My phone"):
    options = call(client, "/webauthn/register/options", {"kind": kind})
    assert options.status_code == 200, options.text
    return call(client, "/webauthn/register", {"credential": device.create(options.json), "name": name})


def authenticate(client, device, body=None, next_url="/", **get_kwargs):
    options = call(client, "/webauthn/authenticate/options", body or {})
    assert options.status_code == 200, options.text
    return call(client, "/webauthn/authenticate", {"credential": device.get(options.json, **get_kwargs),
                                                   "next": next_url})


def credentials(app):
    with app.app_context():
        return get_session().scalars(select(WebAuthnCredential)).all()


def signed_in_email(client):
    page = client.get("/", headers={"Accept-Language": "en"}).text
    match = re.search(r"signed in as (.+?)\.</p>", page)
    return match.group(1) if match else None


def test_register_a_passkey_then_sign_in_username_less(app, client, user):
    device = SoftAuthenticator()
    sign_in(client)
    done = register(client, device)
    assert done.status_code == 200 and done.json["redirect"].endswith("/security")
    [cred] = credentials(app)
    assert (cred.discoverable, cred.user_verifying, cred.hardware_bound, cred.name) == (True, True, False, "My phone")
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    assert signed_in_email(client) is None
    response = authenticate(client, device)
    assert response.status_code == 200 and response.json["redirect"] == "/"
    assert signed_in_email(client) == "citizen@example.com"
    assert credentials(app)[0].sign_count == 1


@pytest.fixture
def trusted_ca(app, tmp_path):
    """A key vendor's attestation root, configured as the operator's trust anchor."""
    ca = AttestationCA.create()
    anchor = tmp_path / "root.pem"
    anchor.write_bytes(ca.root_pem)
    app.config["WEBAUTHN_TRUST_ANCHORS"] = [str(anchor)]
    return ca


def test_a_certified_hardware_key_gives_aal3(app, client, user, trusted_ca):
    rp = make_client(app, trusted=True)
    hardware, synced = SoftAuthenticator(attestation="packed", ca=trusted_ca), SoftAuthenticator()
    sign_in(client)
    assert register(client, hardware, name="Key").status_code == 200
    # Now AAL2 is reachable, so a password-only session must step up before adding more.
    assert call(client, "/webauthn/register/options", {"kind": "passkey"}).status_code == 403
    del synced
    hw = [c for c in credentials(app) if c.name == "Key"]
    assert hw and hw[0].hardware_bound and hw[0].attestation_format == "packed"

    def id_token(device, acr):
        client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
        assert authenticate(client, device).status_code == 200
        verifier, challenge = pkce_pair()
        location = client.get(authorize_url(rp.client.client_id, challenge, acr_values=acr)).headers["Location"]
        params = query_of(location)
        assert "code" in params, location
        tokens = exchange(client, params["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                          verifier=verifier).json
        keys = KeySet.import_key_set(client.get("/jwks.json").json)
        return jwt.decode(tokens["id_token"], keys).claims

    claims = id_token(hardware, AAL3)
    assert claims["acr"] == AAL3 and claims["amr"] == ["hwk", "user", "mfa"]


def test_none_attestation_never_reaches_aal3(app, client, user, trusted_ca):
    rp = make_client(app, trusted=True)
    device = SoftAuthenticator()  # attestation "none"
    sign_in(client)
    register(client, device)
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    authenticate(client, device)
    _, challenge = pkce_pair()
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [AAL3]}}})
    location = client.get(authorize_url(rp.client.client_id, challenge, claims=essential)).headers["Location"]
    assert query_of(location)["error"] == "unmet_authentication_requirements"


def test_step_up_from_password_with_a_security_key(app, client, user):
    rp = make_client(app, trusted=True)
    key = SoftAuthenticator(user_verified=False)
    sign_in(client)
    assert register(client, key, kind="security-key", name="Blue key").status_code == 200
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    sign_in(client)
    verifier, challenge = pkce_pair()
    step = client.get(authorize_url(rp.client.client_id, challenge, acr_values=AAL2)).headers["Location"]
    assert "/signin/more" in step
    page = client.get(step)
    assert "data-webauthn-stepup" in page.text and 'value="totp"' not in page.text
    nxt = re.search(r'data-next="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    done = authenticate(client, key, {"step_up": True, "aal": 2}, next_url=nxt)
    assert done.status_code == 200, done.text
    params = query_of(client.get(done.json["redirect"]).headers["Location"])
    tokens = exchange(client, params["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                      verifier=verifier).json
    claims = jwt.decode(tokens["id_token"], KeySet.import_key_set(client.get("/jwks.json").json)).claims
    assert claims["acr"] == AAL2 and claims["amr"] == ["pwd", "swk", "user", "mfa"]


def test_a_security_key_without_verification_cannot_sign_in_alone(app, client, user):
    key = SoftAuthenticator(user_verified=False)
    sign_in(client)
    register(client, key, kind="security-key")
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    for cred in key.credentials.values():
        cred["resident"] = True  # even if the key offered itself for a username-less sign-in
    refused = authenticate(client, key)
    assert refused.status_code == 400 and refused.json["error"] == "uv_required"
    assert signed_in_email(client) is None


def test_a_counter_going_backwards_blocks_the_key_and_tells_the_person(app, client, user):
    device = SoftAuthenticator()
    sign_in(client)
    register(client, device)
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    assert authenticate(client, device).status_code == 200
    assert authenticate(client, device).status_code == 200
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    for cred in device.credentials.values():
        cred["counter"] = 0  # a copy of the key, made before those two sign-ins
    refused = authenticate(client, device)
    assert refused.status_code == 400 and refused.json["error"] == "cloned"
    assert signed_in_email(client) is None
    assert credentials(app)[0].suspected_clone_at is not None
    with app.app_context():
        assert get_session().scalars(select(AuditEvent).where(AuditEvent.event == "webauthn_clone_suspected")).all()
    notices = [p.read_text(errors="replace") for p in Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml")]
    assert len(notices) == 2  # "added", then "blocked"
    for cred in device.credentials.values():
        cred["counter"] = 100
    assert authenticate(client, device).json["error"] == "cloned"  # stays blocked


def test_an_assertion_made_for_another_origin_is_refused(app, client, user):
    device = SoftAuthenticator()
    sign_in(client)
    register(client, device)
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    refused = authenticate(client, device, origin="https://phishing.example")
    assert refused.status_code == 400 and signed_in_email(client) is None


def test_ceremonies_need_the_csrf_token_and_a_pending_challenge(app, client, user):
    assert client.post("/webauthn/authenticate/options", json={}).status_code == 400  # no CSRF header
    # A credential with no challenge pending in this browser
    assert call(app.test_client(), "/webauthn/authenticate", {"credential": {"id": "x"}}).json["error"] == "expired"
    # Garbage with a challenge pending: refused, never a 500
    assert call(client, "/webauthn/authenticate/options", {}).status_code == 200
    assert call(client, "/webauthn/authenticate", {"credential": "not json at all"}).json["error"] == "invalid"
    assert call(client, "/webauthn/authenticate", {"nothing": 1}).status_code == 400


def test_passwordless_account_after_removing_the_password(app, client, user):
    device = SoftAuthenticator()
    sign_in(client)
    register(client, device)
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    authenticate(client, device)  # AAL2 by the passkey alone
    page = client.get("/security")
    ask = client.post("/security/remove", data={"csrf_token": csrf_of(page.text), "kind": "password", "id": "0"})
    assert ask.status_code == 200 and 'name="confirm" value="yes"' in ask.text
    client.post("/security/remove", data={"csrf_token": csrf_of(ask.text), "kind": "password", "id": "0",
                                          "confirm": "yes"})
    with app.app_context():
        assert find_by_email(get_session(), "citizen@example.com").password_hash is None
    # The last passkey of a passwordless account cannot go.
    [cred] = credentials(app)
    page = client.get("/security")
    client.post("/security/remove", data={"csrf_token": csrf_of(page.text), "kind": "webauthn", "id": str(cred.id)})
    assert len(credentials(app)) == 1
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    assert sign_in(client).status_code == 200  # the old password no longer works
    assert authenticate(client, device).status_code == 200
