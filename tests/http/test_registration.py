"""Dynamic client registration (RFC 7591) and the client configuration endpoint (RFC 7592)."""

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.crypto import hash_secret
from idp.db import get_session
from idp.oidc.clients import set_status
from idp.oidc.models import Client
from idp.oidc.models import Token
from idp.oidc.registration import issue_initial_token
from idp.oidc.registration import revoke_initial_token
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import follow_to_code
from tests.flows import pkce_pair

KEY = ECKey.generate_key("P-256", private=True, parameters={"kid": "agency-1"})
GOOD = {"client_name": "Building permits", "redirect_uris": [REDIRECT_URI],
        "post_logout_redirect_uris": ["https://rp.example/bye"], "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [KEY.as_dict(private=False)]}, "scope": "openid profile email",
        "default_acr_values": ["urn:th:digitalid:ial1:aal1"]}


@pytest.fixture
def initial(app):
    with app.app_context():
        issued = issue_initial_token(get_session(), agency="Department of Public Works",
                                     allowed_scopes=["profile", "email"], max_ial=2, max_aal=2, days=30)
        return issued.token


def _register(client, token, body=None, **kw):
    return client.post("/register", json=GOOD if body is None else body,
                       headers={"Authorization": f"Bearer {token}"}, **kw)


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _row(app, client_id):
    with app.app_context():
        db = get_session()
        client = db.scalar(select(Client).where(Client.client_id == client_id))
        if client is not None:
            db.expunge(client)
        return client


def _events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def _assertion(client_id):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": "http://localhost/token", "iat": now, "exp": now + 60,
              "jti": f"jti-{time.time_ns()}"}
    return jwt.encode({"alg": "ES256", "kid": "agency-1"}, claims, KEY)


