"""Bad input gets a clear 4xx, never a 500 (docs/security.md, section "input").

Each rule here failed before it was held: a 500, a traceback, or a request that went on as if
nothing was wrong. All run on SQLite and on PostgreSQL (IDP_TEST_DATABASE_URL), which refuses
what SQLite keeps (NUL, integers beyond its ``integer``).
"""

import base64
import time
from urllib.parse import quote

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import func
from sqlalchemy import select

from idp.db import get_session
from idp.models import User
from idp.oidc.authorize import MAX_LENGTHS
from idp.oidc.authorize import MAX_REQUEST_URL
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import csrf_of
from tests.flows import exchange
from tests.flows import follow_to_code
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in
from tests.staff import staff_client

EN = {"Accept-Language": "en"}


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


# -- bodies over the size limit -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nowhere", "/signin", "/signup", "/authorize", "/console/", "/logout",
                                  "/webauthn/register"])
def test_an_oversized_body_gets_a_413_page_on_any_path(client, path):
    """Also where CSRF protection reads the form first, and where no route matches: the error page
    does not read the body again (it chooses its language from the query string only)."""
    response = client.post(path, data={"field": "x" * (64 * 1024)}, headers=EN)
    assert response.status_code == 413
    assert "The request is too large." in response.text


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke", "/register", "/userinfo"])
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "application/json"])
def test_an_oversized_body_gets_413_invalid_request_on_protocol_routes(client, path, content_type):
    """Before the credentials are looked at: a 413 whatever the Authorization header says."""
    response = client.post(path, data=b"a=" + b"x" * (64 * 1024), content_type=content_type,
                           headers={"Authorization": "Bearer nothing"})
    assert response.status_code == 413 and response.json == {"error": "invalid_request"}


def test_an_oversized_json_body_from_a_page_script_gets_json(client):
    response = client.post("/webauthn/authenticate/options", data=b"[" + b"1," * 40_000 + b"1]",
                           content_type="application/json", headers=EN)
    assert response.status_code == 413 and response.json["message"] == "The request is too large."


# -- Basic credentials at the client authentication endpoints ---------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


BAD_BASIC = {
    "not ASCII": "Basic \xff\xfe",
    "not UTF-8 inside": "Basic " + _b64(b"\xff\xfe:secret"),
    "not base64": "Basic abc%%%",
    "bad padding": "Basic " + _b64(b"client:secret").rstrip("="),
    "no colon": "Basic " + _b64(b"client-and-secret"),
    "empty": "Basic",
    "only a colon": "Basic " + _b64(b":"),
    "percent-encoding that is not UTF-8": "Basic " + _b64(b"%ff%fe:secret"),
    "percent-encoded NUL": "Basic " + _b64(b"%00:%00"),
    "control character": "Basic " + _b64(b"client\x01:secret"),
}


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke"])
@pytest.mark.parametrize("header", BAD_BASIC.values(), ids=BAD_BASIC.keys())
def test_malformed_basic_credentials_are_invalid_client(client, rp, path, header):
    response = client.post(path, data={"grant_type": "authorization_code", "code": "x", "token": "x"},
                           headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.json["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_basic_credentials_are_percent_decoded(client, rp):
    """RFC 6749 §2.3.1: the client_id and secret are form-urlencoded before base64; every
    character may come percent-encoded."""
    every = "".join(f"%{b:02X}" for b in rp.client_secret.encode())
    header = "Basic " + _b64(f"{quote(rp.client.client_id)}:{every}".encode())
    response = client.post("/introspect", data={"token": "unknown"}, headers={"Authorization": header})
    assert response.status_code == 200 and response.json == {"active": False}


# -- NUL characters ---------------------------------------------------------------------------------

NUL_MESSAGE = "The request contains a character that is not allowed (NUL)"


def _users(app):
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(User))


def test_a_nul_in_a_protocol_request_is_invalid_request(client, rp):
    response = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "a\x00b"},
                           headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request" and "NUL" in response.json["error_description"]


@pytest.mark.parametrize("where", ["query", "form", "path"])
def test_a_nul_from_a_person_gets_a_readable_page_and_nothing_is_written(app, client, where):
    before = _users(app)
    token = csrf_of(client.get("/signup").text)
    if where == "query":
        response = client.get("/signin?login_hint=a%00b", headers=EN)
    elif where == "form":
        response = client.post("/signup", headers=EN, data={
            "csrf_token": token, "name": "Nul\x00Name", "email": "nul@example.com", "password": "long enough pass"})
    else:
        response = client.get("/verify-email/abc%00def", headers=EN)
    assert response.status_code == 400 and NUL_MESSAGE in response.text
    assert _users(app) == before


