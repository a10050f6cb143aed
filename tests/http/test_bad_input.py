"""Bad input gets a clear 4xx, never a 500 (docs/security.md, section "input").

Each rule here failed before it was held: a 500, a traceback, or a request that went on as if
nothing was wrong. All run on SQLite and on PostgreSQL (IDP_TEST_DATABASE_URL), which refuses
what SQLite keeps (NUL, integers beyond its ``integer``).
"""

import base64
from urllib.parse import quote

import pytest

from tests.factories import make_client
from tests.factories import make_user

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
