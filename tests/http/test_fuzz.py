"""Random parameters and bodies never cause a 5xx, and never write anything."""

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from idp.db import get_session
from idp.models import AuthorizationCode
from idp.models import AuthSession
from idp.models import Consent
from idp.models import Token
from idp.models import UsedAssertion
from idp.models import User
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import basic
from tests.flows import csrf_of
from tests.flows import sign_in

NAMES = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt", "max_age", "claims",
         "code_challenge", "code_challenge_method", "id_token_hint", "login_hint", "ui_locales", "acr_values",
         "grant_type", "code", "code_verifier", "refresh_token", "token", "token_type_hint", "client_secret",
         "client_assertion", "client_assertion_type", "request", "request_uri", "response_mode", "x"]

text = st.one_of(st.text(max_size=40), st.sampled_from(
    ["code", "openid", "none", "login", "S256", "plain", "authorization_code", "refresh_token", "-1", "{}",
     '{"id_token":{"acr":{"essential":true}}}', "https://rp.example/cb", "eyJhbGciOiJub25lIn0.e30.", "\x00", "%"]),
    st.text(min_size=2000, max_size=3000))
params = st.lists(st.tuples(st.sampled_from(NAMES), text), max_size=12)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TABLES = (AuthorizationCode, AuthSession, Consent, Token, UsedAssertion, User)


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


def _counts(app):
    with app.app_context():
        db = get_session()
        return {t.__tablename__: db.scalar(select(func.count()).select_from(t)) for t in TABLES}


def _check(app, before, response):
    assert response.status_code < 500, response.text[:500]
    assert _counts(app) == before


@SETTINGS
@given(pairs=params, method=st.sampled_from(["GET", "POST"]))
def test_authorize(app, client, rp, pairs, method):
    before = _counts(app)
    pairs = [(k, rp.client.client_id if k == "client_id" and v == "x" else v) for k, v in pairs]
    if method == "GET":
        response = client.get("/authorize", query_string=pairs)
    else:
        response = client.post("/authorize", data=MultiDict(pairs))
    _check(app, before, response)


@SETTINGS
@given(pairs=params, path=st.sampled_from(["/token", "/introspect", "/revoke", "/userinfo", "/logout"]),
       auth=st.sampled_from(["none", "basic", "garbage"]))
def test_protocol_endpoints(app, client, rp, pairs, path, auth):
    before = _counts(app)
    headers = {}
    if auth == "basic":
        headers["Authorization"] = basic(rp.client.client_id, rp.client_secret)
    elif auth == "garbage":
        headers["Authorization"] = "Basic %%%"
    response = client.post(path, data=MultiDict(pairs), headers=headers)
    _check(app, before, response)
    if any("\x00" in k + v for k, v in pairs):  # refused before any endpoint reads it (idp.request_guard)
        assert response.status_code == 400 and (path == "/logout" or response.json["error"] == "invalid_request")
    elif path == "/userinfo":
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].lower().startswith("bearer")
    elif path != "/logout":
        assert response.status_code == 200 or (response.is_json and "error" in response.json)


@SETTINGS
@given(body=st.binary(max_size=3000), content_type=st.sampled_from(
    ["application/x-www-form-urlencoded", "application/json", "multipart/form-data", "text/plain"]),
       path=st.sampled_from(["/token", "/introspect", "/revoke", "/userinfo"]))
def test_raw_bodies(app, client, rp, body, content_type, path):
    before = _counts(app)
    response = client.post(path, data=body, headers={"Content-Type": content_type,
                                                     "Authorization": basic(rp.client.client_id, rp.client_secret)})
    _check(app, before, response)


def test_oversized_body_is_refused_cleanly(client):
    response = client.post("/token", data={"grant_type": "x" * 200_000})
    assert response.status_code == 413 and response.json["error"] == "invalid_request"


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=12)
FACTOR_FIELDS = ["method", "code", "recovery_code", "password", "next", "aal", "cancel", "x"]


@SETTINGS
@given(body=st.one_of(st.dictionaries(st.sampled_from(["credential", "next", "step_up", "aal", "kind", "name", "x"]),
                                      json_values, max_size=5), json_values),
       path=st.sampled_from(["/webauthn/authenticate/options", "/webauthn/authenticate",
                             "/webauthn/register/options", "/webauthn/register"]),
       signed_in=st.booleans())
def test_webauthn_endpoints_refuse_garbage_cleanly(app, client, rp, body, path, signed_in):
    if signed_in:
        sign_in(client)
    token = csrf_of(client.get("/signin").text)
    before = _counts(app)
    response = client.post(path, json=body, headers={"X-CSRFToken": token})
    assert response.status_code < 500, response.text[:500]
    assert response.is_json
    if path.endswith("authenticate") or path.endswith("register"):
        assert response.status_code in (400, 403) and "error" in response.json
        assert _counts(app)["auth_sessions"] == before["auth_sessions"]


@SETTINGS
@given(pairs=st.lists(st.tuples(st.sampled_from(FACTOR_FIELDS), text), max_size=8))
def test_step_up_page_refuses_garbage_cleanly(app, client, rp, pairs):
    sign_in(client)
    token = csrf_of(client.get("/signin/more?aal=2").text)
    response = client.post("/signin/more", data=MultiDict([*pairs, ("csrf_token", token)]))
    assert response.status_code < 500, response.text[:500]
    if response.status_code in (302, 303):
        assert not response.headers["Location"].startswith("http")  # never off-site


META_NAMES = ["client_name", "client_name#th", "redirect_uris", "post_logout_redirect_uris", "scope", "jwks",
              "jwks_uri", "token_endpoint_auth_method", "subject_type", "sector_identifier_uri", "logo_uri",
              "id_token_signed_response_alg", "default_acr_values", "grant_types", "response_types",
              "allowed_claims", "client_id", "client_secret", "registration_access_token", "x"]
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text,
              st.sampled_from(["https://rp.example/cb", "http://localhost/cb", "https://[x/cb", "private_key_jwt",
                               "none", "urn:th:digitalid:ial2:aal2", "openid national_id"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["keys", "kty", "x"]),
                                                                          inner, max_size=3)),
    max_leaves=8)


@SETTINGS
@given(body=st.dictionaries(st.sampled_from(META_NAMES), json_values, max_size=10))
def test_registration_metadata(app, client, body):
    from idp.oidc.registration import issue_initial_token

    with app.app_context():
        token = issue_initial_token(get_session(), agency="Fuzz", allowed_scopes=["profile"], max_ial=1, max_aal=2,
                                    days=1).token
    response = client.post("/register", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (201, 400), response.text[:500]
    if response.status_code == 400:
        assert response.json["error"] in ("invalid_client_metadata", "invalid_redirect_uri") or (
            response.json["error"] == "invalid_request" and "NUL" in response.json["error_description"])