def test_a_nul_in_an_authorization_request_gets_a_page(client, rp):
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, state="a\x00b"), headers=EN)
    assert response.status_code == 400 and NUL_MESSAGE in response.text and "Location" not in response.headers


def test_a_nul_in_a_json_body_is_refused(app, client):
    from idp.oidc.registration import issue_initial_token

    with app.app_context():
        token = issue_initial_token(get_session(), agency="Nul", allowed_scopes=["profile"], max_ial=1, max_aal=2,
                                    days=1).token
    response = client.post("/register", json={"client_name": "a\x00b", "redirect_uris": [REDIRECT_URI]},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_a_nul_in_a_page_scripts_json_gets_json(client):
    token = csrf_of(client.get("/signin").text)
    response = client.post("/webauthn/authenticate/options", json={"next": "/\x00"},
                           headers={"X-CSRFToken": token, **EN})
    assert response.status_code == 400 and NUL_MESSAGE in response.json["message"]


@pytest.fixture
def jwt_rp(app):
    make_user(app)
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-1"})
    new = make_client(app, auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]})
    return new, key


def _assertion(key, *, iss, sub, jti):
    now = int(time.time())
    return jwt.encode({"alg": "ES256", "kid": "rp-1"}, {"iss": iss, "sub": sub, "aud": "http://localhost/token",
                                                        "iat": now, "exp": now + 60, "jti": jti}, key)


def _introspect_with(client, assertion):
    return client.post("/introspect", data={
        "token": "x", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})


def test_a_nul_inside_an_unverified_assertion_is_no_client(client, jwt_rp):
    """The ``sub`` is read before the signature is checked: a NUL in it names no client."""
    _, key = jwt_rp
    response = _introspect_with(client, _assertion(key, iss="a\x00b", sub="a\x00b", jti="j-1"))
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_a_nul_inside_a_signed_assertion_stops_at_the_database_boundary(client, jwt_rp):
    """A client's own ``jti`` reaches the database inside its signed assertion, which the request
    check cannot read; the boundary refuses it as the request check would."""
    rp, key = jwt_rp
    cid = rp.client.client_id
    response = _introspect_with(client, _assertion(key, iss=cid, sub=cid, jti="j\x00"))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request" and "NUL" in response.json["error_description"]
    assert _introspect_with(client, _assertion(key, iss=cid, sub=cid, jti="j-ok")).status_code == 200


# -- JSON nested past Python's recursion limit ------------------------------------------------------