def _flow(client, client_id):
    verifier, challenge = pkce_pair()
    callback = follow_to_code(client, authorize_url(client_id, challenge))
    assert "code" in callback, callback
    return client.post("/token", data={
        "grant_type": "authorization_code", "code": callback["code"], "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier, "client_assertion": _assertion(client_id),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})


def _refused_at_authorize(client, client_id):
    _, challenge = pkce_pair()
    response = client.get(authorize_url(client_id, challenge))
    return response.status_code == 400 and "Location" not in response.headers


# -- registering ---------------------------------------------------------------------------------

def test_registration_within_the_policy_is_active_and_works_at_once(app, client, initial):
    make_user(app)
    response = _register(client, initial)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["status"] == "active" and "review_reasons" not in body
    assert body["redirect_uris"] == [REDIRECT_URI] and body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["client_name"] == "Building permits" and body["scope"] == "openid profile email"
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert abs(body["client_id_issued_at"] - time.time()) < 60
    assert body["registration_client_uri"] == f"http://localhost/register/{body['client_id']}"
    assert "d" not in body["jwks"]["keys"][0]

    token = _flow(client, body["client_id"])
    assert token.status_code == 200, token.text
    assert token.json["id_token"] and token.json["access_token"]


def test_registration_tokens_are_stored_hashed_and_audited(app, client, initial):
    body = _register(client, initial).json
    row = _row(app, body["client_id"])
    assert row.registration_access_token_hash == hash_secret(body["registration_access_token"])
    assert row.initial_token_id is not None and row.trusted is False and row.require_pkce is True
    [event] = _events(app, "client_registered")
    assert event.client_id == row.id
    assert event.details == {"status": "active", "reasons": [], "initial_token": row.initial_token_id}
    assert body["registration_access_token"] not in str(event.details)


def test_scope_defaults_to_what_the_agency_may_have(client, initial):
    body = _register(client, initial, {k: v for k, v in GOOD.items() if k != "scope"}).json
    assert body["status"] == "active" and body["scope"] == "openid profile email"


@pytest.mark.parametrize("change, reasons", [
    ({"redirect_uris": ["http://localhost:8080/cb"]}, ["redirect_uri_not_https"]),
    ({"post_logout_redirect_uris": ["http://127.0.0.1/bye"]}, ["redirect_uri_not_https"]),
    ({"token_endpoint_auth_method": "client_secret_basic", "jwks": None}, ["auth_method_not_private_key_jwt"]),
    ({"scope": "openid profile phone"}, ["scope_not_allowed"]),
    ({"scope": "openid offline_access"}, ["scope_not_allowed"]),
    ({"default_acr_values": ["urn:th:digitalid:ial3:aal2"]}, ["assurance_above_agency_limit"]),
    ({"default_acr_values": ["urn:th:digitalid:ial1:aal3"]}, ["assurance_above_agency_limit"]),
    ({"scope": "openid profile national_id"}, ["national_id_needs_operator", "high_value_scope_needs_fapi"]),
])
def test_registration_outside_the_policy_waits_for_an_admin(app, client, initial, change, reasons):
    response = _register(client, initial, {**GOOD, **change})
    assert response.status_code == 201, response.text
    body = response.json
    assert body["status"] == "pending" and body["review_reasons"] == reasons
    row = _row(app, body["client_id"])
    assert row.status == "pending" and row.review_reasons == reasons
    [event] = _events(app, "client_registered")
    assert event.details["status"] == "pending" and event.details["reasons"] == reasons
    assert _refused_at_authorize(client, body["client_id"])


def test_national_id_is_never_granted_by_registration(app, client, initial):
    body = _register(client, initial, {**GOOD, "scope": "openid profile national_id"}).json
    assert body["scope"] == "openid profile"
    assert "national_id" not in _row(app, body["client_id"]).scopes


def test_a_secret_client_gets_its_secret_once(app, client, initial):
    body = _register(client, initial, {**GOOD, "token_endpoint_auth_method": "client_secret_basic",
                                       "jwks": None}).json
    assert body["client_secret"] and body["client_secret_expires_at"] == 0
    assert _row(app, body["client_id"]).check_client_secret(body["client_secret"])
    read = client.get(f"/register/{body['client_id']}", headers=_bearer(body["registration_access_token"]))
    assert "client_secret" not in read.json and read.json["client_secret_expires_at"] == 0


def test_pending_client_is_refused_at_authorize_and_token(app, client, initial):
    make_user(app)
    body = _register(client, initial, {**GOOD, "scope": "openid phone"}).json
    assert _refused_at_authorize(client, body["client_id"])
    response = client.post("/token", data={
        "grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI, "code_verifier": "y" * 43,
        "client_assertion": _assertion(body["client_id"]),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_an_approved_pending_client_works(app, client, initial):
    make_user(app)
    body = _register(client, initial, {**GOOD, "scope": "openid phone"}).json
    with app.app_context():
        db = get_session()
        set_status(db, db.scalar(select(Client).where(Client.client_id == body["client_id"])), "active", by=None)
    assert _flow(client, body["client_id"]).status_code == 200


# -- bad requests --------------------------------------------------------------------------------

@pytest.mark.parametrize("change, error", [
    ({"redirect_uris": ["http://rp.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://rp.example/cb#frag"]}, "invalid_redirect_uri"),
    ({"redirect_uris": []}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://[rp.example/cb"]}, "invalid_redirect_uri"),
    ({"token_endpoint_auth_method": "client_secret_jwt"}, "invalid_client_metadata"),
    ({"jwks": {"keys": [{"kty": "EC", "crv": "P-256"}]}}, "invalid_client_metadata"),
    ({"jwks": "not a key set"}, "invalid_client_metadata"),
    ({"jwks": None}, "invalid_client_metadata"),  # private_key_jwt without keys
    ({"client_name": ""}, "invalid_client_metadata"),
    ({"scope": "openid admin"}, "invalid_client_metadata"),
    ({"default_acr_values": ["urn:example:loa:high"]}, "invalid_client_metadata"),
    ({"response_types": ["token"]}, "invalid_client_metadata"),
])
def test_invalid_metadata_is_refused(app, client, initial, change, error):
    response = _register(client, initial, {**GOOD, **change})
    assert response.status_code == 400
    assert response.json["error"] == error and response.json["error_description"]
    assert _events(app, "client_registered") == []


@pytest.mark.parametrize("kwargs", [
    {"data": {"client_name": "x"}},  # a form
    {"data": "{not json", "content_type": "application/json"},
    {"data": '["a", "list"]', "content_type": "application/json"},
    {"data": "", "content_type": "application/json"},
])
def test_body_must_be_a_json_object(client, initial, kwargs):
    response = client.post("/register", headers=_bearer(initial), **kwargs)
    assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"


def test_missing_or_wrong_initial_token_is_401(client, initial):
    for headers in ({}, {"Authorization": "Bearer "}, _bearer("guessed"), {"Authorization": f"Basic {initial}"}):
        response = client.post("/register", json=GOOD, headers=headers)
        assert response.status_code == 401 and response.json == {"error": "invalid_token"}
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_expired_initial_token_is_401(client, clock, initial):
    clock.advance(31 * 86400)
    response = _register(client, initial)
    assert response.status_code == 401 and response.json["error"] == "invalid_token"


def test_revoked_initial_token_is_401_and_its_clients_keep_working(app, client, initial):
    make_user(app)
    registered = _register(client, initial).json
    with app.app_context():
        db = get_session()
        revoke_initial_token(db, db.scalar(select(Client).where(
            Client.client_id == registered["client_id"])).initial_token)
    response = _register(client, initial)
    assert response.status_code == 401 and response.json["error"] == "invalid_token"
    assert _flow(client, registered["client_id"]).status_code == 200


def test_discovery_names_the_registration_endpoint(client):
    meta = client.get("/.well-known/openid-configuration").json
    assert meta["registration_endpoint"] == "http://localhost/register"


# -- RFC 7592: read, update, delete -------------------------------------------------------------

@pytest.fixture
def registered(client, initial):
    return _register(client, initial).json


def _uri(body):
    return f"/register/{body['client_id']}"


def _put(client, body, change=None, token=None, drop=()):
    sent = {k: v for k, v in body.items()
            if k not in ("registration_access_token", "registration_client_uri", "client_id_issued_at",
                         "client_secret_expires_at", "status", "review_reasons", *drop)}
    sent.update(change or {})
    return client.put(_uri(body), json=sent, headers=_bearer(token or body["registration_access_token"]))


def test_read_returns_the_registration(client, registered):
    response = client.get(_uri(registered), headers=_bearer(registered["registration_access_token"]))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.json == registered


def test_configuration_endpoint_needs_the_registration_token(app, client, initial, registered):
    other = _register(client, initial).json
    wrong = [{}, _bearer("guessed"), _bearer(initial), _bearer(other["registration_access_token"])]
    for headers in wrong:
        for method in ("get", "put", "delete"):
            response = getattr(client, method)(_uri(registered), headers=headers, json={})
            assert response.status_code == 401 and response.json == {"error": "invalid_token"}, (headers, method)
            assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    # an unknown client looks the same as a wrong token
    response = client.get("/register/no-such-client", headers=_bearer(registered["registration_access_token"]))
    assert response.status_code == 401 and response.json == {"error": "invalid_token"}
    # a client made by an admin has no registration token at all
    made = make_client(app)
    assert client.get(f"/register/{made.client.client_id}", headers=_bearer("")).status_code == 401
    assert _row(app, registered["client_id"]) is not None


def test_update_within_the_policy_stays_active(app, client, registered):
    response = _put(client, registered, {"client_name": "Building permits (new)",
                                         "redirect_uris": ["https://rp.example/cb", "https://rp.example/cb2"]})
    assert response.status_code == 200, response.text
    body = response.json
    assert body["status"] == "active" and body["client_name"] == "Building permits (new)"
    assert body["registration_access_token"] == registered["registration_access_token"]
    row = _row(app, registered["client_id"])
    assert row.name == "Building permits (new)" and row.redirect_uris[-1] == "https://rp.example/cb2"
    [event] = _events(app, "client_updated")
    assert event.client_id == row.id and "client_name" in event.details["fields"]


def test_update_that_breaks_the_policy_makes_the_client_pending(app, client, registered):
    make_user(app)
    response = _put(client, registered, {"redirect_uris": [REDIRECT_URI, "http://localhost:3000/cb"],
                                         "subject_type": "public"})
    assert response.status_code == 200
    assert response.json["status"] == "pending" and response.json["review_reasons"] == ["redirect_uri_not_https"]
    row = _row(app, registered["client_id"])
    assert row.status == "pending" and row.review_reasons == ["redirect_uri_not_https"]
    [event] = _events(app, "client_held_for_review")
    assert event.client_id == row.id and event.details["reasons"] == ["redirect_uri_not_https"]
    assert _refused_at_authorize(client, registered["client_id"])

    # putting it right approves it again, as a registration within the policy would be
    fixed = _put(client, registered)
    assert fixed.json["status"] == "active" and _row(app, registered["client_id"]).review_reasons == []
    assert [e.details["automatic"] for e in _events(app, "client_approved")] == [True]
    assert _flow(client, registered["client_id"]).status_code == 200


def test_update_omitting_fields_removes_them(app, client, registered):
    response = _put(client, registered, drop=("post_logout_redirect_uris", "default_acr_values"))
    assert response.status_code == 200
    row = _row(app, registered["client_id"])
    assert row.post_logout_redirect_uris == [] and row.default_acr_values == []


def test_update_asking_for_national_id_waits_for_the_operator(app, client, registered):
    response = _put(client, registered, {"scope": "openid profile national_id"})
    assert response.json["status"] == "pending"
    # national_id is a high-value scope by default (FAPI_HIGH_VALUE_SCOPES): without fapi2, a second reason
    assert response.json["review_reasons"] == ["national_id_needs_operator", "high_value_scope_needs_fapi"]
    assert "national_id" not in _row(app, registered["client_id"]).scopes


@pytest.mark.parametrize("change, drop", [
    ({"client_id": "someone-else"}, ()),
    ({}, ("client_id",)),
    ({"client_secret": "chosen-by-the-client"}, ()),
    ({"registration_access_token": "x"}, ()),
    ({"client_id_issued_at": 0}, ()),
    ({"redirect_uris": ["http://rp.example/cb"]}, ()),
    ({"token_endpoint_auth_method": "bogus"}, ()),
])
def test_bad_updates_are_refused_and_change_nothing(app, client, registered, change, drop):
    response = _put(client, registered, change, drop=drop)
    assert response.status_code == 400 and response.json["error"] in ("invalid_client_metadata",
                                                                      "invalid_redirect_uri")
    row = _row(app, registered["client_id"])
    assert row.status == "active" and row.redirect_uris == [REDIRECT_URI]
    assert _events(app, "client_updated") == []


def test_update_of_a_secret_client_checks_the_secret(app, client, initial):
    body = _register(client, initial, {**GOOD, "token_endpoint_auth_method": "client_secret_post",
                                       "jwks": None}).json
    ok = _put(client, body, {"client_secret": body["client_secret"], "client_name": "Renamed"}, drop=("jwks",))
    assert ok.status_code == 200 and ok.json["client_name"] == "Renamed"
    assert "client_secret" not in ok.json  # unchanged, and only its hash is kept
    wrong = _put(client, body, {"client_secret": "not-it"}, drop=("jwks", "client_secret"))
    assert wrong.status_code == 400 and "client_secret" in wrong.json["error_description"]


def test_a_disabled_client_stays_disabled_after_an_update(app, client, registered):
    with app.app_context():
        db = get_session()
        set_status(db, db.scalar(select(Client).where(Client.client_id == registered["client_id"])), "disabled")
    response = _put(client, registered, {"client_name": "Please let me back in"})
    assert response.status_code == 200 and response.json["status"] == "disabled"
    assert _row(app, registered["client_id"]).status == "disabled"
    assert _refused_at_authorize(client, registered["client_id"])


def test_update_body_must_be_json(client, registered):
    response = client.put(_uri(registered), data="client_name=x",
                          headers=_bearer(registered["registration_access_token"]))
    assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"


def test_delete_removes_the_client_and_its_tokens(app, client, registered):
    make_user(app)
    assert _flow(client, registered["client_id"]).status_code == 200
    row = _row(app, registered["client_id"])
    response = client.delete(_uri(registered), headers=_bearer(registered["registration_access_token"]))
    assert response.status_code == 204 and response.data == b""
    assert _row(app, registered["client_id"]) is None
    with app.app_context():
        assert get_session().scalars(select(Token).where(Token.client_id == row.id)).all() == []
    [event] = _events(app, "client_deleted")
    assert event.client_id == row.id and event.details["status"] == "active"
    again = client.get(_uri(registered), headers=_bearer(registered["registration_access_token"]))
    assert again.status_code == 401
    assert _refused_at_authorize(client, registered["client_id"])
