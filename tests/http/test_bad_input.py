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