DEEP = b"[" * 20_000  # json.loads raises RecursionError long before it sees that nothing closes


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_deeply_nested_json_body_is_bad_json(app, client):
    from idp.oidc.registration import issue_initial_token

    with app.app_context():
        token = issue_initial_token(get_session(), agency="Deep", allowed_scopes=["profile"], max_ial=1, max_aal=2,
                                    days=1).token
    response = client.post("/register", data=DEEP, content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"
    csrf = csrf_of(client.get("/signin").text)
    response = client.post("/webauthn/authenticate", data=DEEP, content_type="application/json",
                           headers={"X-CSRFToken": csrf})
    assert response.status_code == 400 and response.json["error"]


@pytest.mark.parametrize("part", ["header", "payload"])
def test_a_deeply_nested_client_assertion_is_invalid_client(client, jwt_rp, part):
    deep, flat = _b64url(DEEP[:5000]), _b64url(b'{"alg":"ES256"}')
    assertion = ".".join([deep, flat, "c2ln"] if part == "header" else [flat, deep, "c2ln"])
    response = _introspect_with(client, assertion)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_a_deeply_nested_jwks_in_the_console_is_a_form_error(app, clock):
    from tests.staff import admin_client
    from tests.staff import post

    admin = admin_client(app, clock)
    response = post(admin, "/console/clients/new", client_name="Deep", redirect_uris=REDIRECT_URI,
                    scope="openid", token_endpoint_auth_method="private_key_jwt", jwks=DEEP.decode())
    assert response.status_code == 400 and "jwks" in response.text


# -- numbers beyond the columns --------------------------------------------------------------------


@pytest.mark.parametrize("number", ["²", "١٢", "2147483648", "99999999999999999999"])
def test_an_authenticator_id_that_is_no_row_changes_nothing(app, clock, number):
    """``str.isdigit`` accepts "²" (``int`` does not); PostgreSQL refuses to compare an integer
    column with 2,147,483,648; SQLite cannot bind 10^20."""
    browser = staff_client(app, clock, "citizen@example.com")  # no role: a citizen with a TOTP, at AAL2
    token = csrf_of(browser.get("/security").text)
    for path in ("/security/rename", "/security/remove"):
        response = browser.post(path, data={"csrf_token": token, "kind": "totp", "id": number, "name": "Renamed"})
        assert response.status_code == 302, response.text[:300]
    page = browser.get("/security").text
    assert "Token" in page and "Renamed" not in page


@pytest.mark.parametrize("number", ["²", "2147483648", "99999999999999999999"])
def test_a_consent_id_that_is_no_row_changes_nothing(client, rp, number):
    sign_in(client)
    token = csrf_of(client.get("/connected-services").text)
    response = client.post("/connected-services", data={"csrf_token": token, "client": number})
    assert response.status_code == 302


@pytest.mark.parametrize("number", ["2147483648", "99999999999999999999"])
def test_a_path_id_beyond_the_column_is_not_found(app, client, clock, number):
    staff = staff_client(app, clock, "support@example.com", "support")
    assert staff.get(f"/console/support/accounts/{number}").status_code == 404


@pytest.mark.parametrize("field", ["actor", "subject", "before", "after"])
def test_an_audit_filter_beyond_the_column_is_a_form_error(app, client, clock, field):
    auditor = staff_client(app, clock, "auditor@example.com", "auditor")
    response = auditor.get(f"/console/audit/?{field}=2147483648")
    assert response.status_code == 400, response.text[:300]


@pytest.mark.parametrize("max_age", ["99999999999999999999", "²", "-1", "1.5"])
def test_max_age_that_is_not_a_small_number_is_invalid_request(client, rp, max_age):
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, max_age=max_age))
    assert response.status_code == 302 and response.headers["Location"].startswith(REDIRECT_URI)
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


# -- oversized authorization requests --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MAX_LENGTHS))
def test_a_parameter_over_its_limit_is_invalid_request_to_the_rp(client, rp, name):
    _, challenge = pkce_pair()
    limit = MAX_LENGTHS[name]
    within = client.get(authorize_url(rp.client.client_id, challenge, **{name: "a" * limit}))
    assert "longer+than" not in within.headers["Location"]
    over = client.get(authorize_url(rp.client.client_id, challenge, **{name: "a" * (limit + 1)}))
    assert over.status_code == 302 and over.headers["Location"].startswith(REDIRECT_URI)
    params = query_of(over.headers["Location"])
    assert params["error"] == "invalid_request" and name in params["error_description"]
    assert params["iss"] == "http://localhost"
    assert params.get("state") == (None if name == "state" else "st-123")  # an oversized state is not echoed


def test_a_request_over_the_url_limit_is_invalid_request_to_the_rp(client, rp):
    _, challenge = pkce_pair()
    claims = '{"userinfo":{' + ",".join(f'"c{i}":null' for i in range(200)) + "}}"
    response = client.get(authorize_url(rp.client.client_id, challenge, claims=claims))
    assert len(response.request.full_path) > MAX_REQUEST_URL
    params = query_of(response.headers["Location"])
    assert params["error"] == "invalid_request" and str(MAX_REQUEST_URL) in params["error_description"]


def test_an_oversized_request_from_an_unknown_client_gets_a_page(client):
    _, challenge = pkce_pair()
    response = client.get(authorize_url("no-such-client", challenge, state="s" * 5000))
    assert response.status_code == 400 and "Location" not in response.headers


def test_a_request_at_the_limits_still_completes_after_sign_in(client, rp):
    """The markers the IdP adds on the way through sign-in do not count against the limit."""
    verifier, challenge = pkce_pair()
    state, nonce = "s" * MAX_LENGTHS["state"], "n" * MAX_LENGTHS["nonce"]
    base = authorize_url(rp.client.client_id, challenge, state=state, nonce=nonce, login_hint="citizen@example.com")
    url = base + "&extension=" + "x" * (MAX_REQUEST_URL - len(base) - len("&extension="))  # unknown: ignored
    assert len(url) == MAX_REQUEST_URL
    callback = follow_to_code(client, url)
    assert callback["state"] == state
    token = exchange(client, callback["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                     verifier=verifier)
    assert token.status_code == 200, token.text
